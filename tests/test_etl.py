"""End-to-end: resume, watermarks, partitions, stats and AIMD against the sandbox."""

from __future__ import annotations

import json
import pickle
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest

import testio_async as tio
from testio_async.sandbox import SandboxServer
from testio_async.sandbox.pytest_plugin import SandboxFactory

Make = Callable[..., tio.Client]


@pytest.fixture
async def make_client() -> AsyncIterator[Make]:
    clients: list[tio.Client] = []

    def make(sandbox: SandboxServer, **kwargs: Any) -> tio.Client:
        kwargs.setdefault("backoff_base", 0.0)
        client = tio.Client(sandbox.token, base_url=sandbox.url, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def ids(executions: list[tio.Execution]) -> list[int]:
    return [e.id for e in executions]


def expected_ids(sandbox: SandboxServer, **filters: Any) -> list[int]:
    return [row["id"] for row in sandbox.expected(**filters)]


def roundtrip(checkpoint: tio.Checkpoint | None) -> tio.Checkpoint:
    """Through JSON, as a job saves it between runs."""
    assert checkpoint is not None
    loaded: tio.Checkpoint = json.loads(json.dumps(checkpoint))
    return loaded


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_pages_resume_from_a_checkpoint_without_gap_or_repeat(
    testio_sandbox_factory: SandboxFactory, make_client: Make, order: str
) -> None:
    sandbox = await testio_sandbox_factory(records=1234)
    stories = [sandbox.user_story_id_of(i) for i in (1, 2, 3)]
    client = make_client(sandbox, max_concurrency=4)
    got: list[int] = []
    async with client.executions.pages(per_page=20, order=order,  # type: ignore[arg-type]
                                       user_story_ids=stories) as pages:
        async for page in pages:
            got += ids(list(page.items))
            if page.page == 3:
                checkpoint = roundtrip(page.checkpoint)
                break
    assert checkpoint["next_page"] == 4
    assert not checkpoint["done"]
    rest = await client.executions.collect(resume_from=checkpoint)
    assert got + ids(rest) == expected_ids(sandbox, order=order, user_story_ids=stories)
    assert sandbox.requests_log[-1].query_values("user_story_ids[]") == [str(s) for s in stories]


async def test_stream_checkpoint_is_the_last_page_fully_handed_out(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=300)
    client = make_client(sandbox)
    stream = client.executions.stream(per_page=50)
    assert stream.checkpoint is None
    async with stream:
        async for execution in stream:
            if execution.id == 99:
                assert stream.checkpoint is not None
                assert stream.checkpoint["next_page"] == 2  # page 2 is not over yet
            if execution.id == 100:  # the last record of page 2 is handed out
                assert stream.checkpoint is not None
                assert stream.checkpoint["next_page"] == 3
                break
    checkpoint = roundtrip(stream.checkpoint)
    assert ids(await client.executions.collect(resume_from=checkpoint)) == list(range(101, 301))


async def test_a_limit_cut_resumes_inside_the_page(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=260)
    client = make_client(sandbox)
    stream = client.executions.stream(per_page=50, limit=120)
    first = [e.id async for e in stream]
    checkpoint = roundtrip(stream.checkpoint)
    assert (checkpoint["next_page"], checkpoint["records"], checkpoint["done"]) == (3, 120, False)
    second = client.executions.stream(resume_from=checkpoint)
    rest = [e.id async for e in second]
    assert first + rest == list(range(1, 261))
    done = roundtrip(second.checkpoint)
    assert done["done"]
    assert done["records"] == 260
    before = sandbox.stats.requests
    assert await client.executions.collect(resume_from=done) == []
    assert sandbox.stats.requests == before  # a finished checkpoint sends nothing


async def test_resume_after_the_total_shrank_rereads_the_boundary(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=200)
    client = make_client(sandbox)
    async with client.executions.pages(per_page=20) as pages:
        async for page in pages:
            checkpoint = roundtrip(page.checkpoint)
            break
    sandbox.config.delete_per_request = 3  # the oldest records go while we are away
    await client.executions.get_page()  # one request: three deleted, page 2 shifts back
    sandbox.config.delete_per_request = 0
    stream = client.executions.stream(resume_from=checkpoint)
    rest = [e.id async for e in stream]
    assert list(range(21, 201)) == rest  # 21..23 slipped into page 1's range: re-read
    assert stream.stats.refetches == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"resume_from": {"version": 1}}, ValueError, "resume_from"),
        ({"resume_from": "page 3"}, TypeError, "resume_from"),
        ({"newer_than": 5}, ValueError, "newer_than"),
        ({"order": "desc", "newer_than": datetime(2025, 1, 1)}, ValueError, "aware"),
        ({"order": "desc", "newer_than": -1}, ValueError, "newer_than"),
        ({"partition": (1, 3)}, TypeError, "partition"),
    ],
)
async def test_bad_etl_arguments_fail_before_any_request(
    testio_sandbox_factory: SandboxFactory, make_client: Make,
    kwargs: dict[str, Any], error: type[Exception], word: str,
) -> None:
    sandbox = await testio_sandbox_factory(records=5)
    with pytest.raises(error, match=word):
        make_client(sandbox).executions.stream(**kwargs)
    assert sandbox.stats.requests == 0


