"""The client-wide request gate: how many requests may be in flight, and 429 pauses.

One gate belongs to one :class:`~testio_async.Client` and is shared by every stream of
it, so ``max_concurrency`` bounds the client, not each stream, and a 429 answered to one
request holds back all of them until ``Retry-After`` has passed. (Letting one probe
request go first after a pause was tried and measured: against a token bucket, which
refills during the pause, it added a round trip per pause and saved no 429.)

With ``adaptive=True`` the limit itself moves (AIMD, as TCP does): a 429 halves it (once
for all the 429s of one pause), each success adds ``1 / limit``, so it climbs back by
about one per round of requests, never above ``max_concurrency``. aiolimiter's leaky
bucket would need the server's rate up front; this finds it from the 429s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["RequestGate"]


class RequestGate:
    """A bound on requests in flight and a deadline before which none may start."""

    def __init__(self, max_concurrency: int, *, adaptive: bool = False) -> None:
        self.max_concurrency = max_concurrency
        self.adaptive = adaptive
        self.limit = float(max_concurrency)
        self.in_flight = 0
        self._resume_at = 0.0
        self._freed = asyncio.Event()

    def pause(self, seconds: float) -> None:
        """Let no request start for ``seconds`` from now (extends, never shortens, a pause)."""
        resume_at = asyncio.get_running_loop().time() + seconds
        self._resume_at = max(self._resume_at, resume_at)

    def rate_limited(self) -> None:
        """A 429 arrived: with ``adaptive``, halve the limit, once per pause.

        The requests in flight when the server starts refusing are all refused together;
        that is one signal, not one per request (TCP reduces once per window too).
        """
        if self.adaptive and asyncio.get_running_loop().time() >= self._resume_at:
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

    async def _enter(self) -> None:
        while True:
            await self._wait_for_pause()
            # No await between the check and the taking: nobody can take the place meanwhile.
            if self.in_flight < int(self.limit):
                self.in_flight += 1
                return
            await self._freed.wait()

    def _leave(self) -> None:
        self.in_flight -= 1
        freed, self._freed = self._freed, asyncio.Event()
        freed.set()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the places while a request is in flight."""
        await self._enter()
        try:
            yield
        finally:
            self._leave()  # synchronous: safe even while the task is being cancelled
