"""One GET request: send it through the gate, decide what the answer means, retry.

:func:`decipher` is pure: ``(status, headers, body)`` in, decoded JSON or a typed
exception out, so every status and body shape is tested without I/O. The adapter around
it (:meth:`Transport.get_json`) sends, reads, and hands the three values over; tenacity
retries exactly the errors :meth:`RetryPolicy.should_retry` names.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson
from attrs import frozen
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from yarl import URL

from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    UnprocessableEntityError,
)
from ._limits import RequestGate
from ._stats import StreamStats

__all__ = [
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "Transport",
    "decipher",
    "error_message",
    "logger",
    "parse_retry_after",
]

logger = logging.getLogger("testio_async")
# A library does not print: the application decides where retry warnings go.
logger.addHandler(logging.NullHandler())

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_ERROR_BY_STATUS: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}
_EXCERPT = 200
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    ``None`` when the header is absent or unreadable; never negative.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_message(body: bytes) -> str:
    """The message of an error body: its JSON ``error`` value, an HTML title, or an excerpt."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    if title := _TITLE.search(body):
        text = title.group(1).decode("utf-8", "replace")
    else:
        text = body.decode("utf-8", "replace")
    text = _SPACE.sub(" ", text).strip()
    if not text:
        return "(empty body)"
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


def decipher(status: int, headers: Mapping[str, str], body: bytes) -> Any:
    """Turn one response into its decoded JSON body, or raise the typed error it means."""
    if 200 <= status < 300:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ResponseDecodeError(
                f"the {status} response is not JSON ({len(body)} bytes): {exc}"
            ) from None
    retry_after = parse_retry_after(headers.get("Retry-After"))
    cls = _ERROR_BY_STATUS.get(status, ServerError if status >= 500 else APIStatusError)
    text = body.decode("utf-8", "replace")
    raise cls(error_message(body), status=status, body=text, retry_after=retry_after)


@frozen(kw_only=True)
class RetryPolicy:
    """Which failures are retried, how often, and how long to wait between attempts.

    Retried: statuses 408, 429, 500, 502, 503 and 504, connection errors, timeouts,
    bodies cut short and 2xx bodies that are not JSON; nothing else. The wait is the
    server's ``Retry-After`` when it sent one, else exponential backoff with jitter:
    ``backoff_base * 2 ** (attempt - 1)`` capped at ``backoff_max``, plus up to
    ``backoff_base`` of random jitter. A ``Retry-After`` above ``max_retry_after``
    raises at once instead of sleeping that long.
    """

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 300.0

    def should_retry(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a transient failure worth another attempt."""
        if isinstance(exc, APIStatusError):
            if exc.status not in RETRYABLE_STATUSES:
                return False
            return exc.retry_after is None or exc.retry_after <= self.max_retry_after
        return isinstance(exc, APIConnectionError | ResponseDecodeError)

    def wait(self, attempt: int, exc: BaseException | None) -> float:
        """Seconds to sleep after failed attempt number ``attempt`` (1-based)."""
        if isinstance(exc, APIStatusError) and exc.retry_after is not None:
            return exc.retry_after
        backoff = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return backoff + random.uniform(0, self.backoff_base)


class Transport:
    """Sends GET requests for a client: auth, timeout, the gate, retries, and decipher."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        secret: str,
        timeout: float,
        policy: RetryPolicy,
        gate: RequestGate,
        session: Callable[[], aiohttp.ClientSession],
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.policy = policy
        self._gate = gate
        self._session = session
        self.stats = StreamStats()

    def url(self, path: str, query: str) -> URL:
        """The full URL for ``path`` and an already percent-encoded ``query``."""
        return URL(f"{self._base_url}/{path}?{query}", encoded=True)

    async def get_json(self, url: URL, stats: StreamStats | None = None) -> Any:
        """GET ``url`` with retries; the decoded JSON body, or a :class:`TestIOError`."""
        policy = self.policy
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.max_retries + 1),
            wait=lambda state: policy.wait(state.attempt_number, _exception(state)),
            retry=retry_if_exception(policy.should_retry),
            before_sleep=lambda state: self._count_retry(url, state, stats),
            reraise=True,
        )
        return await retrying(self._attempt, url, stats)

    async def _attempt(self, url: URL, stats: StreamStats | None) -> Any:
        self.stats.requests += 1
        if stats is not None:
            stats.requests += 1
        async with self._gate.slot():
            status, headers, body = await self._send(url)
        try:
            result = decipher(status, headers, body)
        except APIStatusError as exc:
            self._scrub(exc)
            if isinstance(exc, RateLimitError):
                self._count_rate_limited(stats)
                self._gate.rate_limited()
                # Only a wait that will be retried holds the client back.
                if exc.retry_after is not None and self.policy.should_retry(exc):
                    self._gate.pause(exc.retry_after)
            raise
        self._gate.succeeded()
        return result

    async def _send(self, url: URL) -> tuple[int, Mapping[str, str], bytes]:
        try:
            async with self._session().get(
                url, headers=self._headers, timeout=self._timeout
            ) as response:
                return response.status, response.headers, await response.read()
        except TimeoutError:
            raise APITimeoutError(
                f"GET {_describe(url)}: no complete answer within {self._timeout.total}s"
            ) from None
        except aiohttp.ClientError as exc:
            raise APIConnectionError(
                f"GET {_describe(url)}: {type(exc).__name__}: {exc}"
            ) from None

    def _scrub(self, exc: APIStatusError) -> None:
        """Remove the token from an error a server may have echoed it in."""
        secret = self._secret
        if secret and (secret in exc.body or secret in exc.message):
            exc.body = exc.body.replace(secret, "***")
            exc.args = (exc.message.replace(secret, "***"),)

    def _count_rate_limited(self, stats: StreamStats | None) -> None:
        self.stats.rate_limited += 1
        if stats is not None:
            stats.rate_limited += 1

    def _count_retry(self, url: URL, state: RetryCallState, stats: StreamStats | None) -> None:
        exc = _exception(state)
        self.stats.retries += 1
        if stats is not None:
            stats.retries += 1
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "GET %s failed (%s); retry %d of %d in %.2fs",
            _describe(url), exc, state.attempt_number, self.policy.max_retries, wait,
        )


def _exception(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


def _describe(url: URL) -> str:
    """Path and query of ``url`` for messages: enough to find the page, nothing secret."""
    return url.path_qs