async def test_a_checkpoint_refuses_contradicting_filters(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=100)
    client = make_client(sandbox)
    async with client.executions.pages(per_page=10, user_story_ids=[1], order="desc") as pages:
        async for page in pages:
            checkpoint = roundtrip(page.checkpoint)
            break
    requests = sandbox.stats.requests
    with pytest.raises(ValueError, match="user_story_ids"):
        client.executions.stream(resume_from=checkpoint, user_story_ids=[2])
    with pytest.raises(ValueError, match="order"):  # "asc" is the default: "desc" is asked
        client.executions.stream(resume_from={**checkpoint, "order": "asc"},  # type: ignore[typeddict-item]
                                 order="desc")
    parts = await client.executions.partitions(2)
    with pytest.raises(ValueError, match="not both"):
        client.executions.stream(resume_from=checkpoint, partition=parts[0])
    assert sandbox.stats.requests == requests + 1  # only partitions() asked anything
    # The same filters again are fine.
    rest = await client.executions.collect(resume_from=checkpoint, user_story_ids=[1])
    assert ids(rest) == expected_ids(sandbox, user_story_ids=[1], order="desc")[10:]


async def test_newer_than_an_id_stops_at_the_watermark(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=5000)
    client = make_client(sandbox, max_concurrency=4)
    got = [e.id async for e in client.executions.stream(order="desc", newer_than=4950,
                                                         per_page=10)]
    assert got == list(range(5000, 4950, -1))
    # 5 pages hold the new records; read-ahead overshoots by the concurrency at most.
    assert sandbox.stats.requests <= 5 + 4


async def test_newer_than_a_datetime_stops_at_the_watermark(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=300)
    client = make_client(sandbox)
    watermark = (await client.executions.collect(order="desc", limit=21))[-1].executed_at
    got = await client.executions.collect(order="desc", newer_than=watermark, per_page=7)
    assert ids(got) == list(range(300, 280, -1))
    assert all(e.executed_at > watermark for e in got)


async def test_partitions_together_yield_every_record_once(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=1003)
    client = make_client(sandbox)
    parts = pickle.loads(pickle.dumps(await client.executions.partitions(4, per_page=50)))
    assert [(p.index, p.count) for p in parts] == [(i, 4) for i in range(4)]
    assert parts[0].first_page == 1
    assert parts[-1].last_page is None
    assert all(a.last_page is not None and a.last_page + 1 == b.first_page
               for a, b in pairwise(parts))
    union: list[int] = []
    for part in parts:
        union += ids(await client.executions.collect(partition=part))
    assert union == list(range(1, 1004))


async def test_more_partitions_than_pages(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=30)
    client = make_client(sandbox)
    parts = await client.executions.partitions(8, per_page=20)
    assert len(parts) == 2
    union = [e.id for p in parts for e in await client.executions.collect(partition=p)]
    assert union == list(range(1, 31))


async def test_partitions_follow_a_server_cap(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=500, max_per_page=40)
    client = make_client(sandbox)
    parts = await client.executions.partitions(3, per_page=100)
    assert {p.query.per_page for p in parts} == {40}
    union = [e.id for p in parts for e in await client.executions.collect(partition=p)]
    assert union == list(range(1, 501))


async def test_stats_show_drift_and_dropped_duplicates(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=400, insert_per_request=2)
    client = make_client(sandbox, max_concurrency=1)
    stream = client.executions.stream(order="desc", per_page=20)
    got = [e.id async for e in stream]
    stats = stream.stats
    assert stats.records == len(got) == len(set(got))
    assert stats.record_count_start == 400
    assert stats.record_count_end is not None
    assert stats.record_count_end > 400
    assert stats.duplicates > 0  # inserts pushed yielded rows onto the next page
    assert stats.requests >= stats.pages


async def test_adaptive_concurrency_loses_nothing_under_a_rate_limit(
    testio_sandbox_factory: SandboxFactory, make_client: Make
) -> None:
    sandbox = await testio_sandbox_factory(records=200, rate_limit=50,
                                           retry_after_format="http-date")
    client = make_client(sandbox, max_concurrency=8, adaptive_concurrency=True, max_retries=10)
    stream = client.executions.stream(per_page=10)
    assert [e.id async for e in stream] == list(range(1, 201))
    assert client._gate.limit <= 8
