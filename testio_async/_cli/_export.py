"""``testio-async executions``: stream pages from the API into a writer.

The export runs as the main task of ``asyncio.run``. SIGINT and SIGTERM cancel that task
from a loop signal handler, so the cancellation lands on an ``await`` (waiting for the
next page), never in the middle of writing one: the output keeps whole records only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from attrs import define, field

from .._client import BASE_URL_ENV, TOKEN_ENV, Client
from .._errors import TestIOError
from .._stats import StreamStats
from ..sandbox import SandboxServer
from ._progress import ProgressBar, ProgressLogHandler
from ._writers import RecordWriter, make_writer

__all__ = ["UsageError", "run_executions"]

#: Exit statuses.
EXIT_OK, EXIT_API_ERROR, EXIT_USAGE, EXIT_BROKEN_PIPE = 0, 1, 2, 128 + 13
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class UsageError(Exception):
    """The arguments or the environment do not allow an export (exit status 2)."""


@define
class _Outcome:
    """What an export did, for the closing message."""

    written: int = 0
    stats: StreamStats = field(factory=StreamStats)
    seconds: float = 0.0
    signal: int | None = None
    error: TestIOError | OSError | None = None


def _token(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    token = args.token if args.token is not None else environ.get(TOKEN_ENV, "")
    if not token.strip():
        raise UsageError(
            f"no API token: pass --token or set {TOKEN_ENV}"
            " (or try --sandbox to export made-up data without one)"
        )
    return str(token)


def make_client(args: argparse.Namespace, token: str, base_url: str | None) -> Client:
    """A client configured by the connection flags; bad settings raise :class:`UsageError`."""
    try:
        return Client(
            token,
            base_url=base_url,
            max_concurrency=args.concurrency,
            timeout=args.timeout,
            max_retries=args.max_retries,
            allow_insecure_http=args.allow_insecure_http,
        )
    except (ValueError, TypeError) as exc:
        # The SDK's messages never quote the token, so they can be shown as they are.
        raise UsageError(str(exc)) from None


def _client_for(args: argparse.Namespace, environ: Mapping[str, str]) -> Client | None:
    """The client of a real export, or ``None`` for ``--sandbox`` (made once it serves)."""
    if args.sandbox:
        if args.base_url is not None:
            raise UsageError("--sandbox and --base-url cannot be used together")
        return None
    base_url = args.base_url or environ.get(BASE_URL_ENV) or None
    return make_client(args, _token(args, environ), base_url)


def _open_output(path: str | None) -> BinaryIO:
    if path is None:
        sys.stdout.flush()
        return sys.stdout.buffer
    try:
        return open(path, "wb")  # closed by run_executions
    except OSError as exc:
        raise UsageError(f"cannot write --output {path}: {exc.strerror or exc}") from None


class _Export:
    """One export: pages from a client into a writer, counted as it goes."""

    def __init__(
        self, args: argparse.Namespace, writer: RecordWriter, progress: ProgressBar
    ) -> None:
        self._args = args
        self._writer = writer
        self._progress = progress
        self.outcome = _Outcome()

    async def run(self, client: Client | None) -> None:
        """Export through ``client``, or through a sandbox started here when it is ``None``."""
        async with contextlib.AsyncExitStack() as stack:
            if client is None:
                sandbox = await stack.enter_async_context(
                    SandboxServer(records=self._args.sandbox_records, seed=self._args.sandbox_seed)
                )
                client = make_client(self._args, sandbox.token, sandbox.url)
            await stack.enter_async_context(client)
            await self._copy(client)

    async def _copy(self, client: Client) -> None:
        args = self._args
        pages = client.executions.pages(
            user_story_ids=args.user_story_ids,
            user_story_version_ids=args.user_story_version_ids,
            order=args.order,
            per_page=args.per_page,
            limit=args.limit,
        )
        self.outcome.stats = pages.stats
        async with pages:
            # One flushed page per turn: a `--state FILE` checkpoint would go after write_page.
            async for page in pages:
                self._writer.write_page(page.items)
                self.outcome.written += len(page.items)
                self._progress.update(self.outcome.written, self._total())

    def _total(self) -> int | None:
        total = self.outcome.stats.record_count_start
        if total is not None and self._args.limit is not None:
            total = min(total, self._args.limit)
        return total


async def _export_until_stopped(export: _Export, client: Client | None) -> None:
    """Run ``export``; a stop signal ends it early, as recorded in ``export.outcome``."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    outcome = export.outcome

    def stop(signum: int) -> None:
        if outcome.signal is None:
            outcome.signal = signum
        task.cancel()

    installed = []
    for signum in _STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError):  # no loop signal handlers on Windows
            loop.add_signal_handler(signum, stop, signum)
            installed.append(signum)
    started = time.monotonic()
    try:
        await export.run(client)
    except asyncio.CancelledError:
        if outcome.signal is None:
            raise
        task.uncancel()
    except (TestIOError, OSError) as exc:
        outcome.error = exc
    finally:
        outcome.seconds = time.monotonic() - started
        for signum in installed:
            loop.remove_signal_handler(signum)


