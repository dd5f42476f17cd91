"""``testio-async sandbox``: serve the fake API in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ..sandbox import SandboxConfig, SandboxServer, config_from_namespace, serve
from ._export import UsageError

__all__ = ["run_sandbox"]


def _config(args: argparse.Namespace) -> SandboxConfig:
    try:
        return config_from_namespace(args)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"invalid sandbox setting: {exc}") from None


def _announce(server: SandboxServer) -> None:
    print(
        f"testio-async: sandbox serving {server.config.records:,} records at {server.url}\n"
        f"  token: {server.token}\n"
        f"  try:   TESTIO_API_TOKEN={server.token} testio-async executions"
        f" --base-url {server.url} --limit 5\n"
        "  Ctrl-C stops it.",
        file=sys.stderr,
        flush=True,
    )


async def _serve_until_stopped(config: SandboxConfig, host: str, port: int) -> None:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await serve(config, host, port, on_ready=_announce)


def run_sandbox(args: argparse.Namespace) -> int:
    """Run ``testio-async sandbox``; return 0 once stopped by Ctrl-C, 1 if it cannot bind."""
    config = _config(args)
    try:
        asyncio.run(_serve_until_stopped(config, args.host, args.port))
    except KeyboardInterrupt:  # Ctrl-C before the loop's handler was installed
        return 0
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"testio-async: error: cannot serve on {args.host}:{args.port}: {reason}",
              file=sys.stderr)
        return 1
    print("testio-async: sandbox stopped", file=sys.stderr)
    return 0
