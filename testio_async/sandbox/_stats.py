"""Counters and the request log a sandbox keeps for assertions."""

from __future__ import annotations

from collections import Counter

import attrs

__all__ = ["RequestInfo", "SandboxStats"]


@attrs.define
class SandboxStats:
    """Mutable counters of what the sandbox has answered so far."""

    #: Requests received, whatever the answer (errors, faults, resets included).
    requests: int = 0
    #: Requests currently being handled (including those sleeping or held).
    in_flight: int = 0
    #: Highest ``in_flight`` seen since creation or the last :meth:`reset`.
    peak_in_flight: int = 0
    #: Answers by HTTP status; connections dropped on purpose are not counted here.
    status_counts: Counter[int] = attrs.Factory(Counter)
    #: Page number of every data page served (200 with records), in serving order.
    pages_served: list[int] = attrs.Factory(list)
    #: Connections closed on purpose (``inject_reset`` and truncation in connection mode).
    connection_resets: int = 0

    def reset(self) -> None:
        """Zero the counters; ``peak_in_flight`` restarts from the current ``in_flight``."""
        self.requests = 0
        self.peak_in_flight = self.in_flight
        self.status_counts.clear()
        self.pages_served.clear()
        self.connection_resets = 0


@attrs.frozen
class RequestInfo:
    """One request as the sandbox received it."""

    method: str
    #: Path without the query string.
    path: str
    #: Query items in wire order; repeated keys appear repeatedly.
    query: tuple[tuple[str, str], ...]
    #: Request headers in wire order.
    headers: tuple[tuple[str, str], ...]
    #: Raw ``Authorization`` header, ``None`` when absent.
    authorization: str | None
    #: The ``page`` parameter as an integer (1 when absent, ``None`` when not an integer).
    page: int | None

    def query_values(self, key: str) -> list[str]:
        """Return every value sent for ``key``, e.g. ``"user_story_ids[]"``."""
        return [value for name, value in self.query if name == key]
