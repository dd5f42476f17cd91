"""``testio-async executions``: stream pages from the API into a writer.

The export runs as the main task of ``asyncio.run``. SIGINT and SIGTERM cancel that task
from a loop signal handler, so the cancellation lands on an ``await`` (waiting for the
next page), never in the middle of writing one: the output keeps whole records only.

``--state`` saves each page's checkpoint after the page is written and fsync'd, and a
rerun resumes from it (see :mod:`._state`); ``--since-state`` keeps a watermark id so
later runs fetch only newer executions.
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
from typing import Any, BinaryIO

from attrs import define, field

from .._client import BASE_URL_ENV, TOKEN_ENV, Client
from .._convert import format_datetime
from .._errors import TestIOError
from .._models import Page
from .._resume import Checkpoint, read_checkpoint
from .._stats import StreamStats
from ..sandbox import SandboxServer
from ._progress import ProgressBar, ProgressLogHandler
from ._state import StateError, atomic_write_json, query_of, read_json, since_query_of
from ._writers import PARQUET_INSTALL_HINT, RecordWriter, make_writer

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


@define
class _Plan:
    """Where an export starts and how it opens its output, from the flags and state files."""

    order: str
    resume_from: Checkpoint | None = None
    #: Cut the output back to this many bytes and append (a ``--state`` resume).
    append_at: int | None = None
    #: The ``--state`` file says the export is complete: nothing to do.
    complete: bool = False
    #: The watermark of ``--since-state``: only executions with a higher id.
    newer_than: int | None = None
    #: The ``--since-state`` file as read (``None``: first run).
    since: dict[str, Any] | None = None


def _check_format(args: argparse.Namespace) -> None:
    if args.format != "parquet":
        return
    if args.output is None:
        raise UsageError("--format parquet needs --output FILE (Parquet cannot go to stdout)")
    try:
        import pyarrow.parquet  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        raise UsageError(f"--format parquet needs pyarrow: {PARQUET_INSTALL_HINT}") from None


def _plan(args: argparse.Namespace) -> _Plan:
    """Check the flags against each other and the state files; raise :class:`UsageError`."""
    _check_format(args)
    if args.state is not None and args.since_state is not None:
        raise UsageError("--state and --since-state cannot be used together")
    try:
        if args.state is not None:
            return _resume_plan(args)
        if args.since_state is not None:
            return _since_plan(args)
    except StateError as exc:
        raise UsageError(str(exc)) from None
    return _Plan(order=args.order)


def _resume_plan(args: argparse.Namespace) -> _Plan:
    if args.output is None:
        raise UsageError("--state needs --output FILE: stdout cannot be resumed")
    if args.format in ("json", "parquet"):
        raise UsageError(f"--state does not work with --format {args.format}: a finished"
                         f" {args.format.upper()} file cannot be appended to; use jsonl or csv")
    if args.limit is not None:
        raise UsageError("--state and --limit cannot be used together")
    state = read_json(args.state, "--state")
    if state is None:
        return _Plan(order=args.order)
    output = os.path.abspath(args.output)
    try:
        checkpoint = read_checkpoint(state.get("checkpoint"))
        output_bytes = state["output_bytes"]
        saved = (state["format"], state["output"], state["query"])
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f"--state {args.state} is not a valid state file ({exc});"
                         " delete it to start over") from None
    given = (args.format, output, query_of(args))
    for name, was, now in zip(("--format", "--output", "query flags"), saved, given, strict=True):
        if was != now:
            raise StateError(
                f"--state {args.state} was saved with other {name} ({_show(was)}) than given"
                f" now ({_show(now)}); run with the same flags, or delete it to start over"
            )
    if checkpoint["done"]:
        return _Plan(order=args.order, resume_from=checkpoint, complete=True)
    try:
        size = os.path.getsize(args.output)
    except OSError:
        size = -1
    if type(output_bytes) is not int or size < output_bytes:
        raise StateError(f"--output {args.output} is missing or shorter than --state"
                         f" {args.state} records; delete the state to start over")
    return _Plan(order=args.order, resume_from=checkpoint, append_at=output_bytes)


def _show(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _since_plan(args: argparse.Namespace) -> _Plan:
    if args.limit is not None:
        raise UsageError("--since-state and --limit cannot be used together")
    state = read_json(args.since_state, "--since-state")
    if state is None:
        return _Plan(order=args.order)
    watermark = state.get("watermark_id")
    if type(watermark) is not int or watermark < 0:
        raise StateError(f"--since-state {args.since_state} has no valid watermark_id;"
                         " delete it to export everything again")
    if state.get("query") != since_query_of(args):
        raise StateError(
            f"--since-state {args.since_state} was saved with other filters"
            f" ({_show(state.get('query'))}) than given now ({_show(since_query_of(args))});"
            " use the same filters, or another --since-state file"
        )
    return _Plan(order="desc", newer_than=watermark, since=state)


class _StateKeeper:
    """Saves ``--state`` after each page and ``--since-state`` at the end."""

    def __init__(self, args: argparse.Namespace, out: BinaryIO, plan: _Plan) -> None:
        self._args = args
        self._out = out
        self._plan = plan
        self._max_id: int | None = None
        self._max_executed_at: str | None = None

    def page_written(self, page: Page) -> None:
        """Record ``page`` as done: fsync the output, then save its checkpoint."""
        if self._args.since_state is not None and page.items:
            newest = max(page.items, key=lambda e: e.id)
            if self._max_id is None or newest.id > self._max_id:
                self._max_id = newest.id
                self._max_executed_at = format_datetime(newest.executed_at)
        checkpoint = page.checkpoint
        if self._args.state is not None and checkpoint is not None:
            self._save_state(checkpoint)

    def stream_finished(self, checkpoint: Checkpoint | None) -> None:
        """The stream is over: save a ``done`` checkpoint for ``--state``."""
        if self._args.state is not None and checkpoint is not None:
            self._save_state(Checkpoint(**{**checkpoint, "done": True}))

    def _save_state(self, checkpoint: Checkpoint) -> None:
        os.fsync(self._out.fileno())
        atomic_write_json(self._args.state, {
            "checkpoint": checkpoint,
            "output_bytes": self._out.tell(),
            "format": self._args.format,
            "output": os.path.abspath(self._args.output),
            "query": query_of(self._args),
        })  # fmt: skip

    def export_succeeded(self) -> None:
        """Raise the ``--since-state`` watermark to the highest id exported."""
        if self._args.since_state is None:
            return
        previous = self._plan.since or {}
        watermark = previous.get("watermark_id", 0)
        executed_at = previous.get("executed_at")
        if self._max_id is not None and self._max_id > watermark:
            watermark, executed_at = self._max_id, self._max_executed_at
        atomic_write_json(self._args.since_state, {
            "watermark_id": watermark,
            "executed_at": executed_at,
            "query": since_query_of(self._args),
        })  # fmt: skip


def _open_output(path: str | None, plan: _Plan) -> BinaryIO:
    if path is None:
        sys.stdout.flush()
        return sys.stdout.buffer
    try:
        if plan.append_at is not None:
            # Cut off what was written after the last saved checkpoint: exactly once.
            with open(path, "r+b") as file:
                file.truncate(plan.append_at)
            return open(path, "ab")  # closed by run_executions
        return open(path, "wb")  # closed by run_executions
    except OSError as exc:
        raise UsageError(f"cannot write --output {path}: {exc.strerror or exc}") from None


class _Export:
    """One export: pages from a client into a writer, counted as it goes."""

    def __init__(
        self,
        args: argparse.Namespace,
        writer: RecordWriter,
        progress: ProgressBar,
        plan: _Plan,
        keeper: _StateKeeper,
    ) -> None:
        self._args = args
        self._writer = writer
        self._progress = progress
        self._plan = plan
        self._keeper = keeper
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
        args, plan = self._args, self._plan
        pages = client.executions.pages(
            user_story_ids=args.user_story_ids,
            user_story_version_ids=args.user_story_version_ids,
            order=plan.order,  # type: ignore[arg-type]
            per_page=args.per_page,
            limit=args.limit,
            newer_than=plan.newer_than,
            resume_from=plan.resume_from,
        )
        self.outcome.stats = pages.stats
        async with pages:
            # One flushed page per turn, then its checkpoint: no await in between, so a
            # stop signal never lands between the page and its state.
            async for page in pages:
                self._writer.write_page(page.items)
                self.outcome.written += len(page.items)
                self._keeper.page_written(page)
                self._progress.update(self.outcome.written, self._total())
            self._keeper.stream_finished(pages.checkpoint)

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
        print(f"{prog}: {summary(outcome.written, outcome.stats, outcome.seconds)}",
              file=sys.stderr)
    return EXIT_OK


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def summary(written: int, stats: StreamStats, seconds: float) -> str:
    """The closing line: records written and the stream's counters."""
    return (
        f"{written:,} records, {stats.pages:,} pages, {stats.requests:,} requests,"
        f" {stats.retries:,} retries, {seconds:.2f} s; {stats.rate_limited:,} rate-limited"
        f" (429), {stats.duplicates:,} duplicates dropped, {stats.refetches:,} pages refetched,"
        f" record_count {_count(stats.record_count_start)} at start,"
        f" {_count(stats.record_count_end)} at end"
    )


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
    plan = _plan(args)
    if plan.complete:
        if not args.quiet:
            records = plan.resume_from["records"] if plan.resume_from else 0
            print(f"testio-async: already complete: --state {args.state} says all"
                  f" {records:,} records are in {args.output}; nothing to do", file=sys.stderr)
        return EXIT_OK
    out = _open_output(args.output, plan)
    writer = make_writer(args.format, out)
    enabled = args.progress if args.progress is not None else sys.stderr.isatty()
    progress = ProgressBar(sys.stderr, enabled=enabled)
    keeper = _StateKeeper(args, out, plan)
    export = _Export(args, writer, progress, plan, keeper)
    try:
        try:
            if plan.append_at is None:  # an appended CSV keeps its one header
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
            outcome = export.outcome
            if outcome.error is None and outcome.signal is None:
                try:
                    keeper.export_succeeded()
                except OSError as exc:
                    outcome.error = exc
        progress.close()
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    if isinstance(export.outcome.error, BrokenPipeError):
        _silence_stdout()
    return _report(export.outcome, args, secret)
