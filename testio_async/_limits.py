"""The client-wide request gate: how many requests may be in flight, and 429 pauses.

One gate belongs to one :class:`~testio_async.Client` and is shared by every stream of
it, so ``max_concurrency`` bounds the client, not each stream, and a 429 answered to one
request holds back all of them until ``Retry-After`` has passed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["RequestGate"]


class RequestGate:
    """A semaphore for requests in flight plus a deadline before which none may start."""

    def __init__(self, max_concurrency: int) -> None:
        self.max_concurrency = max_concurrency
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._resume_at = 0.0
        self.in_flight = 0

    def pause(self, seconds: float) -> None:
        """Let no request start for ``seconds`` from now (extends, never shortens, a pause)."""
        resume_at = asyncio.get_running_loop().time() + seconds
        self._resume_at = max(self._resume_at, resume_at)

    async def _wait_for_pause(self) -> None:
        loop = asyncio.get_running_loop()
        # Loop: a 429 seen while we slept may have extended the pause.
        while (delay := self._resume_at - loop.time()) > 0:  # noqa: ASYNC110 (a deadline, not an event)
            await asyncio.sleep(delay)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``max_concurrency`` places while a request is in flight."""
        await self._wait_for_pause()
        async with self._semaphore:
            # A pause may have begun while we queued for the semaphore.
            await self._wait_for_pause()
            self.in_flight += 1
            try:
                yield
            finally:
                self.in_flight -= 1
