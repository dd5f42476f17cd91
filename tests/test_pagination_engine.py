"""The pagination engine, driven by an in-memory fake ``fetch(page, per_page)``.

No HTTP here: the fake answers from a list of ids, can hold any page behind a gate to
control completion order, and counts calls, concurrency and cancellations.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import pytest

from testio_async import PaginationError, ServerError, StreamStats
from testio_async._pagination import Batch, RawPage, paginate


@dataclass(frozen=True)
class Rec:
    id: int


Hook = Callable[["Fake", int, int], None]


@dataclass
class Fake:
    """A server over ``data`` (ids), newest = highest id."""

    data: list[int]
    desc: bool = False
    cap: int | None = None
    ignore_page: bool = False
    count: int | None = None  # a wrong record_count to report, if set
    hook: Hook | None = None  # called with (fake, call number, page) just before answering
    rng: random.Random | None = None  # random extra scheduling points per call
    calls: list[tuple[int, int]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    cancelled: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    gates: dict[int, asyncio.Event] = field(default_factory=dict)  # hold a page's first call
    held: set[int] = field(default_factory=set)
    fail: dict[int, BaseException] = field(default_factory=dict)
    started: defaultdict[int, asyncio.Event] = field(
        default_factory=lambda: defaultdict(asyncio.Event))
    answered: defaultdict[int, asyncio.Event] = field(
        default_factory=lambda: defaultdict(asyncio.Event))

    def gate(self, *pages: int) -> None:
        for page in pages:
            self.gates[page] = asyncio.Event()

    def view(self) -> list[int]:
        return sorted(self.data, reverse=self.desc)

    def insert_newest(self, n: int) -> None:
        top = max(self.data, default=0)
        self.data.extend(range(top + 1, top + 1 + n))

    def delete_oldest(self, n: int) -> None:
        for _ in range(min(n, len(self.data))):
            self.data.remove(min(self.data))

    async def fetch(self, page: int, per_page: int) -> RawPage[Rec]:
        self.calls.append((page, per_page))
        call = len(self.calls)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.started[page].set()
        try:
            gate = self.gates.get(page) if page not in self.held else None
            self.held.add(page)
            if gate is not None:
                await gate.wait()
            else:
                await asyncio.sleep(0)
            for _ in range(self.rng.randint(0, 4) if self.rng else 0):
                await asyncio.sleep(0)
            if self.hook is not None:
                self.hook(self, call, page)
            if page in self.fail:
                raise self.fail[page]
            size = per_page if self.cap is None else min(per_page, self.cap)
            start = 0 if self.ignore_page else (page - 1) * size
            view = self.view()
            items = [Rec(i) for i in view[start:start + size]]
            self.completed.append(page)
            self.answered[page].set()
            return RawPage(items, len(view) if self.count is None else self.count)
        except asyncio.CancelledError:
            self.cancelled.append(page)
            raise
        finally:
            self.in_flight -= 1

    @property
    def pages_requested(self) -> list[int]:
        return [page for page, _ in self.calls]


def engine(fake: Fake, *, per_page: int = 10, read_ahead: int = 4,
           limit: int | None = None, stats: StreamStats | None = None) -> Any:
    return paginate(fake.fetch, per_page=per_page, read_ahead=read_ahead,
                    key=attrgetter("id"), descending=fake.desc, limit=limit, stats=stats)


async def drain(fake: Fake, **kwargs: Any) -> tuple[list[int], list[Batch[Rec]]]:
    batches: list[Batch[Rec]] = []
    async with aclosing(engine(fake, **kwargs)) as agen:
        async for batch in agen:
            batches.append(batch)
    return [r.id for b in batches for r in b.items], batches


def no_other_tasks() -> bool:
    return asyncio.all_tasks() == {asyncio.current_task()}


async def settle(rounds: int = 20) -> None:
    """Let every ready task run (scheduling points, not a wait for time)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


# --- plain paging ---------------------------------------------------------------------


