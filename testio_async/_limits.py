"""The client-wide request gate: how many requests may be in flight, and 429 pauses.

One gate belongs to one :class:`~testio_async.Client` and is shared by every stream of
it, so ``max_concurrency`` bounds the client, not each stream, and a 429 answered to one
request holds back all of them until ``Retry-After`` has passed.

With ``adaptive=True`` the limit itself moves (AIMD, as TCP does): each 429 halves it,
each success adds ``1 / limit``, so it climbs back by about one per round of requests,
never above ``max_concurrency``. aiolimiter's leaky bucket would need the server's rate
up front; this finds it from the 429s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["RequestGate"]


class RequestGate:
    """A bound on requests in flight plus a deadline before which none may start."""

    def __init__(self, max_concurrency: int, *, adaptive: bool = False) -> None:
        self.max_concurrency = max_concurrency
        self.adaptive = adaptive
        self.limit = float(max_concurrency)
        self.in_flight = 0
        self._resume_at = 0.0
        self._turn = asyncio.Condition()

    def pause(self, seconds: float) -> None:
        """Let no request start for ``seconds`` from now (extends, never shortens, a pause)."""
        resume_at = asyncio.get_running_loop().time() + seconds
        self._resume_at = max(self._resume_at, resume_at)

    def rate_limited(self) -> None:
        """A 429 arrived: with ``adaptive``, halve the limit."""
        if self.adaptive:
            self.limit = max(1.0, self.limit / 2)

    def succeeded(self) -> None:
        """A request succeeded: with ``adaptive``, raise the limit a little."""
        if self.adaptive and self.limit < self.max_concurrency:
            self.limit = min(float(self.max_concurrency), self.limit + 1 / self.limit)

    async def _wait_for_pause(self) -> None:
        loop = asyncio.get_running_loop()
        # Loop: a 429 seen while we slept may have extended the pause.
        while (delay := self._resume_at - loop.time()) > 0:  # noqa: ASYNC110 (a deadline, not an event)
            await asyncio.sleep(delay)

    def _has_room(self) -> bool:
        return self.in_flight < int(self.limit)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the places while a request is in flight."""
        await self._wait_for_pause()
        async with self._turn:
            await self._turn.wait_for(self._has_room)
            self.in_flight += 1
        try:
            # A pause may have begun while we queued.
            await self._wait_for_pause()
            yield
        finally:
            async with self._turn:
                self.in_flight -= 1
                if self.adaptive:  # the limit may have grown: more than one may go
                    self._turn.notify_all()
                else:
                    self._turn.notify()
