"""The client over a mocked aiohttp (aioresponses): configuration, requests, retries."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import types
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from testio_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    Client,
    ExecutionStatus,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    TestIOError,
    UnprocessableEntityError,
    __version__,
)

TOKEN = "s3cr3t-T0ken-9f8e7d"
BASE = "https://api.test.io/customer/v2"
ENDPOINT = re.compile(r"^https://api\.test\.io/customer/v2/user_story_version_executions(\?.*)?$")


class _Response(aiohttp.ClientResponse):
    """aioresponses 0.7.9 predates aiohttp's required ``stream_writer`` argument."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


def record(id_: int, status: str = "passed") -> dict[str, Any]:
    return {
        "id": id_,
        "status": status,
        "comment": None,
        "executed_by": "tester",
        "device_reports": [],
        "test_cycle": {"id": 5, "title": "T", "test_environment": {"id": 1, "title": "S"}},
        "executed_at": "2025-02-05T10:30:00.000Z",
    }


def body(ids: list[int], count: int | None = None) -> dict[str, Any]:
    return {
        "meta": {"record_count": len(ids) if count is None else count},
        "user_story_version_executions": [record(i) for i in ids],
    }


class Mock:
    """aioresponses with the compat response class, and request counting."""

    def __init__(self, m: aioresponses) -> None:
        self.m = m

    def add(self, *, status: int = 200, payload: Any = None, text: str | bytes | None = None,
            headers: dict[str, str] | None = None, exception: BaseException | None = None,
            repeat: bool = False, url: Any = ENDPOINT) -> None:
        kwargs: dict[str, Any] = {"status": status, "repeat": repeat, "response_class": _Response}
        if payload is not None:
            kwargs["payload"] = payload
        if text is not None:
            kwargs["body"] = text
        if headers is not None:
            kwargs["headers"] = headers
        if exception is not None:
            kwargs["exception"] = exception
        self.m.get(url, **kwargs)

    @property
    def calls(self) -> list[tuple[URL, dict[str, Any]]]:
        return [(key[1], call.kwargs) for key, calls in self.m.requests.items() for call in calls]

    @property
    def count(self) -> int:
        return len(self.calls)


@pytest.fixture
def mock() -> Iterator[Mock]:
    with aioresponses() as m:
        yield Mock(m)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with Client(TOKEN, backoff_base=0, max_retries=2) as c:
        yield c


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TESTIO_API_TOKEN", raising=False)
    monkeypatch.delenv("TESTIO_BASE_URL", raising=False)


# --- construction and configuration ---------------------------------------------------


def test_construct_without_running_loop() -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    c = Client(TOKEN)
    assert c.base_url == BASE
    assert c.executions is not None


def test_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTIO_API_TOKEN", "env-token")
    Client()  # no error


async def test_env_token_is_sent(monkeypatch: pytest.MonkeyPatch, mock: Mock) -> None:
    monkeypatch.setenv("TESTIO_API_TOKEN", "env-token")
    mock.add(payload=body([]))
    async with Client(backoff_base=0) as c:
        await c.executions.get_page()
    assert mock.calls[0][1]["headers"]["Authorization"] == "Token env-token"


async def test_token_argument_beats_env(monkeypatch: pytest.MonkeyPatch, mock: Mock) -> None:
    monkeypatch.setenv("TESTIO_API_TOKEN", "env-token")
    mock.add(payload=body([]))
    async with Client("arg-token", backoff_base=0) as c:
        await c.executions.get_page()
    assert mock.calls[0][1]["headers"]["Authorization"] == "Token arg-token"


def test_missing_token_names_the_env_variable() -> None:
    with pytest.raises(ValueError, match="TESTIO_API_TOKEN"):
        Client()


@pytest.mark.parametrize("token", ["", "   "])
def test_empty_token_refused(token: str) -> None:
    with pytest.raises(ValueError, match="TESTIO_API_TOKEN"):
        Client(token)


def test_token_with_whitespace_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError) as info:
        Client("abc def-secret")
    assert "def-secret" not in str(info.value)