@pytest.mark.parametrize("read_ahead", [1, 2, 4, 16])
@pytest.mark.parametrize(("total", "per_page"), [(95, 10), (100, 10), (1, 10), (10, 1)])
async def test_every_record_once_in_order(total: int, per_page: int, read_ahead: int) -> None:
    fake = Fake(list(range(1, total + 1)))
    ids, batches = await drain(fake, per_page=per_page, read_ahead=read_ahead)
    assert ids == list(range(1, total + 1))
    assert [b.page for b in batches] == list(range(1, len(batches) + 1))
    assert all(b.per_page == per_page for b in batches)
    # No page read twice, and nothing far past the end.
    assert len(set(fake.pages_requested)) == len(fake.pages_requested)
    assert max(fake.pages_requested) <= total // per_page + 1 + read_ahead
    assert no_other_tasks()


async def test_descending_order_kept() -> None:
    fake = Fake(list(range(1, 58)), desc=True)
    ids, _ = await drain(fake, per_page=10)
    assert ids == list(range(57, 0, -1))


async def test_empty_result_is_one_empty_batch() -> None:
    fake = Fake([])
    ids, batches = await drain(fake)
    assert ids == []
    assert len(batches) == 1
    assert batches[0].record_count == 0
    assert fake.pages_requested == [1]


async def test_single_short_page_needs_one_request() -> None:
    fake = Fake(list(range(1, 8)))
    ids, _ = await drain(fake, per_page=10, read_ahead=8)
    assert ids == list(range(1, 8))
    assert fake.pages_requested == [1]


async def test_batches_carry_record_count() -> None:
    fake = Fake(list(range(1, 26)))
    _, batches = await drain(fake, per_page=10)
    assert [b.record_count for b in batches] == [25, 25, 25]
    assert [len(b.items) for b in batches] == [10, 10, 5]


# --- completion order -----------------------------------------------------------------


async def test_pages_completing_out_of_order_yield_in_order() -> None:
    fake = Fake(list(range(1, 51)))  # pages 1..5, and an empty page 6
    fake.gate(2, 3, 4, 5)
    consumed: list[int] = []

    async def consume() -> list[int]:
        ids: list[int] = []
        async with aclosing(engine(fake, per_page=10, read_ahead=4)) as agen:
            async for batch in agen:
                consumed.append(batch.page)
                ids += [r.id for r in batch.items]
        return ids

    task = asyncio.create_task(consume())
    for page in (2, 3, 4, 5):
        await fake.started[page].wait()
    for page in (5, 4, 3):  # last first
        fake.gates[page].set()
        await fake.answered[page].wait()
        await settle()
        assert consumed == [1], "a later page was yielded before page 2"
    assert fake.completed == [1, 5, 4, 3]
    fake.gates[2].set()
    ids = await task
    assert ids == list(range(1, 51))
    assert consumed[:5] == [1, 2, 3, 4, 5]
    assert no_other_tasks()


async def test_random_completion_order_yields_in_order() -> None:
    for seed in range(10):
        fake = Fake(list(range(1, 301)), rng=random.Random(seed))
        ids, batches = await drain(fake, per_page=7, read_ahead=6)
        assert ids == list(range(1, 301)), f"seed {seed}"
        assert [b.page for b in batches] == sorted(b.page for b in batches)


# --- read-ahead -----------------------------------------------------------------------


@pytest.mark.parametrize("read_ahead", [1, 2, 3, 5])
async def test_read_ahead_bounds_concurrent_fetches(read_ahead: int) -> None:
    fake = Fake(list(range(1, 201)), rng=random.Random(read_ahead))
    ids, _ = await drain(fake, per_page=10, read_ahead=read_ahead)
    assert ids == list(range(1, 201))
    assert fake.max_in_flight <= read_ahead
    assert fake.max_in_flight == read_ahead  # and it is really used


async def test_read_ahead_holds_while_consumer_is_slow() -> None:
    fake = Fake(list(range(1, 201)))
    async with aclosing(engine(fake, per_page=10, read_ahead=3)) as agen:
        first = await anext(agen)
        assert first.page == 1
        second = await anext(agen)
        assert second.page == 2
        await settle()
        # The consumer holds page 2: at most read_ahead pages beyond it were asked for.
        assert max(fake.pages_requested) <= 2 + 3
    assert no_other_tasks()


# --- limit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "pages"),
    [(1, [1]), (5, [1]), (10, [1]), (11, [1, 2]), (25, [1, 2, 3]), (30, [1, 2, 3])],
)
async def test_limit_stops_and_requests_only_needed_pages(limit: int, pages: list[int]) -> None:
    fake = Fake(list(range(1, 101)))
    ids, _ = await drain(fake, per_page=10, read_ahead=8, limit=limit)
    assert ids == list(range(1, limit + 1))
    assert sorted(fake.pages_requested) == pages
    assert no_other_tasks()


