"""Serving a sandbox on a TCP port: the async context manager and ``serve``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Self, Unpack

from aiohttp import web

from ._app import API_PREFIX, Sandbox
from ._config import SandboxConfig, SandboxKnobs

__all__ = ["SandboxServer", "serve"]

# Handlers only outlive shutdown if a test script blocks them; never wait long.
_SHUTDOWN_TIMEOUT = 1.0


class SandboxServer(Sandbox):
    """A :class:`Sandbox` listening on ``host:port`` (a free port by default).

    Use ``async with SandboxServer(records=100, error_rate=0.1) as sandbox:``
    and point the SDK at ``sandbox.url`` with ``sandbox.token``.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **knobs: Unpack[SandboxKnobs],
    ) -> None:
        super().__init__(config, **knobs)
        #: Interface the server binds.
        self.host = host
        self._requested_port = port
        self._bound_port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port (meaningful once started)."""
        if self._bound_port is None:
            raise RuntimeError("the sandbox server is not running")
        return self._bound_port

    @property
    def url(self) -> str:
        """Base URL including the API prefix, e.g. ``http://127.0.0.1:54321/customer/v2``."""
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def token(self) -> str:
        """The API token the sandbox accepts."""
        return self.config.token

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._runner is not None

    async def start(self) -> None:
        """Bind and start serving; a no-op when already running."""
        if self._runner is not None:
            return
        runner = web.AppRunner(
            self.create_app(),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=_SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound_port = _bound_port(runner)

    async def stop(self) -> None:
        """Stop serving and close every connection; a no-op when not running."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


def _bound_port(runner: web.AppRunner) -> int:
    address = runner.addresses[0]
    port: int = address[1]
    return port


async def serve(
    config: SandboxConfig,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_ready: Callable[[SandboxServer], None] | None = None,
) -> None:
    """Serve a sandbox until cancelled; ``on_ready`` gets the running server (for its URL)."""
    async with SandboxServer(config, host=host, port=port) as server:
        if on_ready is not None:
            on_ready(server)
        await asyncio.Event().wait()
