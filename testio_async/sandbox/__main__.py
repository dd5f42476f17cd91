"""Run a sandbox in its own process: ``python -m testio_async.sandbox --port 0 --records 500000``.

When ready it prints exactly one line to stdout, ``URL TOKEN`` (or a JSON object
with ``--json``), then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import orjson

from ._cli import add_config_arguments, config_from_namespace
from ._server import SandboxServer, serve

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m testio_async.sandbox",
        description="Serve a fake Test IO GET /user_story_version_executions.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=8080, help="port to bind, 0 = any free port")
    parser.add_argument("--json", action="store_true", help='print {"url", "token"} as JSON')
    add_config_arguments(parser)
    return parser


def _announce(server: SandboxServer, *, as_json: bool) -> None:
    if as_json:
        line = orjson.dumps({"url": server.url, "token": server.token}).decode()
    else:
        line = f"{server.url} {server.token}"
    print(line, flush=True)


async def _run(args: argparse.Namespace) -> None:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    # A benchmark runner stops us with SIGTERM; cancel so the server closes cleanly.
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await serve(
            config_from_namespace(args),
            args.host,
            args.port,
            on_ready=lambda server: _announce(server, as_json=args.json),
        )


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, serve until interrupted, return the exit status."""
    args = _parser().parse_args(argv)
    asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
