"""The fake endpoint: state, knobs and the aiohttp request handler."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import random
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, Unpack

import orjson
from aiohttp import web

from ._config import SandboxConfig, SandboxKnobs
from ._data import RecordFactory
from ._faults import Fault, FaultQueue, ResetPoint
from ._query import PageQuery, QueryError, lenient_page, parse_query
from ._ratelimit import TokenBucket
from ._selection import IndexSelection, matching_residues, user_story_of, version_of
from ._stats import RequestInfo, SandboxStats

__all__ = [
    "API_PREFIX",
    "ENDPOINT_PATH",
    "REQUEST_LOG_SIZE",
    "SANDBOX_APP_KEY",
    "Sandbox",
    "create_app",
    "sandbox_of",
]

#: Path prefix of the Customer API v2; ``SandboxServer.url`` ends with it.
API_PREFIX: Final = "/customer/v2"
#: Path of the endpoint below the prefix.
ENDPOINT_PATH: Final = "/user_story_version_executions"
#: The request log keeps this many most recent requests.
REQUEST_LOG_SIZE: Final = 10_000

_PAGE_FORMAT: Final = b'{"meta":{"record_count":%d},"user_story_version_executions":%s}'
_JSON: Final = "application/json"
_NGINX_502: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
# A dropped body announces this many bytes, so the client always notices the cut.
_RESET_DECLARED_LENGTH: Final = 4096
_RESET_PARTIAL_BODY: Final = b'{"meta":{"record_count":'

Order = Literal["asc", "desc"]


class _Dropped(web.StreamResponse):
    """Marks an answer whose connection was closed on purpose."""


def _json_error(status: int, message: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": message}), content_type=_JSON)


def _body_bytes(body: bytes | str | Mapping[str, Any] | list[Any]) -> tuple[bytes, str | None]:
    """Encode an injected body; return it with the Content-Type it implies."""
    if isinstance(body, bytes):
        return body, None
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return orjson.dumps(body), _JSON


def _retry_after(seconds: float, style: str) -> str:
    whole = max(1, math.ceil(seconds))
    if style == "http-date":
        return email.utils.formatdate(time.time() + whole, usegmt=True)
    return str(whole)


class Sandbox:
    """State and request handler of a fake ``GET /user_story_version_executions``.

    Independent of any socket: :class:`SandboxServer` serves it on a port,
    :meth:`create_app` embeds it in an aiohttp application.
    """

    def __init__(self, config: SandboxConfig | None = None, **knobs: Unpack[SandboxKnobs]) -> None:
        if config is not None and knobs:
            raise TypeError("pass either a SandboxConfig or keyword knobs, not both")
        #: Live settings; assign attributes to change behaviour between requests.
        self.config = config if config is not None else SandboxConfig(**knobs)
        #: Counters of what has been answered.
        self.stats = SandboxStats()
        #: The last :data:`REQUEST_LOG_SIZE` requests, oldest first.
        self.requests_log: deque[RequestInfo] = deque(maxlen=REQUEST_LOG_SIZE)
        self._faults = FaultQueue()
        self._inserted = 0
        self._deleted = 0
        self._factory = RecordFactory(self.config.seed)
        self._bucket: TokenBucket | None = None
        # One RNG per concern, so turning one knob on does not change another's draws.
        seed = self.config.seed
        self._failure_rng = random.Random(seed * 3 + 1)
        self._truncate_rng = random.Random(seed * 3 + 2)
        self._latency_rng = random.Random(seed * 3 + 3)
        self._gate = asyncio.Event()
        self._gate.set()
        self._closing = asyncio.Event()
        self._in_flight_waiters: list[tuple[int, asyncio.Future[None]]] = []

    # -- data ---------------------------------------------------------------

    @property
    def ids(self) -> range:
        """Ids of the records that currently exist (ascending)."""
        lo, hi = self._window()
        return range(lo + 1, hi + 1)

    def record(self, record_id: int) -> dict[str, Any]:
        """Return live record ``record_id`` exactly as a client decodes it from JSON."""
        if record_id not in self.ids:
            raise KeyError(record_id)
        return self._decoded([record_id - 1])[0]

    def expected(
        self,
        *,
        user_story_ids: list[int] | None = None,
        user_story_version_ids: list[int] | None = None,
        order: Order = "asc",
    ) -> list[dict[str, Any]]:
        """Return every record the filters match, in serving order, as a client decodes them."""
        selection = self._select(user_story_ids or (), user_story_version_ids or ())
        return self._decoded(selection.all(descending=order == "desc"))

    def user_story_id_of(self, record_id: int) -> int:
        """Return the user story id record ``record_id`` belongs to."""
        return user_story_of(record_id - 1, user_stories=self.config.user_stories)

    def user_story_version_id_of(self, record_id: int) -> int:
        """Return the user story version id record ``record_id`` belongs to."""
        cfg = self.config
        return version_of(
            record_id - 1,
            user_stories=cfg.user_stories,
            versions_per_story=cfg.versions_per_story,
        )

    def _decoded(self, indices: list[int]) -> list[dict[str, Any]]:
        # Decoding the served bytes yields fresh dicts equal to what a client parses.
        rows: list[dict[str, Any]] = orjson.loads(
            self._factory_for(self.config.seed).encode_many(indices)
        )
        return rows

    def _window(self) -> tuple[int, int]:
        """Return the live index range ``[lo, hi)``."""
        hi = self.config.records + self._inserted
        return min(self._deleted, hi), hi

    def _select(self, story_ids: Sequence[int], version_ids: Sequence[int]) -> IndexSelection:
        cfg = self.config
        residues = matching_residues(
            story_ids or None,
            version_ids or None,
            user_stories=cfg.user_stories,
            versions_per_story=cfg.versions_per_story,
        )
        lo, hi = self._window()
        return IndexSelection(residues, cfg.user_stories * cfg.versions_per_story, lo, hi)

    def _factory_for(self, seed: int) -> RecordFactory:
        if self._factory.seed != seed:
            self._factory = RecordFactory(seed)
        return self._factory

    def _advance(self) -> None:
        """Apply the per-request inserts and deletes after a page was served."""
        cfg = self.config
        self._inserted += cfg.insert_per_request
        self._deleted = min(self._deleted + cfg.delete_per_request, self._window()[1])

    # -- scripted faults and flow control -------------------------------------

    def inject(
        self,
        status: int,
        *,
        body: bytes | str | Mapping[str, Any] | list[Any] = b"",
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        delay: float = 0.0,
        page: int | None = None,
    ) -> None:
        """Answer the next ``times`` requests (for ``page`` only, if given) with this response.

        ``body`` may be bytes, text or a JSON-serialisable dict/list (sent as
        ``application/json``).  ``delay`` seconds pass before answering.
        Injections are consumed in FIFO order and bypass every knob.
        """
        encoded, content_type = _body_bytes(body)
        merged = dict(headers or {})
        if content_type is not None and not any(k.lower() == "content-type" for k in merged):
            merged["Content-Type"] = content_type
        fault = Fault(status=status, body=encoded, headers=merged, delay=delay, page=page)
        self._faults.add(fault, times)

    def inject_reset(
        self, times: int = 1, page: int | None = None, *, at: ResetPoint = "body"
    ) -> None:
        """Drop the connection of the next ``times`` requests (for ``page`` only, if given).

        ``at="body"`` sends a 200 status and part of the body first (the client
        sees a payload error); ``at="headers"`` sends nothing (server disconnected).
        aiohttp retries an idempotent request once after such a disconnect, so
        one failed ``GET`` with ``at="headers"`` takes ``times=2``.
        """
        self._faults.add(Fault(page=page, reset=at), times)

    def clear_injected(self) -> None:
        """Forget every injection not consumed yet."""
        self._faults.clear()

    @property
    def pending_injections(self) -> int:
        """Number of requests that injections will still answer."""
        return len(self._faults)

    def hold(self) -> None:
        """Make new and waiting requests wait, counted in flight, until :meth:`release`."""
        self._gate.clear()

    def release(self) -> None:
        """Let held requests proceed."""
        self._gate.set()

    async def wait_for_in_flight(self, count: int) -> None:
        """Return once at least ``count`` requests are in flight (wrap it in a timeout)."""
        if self.stats.in_flight >= count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (count, future)
        self._in_flight_waiters.append(waiter)
        try:
            await future
        finally:
            self._in_flight_waiters.remove(waiter)

    # -- aiohttp plumbing -----------------------------------------------------

    def create_app(self) -> web.Application:
        """Return an aiohttp application serving this sandbox under :data:`API_PREFIX`."""
        app = web.Application()
        app[SANDBOX_APP_KEY] = self
        app.router.add_get(API_PREFIX + ENDPOINT_PATH, self.handle)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        self._closing.clear()

    async def _on_shutdown(self, _app: web.Application) -> None:
        # Wake sleeping and held handlers so shutdown never waits for a scripted delay.
        self._closing.set()
        self._gate.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request to the endpoint (the aiohttp handler)."""
        self._enter()
        try:
            response = await self._answer(request)
        finally:
            self.stats.in_flight -= 1
        if not isinstance(response, _Dropped):
            self.stats.status_counts[response.status] += 1
        return response

    def _enter(self) -> None:
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        for count, future in self._in_flight_waiters:
            if count <= stats.in_flight and not future.done():
                future.set_result(None)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        page = lenient_page(request.query)
        self._log(request, page)
        await self._gate.wait()
        fault = self._faults.take(page)
        if fault is not None:
            return await self._play(request, fault)
        await self._pause(self._latency())
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        return await self._serve(request)

    def _log(self, request: web.Request, page: int | None) -> None:
        self.requests_log.append(
            RequestInfo(
                method=request.method,
                path=request.path,
                query=tuple(request.query.items()),
                headers=tuple((str(k), v) for k, v in request.headers.items()),
                authorization=request.headers.get("Authorization"),
                page=page,
            )
        )

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up early when the server shuts down."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._closing.wait()

    def _latency(self) -> float:
        cfg = self.config
        jitter = self._latency_rng.uniform(0.0, cfg.latency_jitter) if cfg.latency_jitter else 0.0
        return cfg.latency + jitter

    async def _play(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        await self._pause(fault.delay)
        if fault.reset is not None:
            return await self._drop(
                request, _RESET_PARTIAL_BODY, _RESET_DECLARED_LENGTH, fault.reset
            )
        return web.Response(status=fault.status, body=fault.body, headers=fault.headers)

    async def _drop(
        self, request: web.Request, partial: bytes, declared: int, at: ResetPoint
    ) -> web.StreamResponse:
        """Close the connection after sending nothing, or a 200 with part of the body."""
        self.stats.connection_resets += 1
        response = _Dropped(status=200, headers={"Content-Type": _JSON})
        if at == "body":
            response.content_length = declared
            await response.prepare(request)
            await response.write(partial)
        if request.transport is not None:
            request.transport.close()
        return response

    def _refusal(self, request: web.Request) -> web.Response | None:
        """Return the rate-limit, random-failure or auth answer, if any applies."""
        return (
            self._rate_limited()
            or self._random_failure()
            or self._unauthorized(request.headers.get("Authorization"))
        )

    def _rate_limited(self) -> web.Response | None:
        rate = self.config.rate_limit
        if rate is None:
            return None
        if self._bucket is None or self._bucket.rate != rate:
            self._bucket = TokenBucket(rate)
        wait = self._bucket.acquire()
        if not wait:
            return None
        retry_after = _retry_after(wait, self.config.retry_after_format)
        return web.Response(status=429, headers={"Retry-After": retry_after})

    def _random_failure(self) -> web.Response | None:
        cfg = self.config
        if not (cfg.error_rate or cfg.html_error_rate):
            return None
        draw = self._failure_rng.random()
        if draw < cfg.error_rate:
            return _json_error(503, "Service Unavailable")
        if draw < cfg.error_rate + cfg.html_error_rate:
            return web.Response(status=502, body=_NGINX_502, content_type="text/html")
        return None

    def _unauthorized(self, authorization: str | None) -> web.Response | None:
        if authorization == f"Token {self.config.token}":
            return None
        return _json_error(401, "Invalid or missing API token")

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        cfg = self.config
        try:
            query = parse_query(
                request.query, per_page_default=cfg.per_page_default, strict=not cfg.ignore_page
            )
        except QueryError as exc:
            return _json_error(exc.status, exc.message)
        overflow = self._overflow(query)
        if overflow is not None:
            return overflow
        body = self._page_body(query)
        self.stats.pages_served.append(query.page)
        self._advance()
        return await self._deliver(request, body)

    def _overflow(self, query: PageQuery) -> web.Response | None:
        cfg = self.config
        if cfg.ignore_page or cfg.per_page_overflow != "reject" or cfg.max_per_page is None:
            return None
        if query.per_page <= cfg.max_per_page:
            return None
        return _json_error(422, f"per_page must be at most {cfg.max_per_page}")

    def _page_window(self, query: PageQuery) -> tuple[int, int]:
        """Return ``(offset, limit)`` the server applies to the filtered rows."""
        cfg = self.config
        if cfg.ignore_page:
            return 0, cfg.per_page_default
        per_page = query.per_page
        if cfg.max_per_page is not None:
            per_page = min(per_page, cfg.max_per_page)
        return (query.page - 1) * per_page, per_page

    def _page_body(self, query: PageQuery) -> bytes:
        cfg = self.config
        selection = self._select(query.user_story_ids, query.version_ids)
        offset, limit = self._page_window(query)
        factory = self._factory_for(cfg.seed)
        indices = selection.page(offset, limit, descending=query.descending)
        count = max(0, len(selection) + cfg.record_count_offset)
        return _PAGE_FORMAT % (count, factory.encode_many(indices))

    async def _deliver(self, request: web.Request, body: bytes) -> web.StreamResponse:
        """Send a data page, cut in half when the truncation knob fires."""
        cfg = self.config
        if not cfg.truncate_rate or self._truncate_rng.random() >= cfg.truncate_rate:
            return web.Response(body=body, content_type=_JSON)
        half = body[: len(body) // 2]
        if cfg.truncate_mode == "body":
            return web.Response(body=half, content_type=_JSON)
        return await self._drop(request, half, len(body), "body")


#: Where :meth:`Sandbox.create_app` stores the sandbox in its application.
SANDBOX_APP_KEY: Final = web.AppKey("testio_sandbox", Sandbox)


def create_app(config: SandboxConfig | None = None) -> web.Application:
    """Return an aiohttp application serving a new sandbox built from ``config``."""
    return Sandbox(config).create_app()


def sandbox_of(app: web.Application) -> Sandbox:
    """Return the sandbox served by an application from :func:`create_app`."""
    return app[SANDBOX_APP_KEY]
