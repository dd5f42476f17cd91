"""FIFO queue of scripted answers that replace the next matching requests' real ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

__all__ = ["Fault", "FaultQueue", "ResetPoint"]

#: Where a scripted reset drops the connection: mid-body or before the status line.
ResetPoint = Literal["body", "headers"]


@attrs.frozen
class Fault:
    """A canned answer: a response, or a dropped connection when ``reset`` is set."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = attrs.Factory(dict)
    delay: float = 0.0
    #: Only requests for this page number take the fault; ``None`` = any request.
    page: int | None = None
    #: ``None`` = answer normally; ``"body"``/``"headers"`` = close the connection there.
    reset: ResetPoint | None = None


@attrs.define
class _Entry:
    fault: Fault
    remaining: int


class FaultQueue:
    """Faults in injection order; each request takes the first one that targets it."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []

    def __len__(self) -> int:
        """Return the number of requests still to be answered by faults."""
        return sum(entry.remaining for entry in self._entries)

    def add(self, fault: Fault, times: int) -> None:
        """Queue ``fault`` for the next ``times`` requests it targets."""
        if times < 1:
            raise ValueError("times must be at least 1")
        self._entries.append(_Entry(fault, times))

    def take(self, page: int | None) -> Fault | None:
        """Consume and return the first fault targeting a request for ``page``."""
        for position, entry in enumerate(self._entries):
            if entry.fault.page is None or entry.fault.page == page:
                entry.remaining -= 1
                if not entry.remaining:
                    del self._entries[position]
                return entry.fault
        return None

    def clear(self) -> None:
        """Drop every queued fault."""
        self._entries.clear()
