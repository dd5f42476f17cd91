"""Faults end to end: one table, one test, the same outcome for every row.

Each row starts a small sandbox with a fault (a knob or a scripted injection), streams
through a fresh client and checks one of two outcomes:

- ``ALL``: every record yielded exactly once, in order (``sandbox.expected``); for live
  data (inserts/deletes while paging) every record that lived through the whole stream is
  yielded, ids strictly monotonic, nothing twice;
- an error class: a typed :class:`TestIOError` of exactly that class, raised after every
  record of the pages before the failing one (``prefix`` records) and none after.

Every row also bounds the requests the server saw, and checks that no SDK fetch task is
left behind and that the client closes cleanly. tests/README.md lists the table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from email.utils import formatdate
from itertools import pairwise
from typing import Any

import attrs
import pytest

import testio_async as tio
from testio_async._convert import unstructure_execution
from testio_async.sandbox import SandboxServer
from testio_async.sandbox.pytest_plugin import SandboxFactory

ALL = "all"
LIVE = "live"


def _nothing(sandbox: SandboxServer) -> None:
    pass


@attrs.frozen
class Fault:
    """One row of the table."""

    id: str
    knobs: dict[str, Any] = attrs.field(factory=dict)
    setup: Callable[[SandboxServer], None] = _nothing
    client: dict[str, Any] = attrs.field(factory=dict)
    stream: dict[str, Any] = attrs.field(factory=dict)
    #: ALL, LIVE, or the exact TestIOError subclass expected.
    outcome: str | type[tio.TestIOError] = ALL
    #: Records yielded before the error (error rows only).
    prefix: int = 0
    #: Upper bound of sandbox.stats.requests.
    max_requests: int = 0


def _inject(*calls: tuple[Any, ...]) -> Callable[[SandboxServer], None]:
    """A setup that makes ``sandbox.inject(status, **kwargs)`` for each ``(status, kwargs)``."""

    def setup(sandbox: SandboxServer) -> None:
        for status, kwargs in calls:
            sandbox.inject(status, **kwargs)

    return setup


def _resets(at: str, times: int, page: int) -> Callable[[SandboxServer], None]:
    def setup(sandbox: SandboxServer) -> None:
        sandbox.inject_reset(times=times, page=page, at=at)  # type: ignore[arg-type]

    return setup


_PAST = formatdate(time.time() - 3600, usegmt=True)  # an HTTP-date already passed: wait 0
_HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

# 200 records, per_page=20: 10 full pages and a trailing empty one planned = 11 requests.
FAULTS = [
    # -- 429 storms ------------------------------------------------------------------
    # Five 429s in a row (max_retries=5 survives them on one request), then pages 3, 4.
    Fault("429-storm-seconds",
          setup=_inject((429, {"headers": {"Retry-After": "0"}, "times": 5}),
                        (429, {"headers": {"Retry-After": "0"}, "times": 3, "page": 3}),
                        (429, {"headers": {"Retry-After": "0"}, "times": 3, "page": 4})),
          max_requests=11 + 11),
    Fault("429-storm-http-date",
          setup=_inject((429, {"headers": {"Retry-After": _PAST}, "times": 5}),
                        (429, {"headers": {"Retry-After": _PAST}, "times": 3, "page": 3})),
          max_requests=11 + 8),
    Fault("429-storm-outlasts-retries",
          setup=_inject((429, {"headers": {"Retry-After": "0"}, "times": 10, "page": 2})),
          client={"max_retries": 3}, outcome=tio.RateLimitError, prefix=20,
          max_requests=11 + 3),
    # The token bucket's own 429s: whole seconds (>= 1 s) and HTTP-dates (< 1 s).
    Fault("429-rate-limit-seconds", knobs={"records": 60, "rate_limit": 4},
          client={"max_concurrency": 4, "max_retries": 8}, stream={"per_page": 10},
          max_requests=40),
    Fault("429-rate-limit-http-date",
          knobs={"records": 60, "rate_limit": 4, "retry_after_format": "http-date"},
          client={"max_concurrency": 4, "max_retries": 8}, stream={"per_page": 10},
          max_requests=60),
    Fault("429-retry-after-above-ceiling",
          setup=_inject((429, {"headers": {"Retry-After": "3600"}, "page": 2})),
          client={"max_retry_after": 60},
          outcome=tio.RateLimitError, prefix=20, max_requests=11),
    # -- 5xx and proxies -----------------------------------------------------------
    Fault("5xx-burst",
          setup=_inject((500, {"times": 2, "page": 2}), (502, {"times": 2, "page": 3}),
                        (503, {"body": {"error": "busy"}, "times": 2, "page": 4}),
                        (504, {"times": 2, "page": 5})),
          max_requests=11 + 8),
    Fault("5xx-random-knob", knobs={"error_rate": 0.3}, client={"max_retries": 8},
          max_requests=40),
    Fault("5xx-persistent", setup=_inject((503, {"times": 10, "page": 3})),
          client={"max_retries": 2}, outcome=tio.ServerError, prefix=40, max_requests=11 + 2),
    Fault("html-502-knob", knobs={"html_error_rate": 0.3}, client={"max_retries": 8},
          max_requests=40),
    Fault("html-502-injected",
          setup=_inject((502, {"body": _HTML_502, "headers": {"Content-Type": "text/html"},
                               "times": 3, "page": 2})),
          max_requests=11 + 3),
    # -- 2xx bodies that are not the documented JSON --------------------------------
    Fault("200-not-json-once",
          setup=_inject((200, {"body": "<html>maintenance</html>", "page": 2})),
          max_requests=12),
    Fault("200-not-json-persistent",
          setup=_inject((200, {"body": b"not json", "times": 10, "page": 2})),
          client={"max_retries": 2}, outcome=tio.ResponseDecodeError, prefix=20,
          max_requests=11 + 2),
    Fault("200-without-meta",
          setup=_inject((200, {"body": {"user_story_version_executions": []}, "page": 2})),
          outcome=tio.ResponseValidationError, prefix=20, max_requests=11),
    Fault("200-without-records-key",
          setup=_inject((200, {"body": {"meta": {"record_count": 200}}, "page": 2})),
          outcome=tio.ResponseValidationError, prefix=20, max_requests=11),
    Fault("200-records-not-a-list",
          setup=_inject((200, {"body": {"meta": {"record_count": 200},
                                        "user_story_version_executions": {}}, "page": 3})),
          outcome=tio.ResponseValidationError, prefix=40, max_requests=11),
    # -- bodies cut short, connections reset ------------------------------------------
    Fault("truncated-connection", knobs={"truncate_rate": 0.3, "truncate_mode": "connection"},
          client={"max_retries": 8}, max_requests=40),
    Fault("truncated-body", knobs={"truncate_rate": 0.3, "truncate_mode": "body"},
          client={"max_retries": 8}, max_requests=40),
    Fault("reset-mid-body", setup=_resets("body", times=2, page=3), max_requests=11 + 2),
    # aiohttp itself retries an idempotent GET once after a reset before the status line.
    Fault("reset-before-headers", setup=_resets("headers", times=4, page=3),
          max_requests=11 + 4),
    Fault("reset-persistent", setup=_resets("body", times=10, page=2),
          client={"max_retries": 2}, outcome=tio.APIConnectionError, prefix=20,
          max_requests=11 + 2),
    # -- slower than the timeout (1 s: far above a loopback page, even under load) ---
    Fault("slow-once",
          setup=_inject((200, {"body": {"never": "read"}, "delay": 30.0, "page": 2})),
          client={"timeout": 1.0}, max_requests=12),
    Fault("slow-persistent",
          setup=_inject((200, {"body": {"never": "read"}, "delay": 30.0, "page": 2,
                               "times": 3})),
          client={"timeout": 1.0, "max_retries": 2}, outcome=tio.APITimeoutError, prefix=20,
          max_requests=11 + 2),
    # -- paging misbehaviour ----------------------------------------------------------
    Fault("per-page-capped", knobs={"max_per_page": 7}, max_requests=200 // 7 + 3),
    Fault("per-page-rejected", knobs={"max_per_page": 7, "per_page_overflow": "reject"},
          outcome=tio.UnprocessableEntityError, prefix=0, max_requests=1),
    Fault("page-ignored", knobs={"ignore_page": True, "per_page_default": 20},
          client={"max_concurrency": 4}, outcome=tio.PaginationError, prefix=20,
          max_requests=1 + 2 * 4),  # page 1, then at most the read-ahead (2 per place)
    Fault("record-count-too-low", knobs={"record_count_offset": -150}, max_requests=11 + 8),
    Fault("record-count-too-high", knobs={"record_count_offset": 150},
          max_requests=350 // 20 + 1),
    Fault("record-count-zero", knobs={"record_count_offset": -10_000}, max_requests=11 + 8),
    # -- live data ----------------------------------------------------------------------
    Fault("inserts-desc", knobs={"insert_per_request": 3}, stream={"order": "desc"},
          client={"max_concurrency": 4}, outcome=LIVE, max_requests=40),
    Fault("deletes-asc-1", knobs={"records": 1000, "delete_per_request": 1},
          client={"max_concurrency": 4}, stream={"per_page": 50}, outcome=LIVE,
          max_requests=80),
    # The limit: fewer than per_page rows may move between a page's read and its re-read.
    # About 3 requests (the page and two re-reads) per page of read-ahead lie between
    # them: max_concurrency=2, 3 deletes each: ~6 * 3 = 18 rows < 50.
    Fault("deletes-asc-3", knobs={"records": 1000, "delete_per_request": 3},
          client={"max_concurrency": 2}, stream={"per_page": 50}, outcome=LIVE,
          max_requests=80),
]


def _fetch_tasks() -> list[asyncio.Task[Any]]:
    """Fetch tasks of the SDK still alive (as in test_stream_e2e.py)."""
    return [t for t in asyncio.all_tasks() if "_Query.fetch" in repr(t.get_coro())]


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
async def test_fault(testio_sandbox_factory: SandboxFactory, fault: Fault) -> None:
    knobs = {"records": 200, **fault.knobs}
    sandbox = await testio_sandbox_factory(**knobs)
    fault.setup(sandbox)
    stream_kwargs = {"per_page": 20, **fault.stream}
    order = stream_kwargs.get("order", "asc")
    before = sandbox.expected(order=order)
    client = tio.Client(sandbox.token, base_url=sandbox.url,
                        **{"backoff_base": 0.0, **fault.client})
    got: list[dict[str, Any]] = []
    error: BaseException | None = None
    try:
        async with client:
            try:
                async for execution in client.executions.stream(**stream_kwargs):
                    got.append(unstructure_execution(execution))
            except tio.TestIOError as exc:
                error = exc
    finally:
        assert _fetch_tasks() == []
        assert client._session is None

    if fault.outcome == ALL:
        assert error is None, repr(error)
        assert got == before
    elif fault.outcome == LIVE:
        assert error is None, repr(error)
        ids = _ids(got)
        step = -1 if order == "desc" else 1
        assert all((b - a) * step > 0 for a, b in pairwise(ids)), \
            "ids not strictly in order (a record repeated or out of place)"
        survivors = set(sandbox.ids) & set(_ids(before))
        missing = survivors - set(ids)
        assert not missing, f"{len(missing)} surviving records lost, e.g. {sorted(missing)[:5]}"
        for row in got:  # every record as it is stored (ids never change their data)
            if row["id"] in sandbox.ids:
                assert row == sandbox.record(row["id"])
    else:
        assert type(error) is fault.outcome, repr(error)
        assert got == before[: fault.prefix]
    assert 0 < sandbox.stats.requests <= fault.max_requests, sandbox.stats.requests


async def test_deletes_beyond_the_limit_raise_rather_than_lose(
    testio_sandbox_factory: SandboxFactory,
) -> None:
    # 20 deletes per request, 3 requests per page of progress: 60 rows shift, per_page is 50.
    sandbox = await testio_sandbox_factory(records=1000, delete_per_request=20)
    before = set(sandbox.ids)
    got: list[int] = []
    async with tio.Client(sandbox.token, base_url=sandbox.url, max_concurrency=1,
                          backoff_base=0.0) as client:
        try:
            async for execution in client.executions.stream(per_page=50):
                got.append(execution.id)
        except tio.PaginationError:
            return  # an honest answer: the engine noticed it cannot keep its promise
    assert not (set(sandbox.ids) & before) - set(got)


async def test_a_retry_after_above_the_ceiling_does_not_stall_the_client(
    testio_sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await testio_sandbox_factory(records=30)
    sandbox.inject(429, headers={"Retry-After": "7200"})
    async with tio.Client(sandbox.token, base_url=sandbox.url, backoff_base=0.0,
                          max_retry_after=3600) as client:
        with pytest.raises(tio.RateLimitError):
            await client.executions.get_page()
        # The caller was told to stop; the next call (or another stream) is not put to
        # sleep for an hour on its behalf. It reaches the server at once.
        page = asyncio.create_task(client.executions.get_page())
        try:
            await asyncio.wait_for(asyncio.shield(page), 30.0)  # the stall was an hour
        finally:
            page.cancel()
            await asyncio.gather(page, return_exceptions=True)
    assert sandbox.stats.requests == 2
