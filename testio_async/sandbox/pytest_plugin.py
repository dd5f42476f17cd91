"""Pytest fixtures serving a sandbox on 127.0.0.1.

Load them in your ``conftest.py`` with::

    pytest_plugins = ["testio_async.sandbox.pytest_plugin"]

``testio_sandbox`` yields a running :class:`SandboxServer` with default settings
(1000 records); ``testio_sandbox_factory`` starts more with custom knobs::

    async def test_retries(testio_sandbox_factory):
        sandbox = await testio_sandbox_factory(records=100, error_rate=0.2)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, Unpack

import pytest_asyncio

from ._config import SandboxConfig, SandboxKnobs
from ._server import SandboxServer

__all__ = ["SandboxFactory", "testio_sandbox", "testio_sandbox_factory"]


class SandboxFactory(Protocol):
    """Signature of the ``testio_sandbox_factory`` fixture's value."""

    async def __call__(
        self, config: SandboxConfig | None = None, **knobs: Unpack[SandboxKnobs]
    ) -> SandboxServer:
        """Start and return a sandbox; it is stopped at test teardown."""
        ...


@pytest_asyncio.fixture
async def testio_sandbox() -> AsyncIterator[SandboxServer]:
    """A running sandbox with default settings, stopped after the test."""
    async with SandboxServer() as sandbox:
        yield sandbox


@pytest_asyncio.fixture
async def testio_sandbox_factory() -> AsyncIterator[SandboxFactory]:
    """An async factory of running sandboxes, all stopped after the test."""
    started: list[SandboxServer] = []

    async def factory(
        config: SandboxConfig | None = None, **knobs: Unpack[SandboxKnobs]
    ) -> SandboxServer:
        sandbox = SandboxServer(config, **knobs)
        await sandbox.start()
        started.append(sandbox)
        return sandbox

    yield factory
    for sandbox in reversed(started):
        await sandbox.stop()
