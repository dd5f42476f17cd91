"""The executions resource: ``GET /user_story_version_executions``.

Validates arguments before any request, encodes the query once per stream, and wires
the transport, the converter and the pagination engine together.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from operator import attrgetter
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

from ._convert import structure_response
from ._http import Transport
from ._limits import RequestGate
from ._models import Execution, Page
from ._pagination import Batch, RawPage, paginate
from ._stats import StreamStats

__all__ = ["Executions", "Order", "Stream"]

PATH = "user_story_version_executions"

Order = Literal["asc", "desc"]
_ORDERS = ("asc", "desc")
_id = attrgetter("id")
T = TypeVar("T")


def _positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _ids(name: str, values: Iterable[int] | None) -> list[int] | None:
    if values is None:
        return None
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be an iterable of ints or None, not {type(values).__name__}")
    ids = list(values)
    if not ids:
        raise ValueError(f"{name} must not be empty; pass None to leave it out")
    for value in ids:
        _positive_int(f"{name} items", value)
    return ids


def _order(value: object) -> str:
    if value not in _ORDERS:
        raise ValueError(f"order must be 'asc' or 'desc', got {value!r}")
    return str(value)


def _query(
    user_story_ids: Iterable[int] | None,
    user_story_version_ids: Iterable[int] | None,
    order: object,
) -> str:
    """The percent-encoded filters and order, shared by every page of one query."""
    params: list[tuple[str, Any]] = [("order", _order(order))]
    for name, values in (
        ("user_story_ids", user_story_ids),
        ("user_story_version_ids", user_story_version_ids),
    ):
        params += [(f"{name}[]", v) for v in _ids(name, values) or ()]
    return urlencode(params)


class _Query:
    """One validated query: fetches its pages as :class:`RawPage`."""

    def __init__(self, transport: Transport, query: str, stats: StreamStats) -> None:
        self._transport = transport
        self._query = query
        self.stats = stats

    async def fetch(self, page: int, per_page: int) -> RawPage[Execution]:
        url = self._transport.url(PATH, f"{self._query}&page={page}&per_page={per_page}")
        body = await self._transport.get_json(url, self.stats)
        items, record_count = structure_response(body)
        return RawPage(items, record_count)


class Stream(AsyncGenerator[T, None]):
    """The async generator :meth:`Executions.stream` and :meth:`Executions.pages` return.

    Use it as any async generator: ``async for``, ``aclose()``; ``async with`` closes it.
    :attr:`stats` counts what it has done so far and, once it is over, in all.
    """

    def __init__(self, agen: AsyncGenerator[T, None], stats: StreamStats) -> None:
        self._agen = agen
        self.stats = stats

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


async def _pages(batches: AsyncGenerator[Batch[Execution], None]) -> AsyncGenerator[Page, None]:
    async with aclosing(batches):
        async for batch in batches:
            yield Page(items=tuple(batch.items), record_count=batch.record_count,
                       page=batch.page, per_page=batch.per_page)


async def _flatten(pages: Stream[Page]) -> AsyncGenerator[Execution, None]:
    async with aclosing(pages):
        async for page in pages:
            for execution in page.items:
                yield execution


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
        per_page = _positive_int("per_page", per_page)
        query = _Query(
            self._transport, _query(user_story_ids, user_story_version_ids, order), StreamStats()
        )
        raw = await query.fetch(page, per_page)
        return Page(items=tuple(raw.items), record_count=raw.record_count, page=page,
                    per_page=per_page)

    def stream(
        self,
        *,
        user_story_ids: Iterable[int] | None = None,
        user_story_version_ids: Iterable[int] | None = None,
        order: Order = "asc",
        per_page: int = 100,
        limit: int | None = None,
    ) -> Stream[Execution]:
        """Every matching execution, in the API's order, each once.

        Pages are fetched concurrently (the client's ``max_concurrency`` bounds the
        requests in flight) and yielded in order. ``limit`` stops after that many
        records. Arguments are checked here, before any request.
        """
        pages = self.pages(user_story_ids=user_story_ids,
                           user_story_version_ids=user_story_version_ids,
                           order=order, per_page=per_page, limit=limit)
        return Stream(_flatten(pages), pages.stats)

    def pages(
        self,
        *,
        user_story_ids: Iterable[int] | None = None,
        user_story_version_ids: Iterable[int] | None = None,
        order: Order = "asc",
        per_page: int = 100,
        limit: int | None = None,
    ) -> Stream[Page]:
        """The records of :meth:`stream`, grouped by the page they came on."""
        per_page = _positive_int("per_page", per_page)
        if limit is not None:
            limit = _positive_int("limit", limit, minimum=0)
        query = _Query(
            self._transport, _query(user_story_ids, user_story_version_ids, order), StreamStats()
        )
        batches = paginate(query.fetch, per_page=per_page, read_ahead=self._gate.max_concurrency,
                           key=_id, descending=order == "desc", limit=limit,
                           stats=query.stats)
        return Stream(_pages(batches), query.stats)

    async def collect(
        self,
        *,
        user_story_ids: Iterable[int] | None = None,
        user_story_version_ids: Iterable[int] | None = None,
        order: Order = "asc",
        per_page: int = 100,
        limit: int | None = None,
    ) -> list[Execution]:
        """All records of :meth:`stream` in a list."""
        result: list[Execution] = []
        async with aclosing(self.pages(user_story_ids=user_story_ids,
                                       user_story_version_ids=user_story_version_ids,
                                       order=order, per_page=per_page, limit=limit)) as pages:
            async for page in pages:
                result += page.items
        return result
