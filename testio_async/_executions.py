"""The executions resource: ``GET /user_story_version_executions``.

Validates arguments before any request, encodes the query once per stream, and wires
the transport, the converter and the pagination engine together.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from contextlib import aclosing
from datetime import datetime
from functools import partial
from operator import attrgetter
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

from attrs import evolve

from ._convert import structure_response
from ._http import Transport
from ._limits import RequestGate
from ._models import Execution, Page
from ._pagination import Batch, RawPage, Start, page_size, paginate
from ._resume import CHECKPOINT_VERSION, Checkpoint, Partition, QuerySpec, read_checkpoint
from ._stats import StreamStats

__all__ = ["Executions", "Order", "Stream"]

PATH = "user_story_version_executions"

Order = Literal["asc", "desc"]
_ORDERS = ("asc", "desc")
_id = attrgetter("id")
# Pages a stream may have requested but not yet handed out, per place in the client's
# gate. Above 1, a slow page at the head does not idle the gate: later pages are asked
# for meanwhile (the gate still bounds the requests in flight). Memory stays bounded.
# With a watermark it is 1: pages past the watermark are wasted, at most one per place.
_READ_AHEAD = 2
T = TypeVar("T")


def _positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _ids(name: str, values: Iterable[int] | None) -> tuple[int, ...] | None:
    if values is None:
        return None
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be an iterable of ints or None, not {type(values).__name__}")
    ids = list(values)
    if not ids:
        raise ValueError(f"{name} must not be empty; pass None to leave it out")
    for value in ids:
        _positive_int(f"{name} items", value)
    return tuple(ids)


def _order(value: object) -> str:
    if value not in _ORDERS:
        raise ValueError(f"order must be 'asc' or 'desc', got {value!r}")
    return str(value)


def _query(spec: QuerySpec) -> str:
    """The percent-encoded filters and order, shared by every page of one query."""
    params: list[tuple[str, Any]] = [("order", spec.order)]
    params += [("user_story_ids[]", v) for v in spec.user_story_ids or ()]
    params += [("user_story_version_ids[]", v) for v in spec.user_story_version_ids or ()]
    return urlencode(params)


class _Query:
    """One validated query: fetches its pages as :class:`RawPage`."""

    def __init__(self, transport: Transport, spec: QuerySpec, stats: StreamStats) -> None:
        self._transport = transport
        self._query = _query(spec)
        self.stats = stats

    async def fetch(self, page: int, per_page: int) -> RawPage[Execution]:
        url = self._transport.url(PATH, f"{self._query}&page={page}&per_page={per_page}")
        body = await self._transport.get_json(url, self.stats)
        items, record_count = structure_response(body)
        return RawPage(items, record_count)


class Stream(AsyncGenerator[T, None]):
    """The async generator :meth:`Executions.stream` and :meth:`Executions.pages` return.

    Use it as any async generator: ``async for``, ``aclose()``; ``async with`` closes it.
    :attr:`stats` counts what it has done so far and, once it is over, in all;
    :attr:`checkpoint` says where to resume.
    """

    def __init__(
        self, agen: AsyncGenerator[T, None], stats: StreamStats, mark: _Mark
    ) -> None:
        self._agen = agen
        self._mark = mark
        self.stats = stats

    @property
    def checkpoint(self) -> Checkpoint | None:
        """Where the stream stands: the checkpoint after the last page fully handed out.

        Pass it as ``resume_from`` to go on from there. Before the first page it is the
        checkpoint resumed from, or ``None``.
        """
        return self._mark.checkpoint()

    def __aiter__(self) -> AsyncGenerator[T, None]:
        # The bare generator: `async for` pays no wrapper call per record.
        return self._agen

    async def __anext__(self) -> T:
        return await self._agen.__anext__()

    async def asend(self, value: None) -> T:
        """Send ``value`` into the generator (it ignores it), as for any async generator."""
        return await self._agen.asend(value)

    async def athrow(self, typ: Any, val: Any = None, tb: Any = None) -> T:
        """Raise an exception inside the generator, as for any async generator."""
        return await self._agen.athrow(typ, val, tb)

    async def aclose(self) -> None:
        """Stop the stream and cancel every fetch in flight."""
        await self._agen.aclose()

    async def __aenter__(self) -> Stream[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _Mark:
    """The last page a stream has fully handed out, for its checkpoint."""

    def __init__(self, resumed: Checkpoint | None) -> None:
        self.page: Page | None = None
        self.resumed = resumed

    def checkpoint(self) -> Checkpoint | None:
        return self.resumed if self.page is None else self.page.checkpoint


class _Position:
    """Builds the checkpoint of each page of a stream, when it is asked for."""

    def __init__(self, spec: QuerySpec) -> None:
        self.spec = spec

    def after(self, batch: Batch[Execution], records: int, end_page: int | None,
              previous: Callable[[], list[int]]) -> Callable[[], Checkpoint]:
        """The checkpoint factory of ``batch``, valid once all its items are handed out.

        ``previous`` gives the ids of the page before, needed only when the limit cut
        this one; ids are collected when a checkpoint is asked for, not per page.
        """
        spec, last = self.spec, batch.last

        def checkpoint() -> Checkpoint:
            if batch.cut:
                # The limit stopped here: read this page again, less what was handed out.
                next_page, seen = batch.page, [*previous(), *_ids_of(batch.items)]
            else:
                next_page, seen = batch.page + 1, _ids_of(batch.rows)
            return Checkpoint(
                version=CHECKPOINT_VERSION, order=spec.order,
                user_story_ids=_list(spec.user_story_ids),
                user_story_version_ids=_list(spec.user_story_version_ids),
                per_page=batch.per_page, next_page=next_page, end_page=end_page,
                seen_ids=seen, record_count=batch.record_count, records=records,
                done=last,
            )

        return checkpoint


def _ids_of(executions: Sequence[Execution]) -> list[int]:
    return [e.id for e in executions]


def _list(values: tuple[int, ...] | None) -> list[int] | None:
    return None if values is None else list(values)


async def _pages(
    batches: AsyncGenerator[Batch[Execution], None],
    position: _Position,
    mark: _Mark,
    end_page: int | None,
) -> AsyncGenerator[Page, None]:
    resumed = mark.resumed
    seen_ids = list(resumed["seen_ids"]) if resumed else []
    previous: Callable[[], list[int]] = seen_ids.copy
    records = resumed["records"] if resumed else 0
    async with aclosing(batches):
        async for batch in batches:
            records += len(batch.items)
            resume = position.after(batch, records, end_page, previous)
            previous = partial(_ids_of, batch.rows)
            mark.page = Page(items=tuple(batch.items), record_count=batch.record_count,
                             page=batch.page, per_page=batch.per_page, resume=resume)
            yield mark.page


async def _flatten(pages: Stream[Page], mark: _Mark) -> AsyncGenerator[Execution, None]:
    async with aclosing(pages):
        async for page in pages:
            items = page.items
            for execution in items[:-1]:
                yield execution
            # The checkpoint moves on as the page's last record is handed out.
            mark.page = page
            if items:
                yield items[-1]


class Executions:
    """``client.executions``: read user story version executions.

    Filters: ``user_story_ids`` and ``user_story_version_ids`` (iterables of ints, sent as
    repeated ``user_story_ids[]`` keys; both together narrow with AND), ``order`` by
    creation time, ``"asc"`` (oldest first, the API's default) or ``"desc"``.
    """

    def __init__(self, transport: Transport, gate: RequestGate) -> None:
        self._transport = transport
        self._gate = gate

    async def get_page(
        self,
        page: int = 1,
        per_page: int = 25,
        user_story_ids: Iterable[int] | None = None,
        user_story_version_ids: Iterable[int] | None = None,
        order: Order = "asc",
    ) -> Page:
        """Fetch one page, exactly as the server pages it (no deduplication)."""
        page = _positive_int("page", page)
        spec = _spec(user_story_ids, user_story_version_ids, order, per_page)
        raw = await _Query(self._transport, spec, StreamStats()).fetch(page, spec.per_page)
        return Page(items=tuple(raw.items), record_count=raw.record_count, page=page,
                    per_page=spec.per_page)

    def stream(
        self,
        *,
        user_story_ids: Iterable[int] | None = None,
        user_story_version_ids: Iterable[int] | None = None,
        order: Order = "asc",
        per_page: int = 100,
        limit: int | None = None,
        newer_than: int | datetime | None = None,
        resume_from: Checkpoint | None = None,
        partition: Partition | None = None,
    ) -> Stream[Execution]:
        """Every matching execution, in the API's order, each once.

        Pages are fetched concurrently (the client's ``max_concurrency`` bounds the
        requests in flight) and yielded in order. ``limit`` stops after that many
        records. ``newer_than`` (an id or an aware datetime; ``order="desc"`` only) stops
        at the first record at or below it. ``resume_from`` continues from a checkpoint
        (:attr:`Stream.checkpoint`, :attr:`Page.checkpoint`), ``partition`` reads one
        share made by :meth:`partitions`; both bring their own filters, order and
        ``per_page`` (filters or an order given as well must agree with them).
        Arguments are checked here, before any request.
        """
        pages = self.pages(user_story_ids=user_story_ids,
                           user_story_version_ids=user_story_version_ids, order=order,
                           per_page=per_page, limit=limit, newer_than=newer_than,
                           resume_from=resume_from, partition=partition)
        mark = _Mark(pages.checkpoint)
        return Stream(_flatten(pages, mark), pages.stats, mark)

    def pages(
        self,
        *,
        user_story_ids: Iterable[int] | None = None,
        user_story_version_ids: Iterable[int] | None = None,
        order: Order = "asc",
        per_page: int = 100,
        limit: int | None = None,
        newer_than: int | datetime | None = None,
        resume_from: Checkpoint | None = None,
        partition: Partition | None = None,
    ) -> Stream[Page]:
        """The records of :meth:`stream`, grouped by the page they came on.

        Each :class:`Page` carries a :attr:`~Page.checkpoint` to resume after it.
        """
        spec = _spec(user_story_ids, user_story_version_ids, order, per_page)
        if limit is not None:
            limit = _positive_int("limit", limit, minimum=0)
        start, spec, resumed = _start(spec, resume_from, partition)
        until = _watermark(newer_than, spec.order)
        stats = StreamStats()
        mark = _Mark(resumed)
        if resumed is not None and resumed["done"]:
            limit = 0  # nothing left: no request
        batches = paginate(
            _Query(self._transport, spec, stats).fetch, per_page=spec.per_page,
            read_ahead=self._gate.max_concurrency * (1 if until else _READ_AHEAD), key=_id,
            descending=spec.order == "desc", limit=limit, until=until, start=start,
            stats=stats,
        )
        return Stream(_pages(batches, _Position(spec), mark, start.end_page), stats, mark)

    async def collect(
        self,
        *,
        user_story_ids: Iterable[int] | None = None,
        user_story_version_ids: Iterable[int] | None = None,
        order: Order = "asc",
        per_page: int = 100,
        limit: int | None = None,
        newer_than: int | datetime | None = None,
        resume_from: Checkpoint | None = None,
        partition: Partition | None = None,
    ) -> list[Execution]:
        """All records of :meth:`stream` in a list."""
        result: list[Execution] = []
        pages = self.pages(user_story_ids=user_story_ids,
                           user_story_version_ids=user_story_version_ids, order=order,
                           per_page=per_page, limit=limit, newer_than=newer_than,
                           resume_from=resume_from, partition=partition)
        async with aclosing(pages):
            async for page in pages:
                result += page.items
        return result

    async def partitions(
        self,
        n: int,
        *,
        user_story_ids: Iterable[int] | None = None,
        user_story_version_ids: Iterable[int] | None = None,
        order: Order = "asc",
        per_page: int = 100,
    ) -> list[Partition]:
        """Split one query into up to ``n`` partitions of whole pages, for ``n`` workers.

        Reads page 1 for the total (and the server's page size cap). Together the
        partitions yield every record once while the data does not change; records
        added or deleted meanwhile shift pages between partitions, which may then miss
        or repeat a few rows at their edges (the last partition reads on to the end).
        """
        n = _positive_int("n", n)
        spec = _spec(user_story_ids, user_story_version_ids, order, per_page)
        first = await _Query(self._transport, spec, StreamStats()).fetch(1, spec.per_page)
        spec = evolve(spec, per_page=page_size(first, spec.per_page))
        total = max(1, math.ceil(first.record_count / spec.per_page))
        count = min(n, total)
        size, extra = divmod(total, count)
        result: list[Partition] = []
        first_page = 1
        for index in range(count):
            last_page = first_page + size + (index < extra) - 1
            result.append(Partition(
                query=spec, index=index, count=count, first_page=first_page,
                last_page=None if index == count - 1 else last_page,
                record_count=first.record_count,
            ))
            first_page = last_page + 1
        return result


def _spec(
    user_story_ids: Iterable[int] | None,
    user_story_version_ids: Iterable[int] | None,
    order: object,
    per_page: object,
) -> QuerySpec:
    return QuerySpec(
        order=_order(order),
        user_story_ids=_ids("user_story_ids", user_story_ids),
        user_story_version_ids=_ids("user_story_version_ids", user_story_version_ids),
        per_page=_positive_int("per_page", per_page),
    )


def _watermark(newer_than: object, order: str) -> Callable[[Execution], bool] | None:
    """The stop condition of ``newer_than``: true at the first record not newer."""
    if newer_than is None:
        return None
    if order != "desc":
        raise ValueError("newer_than needs order='desc': the newest records come first")
    if isinstance(newer_than, datetime):
        if newer_than.tzinfo is None:
            raise ValueError("newer_than must be a timezone-aware datetime")
        return lambda e: e.executed_at <= newer_than
    watermark = _positive_int("newer_than", newer_than, minimum=0)
    return lambda e: e.id <= watermark


def _start(
    spec: QuerySpec, resume_from: object, partition: object
) -> tuple[Start, QuerySpec, Checkpoint | None]:
    """Where to start: a checkpoint's place, a partition's first page, or page 1."""
    if partition is not None and not isinstance(partition, Partition):
        raise TypeError(f"partition must be a Partition, not {type(partition).__name__}")
    if resume_from is not None and partition is not None:
        raise ValueError("pass resume_from or partition, not both (a checkpoint of a"
                         " partition already holds its pages)")
    if resume_from is not None:
        checkpoint = read_checkpoint(resume_from)
        saved = QuerySpec(order=checkpoint["order"], user_story_ids=checkpoint["user_story_ids"],
                          user_story_version_ids=checkpoint["user_story_version_ids"],
                          per_page=checkpoint["per_page"])
        _same_query("resume_from", spec, saved)
        return Start(page=checkpoint["next_page"], end_page=checkpoint["end_page"],
                     seen_ids=checkpoint["seen_ids"], record_count=checkpoint["record_count"],
                     per_page_known=True), saved, checkpoint
    if partition is not None:
        _same_query("partition", spec, partition.query)
        return Start(page=partition.first_page, end_page=partition.last_page,
                     per_page_known=True), partition.query, None
    return Start(), spec, None


def _same_query(name: str, given: QuerySpec, saved: QuerySpec) -> None:
    """Refuse filters or an order that contradict the checkpoint's or partition's own.

    Arguments left at their defaults are taken from ``saved``; ``per_page`` is never
    compared, since a saved one may be the server's cap.
    """
    for field in ("user_story_ids", "user_story_version_ids"):
        value = getattr(given, field)
        if value is not None and value != getattr(saved, field):
            raise ValueError(f"{field}={list(value)} contradicts the {name}'s"
                             f" {getattr(saved, field)}; leave it out to use the {name}'s")
    if given.order != "asc" and given.order != saved.order:
        raise ValueError(f"order={given.order!r} contradicts the {name}'s {saved.order!r}")
