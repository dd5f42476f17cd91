"""Cancellation and load: random breaks and cancels leave nothing behind; limits hold."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import pytest

import testio_async as tio
from testio_async.sandbox import SandboxServer
from testio_async.sandbox.pytest_plugin import SandboxFactory

ITERATIONS = 200


def _fetch_tasks() -> list[asyncio.Task[Any]]:
    """Fetch tasks of the SDK still alive (as in test_stream_e2e.py)."""
    return [t for t in asyncio.all_tasks() if "_Query.fetch" in repr(t.get_coro())]


async def _until(condition: Callable[[], bool], turns: int = 10_000) -> bool:
    """Let the loop run until ``condition`` holds (a bounded number of turns, no timing)."""
    for _ in range(turns):
        if condition():
            return True
        await asyncio.sleep(0)
    return condition()


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Debug mode on, and every call of the loop's exception handler recorded."""
    loop = asyncio.get_running_loop()
    calls: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    previous_debug = loop.get_debug()
    loop.set_debug(True)
    loop.slow_callback_duration = 10.0  # debug mode's slow-callback log is noise here
    loop.set_exception_handler(lambda _loop, context: calls.append(context))
    try:
        yield calls
    finally:
        gc.collect()  # "Task exception was never retrieved" is reported at collection
        await asyncio.sleep(0)
        loop.set_exception_handler(previous_handler)
        loop.set_debug(previous_debug)


async def _consume(client: tio.Client, rng: random.Random, how: str) -> int:
    """One stream, left early at a random record: ``break`` with or without ``aclose``."""
    stop_at = rng.randrange(0, 45)
    order = rng.choice(["asc", "desc"])
    count = 0
    if how == "aclosing":
        async with aclosing(client.executions.stream(order=order, per_page=10)) as stream:
            async for _ in stream:
                count += 1
                if count > stop_at:
                    break
    elif how == "bare-break":  # the generator is finalised by the loop's asyncgen hooks
        async for _ in client.executions.stream(order=order, per_page=10):
            count += 1
            if count > stop_at:
                break
    else:  # pages(), left through its context manager
        async with client.executions.pages(order=order, per_page=10) as pages:
            async for page in pages:
                count += len(page.items)
                if count > stop_at:
                    break
    return count


async def test_random_breaks_and_cancellations_leave_nothing_behind(
    testio_sandbox_factory: SandboxFactory, loop_errors: list[dict[str, Any]]
) -> None:
    sandbox = await testio_sandbox_factory(records=40, latency=0.001)
    rng = random.Random(20240611)
    client = tio.Client(sandbox.token, base_url=sandbox.url, max_concurrency=4,
                        backoff_base=0.0)
    cancelled = finished = 0
    async with client:
        for _ in range(ITERATIONS):
            tasks = [
                asyncio.create_task(
                    _consume(client, rng, rng.choice(["aclosing", "bare-break", "pages"]))
                )
                for _ in range(rng.randint(1, 4))
            ]
            # Cancel some of them after a random number of event-loop turns.
            victims = [t for t in tasks if rng.random() < 0.5]
            for _ in range(rng.randrange(0, 40)):
                await asyncio.sleep(0)
            for task in victims:
                task.cancel()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, asyncio.CancelledError):
                    cancelled += 1
                else:
                    assert isinstance(outcome, int), repr(outcome)
                    finished += 1
        assert await _until(lambda: not _fetch_tasks()), _fetch_tasks()
    assert client._session is None
    assert cancelled > 20 and finished > 20  # both paths were really taken
    assert _fetch_tasks() == []
    # Closed connections end the server's handlers; in_flight drops to 0.
    assert await _until(lambda: sandbox.stats.in_flight == 0), sandbox.stats.in_flight
    gc.collect()
    await asyncio.sleep(0)
    assert loop_errors == []


async def test_cancelling_a_collect_or_get_page_mid_request_leaves_nothing(
    testio_sandbox_factory: SandboxFactory, loop_errors: list[dict[str, Any]]
) -> None:
    sandbox = await testio_sandbox_factory(records=200)
    async with tio.Client(sandbox.token, base_url=sandbox.url, max_concurrency=4) as client:
        sandbox.hold()
        tasks = [asyncio.create_task(client.executions.collect(per_page=10)),
                 asyncio.create_task(client.executions.get_page(page=3, per_page=10))]
        await asyncio.wait_for(sandbox.wait_for_in_flight(2), 10)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        sandbox.release()
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert _fetch_tasks() == []
        # The client is still usable after its callers were cancelled.
        assert len(await client.executions.collect(per_page=50)) == 200
    assert await _until(lambda: sandbox.stats.in_flight == 0)
    assert loop_errors == []