async def test_limit_zero_fetches_nothing() -> None:
    fake = Fake(list(range(1, 101)))
    ids, batches = await drain(fake, limit=0)
    assert ids == []
    assert batches == []
    assert fake.calls == []


async def test_limit_above_total_gives_everything() -> None:
    fake = Fake(list(range(1, 36)))
    ids, _ = await drain(fake, per_page=10, limit=1000)
    assert ids == list(range(1, 36))


# --- a server that caps per_page ------------------------------------------------------


@pytest.mark.parametrize(("cap", "total"), [(7, 50), (7, 49), (3, 10), (1, 5), (9, 9), (9, 4)])
@pytest.mark.parametrize("read_ahead", [1, 4])
async def test_silent_per_page_cap_loses_nothing(cap: int, total: int, read_ahead: int) -> None:
    fake = Fake(list(range(1, total + 1)), cap=cap)
    ids, _ = await drain(fake, per_page=10, read_ahead=read_ahead)
    assert ids == list(range(1, total + 1))


async def test_silent_per_page_cap_with_limit() -> None:
    fake = Fake(list(range(1, 101)), cap=6)
    ids, _ = await drain(fake, per_page=20, read_ahead=4, limit=15)
    assert ids == list(range(1, 16))
    # 15 records at 6 a page: pages 1..3 and no more.
    assert sorted(fake.pages_requested) == [1, 2, 3]


# --- a server that ignores page -------------------------------------------------------


@pytest.mark.parametrize("read_ahead", [1, 4])
async def test_server_ignoring_page_raises_after_first_page(read_ahead: int) -> None:
    fake = Fake(list(range(1, 101)), ignore_page=True)
    ids: list[int] = []
    with pytest.raises(PaginationError):
        async with aclosing(engine(fake, per_page=10, read_ahead=read_ahead)) as agen:
            async for batch in agen:
                ids += [r.id for r in batch.items]
    assert ids == list(range(1, 11))
    assert len(fake.calls) <= 2 + read_ahead
    assert no_other_tasks()


async def test_server_ignoring_page_and_per_page_never_loops_nor_duplicates() -> None:
    fake = Fake(list(range(1, 31)), ignore_page=True, cap=1000)

    async def fetch_all(page: int, per_page: int) -> RawPage[Rec]:
        await fake.fetch(page, per_page)
        fake.calls.append((page, per_page))
        return RawPage([Rec(i) for i in fake.data], len(fake.data))

    ids: list[int] = []
    with pytest.raises(PaginationError):
        async with aclosing(paginate(fetch_all, per_page=10, read_ahead=3,
                                     key=attrgetter("id"))) as agen:
            async for batch in agen:
                ids += [r.id for r in batch.items]
    assert len(ids) == len(set(ids))
    assert len(fake.calls) <= 2 * (2 + 3)


# --- wrong record_count ---------------------------------------------------------------


@pytest.mark.parametrize("read_ahead", [1, 4])
@pytest.mark.parametrize("count", [1000, 26, 31])
async def test_record_count_too_high(count: int, read_ahead: int) -> None:
    fake = Fake(list(range(1, 26)), count=count)
    ids, batches = await drain(fake, per_page=10, read_ahead=read_ahead)
    assert ids == list(range(1, 26))
    assert batches[-1].page == 3  # the first short page ends the stream
    assert len(fake.calls) <= 3 + read_ahead
    assert no_other_tasks()


@pytest.mark.parametrize("read_ahead", [1, 4])
@pytest.mark.parametrize("count", [0, 5, 10, 24])
async def test_record_count_too_low(count: int, read_ahead: int) -> None:
    fake = Fake(list(range(1, 26)), count=count)
    ids, batches = await drain(fake, per_page=10, read_ahead=read_ahead)
    assert ids == list(range(1, 26))
    assert batches[-1].page == 3
    assert [b.page for b in batches] == [1, 2, 3]


async def test_record_count_too_low_on_exact_multiple() -> None:
    fake = Fake(list(range(1, 31)), count=3)
    ids, batches = await drain(fake, per_page=10, read_ahead=2)
    assert ids == list(range(1, 31))
    assert batches[-1].items == []  # page 4 is empty: that short page ends it


