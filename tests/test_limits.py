"""The client-wide gate: bound, pause, cancellation, AIMD."""

from __future__ import annotations

import asyncio

from testio_async._limits import RequestGate


async def turns(n: int = 5) -> None:
    """Give the event loop a few turns (not a wait for time: nothing here sleeps)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def hold(gate: RequestGate, started: list[int], me: int, release: asyncio.Event) -> None:
    async with gate.slot():
        started.append(me)
        await release.wait()


async def test_the_bound_holds() -> None:
    gate = RequestGate(2)
    started: list[int] = []
    release = asyncio.Event()
    tasks = [asyncio.create_task(hold(gate, started, i, release)) for i in range(5)]
    await turns()
    assert started == [0, 1]
    release.set()
    await asyncio.gather(*tasks)
    assert sorted(started) == [0, 1, 2, 3, 4]
    assert gate.in_flight == 0


async def test_a_pause_holds_new_requests_back() -> None:
    gate = RequestGate(4)
    gate.pause(3600.0)
    started: list[int] = []
    done = asyncio.Event()
    done.set()
    task = asyncio.create_task(hold(gate, started, 0, done))
    await turns()
    assert started == []
    assert not task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert gate.in_flight == 0


async def test_a_cancelled_request_gives_its_place_back() -> None:
    gate = RequestGate(1)
    started: list[int] = []
    never = asyncio.Event()
    task = asyncio.create_task(hold(gate, started, 0, never))
    await turns()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert gate.in_flight == 0
    done = asyncio.Event()
    done.set()
    await hold(gate, started, 1, done)
    assert started == [0, 1]


async def test_aimd_halves_on_429_and_climbs_back_slowly() -> None:
    gate = RequestGate(16, adaptive=True)
    gate.rate_limited()
    gate.rate_limited()
    assert gate.limit == 4
    for _ in range(4):
        gate.succeeded()
    assert 4.9 < gate.limit < 5.1  # about one more per round of `limit` successes
    for _ in range(1000):
        gate.succeeded()
    assert gate.limit == 16  # never above max_concurrency
    for _ in range(10):
        gate.rate_limited()
    assert gate.limit == 1


async def test_aimd_reduces_once_per_pause() -> None:
    gate = RequestGate(16, adaptive=True)
    gate.rate_limited()
    gate.pause(3600.0)  # what the transport does after the first 429
    for _ in range(7):  # the other requests that were in flight are refused too
        gate.rate_limited()
    assert gate.limit == 8


async def test_a_fixed_gate_does_not_move() -> None:
    gate = RequestGate(8)
    gate.rate_limited()
    gate.succeeded()
    assert gate.limit == 8
