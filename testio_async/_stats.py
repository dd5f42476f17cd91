"""Counters of one stream, or of a whole client."""

from __future__ import annotations

from attrs import define

__all__ = ["StreamStats"]


@define
class StreamStats:
    """What a stream (or a client, summed over its streams) has done so far.

    ``record_count_start`` and ``record_count_end`` are the server's totals on the first
    and the latest page, so drift while paging is visible. ``duplicates`` counts records
    dropped because an earlier page had already yielded them; ``refetches`` counts pages
    fetched again because the data shifted under the stream.
    """

    records: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    duplicates: int = 0
    refetches: int = 0
    record_count_start: int | None = None
    record_count_end: int | None = None