# --- live data ------------------------------------------------------------------------


def inserting(per_call: int, calls: int) -> Hook:
    def hook(fake: Fake, call: int, page: int) -> None:
        if call <= calls:
            fake.insert_newest(per_call)
    return hook


def deleting(per_call: int, first_call: int, last_call: int) -> Hook:
    def hook(fake: Fake, call: int, page: int) -> None:
        if first_call <= call <= last_call:
            fake.delete_oldest(per_call)
    return hook


@pytest.mark.parametrize("read_ahead", [1, 2, 4])
@pytest.mark.parametrize(("per_call", "calls"), [(1, 3), (3, 6), (9, 2)])
async def test_inserts_at_top_while_paging_desc_sequential_answers(
    per_call: int, calls: int, read_ahead: int
) -> None:
    original = list(range(1, 61))
    fake = Fake(list(original), desc=True, hook=inserting(per_call, calls))
    stats = StreamStats()
    ids, _ = await drain(fake, per_page=10, read_ahead=read_ahead, stats=stats)
    assert len(ids) == len(set(ids)), "a record was yielded twice"
    assert set(original) <= set(ids), f"lost {sorted(set(original) - set(ids))}"
    assert ids == sorted(ids, reverse=True)
    assert stats.records == len(ids)
    assert stats.duplicates > 0  # shifted pages repeated rows, and they were dropped


async def test_insert_between_concurrent_pages_is_recovered() -> None:
    """Page 3 answered before an insert, page 2 after it: the row between is not lost."""
    fake = Fake(list(range(1, 11)), desc=True)
    fake.gate(2, 3)
    task = asyncio.create_task(drain(fake, per_page=2, read_ahead=2))
    await fake.started[2].wait()
    await fake.started[3].wait()
    fake.gates[3].set()  # page 3 = [6, 5] of 10
    await fake.answered[3].wait()
    fake.insert_newest(1)  # 11: row 7 moves to page 3's range
    fake.gates[2].set()  # page 2 = [9, 8] of 11
    ids, _ = await task
    assert ids == list(range(10, 0, -1))


@pytest.mark.parametrize("read_ahead", [1, 3])
@pytest.mark.parametrize(("per_call", "first_call", "last_call"), [(1, 2, 2), (1, 2, 4),
                                                                   (3, 3, 3)])
async def test_deletes_of_oldest_while_paging_asc(
    per_call: int, first_call: int, last_call: int, read_ahead: int
) -> None:
    fake = Fake(list(range(1, 61)), hook=deleting(per_call, first_call, last_call))
    stats = StreamStats()
    ids, _ = await drain(fake, per_page=10, read_ahead=read_ahead, stats=stats)
    survivors = set(fake.data)
    assert len(ids) == len(set(ids)), "a record was yielded twice"
    assert survivors <= set(ids), f"lost {sorted(survivors - set(ids))}"
    assert ids == sorted(ids)
    assert stats.refetches > 0
    assert stats.record_count_start is not None
    assert stats.record_count_end is not None
    assert stats.record_count_end < stats.record_count_start


# --- errors and cancellation ----------------------------------------------------------


async def test_failed_page_raises_after_earlier_pages_and_cancels_the_rest() -> None:
    fake = Fake(list(range(1, 101)))
    fake.gate(4, 5)  # still in flight when page 3 fails
    fake.fail[3] = ServerError("boom", status=500)
    ids: list[int] = []
    with pytest.raises(ServerError, match="boom"):
        async with aclosing(engine(fake, per_page=10, read_ahead=4)) as agen:
            async for batch in agen:
                ids += [r.id for r in batch.items]
    assert ids == list(range(1, 21))
    assert sorted(fake.cancelled) == [4, 5]
    assert fake.in_flight == 0
    assert no_other_tasks()


async def test_failed_page_answering_first_still_yields_earlier_pages() -> None:
    fake = Fake(list(range(1, 101)))
    fake.gate(2, 5)
    fake.fail[3] = ServerError("page three", status=503)
    ids: list[int] = []

    async def consume() -> None:
        async with aclosing(engine(fake, per_page=10, read_ahead=4)) as agen:
            async for batch in agen:
                ids.extend(r.id for r in batch.items)

    task = asyncio.create_task(consume())
    await fake.started[3].wait()
    await fake.started[5].wait()
    await settle()  # page 3 has failed, page 4 answered, pages 2 and 5 held
    assert ids == list(range(1, 11))
    fake.gates[2].set()
    with pytest.raises(ServerError, match="page three"):
        await task
    assert ids == list(range(1, 21))
    assert fake.cancelled == [5]
    assert no_other_tasks()


