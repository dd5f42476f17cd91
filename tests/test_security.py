"""Security: the token never leaks, never goes out in clear text, never follows a redirect."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

import pytest

import testio_async as tio
from testio_async.sandbox import SandboxServer
from testio_async.sandbox.pytest_plugin import SandboxFactory

SECRET = "tk-9f8e7d6c5b4a-SECRET"


def _everything_said(exc: BaseException) -> str:
    """Every text an exception shows: repr, str, args, attributes, the whole traceback."""
    parts = [repr(exc), str(exc), repr(exc.args), repr(vars(exc))]
    parts += traceback.format_exception(exc)
    return "\n".join(parts)


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts += traceback.format_exception(*record.exc_info)
    return "\n".join(parts)


def _echo(status: int, **extra: Any) -> Callable[[SandboxServer], None]:
    """A server answering ``status`` with the token echoed in its JSON error body."""

    def setup(sandbox: SandboxServer) -> None:
        sandbox.inject(status, body={"error": f"bad token Token {SECRET}"}, times=10, **extra)

    return setup


def _html_echo(sandbox: SandboxServer) -> None:
    sandbox.inject(502, body=f"<html><title>Bad {SECRET}</title><p>Token {SECRET}</p></html>",
                   headers={"Content-Type": "text/html"}, times=10)


def _text_echo(sandbox: SandboxServer) -> None:
    sandbox.inject(500, body=f"Authorization: Token {SECRET}\n" * 50, times=10)


ERROR_PATHS: list[tuple[str, Callable[[SandboxServer], None], type[Exception]]] = [
    ("401-wrong-token", lambda s: setattr(s.config, "token", "other"), tio.AuthenticationError),
    ("401-echo", _echo(401), tio.AuthenticationError),
    ("403-echo", _echo(403), tio.PermissionDeniedError),
    ("404-echo", _echo(404), tio.NotFoundError),
    ("422-echo", _echo(422), tio.UnprocessableEntityError),
    ("400-echo", _echo(400), tio.BadRequestError),
    ("429-echo", _echo(429, headers={"Retry-After": "0"}), tio.RateLimitError),
    ("429-ceiling", _echo(429, headers={"Retry-After": "9999"}), tio.RateLimitError),
    ("503-echo", _echo(503), tio.ServerError),
    ("500-text-echo", _text_echo, tio.ServerError),
    ("502-html-echo", _html_echo, tio.ServerError),
    ("timeout", lambda s: s.inject(200, delay=30.0, times=10), tio.APITimeoutError),
    ("reset-body", lambda s: s.inject_reset(times=10, at="body"), tio.APIConnectionError),
    ("reset-headers", lambda s: s.inject_reset(times=10, at="headers"), tio.APIConnectionError),
    ("invalid-json-echo",
     lambda s: s.inject(200, body=f"Token {SECRET} <html>".encode(), times=10),
     tio.ResponseDecodeError),
    ("validation-echo",
     lambda s: s.inject(200, body={"meta": {"record_count": 1},
                                   "user_story_version_executions": [
                                       {"id": 1, "status": "passed",
                                        "executed_at": f"Token {SECRET}"}]}, times=2),
     tio.ResponseValidationError),
    ("validation-echo-meta",
     lambda s: s.inject(200, body={"meta": {"record_count": f"Token {SECRET}"},
                                   "user_story_version_executions": []}, times=2),
     tio.ResponseValidationError),
]


@pytest.mark.parametrize(("setup", "error"), [p[1:] for p in ERROR_PATHS],
                         ids=[p[0] for p in ERROR_PATHS])
async def test_the_token_never_leaks_on_an_error_path(
    testio_sandbox_factory: SandboxFactory,
    caplog: pytest.LogCaptureFixture,
    setup: Callable[[SandboxServer], None],
    error: type[Exception],
) -> None:
    sandbox = await testio_sandbox_factory(records=30, token=SECRET)
    setup(sandbox)
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's and asyncio's included
    def make() -> tio.Client:
        return tio.Client(SECRET, base_url=sandbox.url, backoff_base=0.0, max_retries=1,
                          timeout=1.0, max_retry_after=60)

    # Two clients: a Retry-After above the ceiling pauses its client (see test_faults.py).
    async with make() as client:
        assert SECRET not in repr(client) and SECRET not in str(client)
        with pytest.raises(error) as info:
            await client.executions.collect(per_page=10)
    async with make() as client:
        with pytest.raises(error) as info_page:
            await client.executions.get_page(per_page=10)
    for exc in (info.value, info_page.value):
        assert type(exc) is error
        assert SECRET not in _everything_said(exc)
    assert SECRET not in _logged(caplog)
    assert SECRET not in repr(client.stats)


def test_a_malformed_token_is_not_quoted() -> None:
    for bad in (f"{SECRET} x", f"{SECRET}\nx", f"a\n{SECRET}", f"{SECRET}\x00"):
        with pytest.raises(ValueError) as info:
            tio.Client(bad, base_url="https://api.test.io/customer/v2")
        assert SECRET not in _everything_said(info.value)


def test_the_token_is_not_in_the_clients_repr() -> None:
    client = tio.Client(SECRET)
    assert SECRET not in repr(client) and SECRET not in str(client)
    assert SECRET not in repr(client.executions) and SECRET not in repr(client.retry_policy)


# -- clear text -----------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://api.test.io/customer/v2",
    "HTTP://api.test.io/customer/v2",
    "http://example.com",
    "http://10.0.0.1:8080/customer/v2",
    "http://0.0.0.0:8080/customer/v2",
    "http://localhost.evil.example/customer/v2",
    "http://127.0.0.1.nip.io/customer/v2",
    "http://127.0.0.1@evil.example/customer/v2",
    "http://[2001:db8::1]/customer/v2",
])
def test_clear_text_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="clear text"):
        tio.Client(SECRET, base_url=url)
    client = tio.Client(SECRET, base_url=url, allow_insecure_http=True)
    assert client.base_url.lower().startswith("http://")


def test_clear_text_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTIO_BASE_URL", "http://api.test.io/customer/v2")
    monkeypatch.setenv("TESTIO_API_TOKEN", SECRET)
    with pytest.raises(ValueError, match="clear text") as info:
        tio.Client()
    assert SECRET not in _everything_said(info.value)


@pytest.mark.parametrize("url", [
    "http://localhost:8080/customer/v2",
    "http://127.0.0.1:8080/customer/v2",
    "http://127.8.9.10/customer/v2",
    "http://[::1]:8080/customer/v2",
    "https://api.test.io/customer/v2",
    "https://example.com",
])
def test_loopback_and_https_are_accepted(url: str) -> None:
    assert tio.Client(SECRET, base_url=url).base_url == url.rstrip("/")


@pytest.mark.parametrize("url", ["ftp://api.test.io", "api.test.io/customer/v2", "http://",
                                 "file:///etc/passwd"])
def test_a_base_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        tio.Client(SECRET, base_url=url)


# -- redirects ------------------------------------------------------------------------

async def test_a_redirect_to_another_origin_does_not_carry_the_token(
    testio_sandbox_factory: SandboxFactory,
) -> None:
    first = await testio_sandbox_factory(records=30, token=SECRET)
    second = await testio_sandbox_factory(records=30, token=SECRET)  # another port
    target = f"{second.url}/user_story_version_executions?page=1&per_page=10"
    first.inject(302, headers={"Location": target}, times=5)
    async with tio.Client(SECRET, base_url=first.url, backoff_base=0.0) as client:
        with pytest.raises(tio.TestIOError) as info:
            await client.executions.get_page(per_page=10)
    assert first.requests_log[0].authorization == f"Token {SECRET}"
    assert second.requests_log, "the redirect was not followed at all"
    assert all(r.authorization is None for r in second.requests_log)
    assert all(SECRET not in repr(r.headers) for r in second.requests_log)
    assert SECRET not in _everything_said(info.value)


async def test_a_redirect_to_localhost_from_127_is_another_origin(
    testio_sandbox_factory: SandboxFactory,
) -> None:
    first = await testio_sandbox_factory(records=30, token=SECRET)
    second = await testio_sandbox_factory(records=30, token=SECRET)
    target = f"http://localhost:{second.port}/customer/v2/user_story_version_executions"
    first.inject(307, headers={"Location": target}, times=5)
    async with tio.Client(SECRET, base_url=first.url, backoff_base=0.0) as client:
        with pytest.raises(tio.TestIOError):
            await client.executions.get_page(per_page=10)
    assert all(r.authorization is None for r in second.requests_log)