async def test_closing_the_client_under_running_streams(
    testio_sandbox_factory: SandboxFactory, loop_errors: list[dict[str, Any]]
) -> None:
    sandbox = await testio_sandbox_factory(records=500, latency=0.001)
    client = tio.Client(sandbox.token, base_url=sandbox.url, max_concurrency=4,
                        backoff_base=0.0, max_retries=0)
    seen = asyncio.Event()

    async def consume() -> int:
        count = 0
        async for _ in client.executions.stream(per_page=10):
            count += 1
            seen.set()
        return count

    tasks = [asyncio.create_task(consume()) for _ in range(3)]
    await asyncio.wait_for(seen.wait(), 10)
    await client.close()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    # Closed under their feet, streams end with an error (typed or RuntimeError("closed")),
    # never hang, never leave a fetch behind.
    for result in results:
        assert isinstance(result, int | tio.TestIOError | RuntimeError), repr(result)
    assert _fetch_tasks() == []
    assert client._session is None
    assert await _until(lambda: sandbox.stats.in_flight == 0)
    gc.collect()
    await asyncio.sleep(0)
    assert loop_errors == []


# -- load ---------------------------------------------------------------------------

async def test_max_concurrency_holds_for_many_streams(
    testio_sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await testio_sandbox_factory(records=200, latency=0.002)
    async with tio.Client(sandbox.token, base_url=sandbox.url, max_concurrency=3,
                          backoff_base=0.0) as client:
        results = await asyncio.gather(*(
            client.executions.collect(per_page=10, order="desc" if i % 2 else "asc")
            for i in range(16)
        ))
    assert all(len(r) == 200 for r in results)
    assert 1 <= sandbox.stats.peak_in_flight <= 3
    assert sandbox.stats.in_flight == 0


async def test_max_concurrency_holds_at_exactly_the_limit(
    testio_sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await testio_sandbox_factory(records=100)
    async with tio.Client(sandbox.token, base_url=sandbox.url, max_concurrency=5) as client:
        sandbox.hold()
        tasks = [asyncio.create_task(client.executions.get_page(page=p, per_page=10))
                 for p in range(1, 11)]
        await asyncio.wait_for(sandbox.wait_for_in_flight(5), 10)
        for _ in range(50):  # give the others every chance to get through (they must not)
            await asyncio.sleep(0)
        assert sandbox.stats.in_flight == 5
        sandbox.release()
        pages = await asyncio.gather(*tasks)
    assert [p.page for p in pages] == list(range(1, 11))
    assert sandbox.stats.peak_in_flight == 5


async def test_a_429_pauses_every_stream_of_the_client(
    testio_sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = await testio_sandbox_factory(records=100)
    loop = asyncio.get_running_loop()
    arrivals: list[float] = []
    log = sandbox._log

    def timed_log(request: Any, page: int | None) -> None:
        arrivals.append(loop.time())
        log(request, page)

    monkeypatch.setattr(sandbox, "_log", timed_log)
    limited_at: list[float] = []

    class Signal(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "429" in record.getMessage():
                limited_at.append(loop.time())

    handler = Signal()
    logging.getLogger("testio_async").addHandler(handler)
    sandbox.inject(429, headers={"Retry-After": "1"}, page=3)
    try:
        async with tio.Client(sandbox.token, base_url=sandbox.url, max_concurrency=2,
                              backoff_base=0.0) as client:
            results = await asyncio.gather(*(client.executions.collect(per_page=10)
                                             for _ in range(6)))
    finally:
        logging.getLogger("testio_async").removeHandler(handler)
    assert all(len(r) == 100 for r in results)
    (seen,) = limited_at
    # Once the client saw the 429, nothing new reached the server for the Retry-After;
    # at most the requests already on the wire (max_concurrency of them) arrive late.
    during = [t for t in arrivals if seen < t < seen + 0.9]
    assert len(during) <= 2, during
    assert any(t >= seen + 0.9 for t in arrivals)


async def test_aclose_on_a_stream_never_started_sends_nothing(
    testio_sandbox: SandboxServer,
) -> None:
    async with tio.Client(testio_sandbox.token, base_url=testio_sandbox.url) as client:
        stream = client.executions.stream()
        await stream.aclose()
        pages = client.executions.pages()
        async with pages:
            pass
    assert testio_sandbox.stats.requests == 0