def test_non_str_token_refused() -> None:
    with pytest.raises(TypeError, match="token"):
        Client(1234)  # type: ignore[arg-type]


async def test_base_url_from_env(monkeypatch: pytest.MonkeyPatch, mock: Mock) -> None:
    monkeypatch.setenv("TESTIO_BASE_URL", "https://staging.example.com/api/v2/")
    c = Client(TOKEN, backoff_base=0)
    assert c.base_url == "https://staging.example.com/api/v2"
    mock.add(payload=body([]), url=re.compile(r"^https://staging\.example\.com/api/v2/"
                                              r"user_story_version_executions\?"))
    async with c:
        await c.executions.get_page()
    assert mock.count == 1


def test_base_url_argument_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTIO_BASE_URL", "https://env.example.com")
    assert Client(TOKEN, base_url="https://arg.example.com").base_url == "https://arg.example.com"


@pytest.mark.parametrize("url", ["http://api.test.io/customer/v2", "http://10.0.0.1:8080",
                                 "http://example.com"])
def test_plain_http_refused_for_remote_hosts(url: str) -> None:
    with pytest.raises(ValueError, match="allow_insecure_http"):
        Client(TOKEN, base_url=url)
    assert Client(TOKEN, base_url=url, allow_insecure_http=True).base_url == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:9000/v2",
                                 "http://[::1]:8080", "http://127.1.2.3"])
def test_plain_http_allowed_for_loopback(url: str) -> None:
    assert Client(TOKEN, base_url=url).base_url == url.rstrip("/")


@pytest.mark.parametrize("url", ["ftp://api.test.io", "api.test.io", "https://"])
def test_bad_base_url_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        Client(TOKEN, base_url=url)


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"max_concurrency": 0}, ValueError),
        ({"max_concurrency": 1.5}, TypeError),
        ({"max_retries": -1}, ValueError),
        ({"timeout": 0}, ValueError),
        ({"timeout": "5"}, TypeError),
        ({"backoff_base": -1}, ValueError),
        ({"max_concurrency": True}, TypeError),
    ],
)
def test_bad_client_options(kwargs: dict[str, Any], exc: type[Exception]) -> None:
    with pytest.raises(exc, match=next(iter(kwargs))):
        Client(TOKEN, **kwargs)


def test_retry_policy_from_options() -> None:
    c = Client(TOKEN, max_retries=3, backoff_base=0.1, backoff_max=2.0, max_retry_after=9.0)
    policy = c.retry_policy
    assert (policy.max_retries, policy.backoff_base, policy.backoff_max,
            policy.max_retry_after) == (3, 0.1, 2.0, 9.0)


# --- the token stays secret -----------------------------------------------------------


def test_token_not_in_repr() -> None:
    c = Client(TOKEN)
    assert TOKEN not in repr(c)
    assert TOKEN not in str(c)
    assert BASE in repr(c)


def _assert_secret_absent(exc: BaseException) -> None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        assert TOKEN not in str(current)
        assert TOKEN not in repr(current)
        assert all(TOKEN not in repr(arg) for arg in current.args)
        for attr in ("message", "body"):
            assert TOKEN not in str(getattr(current, attr, ""))
        current = current.__cause__ or current.__context__


@pytest.mark.parametrize(
    ("status", "payload", "text", "cls"),
    [
        (401, None, f"invalid token {TOKEN}", AuthenticationError),
        (422, {"error": f"token {TOKEN} may not filter"}, None, UnprocessableEntityError),
        (500, None, f"<html><title>Error for Token {TOKEN}</title></html>", ServerError),
        (429, {"error": f"slow down {TOKEN}"}, None, RateLimitError),
    ],
)
async def test_token_echoed_by_server_is_scrubbed(
    mock: Mock, client: Client, caplog: pytest.LogCaptureFixture,
    status: int, payload: Any, text: str | None, cls: type[TestIOError],
) -> None:
    caplog.set_level(logging.DEBUG)
    mock.add(status=status, payload=payload, text=text, headers={"Retry-After": "0"},
             repeat=True)
    with pytest.raises(cls) as info:
        await client.executions.get_page()
    _assert_secret_absent(info.value)
    assert "***" in info.value.body  # type: ignore[attr-defined]
    for rec in caplog.records:
        assert TOKEN not in rec.getMessage()
    assert TOKEN not in caplog.text


