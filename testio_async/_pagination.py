"""The pagination engine: offset pages in, records out, in order, exactly once.

Generic over ``fetch(page, per_page) -> RawPage``, it knows nothing of HTTP or JSON.

1. Page 1 is fetched alone. Its ``record_count`` and the number of rows the server
   really sent plan the rest; fewer rows than asked for (and than the total) means the
   server caps ``per_page`` silently, and the plan continues with the cap as page size.
2. The remaining pages are fetched concurrently, at most ``read_ahead`` at a time,
   and yielded strictly in page order, so memory holds at most ``read_ahead`` pages.
3. Live data shifts offset pages. Records an earlier page already yielded are dropped
   (ids of the last few pages are remembered). When ``record_count`` went down between
   two neighbouring pages, rows may have slipped between them: both are read again, and
   the rows between the last record yielded and the page's end are merged in ``key``
   order (the id, which the API assigns in creation order, the order it sorts by). If
   the re-read does not join both sides, more than a page moved and rows may be gone:
   :class:`PaginationError`, never a silent loss. A full page whose every row was seen
   before, while the total did not grow, means the server ignores ``page``:
   :class:`PaginationError`, rather than a loop.
4. The plan grows while pages come back full, so records added while paging are not
   missed; the first short page ends the stream.

A failed page raises after every earlier page was yielded; leaving the generator early
(``break``, ``aclose()``, cancellation, an error) cancels and awaits every fetch in flight.

Why not aiostream's ordered ``map(task_limit=...)``: the plan changes with what each page
says (cap, short page, growth, refetch), so the producer needs feedback from the consumer,
which a ``map`` over a precomputed source of page numbers does not give.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncGenerator, Callable, Coroutine, Hashable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from attrs import frozen

from ._errors import PaginationError
from ._stats import StreamStats

__all__ = ["Batch", "RawPage", "Start", "page_size", "paginate"]

T = TypeVar("T")

# Pages whose ids are kept for dropping duplicates: shifts of up to this many pages.
_SEEN_PAGES = 8


class RawPage(NamedTuple, Generic[T]):
    """One page as the server sent it."""

    items: Sequence[T]
    record_count: int


class Batch(NamedTuple, Generic[T]):
    """What the engine yields for one page: its new records, in order.

    ``rows`` are all rows the server sent for this page, new or not: a resumed stream
    needs their keys to drop the rows the next page repeats. ``last``: nothing follows;
    ``cut``: the limit stopped the stream inside this page.
    """

    page: int
    per_page: int
    items: Sequence[T]
    record_count: int
    rows: Sequence[T]
    last: bool
    cut: bool


@frozen(kw_only=True)
class Start:
    """Where the engine starts: page 1 of a new stream, or a resumed or partial one.

    ``page`` is the first page to read and ``end_page`` the last (``None``: until a
    short page). ``seen_ids`` and ``record_count`` describe the page before ``page``
    when resuming. ``per_page_known``: ``per_page`` was measured already, so the first
    page read does not probe for a server-side cap.
    """

    page: int = 1
    end_page: int | None = None
    seen_ids: Sequence[Any] = ()
    record_count: int | None = None
    per_page_known: bool = False


Fetch = Callable[[int, int], Coroutine[Any, Any, RawPage[T]]]


def page_size(first: RawPage[T], per_page: int) -> int:
    """The page size the server really uses, from its first page.

    Fewer rows than asked for, and than the total, mean it caps ``per_page`` silently;
    page offsets then follow the cap, so later pages must be asked for with it.
    """
    rows = len(first.items)
    return rows if 0 < rows < per_page and rows < first.record_count else per_page


class _Seen(Generic[T]):
    """Ids of the last few pages, to drop records a shifted page repeats."""

    def __init__(self, key: Callable[[T], Hashable]) -> None:
        self._key = key
        self._ids: set[Hashable] = set()
        self._pages: deque[list[Hashable]] = deque()

    def new(self, items: Sequence[T]) -> list[T]:
        """The items not seen before, remembering them; forgets the oldest page."""
        key, ids = self._key, self._ids
        fresh: list[T] = []
        page_ids: list[Hashable] = []
        for item in items:
            k = key(item)
            if k not in ids:
                ids.add(k)
                page_ids.append(k)
                fresh.append(item)
        self._remember(page_ids)
        return fresh

    def has(self, key: Hashable) -> bool:
        """Whether ``key`` was seen on one of the remembered pages."""
        return key in self._ids

    def remember(self, keys: Sequence[Hashable]) -> None:
        """Count ``keys`` as seen (the last page before a resumed stream)."""
        self._ids.update(keys)
        self._remember(list(keys))

    def _remember(self, page_ids: list[Hashable]) -> None:
        self._pages.append(page_ids)
        if len(self._pages) > _SEEN_PAGES:
            self._ids.difference_update(self._pages.popleft())


class _Read(Generic[T]):
    """The state of one paginated read: the plan, the read-ahead, what was yielded."""

    def __init__(
        self,
        fetch: Fetch[T],
        *,
        per_page: int,
        read_ahead: int,
        key: Callable[[T], Any],
        descending: bool,
        limit: int | None,
        until: Callable[[T], bool] | None,
        start: Start,
        stats: StreamStats,
    ) -> None:
        self.fetch, self.per_page, self.read_ahead = fetch, per_page, read_ahead
        self.key, self.descending, self.until, self.stats = key, descending, until, stats
        self.limit, self.start = limit, start
        self.remaining: float = math.inf if limit is None else limit
        self.seen = _Seen(key)
        self.seen.remember(start.seen_ids)
        self.last_key: Any = start.seen_ids[-1] if start.seen_ids else None
        self.end_page: float = math.inf if start.end_page is None else start.end_page
        self.limit_page: float = math.inf
        self.last_planned = 0
        self.next_page = start.page + 1
        self.pending: deque[tuple[int, asyncio.Task[RawPage[T]]]] = deque()

    async def first(self) -> tuple[RawPage[T], Sequence[T], int]:
        """Read the first page; plan from it; the rows a re-read found; the count before."""
        number, per_page = self.start.page, self.per_page
        page = await self.fetch(number, per_page)
        self.stats.pages += 1
        if self.stats.record_count_start is None:
            self.stats.record_count_start = page.record_count
        if not self.start.per_page_known:
            self.per_page = page_size(page, per_page)
        if self.limit is not None:
            self.limit_page = number + math.ceil(self.limit / self.per_page) - 1
        self.last_planned = self.wanted(page.record_count)
        before = page.record_count if self.start.record_count is None else self.start.record_count
        return page, await self.reread_if_shrunk(number, page, before), before

    def wanted(self, record_count: int) -> int:
        """The last page worth fetching, by the latest total, the limit and the end.

        When the total fills its last page exactly, one page more is planned, so that
        records added meanwhile are found by a concurrent fetch, not a trailing one.
        """
        return int(min(record_count // self.per_page + 1, self.limit_page, self.end_page))

    def batch(self, number: int, page: RawPage[T], reread: Sequence[T], before: int) -> Batch[T]:
        """The records of ``page`` not yielded yet, in order, cut by watermark and limit."""
        key, seen = self.key, self.seen
        if reread:
            _check_overlap(number, reread, page.items, seen, key)
        fresh = seen.new(page.items)
        self.stats.duplicates += len(page.items) - len(fresh)
        if reread:
            between = _between(reread, self.last_key, page.items, key, self.descending)
            fresh = sorted(fresh + seen.new(between), key=key, reverse=self.descending)
        if page.items and not fresh and page.record_count <= before:
            raise PaginationError(
                f"page {number} repeats records already yielded while the total did not"
                " grow: the server seems to ignore `page`"
            )
        final = len(page.items) < self.per_page or number >= self.end_page
        if self.until is not None and (stop := _first(fresh, self.until)) is not None:
            fresh, final = fresh[:stop], True
        cut = len(fresh) > self.remaining
        if cut:
            fresh = fresh[: int(self.remaining)]
        self.remaining -= len(fresh)
        self.stats.records += len(fresh)
        self.stats.record_count_end = page.record_count
        if fresh:
            self.last_key = key(fresh[-1])
        return Batch(number, self.per_page, fresh, page.record_count, page.items,
                     final and not cut, cut)

    def read_ahead_after(self, number: int, page: RawPage[T]) -> None:
        """After a full page: plan at least one page more, and fill the read-ahead."""
        self.last_planned = max(self.last_planned, self.wanted(page.record_count), number + 1)
        while self.next_page <= self.last_planned and len(self.pending) < self.read_ahead:
            task = asyncio.create_task(self.fetch(self.next_page, self.per_page))
            self.pending.append((self.next_page, task))
            self.next_page += 1

    async def next(self, before: int) -> tuple[int, RawPage[T], Sequence[T]]:
        """The next page in order, with the rows a re-read of its boundary found."""
        number, task = self.pending.popleft()
        page = await task
        self.stats.pages += 1
        return number, page, await self.reread_if_shrunk(number, page, before)

    async def reread_if_shrunk(self, number: int, page: RawPage[T], before: int) -> Sequence[T]:
        """Rows of the boundary before ``page`` read again, when the total went down."""
        if page.record_count >= before:
            return ()
        return await _reread_boundary(self.fetch, number, self.per_page, self.stats)

    async def cancel(self) -> None:
        """Cancel the fetches still in flight and wait for them, so none is left behind."""
        tasks = [task for _, task in self.pending]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def paginate(
    fetch: Fetch[T],
    *,
    per_page: int,
    read_ahead: int,
    key: Callable[[T], Any],
    descending: bool = False,
    limit: int | None = None,
    until: Callable[[T], bool] | None = None,
    start: Start = Start(),
    stats: StreamStats | None = None,
) -> AsyncGenerator[Batch[T], None]:
    """Yield the records of every page, in order, each once; see the module docstring.

    ``until`` ends the stream before the first record it is true for (a watermark).
    """
    if limit == 0:
        return
    read = _Read(fetch, per_page=per_page, read_ahead=read_ahead, key=key,
                 descending=descending, limit=limit, until=until, start=start,
                 stats=stats if stats is not None else StreamStats())
    number = start.page
    page, reread, before = await read.first()
    try:
        while True:
            batch = read.batch(number, page, reread, before)
            yield batch
            if batch.last or read.remaining <= 0:
                return  # a short or last page, the watermark, or the limit
            before = page.record_count
            read.read_ahead_after(number, page)
            number, page, reread = await read.next(before)
    finally:
        await read.cancel()


def _check_overlap(
    number: int, reread: Sequence[T], page: Sequence[T], seen: _Seen[T], key: Callable[[T], Any]
) -> None:
    """Raise unless the re-read rows join what was yielded to this page's first read.

    They must hold a row yielded before and, when the page has rows, one of the page's;
    otherwise more than a page of rows moved between the reads and some may be missing.
    """
    keys = {key(row) for row in page}
    joins_before = any(seen.has(key(row)) for row in reread)
    joins_page = not keys or any(key(row) in keys for row in reread)
    if not (joins_before and joins_page):
        raise PaginationError(
            f"more than a page of records moved while page {number} was read again: some may"
            " be missing. Retry, or use a larger per_page"
        )


def _first(items: Sequence[T], predicate: Callable[[T], bool]) -> int | None:
    """The index of the first item ``predicate`` is true for."""
    return next((i for i, item in enumerate(items) if predicate(item)), None)


async def _reread_boundary(
    fetch: Fetch[T], number: int, per_page: int, stats: StreamStats
) -> list[T]:
    """Read pages ``number - 1`` and ``number`` again, for rows that slipped between them.

    The total went down between the previous page and this one, so rows may have moved
    out of the range this page was read at: deletes before it move rows back into the
    previous page's range (``asc``), and when this page was read before inserts the
    previous one saw, rows move forward past its start (``desc``). Reading both pages
    again now finds them either way, as long as fewer than ``per_page`` rows moved.
    """
    # One after the other: the re-read should not add to the read-ahead in flight.
    before = await fetch(number - 1, per_page)
    again = await fetch(number, per_page)
    stats.refetches += 2
    return [*before.items, *again.items]


def _between(
    rows: Sequence[T], after: Any, page: Sequence[T], key: Callable[[T], Any], descending: bool
) -> list[T]:
    """The rows that sort after the last key yielded and before the end of ``page``.

    Rows past the page belong to later pages, which read them at their own offsets;
    rows before the last key yielded were added after the stream passed their place.
    """
    end = key(page[-1]) if page else None
    if descending:
        return [r for r in rows if (after is None or key(r) < after)
                and (end is None or key(r) > end)]
    return [r for r in rows if (after is None or key(r) > after) and (end is None or key(r) < end)]
