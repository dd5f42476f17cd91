"""The pagination engine: offset pages in, records out, in order, exactly once.

Generic over ``fetch(page, per_page) -> RawPage``, it knows nothing of HTTP or JSON.

1. Page 1 is fetched alone. Its ``record_count`` and the number of rows the server
   really sent plan the rest; fewer rows than asked for (and than the total) means the
   server caps ``per_page`` silently, and the plan continues with the cap as page size.
2. The remaining pages are fetched concurrently, at most ``read_ahead`` at a time,
   and yielded strictly in page order, so memory holds at most ``read_ahead`` pages.
3. Live data shifts offset pages. Records an earlier page already yielded are dropped
   (ids of the last few pages are remembered). When ``record_count`` went down between
   two neighbouring pages, rows may have slipped between them: both are fetched again,
   and the rows not yielded yet are merged in ``key`` order (the id, which the API
   assigns in creation order, the order it sorts by).
   A full page whose every row was seen before, while the total did not grow, means the
   server ignores ``page``: :class:`PaginationError`, rather than a loop.
4. The plan grows while pages come back full, so records added while paging are not
   missed; the first short page ends the stream.

A failed page raises after every earlier page was yielded; leaving the generator early
(``break``, ``aclose()``, cancellation, an error) cancels and awaits every fetch in flight.

Why not aiostream's ordered ``map(task_limit=...)``: the plan changes with what each page
says (cap, short page, growth, refetch), so the producer needs feedback from the consumer,
which a ``map`` over a precomputed source of page numbers does not give.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncGenerator, Callable, Coroutine, Hashable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from ._errors import PaginationError
from ._stats import StreamStats

__all__ = ["Batch", "RawPage", "paginate"]

T = TypeVar("T")

# Pages whose ids are kept for dropping duplicates: shifts of up to this many pages.
_SEEN_PAGES = 8


class RawPage(NamedTuple, Generic[T]):
    """One page as the server sent it."""

    items: Sequence[T]
    record_count: int


class Batch(NamedTuple, Generic[T]):
    """What the engine yields for one page: its new records, in order."""

    page: int
    per_page: int
    items: Sequence[T]
    record_count: int


Fetch = Callable[[int, int], Coroutine[Any, Any, RawPage[T]]]


class _Seen(Generic[T]):
    """Ids of the last few pages, to drop records a shifted page repeats."""

    def __init__(self, key: Callable[[T], Hashable]) -> None:
        self._key = key
        self._ids: set[Hashable] = set()
        self._pages: deque[list[Hashable]] = deque()

    def new(self, items: Sequence[T]) -> list[T]:
        """The items not seen before, remembering them; forgets the oldest page."""
        key, ids = self._key, self._ids
        fresh: list[T] = []
        page_ids: list[Hashable] = []
        for item in items:
            k = key(item)
            if k not in ids:
                ids.add(k)
                page_ids.append(k)
                fresh.append(item)
        self._pages.append(page_ids)
        if len(self._pages) > _SEEN_PAGES:
            ids.difference_update(self._pages.popleft())
        return fresh


async def paginate(
    fetch: Fetch[T],
    *,
    per_page: int,
    read_ahead: int,
    key: Callable[[T], Any],
    descending: bool = False,
    limit: int | None = None,
    stats: StreamStats | None = None,
) -> AsyncGenerator[Batch[T], None]:
    """Yield the records of every page, in order, each once; see the module docstring."""
    if limit == 0:
        return
    stats = stats if stats is not None else StreamStats()
    seen = _Seen(key)
    remaining = math.inf if limit is None else limit

    first = await fetch(1, per_page)
    stats.pages += 1
    stats.record_count_start = first.record_count
    rows = len(first.items)
    if 0 < rows < per_page and rows < first.record_count:
        per_page = rows  # the server caps per_page: page offsets follow the cap

    def wanted(record_count: int) -> int:
        """The last page worth fetching, by the latest total and the limit.

        When the total fills its last page exactly, one page more is planned, so that
        records added meanwhile are found by a concurrent fetch, not a trailing one.
        """
        pages = record_count // per_page + 1
        return pages if limit is None else min(pages, math.ceil(limit / per_page))

    last = wanted(first.record_count)
    pending: deque[tuple[int, asyncio.Task[RawPage[T]]]] = deque()
    next_page = 2
    recovered: Sequence[T] = ()
    number, page, previous_count = 1, first, first.record_count
    try:
        while True:
            fresh = seen.new(page.items)
            stats.duplicates += len(page.items) - len(fresh)
            if recovered:
                fresh = sorted(fresh + seen.new(recovered), key=key, reverse=descending)
                recovered = ()
            if page.items and not fresh and page.record_count <= previous_count:
                raise PaginationError(
                    f"page {number} repeats records already yielded while the total did not"
                    " grow: the server seems to ignore `page`"
                )
            if len(fresh) > remaining:
                fresh = fresh[: int(remaining)]
            remaining -= len(fresh)
            stats.records += len(fresh)
            stats.record_count_end = page.record_count
            yield Batch(number, per_page, fresh, page.record_count)

            if remaining <= 0 or len(page.items) < per_page:
                return  # limit reached, or a short page: nothing after it
            previous_count = page.record_count
            # A full page: records may have been added, so plan at least one page more.
            last = max(last, wanted(page.record_count), number + 1)
            while next_page <= last and len(pending) < read_ahead:
                pending.append((next_page, asyncio.create_task(fetch(next_page, per_page))))
                next_page += 1
            number, task = pending.popleft()
            page = await task
            stats.pages += 1
            if page.record_count < previous_count:
                recovered = _before_end(
                    await _reread_boundary(fetch, number, per_page, stats),
                    page.items, key, descending,
                )
    finally:
        await _cancel([task for _, task in pending])


async def _reread_boundary(
    fetch: Fetch[T], number: int, per_page: int, stats: StreamStats
) -> list[T]:
    """Read pages ``number - 1`` and ``number`` again, for rows that slipped between them.

    The total went down between the previous page and this one, so rows may have moved
    out of the range this page was read at: deletes before it move rows back into the
    previous page's range (``asc``), and when this page was read before inserts the
    previous one saw, rows move forward past its start (``desc``). Reading both pages
    again now finds them either way, as long as fewer than ``per_page`` rows moved.
    """
    again = await asyncio.gather(fetch(number - 1, per_page), fetch(number, per_page))
    stats.refetches += 2
    return [item for page in again for item in page.items]
def _before_end(
    rows: list[T], page: Sequence[T], key: Callable[[T], Any], descending: bool
) -> list[T]:
    """The rows that sort before the end of ``page``.

    Rows after it belong to later pages, which read them at their own offsets; taking
    them here could skip a row that shifted between the two re-reads.
    """
    if not page:
        return rows
    end = key(page[-1])
    if descending:
        return [row for row in rows if key(row) > end]
    return [row for row in rows if key(row) < end]


async def _cancel(tasks: list[asyncio.Task[RawPage[T]]]) -> None:
    """Cancel the fetches still in flight and wait for them, so none is left behind."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