def _finish_output(writer: RecordWriter, outcome: _Outcome) -> None:
    try:
        writer.finish()
    except OSError as exc:
        if outcome.error is None:
            outcome.error = exc


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _error_message(outcome: _Outcome) -> tuple[str, int]:
    error = outcome.error
    if isinstance(error, BrokenPipeError):
        return "", EXIT_BROKEN_PIPE
    if isinstance(error, OSError):
        return f"cannot write the output: {error.strerror or error}", EXIT_API_ERROR
    return f"{error}", EXIT_API_ERROR


def _report(outcome: _Outcome, args: argparse.Namespace, secret: str | None) -> int:
    """Say on stderr how the export ended; return the exit status."""
    prog = "testio-async"
    if outcome.error is not None:
        message, status = _error_message(outcome)
        if message:
            note = f" ({outcome.written:,} records written)" if outcome.written else ""
            print(f"{prog}: error: {_redact(message, secret)}{note}", file=sys.stderr)
        return status
    if outcome.signal is not None:
        print(f"{prog}: interrupted; the output holds {outcome.written:,} whole records",
              file=sys.stderr)
        return 128 + outcome.signal
    if not args.quiet:
        stats = outcome.stats
        extra = ""
        if stats.duplicates or stats.refetches:
            extra = f", {stats.duplicates} duplicates dropped, {stats.refetches} pages refetched"
        print(
            f"{prog}: {outcome.written:,} records, {stats.pages:,} pages,"
            f" {stats.requests:,} requests, {stats.retries:,} retries{extra},"
            f" {outcome.seconds:.2f} s",
            file=sys.stderr,
        )
    return EXIT_OK


def _silence_stdout() -> None:
    # The reader went away: later flushes of stdout (at exit too) must not fail again.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


@contextlib.contextmanager
def _sdk_logs_to(progress: ProgressBar, *, quiet: bool) -> Iterator[None]:
    """Route the SDK's warnings (retries) to stderr lines that keep clear of the bar."""
    logger = logging.getLogger("testio_async")
    handler = ProgressLogHandler(progress, sys.stderr, logging.ERROR if quiet else logging.WARNING)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False  # printed once, here, not again by a root handler
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def run_executions(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Run ``testio-async executions``; bad settings raise :class:`UsageError`."""
    client = _client_for(args, environ)
    secret = None if args.sandbox else _token(args, environ)
    out = _open_output(args.output)
    writer = make_writer(args.format, out)
    enabled = args.progress if args.progress is not None else sys.stderr.isatty()
    progress = ProgressBar(sys.stderr, enabled=enabled)
    export = _Export(args, writer, progress)
    try:
        try:
            writer.start()
        except OSError as exc:
            export.outcome.error = exc
        else:
            try:
                with _sdk_logs_to(progress, quiet=args.quiet):
                    asyncio.run(_export_until_stopped(export, client))
            except KeyboardInterrupt:  # Ctrl-C before the loop's own handler was installed
                export.outcome.signal = signal.SIGINT
            _finish_output(writer, export.outcome)
        progress.close()
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    if isinstance(export.outcome.error, BrokenPipeError):
        _silence_stdout()
    return _report(export.outcome, args, secret)