async def test_first_page_failure_propagates() -> None:
    fake = Fake(list(range(1, 101)))
    fake.fail[1] = ServerError("down", status=502)
    with pytest.raises(ServerError):
        await drain(fake)
    assert fake.pages_requested == [1]
    assert no_other_tasks()


async def test_aclose_cancels_in_flight_fetches() -> None:
    fake = Fake(list(range(1, 101)))
    fake.gate(3, 4, 5, 6)
    agen = engine(fake, per_page=10, read_ahead=4)
    assert (await anext(agen)).page == 1
    assert (await anext(agen)).page == 2  # pages 3..5 now in flight, held
    for page in (3, 4, 5):
        await fake.started[page].wait()
    assert fake.in_flight == 3
    await agen.aclose()
    assert sorted(fake.cancelled) == [3, 4, 5]
    assert fake.in_flight == 0
    assert no_other_tasks()


async def test_break_inside_aclosing_cancels_in_flight_fetches() -> None:
    fake = Fake(list(range(1, 101)))
    fake.gate(3, 4, 5, 6)
    seen: list[int] = []
    async with aclosing(engine(fake, per_page=10, read_ahead=4)) as agen:
        async for batch in agen:
            seen.append(batch.page)
            if batch.page == 2:
                for page in (3, 4, 5):
                    await fake.started[page].wait()
                break
    assert seen == [1, 2]
    assert sorted(fake.cancelled) == [3, 4, 5]
    assert fake.in_flight == 0
    assert no_other_tasks()


async def test_cancelling_the_consumer_cancels_fetches() -> None:
    fake = Fake(list(range(1, 101)))
    fake.gate(2, 3, 4, 5)
    task = asyncio.create_task(drain(fake, per_page=10, read_ahead=4))
    for page in (2, 3, 4, 5):
        await fake.started[page].wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(fake.cancelled) == [2, 3, 4, 5]
    assert fake.in_flight == 0
    assert no_other_tasks()


# --- stats ----------------------------------------------------------------------------


async def test_stats_counters_plain_run() -> None:
    fake = Fake(list(range(1, 46)))
    stats = StreamStats()
    ids, _ = await drain(fake, per_page=10, read_ahead=2, stats=stats)
    assert len(ids) == 45
    assert stats.records == 45
    assert stats.pages == 5
    assert stats.duplicates == 0
    assert stats.refetches == 0
    assert stats.record_count_start == 45
    assert stats.record_count_end == 45
    assert stats.requests == 0  # the engine does not send requests itself


async def test_stats_with_limit_count_yielded_records_only() -> None:
    fake = Fake(list(range(1, 46)))
    stats = StreamStats()
    await drain(fake, per_page=10, read_ahead=2, limit=13, stats=stats)
    assert stats.records == 13
    assert stats.pages == 2


async def test_stats_record_count_drift_visible() -> None:
    fake = Fake(list(range(1, 31)), desc=True, hook=inserting(2, 1000))
    stats = StreamStats()
    ids, _ = await drain(fake, per_page=10, read_ahead=1, stats=stats)
    assert stats.record_count_start == 32
    assert stats.record_count_end is not None
    assert stats.record_count_end > stats.record_count_start
    assert stats.records == len(ids)
    assert stats.duplicates >= 2


def _ids(items: Sequence[Rec]) -> list[int]:
    return [r.id for r in items]


async def test_duplicate_ids_within_a_shifted_page_dropped() -> None:
    # A server repeating the last row of a page at the top of the next one.
    async def fetch(page: int, per_page: int) -> RawPage[Rec]:
        start = max(0, (page - 1) * per_page - 1)
        rows = [Rec(i) for i in range(1, 31)][start:start + per_page]
        return RawPage(rows, 30)

    stats = StreamStats()
    out: list[int] = []
    async with aclosing(paginate(fetch, per_page=10, read_ahead=2, key=attrgetter("id"),
                                 stats=stats)) as agen:
        async for batch in agen:
            out += _ids(batch.items)
    assert out == list(range(1, 31))
    assert stats.duplicates == 1  # page 2 repeated row 10