async def test_token_not_in_decode_error_nor_logs(
    mock: Mock, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mock.add(status=200, text=f"not json {TOKEN}", repeat=True)
    with pytest.raises(ResponseValidationError) as info:
        await client.executions.get_page()
    _assert_secret_absent(info.value)
    assert TOKEN not in caplog.text


async def test_token_not_in_connection_errors_nor_logs(
    mock: Mock, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mock.add(exception=aiohttp.ClientConnectionError("refused"), repeat=True)
    with pytest.raises(APIConnectionError) as info:
        await client.executions.get_page()
    _assert_secret_absent(info.value)
    assert TOKEN not in caplog.text


# --- what is sent ---------------------------------------------------------------------


async def test_request_headers(mock: Mock) -> None:
    mock.add(payload=body([]))
    async with Client(TOKEN, headers={"X-Request-Source": "tests"}, backoff_base=0) as c:
        await c.executions.get_page()
    headers = mock.calls[0][1]["headers"]
    assert headers["Authorization"] == f"Token {TOKEN}"
    assert headers["User-Agent"] == f"testio-async/{__version__}"
    assert headers["X-Request-Source"] == "tests"


class RecordingSession:
    """Stands in for a ClientSession: remembers each raw URL, then sends it for real."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.urls: list[str] = []

    def get(self, url: Any, **kwargs: Any) -> Any:
        self.urls.append(str(url))
        return self.session.get(url, **kwargs)


async def _with_recording(
    mock: Mock, use: Callable[[Client], Awaitable[Any]]
) -> list[URL]:
    async with aiohttp.ClientSession() as real:
        spy = RecordingSession(real)
        async with Client(TOKEN, session=spy, backoff_base=0) as c:  # type: ignore[arg-type]
            await use(c)
        assert not real.closed
    return [URL(u, encoded=True) for u in spy.urls]


async def test_query_encoding_get_page(mock: Mock) -> None:
    mock.add(payload=body([]))
    urls = await _with_recording(mock, lambda c: c.executions.get_page(
        page=3, per_page=50, user_story_ids=[3, 1, 2], user_story_version_ids=[10, 5],
        order="desc"))
    (url,) = urls
    assert url.path == "/customer/v2/user_story_version_executions"
    assert url.query.getall("user_story_ids[]") == ["3", "1", "2"]
    assert url.query.getall("user_story_version_ids[]") == ["10", "5"]
    assert url.query["order"] == "desc"
    assert url.query["page"] == "3"
    assert url.query["per_page"] == "50"
    assert "user_story_ids" not in url.query  # bracket keys, not a plain list key


async def test_query_without_filters(mock: Mock) -> None:
    mock.add(payload=body([]))
    (url,) = await _with_recording(mock, lambda c: c.executions.get_page())
    assert set(url.query) == {"order", "page", "per_page"}
    assert url.query["order"] == "asc"
    assert url.query["page"] == "1"


async def test_query_encoding_stream_pages(mock: Mock) -> None:
    mock.add(payload=body([1, 2], count=3))
    mock.add(payload=body([3], count=3))

    async def run(c: Client) -> None:
        ids = [e.id async for e in c.executions.stream(user_story_ids=[7, 4], per_page=2)]
        assert ids == [1, 2, 3]

    urls = await _with_recording(mock, run)
    assert [u.query["page"] for u in urls] == ["1", "2"]
    for url in urls:
        assert url.query.getall("user_story_ids[]") == ["7", "4"]
        assert url.query["per_page"] == "2"


# --- reading records ------------------------------------------------------------------


async def test_get_page_structures(mock: Mock, client: Client) -> None:
    mock.add(payload=body([1, 2], count=10))
    page = await client.executions.get_page(per_page=2)
    assert [e.id for e in page.items] == [1, 2]
    assert page.items[0].status is ExecutionStatus.PASSED
    assert page.record_count == 10
    assert page.total_pages == 5


async def test_collect_and_stream(mock: Mock, client: Client) -> None:
    mock.add(payload=body([1, 2], count=5))
    mock.add(payload=body([3, 4], count=5))
    mock.add(payload=body([5], count=5))
    got = await client.executions.collect(per_page=2)
    assert [e.id for e in got] == [1, 2, 3, 4, 5]
    assert mock.count == 3


# --- retries --------------------------------------------------------------------------


async def test_503_then_success(mock: Mock, client: Client) -> None:
    mock.add(status=503, text="busy")
    mock.add(payload=body([1]))
    page = await client.executions.get_page()
    assert [e.id for e in page.items] == [1]
    assert mock.count == 2
    assert client.stats.requests == 2
    assert client.stats.retries == 1


async def test_401_not_retried(mock: Mock, client: Client) -> None:
    mock.add(status=401, repeat=True)
    with pytest.raises(AuthenticationError) as info:
        await client.executions.get_page()
    assert info.value.status == 401
    assert mock.count == 1


async def test_422_not_retried(mock: Mock, client: Client) -> None:
    mock.add(status=422, payload={"error": "bad filter"}, repeat=True)
    with pytest.raises(UnprocessableEntityError, match="bad filter"):
        await client.executions.get_page()
    assert mock.count == 1


async def test_persistent_500_gives_server_error_after_all_attempts(mock: Mock) -> None:
    mock.add(status=500, payload={"error": "kaput"}, repeat=True)
    async with Client(TOKEN, backoff_base=0, max_retries=3) as c:
        with pytest.raises(ServerError, match="kaput"):
            await c.executions.get_page()
        assert c.stats.retries == 3
    assert mock.count == 4


async def test_max_retries_zero_means_one_attempt(mock: Mock) -> None:
    mock.add(status=503, repeat=True)
    async with Client(TOKEN, backoff_base=0, max_retries=0) as c:
        with pytest.raises(ServerError):
            await c.executions.get_page()
    assert mock.count == 1


async def test_429_with_retry_after_zero_retried(mock: Mock, client: Client) -> None:
    mock.add(status=429, headers={"Retry-After": "0"})
    mock.add(payload=body([1]))
    page = await client.executions.get_page()
    assert len(page.items) == 1
    assert mock.count == 2
    assert client.stats.rate_limited == 1


async def test_429_retry_after_above_max_raised_at_once(mock: Mock) -> None:
    mock.add(status=429, headers={"Retry-After": "3600"}, repeat=True)
    async with Client(TOKEN, backoff_base=0, max_retry_after=60) as c:
        with pytest.raises(RateLimitError) as info:
            await c.executions.get_page()
    assert info.value.retry_after == 3600.0
    assert info.value.status == 429
    assert mock.count == 1


async def test_429_retries_exhausted_is_rate_limit_error(mock: Mock, client: Client) -> None:
    mock.add(status=429, headers={"Retry-After": "0"}, repeat=True)
    with pytest.raises(RateLimitError) as info:
        await client.executions.get_page()
    assert info.value.retry_after == 0.0
    assert mock.count == 3


async def test_invalid_json_200_retried_then_success(mock: Mock, client: Client) -> None:
    mock.add(status=200, text='{"meta": {"record_cou')
    mock.add(payload=body([1, 2]))
    page = await client.executions.get_page()
    assert [e.id for e in page.items] == [1, 2]
    assert mock.count == 2


async def test_invalid_shape_200_not_retried(mock: Mock, client: Client) -> None:
    mock.add(payload={"meta": {"record_count": 1},
                      "user_story_version_executions": [{"id": "x"}]}, repeat=True)
    with pytest.raises(ResponseValidationError, match=r"user_story_version_executions\[0\]"):
        await client.executions.get_page()
    assert mock.count == 1


async def test_timeouts_give_api_timeout_error_after_retries(mock: Mock, client: Client) -> None:
    mock.add(exception=TimeoutError(), repeat=True)
    with pytest.raises(APITimeoutError):
        await client.executions.get_page()
    assert mock.count == 3


async def test_timeout_then_success(mock: Mock, client: Client) -> None:
    mock.add(exception=TimeoutError())
    mock.add(payload=body([9]))
    page = await client.executions.get_page()
    assert [e.id for e in page.items] == [9]


async def test_connection_error_gives_api_connection_error(mock: Mock, client: Client) -> None:
    mock.add(exception=aiohttp.ClientConnectionError("connection refused"), repeat=True)
    with pytest.raises(APIConnectionError) as info:
        await client.executions.get_page()
    assert not isinstance(info.value, APITimeoutError)
    assert "ClientConnectionError" in str(info.value)
    assert mock.count == 3


async def test_payload_error_retried(mock: Mock, client: Client) -> None:
    mock.add(exception=aiohttp.ClientPayloadError("cut short"))
    mock.add(payload=body([1]))
    page = await client.executions.get_page()
    assert len(page.items) == 1


async def test_retry_logged(mock: Mock, client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="testio_async")
    mock.add(status=503, text="busy")
    mock.add(status=502, text="bad gateway")
    mock.add(payload=body([]))
    await client.executions.get_page()
    records = [r for r in caplog.records if r.name == "testio_async"]
    assert len(records) == 2
    assert all(r.levelno == logging.WARNING for r in records)
    first, second = (r.getMessage() for r in records)
    assert "503" in first
    assert "retry 1 of 2" in first
    assert "502" in second
    assert "retry 2 of 2" in second
    assert "user_story_version_executions" in first


async def test_stream_error_after_first_page(mock: Mock, client: Client) -> None:
    mock.add(payload=body([1, 2], count=6))
    mock.add(status=401, repeat=True)
    got: list[int] = []
    with pytest.raises(AuthenticationError):
        async for e in client.executions.stream(per_page=2):
            got.append(e.id)
    assert got == [1, 2]


# --- arguments are checked before any request -----------------------------------------

BAD_ARGS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"order": "up"}, ValueError, "order"),
    ({"order": None}, ValueError, "order"),
    ({"per_page": 0}, ValueError, "per_page"),
    ({"per_page": -5}, ValueError, "per_page"),
    ({"per_page": "10"}, TypeError, "per_page"),
    ({"per_page": 10.0}, TypeError, "per_page"),
    ({"per_page": True}, TypeError, "per_page"),
    ({"user_story_ids": "12"}, TypeError, "user_story_ids"),
    ({"user_story_ids": 12}, TypeError, "user_story_ids"),
    ({"user_story_ids": [1, "2"]}, TypeError, "user_story_ids"),
    ({"user_story_ids": []}, ValueError, "user_story_ids"),
    ({"user_story_ids": [True]}, TypeError, "user_story_ids"),
    ({"user_story_ids": [0]}, ValueError, "user_story_ids"),
    ({"user_story_version_ids": [1, None]}, TypeError, "user_story_version_ids"),
    ({"user_story_version_ids": ()}, ValueError, "user_story_version_ids"),
    ({"user_story_version_ids": b"12"}, TypeError, "user_story_version_ids"),
]
STREAM_ONLY: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"limit": -1}, ValueError, "limit"),
    ({"limit": "5"}, TypeError, "limit"),
    ({"limit": 2.5}, TypeError, "limit"),
]
PAGE_ONLY: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"page": 0}, ValueError, "page"),
    ({"page": -1}, ValueError, "page"),
    ({"page": "2"}, TypeError, "page"),
    ({"page": True}, TypeError, "page"),
]


def _ids(cases: list[tuple[dict[str, Any], type[Exception], str]]) -> list[str]:
    return [repr(kwargs) for kwargs, _, _ in cases]


@pytest.mark.parametrize(("kwargs", "exc", "name"), BAD_ARGS + PAGE_ONLY,
                         ids=_ids(BAD_ARGS + PAGE_ONLY))
async def test_bad_arguments_get_page(
    mock: Mock, client: Client, kwargs: dict[str, Any], exc: type[Exception], name: str
) -> None:
    with pytest.raises(exc, match=name):
        await client.executions.get_page(**kwargs)
    assert mock.count == 0
    assert client.stats.requests == 0


@pytest.mark.parametrize("method", ["stream", "pages"])
@pytest.mark.parametrize(("kwargs", "exc", "name"), BAD_ARGS + STREAM_ONLY,
                         ids=_ids(BAD_ARGS + STREAM_ONLY))
async def test_bad_arguments_stream_and_pages_raise_on_call(
    mock: Mock, client: Client, method: str, kwargs: dict[str, Any], exc: type[Exception],
    name: str,
) -> None:
    with pytest.raises(exc, match=name):
        getattr(client.executions, method)(**kwargs)
    assert mock.count == 0


@pytest.mark.parametrize(("kwargs", "exc", "name"), BAD_ARGS + STREAM_ONLY,
                         ids=_ids(BAD_ARGS + STREAM_ONLY))
async def test_bad_arguments_collect(
    mock: Mock, client: Client, kwargs: dict[str, Any], exc: type[Exception], name: str
) -> None:
    with pytest.raises(exc, match=name):
        await client.executions.collect(**kwargs)
    assert mock.count == 0


async def test_limit_zero_sends_nothing(mock: Mock, client: Client) -> None:
    assert await client.executions.collect(limit=0) == []
    assert mock.count == 0


async def test_ids_from_a_generator_accepted(mock: Mock) -> None:
    mock.add(payload=body([]))
    (url,) = await _with_recording(
        mock, lambda c: c.executions.get_page(user_story_ids=(i for i in (5, 6))))
    assert url.query.getall("user_story_ids[]") == ["5", "6"]


# --- session lifecycle ----------------------------------------------------------------


async def test_async_with_closes_the_session_it_made(
    mock: Mock, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[aiohttp.ClientSession] = []
    original = aiohttp.ClientSession.close

    async def spy(self: aiohttp.ClientSession) -> None:
        closed.append(self)
        await original(self)

    monkeypatch.setattr(aiohttp.ClientSession, "close", spy)
    mock.add(payload=body([]))
    async with Client(TOKEN, backoff_base=0) as c:
        await c.executions.get_page()
        assert closed == []
    assert len(closed) == 1
    assert closed[0].closed


async def test_passed_in_session_not_closed(mock: Mock) -> None:
    mock.add(payload=body([]))
    async with aiohttp.ClientSession() as session:
        async with Client(TOKEN, session=session, backoff_base=0) as c:
            await c.executions.get_page()
        assert not session.closed
        await c.close()  # closing twice is harmless and still leaves it open
        assert not session.closed
    assert mock.count == 1


async def test_close_without_any_request() -> None:
    c = Client(TOKEN)
    await c.close()
    await c.close()


async def test_closed_client_raises_runtime_error(mock: Mock) -> None:
    mock.add(payload=body([]), repeat=True)
    c = Client(TOKEN, backoff_base=0)
    await c.executions.get_page()
    await c.close()
    with pytest.raises(RuntimeError, match="closed"):
        await c.executions.get_page()
    with pytest.raises(RuntimeError, match="closed"):
        await c.executions.collect()
    assert mock.count == 1


async def test_closed_before_use_raises_runtime_error(mock: Mock) -> None:
    c = Client(TOKEN)
    await c.close()
    with pytest.raises(RuntimeError, match="closed"):
        await c.executions.get_page()
    assert mock.count == 0


async def test_no_resource_warning(mock: Mock) -> None:
    mock.add(payload=body([1]), repeat=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with Client(TOKEN, backoff_base=0) as c:
            await c.executions.get_page()
            await c.executions.collect()
        del c
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
