"""End-to-end: the SDK over real HTTP against the sandbox on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import testio_async as tio
from testio_async._convert import unstructure_execution
from testio_async.sandbox import SandboxServer
from testio_async.sandbox.pytest_plugin import SandboxFactory

Make = Callable[..., tio.Client]


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., tio.Client]]:
    """Clients pointed at a sandbox, fast backoff, all closed after the test."""
    clients: list[tio.Client] = []

    def make(sandbox: SandboxServer, **kwargs: Any) -> tio.Client:
        kwargs.setdefault("backoff_base", 0.0)
        kwargs.setdefault("token", sandbox.token)
        client = tio.Client(base_url=sandbox.url, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def dicts(executions: list[tio.Execution]) -> list[dict[str, Any]]:
    return [unstructure_execution(e) for e in executions]


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_stream_yields_every_record_in_order(
    testio_sandbox_factory: SandboxFactory, make_client: Make, order: str
) -> None:
    sandbox = await testio_sandbox_factory(records=1003)
    client = make_client(sandbox, max_concurrency=4)
    got = [e async for e in client.executions.stream(order=order, per_page=10)]  # type: ignore[arg-type]
    assert dicts(got) == sandbox.expected(order=order)  # type: ignore[arg-type]


async def test_filters_are_sent_as_repeated_keys(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=2000)
    stories = [sandbox.user_story_id_of(1), sandbox.user_story_id_of(7)]
    versions = [sandbox.user_story_version_id_of(1), sandbox.user_story_version_id_of(7),
                sandbox.user_story_version_id_of(51)]
    client = make_client(sandbox)
    got = await client.executions.collect(
        user_story_ids=stories, user_story_version_ids=versions, order="desc", per_page=5
    )
    expected = sandbox.expected(
        user_story_ids=stories, user_story_version_ids=versions, order="desc"
    )
    assert expected and dicts(got) == expected
    first = sandbox.requests_log[0]
    assert first.query_values("user_story_ids[]") == [str(s) for s in stories]
    assert first.query_values("user_story_version_ids[]") == [str(v) for v in versions]
    assert first.query_values("order") == ["desc"]


async def test_get_page_is_one_request_for_that_page(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=95)
    client = make_client(sandbox)
    page = await client.executions.get_page(page=3, per_page=20, order="desc")
    assert ids(dicts(list(page.items))) == ids(sandbox.expected(order="desc"))[40:60]
    assert (page.page, page.per_page, page.record_count, page.total_pages) == (3, 20, 95, 5)
    assert sandbox.stats.requests == 1
    assert sandbox.requests_log[0].query_values("per_page") == ["20"]


async def test_pages_group_the_records_of_stream(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=45)
    client = make_client(sandbox)
    pages = [p async for p in client.executions.pages(per_page=20)]
    assert [(p.page, len(p.items)) for p in pages] == [(1, 20), (2, 20), (3, 5)]
    assert [e for p in pages for e in p.items] == await client.executions.collect(per_page=20)


async def test_limit_stops_and_fetches_only_the_pages_it_needs(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=1000)
    client = make_client(sandbox, max_concurrency=8)
    got = await client.executions.collect(per_page=10, limit=25)
    assert ids(dicts(got)) == list(range(1, 26))
    assert sorted(sandbox.stats.pages_served) == [1, 2, 3]
    assert sandbox.stats.requests == 3


async def test_limit_zero_sends_nothing(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=10)
    assert await make_client(sandbox).executions.collect(limit=0) == []
    assert sandbox.stats.requests == 0


async def test_concurrency_bound_holds_at_the_server(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=400)
    client = make_client(sandbox, max_concurrency=4)
    sandbox.hold()
    task = asyncio.create_task(client.executions.collect(per_page=10))
    await asyncio.wait_for(sandbox.wait_for_in_flight(1), 10)
    sandbox.release()
    sandbox.hold()  # page 1 is through; the read-ahead pages now pile up at the server
    await asyncio.wait_for(sandbox.wait_for_in_flight(4), 10)
    sandbox.release()
    assert len(await task) == 400
    assert sandbox.stats.peak_in_flight == 4


async def test_many_streams_share_the_client_limit(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=300, latency=0.005)
    client = make_client(sandbox, max_concurrency=3)
    results = await asyncio.gather(
        *(client.executions.collect(per_page=10, order=o) for o in ["asc", "desc"] * 3)
    )
    assert all(len(r) == 300 for r in results)
    assert sandbox.stats.peak_in_flight <= 3


async def test_429_retry_after_is_honoured(
    testio_sandbox_factory: SandboxFactory, make_client: Make, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = await testio_sandbox_factory(records=50)
    sandbox.inject(429, headers={"Retry-After": "1"}, page=2)
    client = make_client(sandbox)
    with caplog.at_level(logging.WARNING, logger="testio_async"):
        stream = client.executions.stream(per_page=10)
        got = [e async for e in stream]
    assert ids(dicts(got)) == list(range(1, 51))
    assert stream.stats.rate_limited == 1 and stream.stats.retries == 1
    (record,) = [r for r in caplog.records if "retry" in r.getMessage()]
    assert "429" in record.getMessage() and "in 1.00s" in record.getMessage()


async def test_429_pauses_every_stream_of_the_client(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=20)
    client = make_client(sandbox)
    sandbox.inject(429, headers={"Retry-After": "1"})
    loop = asyncio.get_running_loop()
    limited = asyncio.Event()

    class Signal(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            limited.set()

    handler = Signal()
    logging.getLogger("testio_async").addHandler(handler)
    try:
        first = asyncio.create_task(client.executions.collect(per_page=5))
        await asyncio.wait_for(limited.wait(), 10)
        paused_at = loop.time()
        page = await client.executions.get_page(per_page=5)  # another caller, same client
        waited = loop.time() - paused_at
    finally:
        logging.getLogger("testio_async").removeHandler(handler)
    assert len(page.items) == 5 and len(await first) == 20
    assert waited >= 0.9  # held back by the other request's Retry-After: 1


async def test_retry_after_above_the_ceiling_raises_at_once(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=20)
    sandbox.inject(429, headers={"Retry-After": "3600"})
    client = make_client(sandbox, max_retry_after=60)
    with pytest.raises(tio.RateLimitError) as info:
        await client.executions.collect()
    assert info.value.retry_after == 3600
    assert sandbox.stats.requests == 1


async def test_wrong_token_is_not_retried(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=20)
    client = make_client(sandbox, token="not-the-token")
    with pytest.raises(tio.AuthenticationError) as info:
        await client.executions.collect()
    assert info.value.status == 401 and info.value.message
    assert sandbox.stats.requests == 1


async def test_persistent_5xx_gives_up_after_max_retries(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=20, error_rate=1.0)
    client = make_client(sandbox, max_retries=2)
    with pytest.raises(tio.ServerError) as info:
        await client.executions.collect()
    assert info.value.status == 503 and info.value.message == "Service Unavailable"
    assert sandbox.stats.requests == 3


async def test_transient_faults_are_retried_without_loss(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=600)
    sandbox.inject(503, body={"error": "busy"}, page=3)
    sandbox.inject(502, body="<html><title>502 Bad Gateway</title></html>", page=4)
    sandbox.inject_reset(page=5)
    sandbox.inject(200, body=b'{"meta": {"record_co', page=6)
    client = make_client(sandbox)
    stream = client.executions.stream(per_page=50)
    got = [e async for e in stream]
    assert dicts(got) == sandbox.expected()
    assert stream.stats.retries == 4


async def test_timeout_is_retried(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=30)
    sandbox.inject(200, body={"never": "read"}, delay=30.0, page=2)
    client = make_client(sandbox, timeout=1.0)  # far above a loopback page, even under load
    stream = client.executions.stream(per_page=10)
    assert ids(dicts([e async for e in stream])) == list(range(1, 31))
    assert stream.stats.retries == 1


async def test_a_server_capping_per_page_costs_no_row(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=1000, max_per_page=30)
    client = make_client(sandbox)
    got = await client.executions.collect(per_page=100)
    assert dicts(got) == sandbox.expected()


async def test_a_server_rejecting_per_page_raises_422(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=100, max_per_page=30,
                                           per_page_overflow="reject")
    with pytest.raises(tio.UnprocessableEntityError):
        await make_client(sandbox).executions.collect(per_page=100)
    assert sandbox.stats.requests == 1


async def test_a_server_ignoring_page_does_not_loop(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=1000, ignore_page=True)
    client = make_client(sandbox, max_concurrency=4)
    got: list[tio.Execution] = []
    with pytest.raises(tio.PaginationError):
        async for execution in client.executions.stream(per_page=100):
            got.append(execution)
    assert ids(dicts(got)) == list(range(1, 26))  # page 1, once
    assert sandbox.stats.requests <= 1 + 2 * 4  # page 1, then at most the read-ahead


async def test_inserts_during_desc_paging_lose_and_repeat_nothing(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=500, insert_per_request=3)
    before = ids(sandbox.expected(order="desc"))
    client = make_client(sandbox, max_concurrency=4)
    stream = client.executions.stream(order="desc", per_page=20)
    got = ids(dicts([e async for e in stream]))
    assert len(got) == len(set(got))
    assert got == sorted(got, reverse=True)
    assert set(before) <= set(got)


async def test_deletes_during_asc_paging_lose_no_survivor(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    # One delete per request: shifts stay below a page between a read and its re-read.
    sandbox = await testio_sandbox_factory(records=1000, delete_per_request=1)
    client = make_client(sandbox, max_concurrency=4)
    got = ids(dicts(await client.executions.collect(per_page=50)))
    survivors = list(sandbox.ids)
    assert len(got) == len(set(got))
    assert got == sorted(got)
    assert set(survivors) <= set(got)


async def test_more_records_than_first_counted_are_fetched(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=200, record_count_offset=-150)
    got = await make_client(sandbox).executions.collect(per_page=20)
    assert dicts(got) == sandbox.expected()


async def test_a_failing_page_raises_after_every_earlier_record(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=200)
    sandbox.inject(404, body={"error": "gone"}, page=3)
    client = make_client(sandbox, max_concurrency=4)
    got: list[tio.Execution] = []
    with pytest.raises(tio.NotFoundError, match="gone"):
        async for execution in client.executions.stream(per_page=10):
            got.append(execution)
    assert ids(dicts(got)) == list(range(1, 21))
    assert _fetch_tasks() == []


def _fetch_tasks() -> list[asyncio.Task[Any]]:
    """Fetch tasks of the SDK still alive."""
    return [t for t in asyncio.all_tasks() if "_Query.fetch" in repr(t.get_coro())]


async def test_break_cancels_every_fetch_in_flight(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=1000, latency=0.01)
    client = make_client(sandbox, max_concurrency=8)
    stream = client.executions.stream(per_page=10)
    async for execution in stream:
        if execution.id == 15:
            break
    await stream.aclose()
    assert _fetch_tasks() == []
    assert sandbox.stats.requests < 20


async def test_cancelling_the_consumer_cancels_the_fetches(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=1000)
    client = make_client(sandbox, max_concurrency=4)
    seen = asyncio.Event()

    async def consume() -> None:
        async for _ in client.executions.stream(per_page=10):
            seen.set()
            sandbox.hold()  # keep the read-ahead fetches in flight

    task = asyncio.create_task(consume())
    await asyncio.wait_for(seen.wait(), 10)
    await asyncio.wait_for(sandbox.wait_for_in_flight(4), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _fetch_tasks() == []
    sandbox.release()


async def test_unknown_status_and_extra_fields_do_not_break_the_stream(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=1)
    row = {**sandbox.record(1), "status": "skipped", "new_field": {"x": 1}, "comment": None,
           "device_reports": []}
    sandbox.inject(200, body={"meta": {"record_count": 1, "extra": 2},
                              "user_story_version_executions": [row], "links": {}})
    (execution,) = await make_client(sandbox).executions.collect()
    assert execution.status == "skipped" and not isinstance(execution.status,
                                                             tio.ExecutionStatus)
    assert execution.device_reports == () and execution.comment is None


async def test_a_bad_record_names_its_path_and_id(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=2)
    rows = sandbox.expected()
    rows[1]["executed_at"] = "yesterday"
    sandbox.inject(200, body={"meta": {"record_count": 2}, "user_story_version_executions": rows})
    with pytest.raises(tio.ResponseValidationError) as info:
        await make_client(sandbox).executions.collect()
    assert "$.user_story_version_executions[1].executed_at" in str(info.value)
    assert info.value.record_id == 2 and "execution 2" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"order": "newest"}, ValueError, "order"),
        ({"per_page": 0}, ValueError, "per_page"),
        ({"per_page": "10"}, TypeError, "per_page"),
        ({"limit": -1}, ValueError, "limit"),
        ({"user_story_ids": "12"}, TypeError, "user_story_ids"),
        ({"user_story_ids": [1, "2"]}, TypeError, "user_story_ids"),
        ({"user_story_version_ids": []}, ValueError, "user_story_version_ids"),
        ({"user_story_ids": [True]}, TypeError, "user_story_ids"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    testio_sandbox_factory: SandboxFactory,
    make_client: Make,
    kwargs: dict[str, Any],
    error: type[Exception],
    word: str,
) -> None:
    sandbox = await testio_sandbox_factory(records=5)
    client = make_client(sandbox)
    with pytest.raises(error, match=word):
        client.executions.stream(**kwargs)
    with pytest.raises(error, match=word):
        await client.executions.collect(**kwargs)
    assert sandbox.stats.requests == 0
