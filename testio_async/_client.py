"""The public client: configuration, the aiohttp session, and the resources."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from types import TracebackType

import aiohttp
from yarl import URL

from ._executions import Executions
from ._http import RetryPolicy, Transport
from ._limits import RequestGate
from ._stats import StreamStats
from ._version import __version__

__all__ = ["BASE_URL_ENV", "DEFAULT_BASE_URL", "TOKEN_ENV", "Client"]

DEFAULT_BASE_URL = "https://api.test.io/customer/v2"
TOKEN_ENV = "TESTIO_API_TOKEN"
BASE_URL_ENV = "TESTIO_BASE_URL"
USER_AGENT = f"testio-async/{__version__}"


def _check_token(token: str | None) -> str:
    if token is None:
        raise ValueError(f"no API token: pass token=... or set the {TOKEN_ENV} environment"
                         " variable")
    if not isinstance(token, str):
        raise TypeError(f"token must be a str, not {type(token).__name__}")
    token = token.strip()
    if not token:
        raise ValueError(f"the API token is empty (token=... or ${TOKEN_ENV})")
    if not token.isprintable() or any(c.isspace() for c in token):
        # Said without the token: a malformed token is still a secret.
        raise ValueError("the API token contains whitespace or control characters")
    return token


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str, allow_insecure_http: bool) -> str:
    url = URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise ValueError(
            f"base_url {base_url!r} would send the token in clear text; use https, a loopback"
            " address, or pass allow_insecure_http=True"
        )
    return base_url.rstrip("/")


def _check_number(name: str, value: object, minimum: float, *, whole: bool = False) -> None:
    """Refuse a value of the wrong type (bool included) or below ``minimum``, by name."""
    if isinstance(value, bool) or not isinstance(value, int | float) or (
        whole and not isinstance(value, int)
    ):
        kind = "an int" if whole else "a number"
        raise TypeError(f"{name} must be {kind}, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")


class Client:
    """An async client of the Test IO Customer API v2.

    Use it with ``async with`` (or call :meth:`close`). Making one needs no running event
    loop: the aiohttp session is created on the first request.

    - ``token``: the API token, else ``$TESTIO_API_TOKEN``; neither raises ``ValueError``.
    - ``base_url``: else ``$TESTIO_BASE_URL``, else the production API. Plain ``http`` is
      refused for hosts other than loopback unless ``allow_insecure_http=True``.
    - ``max_concurrency``: requests in flight for the whole client, all streams together.
    - ``timeout``: seconds per request attempt; ``max_retries``: retries after the first
      attempt; ``backoff_base``/``backoff_max``: exponential backoff between attempts;
      ``max_retry_after``: a longer ``Retry-After`` raises :class:`RateLimitError` at once.
    - ``adaptive_concurrency``: after a 429, halve the requests in flight and raise them
      again slowly as requests succeed (AIMD), up to ``max_concurrency``.
    - ``headers``: extra headers for every request; ``session``: an aiohttp session of
      yours, used as it is and never closed by the client.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        max_concurrency: int = 8,
        timeout: float = 30.0,
        max_retries: int = 5,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 300.0,
        allow_insecure_http: bool = False,
        adaptive_concurrency: bool = False,
    ) -> None:
        secret = _check_token(token if token is not None else os.environ.get(TOKEN_ENV))
        self.base_url = _check_base_url(
            base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL, allow_insecure_http
        )
        _check_number("max_concurrency", max_concurrency, 1, whole=True)
        _check_number("max_retries", max_retries, 0, whole=True)
        _check_number("timeout", timeout, 0.001)
        _check_number("backoff_base", backoff_base, 0)
        _check_number("backoff_max", backoff_max, 0)
        _check_number("max_retry_after", max_retry_after, 0)
        self.max_concurrency = max_concurrency
        self.timeout = float(timeout)
        self._own_session = session is None
        self._session = session
        self._closed = False
        self._gate = RequestGate(max_concurrency, adaptive=adaptive_concurrency)
        request_headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(headers or {}),
            "Authorization": f"Token {secret}",
        }
        self._transport = Transport(
            base_url=self.base_url,
            headers=request_headers,
            secret=secret,
            timeout=self.timeout,
            policy=RetryPolicy(max_retries=max_retries, backoff_base=backoff_base,
                               backoff_max=backoff_max, max_retry_after=max_retry_after),
            gate=self._gate,
            session=self._get_session,
        )
        self.executions = Executions(self._transport, self._gate)
        """User story version executions: ``get_page``, ``stream``, ``pages``, ``collect``."""

    @property
    def retry_policy(self) -> RetryPolicy:
        """What is retried and how long the client waits between attempts."""
        return self._transport.policy

    @property
    def stats(self) -> StreamStats:
        """Requests, retries and 429s of every request this client has sent."""
        return self._transport.stats

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this Client is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_concurrency),
            )
        return self._session

    async def close(self) -> None:
        """Close the session the client made (a session passed in is left open)."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._own_session:
            await session.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return (
            f"Client(base_url={self.base_url!r}, max_concurrency={self.max_concurrency},"
            f" timeout={self.timeout}, max_retries={self.retry_policy.max_retries})"
        )
