"""The pure decision of what a response means, and the retry policy, without I/O."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from testio_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ResponseValidationError,
    RetryPolicy,
    ServerError,
    TestIOError,
    UnprocessableEntityError,
)
from testio_async._http import decipher, error_message, parse_retry_after

NOW = datetime(2025, 2, 5, 10, 30, 0, tzinfo=UTC)


# --- decipher: success ---------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_json_decoded(status: int) -> None:
    body = b'{"meta": {"record_count": 1}, "user_story_version_executions": []}'
    assert decipher(status, {}, body) == {
        "meta": {"record_count": 1},
        "user_story_version_executions": [],
    }


def test_2xx_json_list_and_scalars_decoded() -> None:
    assert decipher(200, {}, b"[1, 2]") == [1, 2]
    assert decipher(200, {}, b"null") is None


@pytest.mark.parametrize(
    "body",
    [b"", b"<html><body>hi</body></html>", b'{"meta": {"record_count": 1}, "user_s', b"\xff\xfe"],
)
def test_2xx_not_json_is_response_decode_error(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        decipher(200, {}, body)
    assert isinstance(info.value, ResponseValidationError)
    assert "200" in info.value.message
    assert str(len(body)) in info.value.message


# --- decipher: status -> class -------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (501, ServerError),
        (599, ServerError),
        (408, APIStatusError),
        (418, APIStatusError),
        (409, APIStatusError),
        (302, APIStatusError),
    ],
)
def test_status_maps_to_error_class(status: int, cls: type[APIStatusError]) -> None:
    body = b'{"error": "something is off"}'
    with pytest.raises(APIStatusError) as info:
        decipher(status, {}, body)
    exc = info.value
    assert type(exc) is cls
    assert isinstance(exc, TestIOError)
    assert exc.status == status
    assert exc.message == "something is off"
    assert exc.body == '{"error": "something is off"}'
    assert str(exc) == f"{status}: something is off"


@pytest.mark.parametrize("status", [408, 418])
def test_unmapped_4xx_is_plain_api_status_error(status: int) -> None:
    with pytest.raises(APIStatusError) as info:
        decipher(status, {}, b"")
    assert type(info.value) is APIStatusError
    assert info.value.status == status


def test_429_carries_retry_after() -> None:
    with pytest.raises(RateLimitError) as info:
        decipher(429, {"Retry-After": "7"}, b"")
    assert info.value.retry_after == 7.0
    assert info.value.status == 429


def test_429_without_retry_after_is_none() -> None:
    with pytest.raises(RateLimitError) as info:
        decipher(429, {}, b"")
    assert info.value.retry_after is None


def test_503_carries_retry_after_too() -> None:
    with pytest.raises(ServerError) as info:
        decipher(503, {"Retry-After": "2.5"}, b"down")
    assert info.value.retry_after == 2.5


def test_retry_after_header_read_case_insensitively_from_multidict() -> None:
    from multidict import CIMultiDict

    with pytest.raises(RateLimitError) as info:
        decipher(429, CIMultiDict({"retry-after": "3"}), b"")
    assert info.value.retry_after == 3.0


# --- decipher: messages --------------------------------------------------------------


def test_message_from_error_key() -> None:
    with pytest.raises(UnprocessableEntityError) as info:
        decipher(422, {}, b'{"error": "per_page must be positive"}')
    assert info.value.message == "per_page must be positive"


def test_message_from_html_title() -> None:
    page = (
        b"<!DOCTYPE html>\n<html><head><TITLE>\n  502 Bad   Gateway\n</TITLE></head>"
        b"<body><h1>502</h1>" + b"x" * 1000 + b"</body></html>"
    )
    with pytest.raises(ServerError) as info:
        decipher(502, {"Content-Type": "text/html"}, page)
    assert info.value.message == "502 Bad Gateway"
    assert info.value.body == page.decode()


@pytest.mark.parametrize("body", [b"", b"   \n\t "])
def test_message_for_empty_body(body: bytes) -> None:
    with pytest.raises(AuthenticationError) as info:
        decipher(401, {}, body)
    assert info.value.message == "(empty body)"
    assert info.value.body == body.decode()


def test_message_long_body_is_excerpt() -> None:
    body = ("word " * 200).encode()
    with pytest.raises(ServerError) as info:
        decipher(500, {}, body)
    message = info.value.message
    assert message.endswith("…")
    assert len(message) == 201
    assert message.startswith("word word")
    # The whole body is kept on the exception.
    assert info.value.body == body.decode()


def test_message_short_text_body_whitespace_collapsed() -> None:
    assert error_message(b"  Service\n\n  Unavailable  ") == "Service Unavailable"


def test_message_json_without_error_string_falls_back_to_text() -> None:
    assert error_message(b'{"errors": ["a"]}') == '{"errors": ["a"]}'
    assert error_message(b'{"error": {"code": 1}}') == '{"error": {"code": 1}}'


def test_message_non_utf8_body_does_not_raise() -> None:
    with pytest.raises(ServerError) as info:
        decipher(500, {}, b"bad \xff\xfe bytes")
    assert "bad" in info.value.message
    assert "\ufffd" in info.value.body


# --- parse_retry_after ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0.0), ("1", 1.0), ("120", 120.0), (" 5 ", 5.0), ("1.5", 1.5), ("0.25", 0.25),
     ("-3", 0.0)],
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_http_date() -> None:
    later = NOW + timedelta(seconds=90)
    assert parse_retry_after(format_datetime(later, usegmt=True), now=NOW) == 90.0
    assert parse_retry_after("Wed, 05 Feb 2025 10:31:00 GMT", now=NOW) == 60.0


def test_retry_after_http_date_without_zone_taken_as_utc() -> None:
    assert parse_retry_after("Wed, 05 Feb 2025 10:30:30 -0000", now=NOW) == 30.0


def test_retry_after_past_date_is_zero() -> None:
    assert parse_retry_after("Wed, 05 Feb 2025 10:00:00 GMT", now=NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "1 minute", "Wed, 99 Foo 2025"])
def test_retry_after_garbage_is_none(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


# --- RetryPolicy.should_retry ---------------------------------------------------------


def _status_error(status: int, retry_after: float | None = None) -> APIStatusError:
    try:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        decipher(status, headers, b"")
    except APIStatusError as exc:
        return exc
    raise AssertionError("decipher did not raise")


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_retried(status: int) -> None:
    assert RetryPolicy().should_retry(_status_error(status)) is True


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 418, 422, 501, 505])
def test_other_statuses_not_retried(status: int) -> None:
    assert RetryPolicy().should_retry(_status_error(status)) is False


def test_429_retry_after_up_to_max_retried_above_not() -> None:
    policy = RetryPolicy(max_retry_after=10.0)
    assert policy.should_retry(_status_error(429, retry_after=10)) is True
    assert policy.should_retry(_status_error(429, retry_after=0)) is True
    assert policy.should_retry(_status_error(429, retry_after=10.5)) is False
    assert policy.should_retry(_status_error(429, retry_after=3600)) is False


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (APIConnectionError("reset"), True),
        (APITimeoutError("slow"), True),
        (ResponseDecodeError("cut short"), True),
        (ResponseValidationError("bad shape"), False),
        (PaginationError("ignores page"), False),
        (TestIOError("generic"), False),
        (ValueError("bug"), False),
        (RuntimeError("closed"), False),
        (TimeoutError(), False),
        (KeyError("x"), False),
    ],
)
def test_should_retry_non_status_errors(exc: BaseException, expected: bool) -> None:
    assert RetryPolicy().should_retry(exc) is expected


# --- RetryPolicy.wait -----------------------------------------------------------------


def test_wait_honours_retry_after() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=2.0)
    assert policy.wait(1, _status_error(429, retry_after=7)) == 7.0
    assert policy.wait(5, _status_error(503, retry_after=0)) == 0.0


def test_wait_without_retry_after_uses_backoff() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=1000.0)
    wait = policy.wait(1, _status_error(503))
    assert 1.0 <= wait <= 2.0


def test_wait_grows_exponentially(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: 0.0)
    policy = RetryPolicy(backoff_base=0.5, backoff_max=1000.0)
    waits = [policy.wait(attempt, APIConnectionError("x")) for attempt in range(1, 7)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]


def test_wait_capped_at_backoff_max(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: 0.0)
    policy = RetryPolicy(backoff_base=1.0, backoff_max=5.0)
    assert policy.wait(3, None) == 4.0
    assert policy.wait(4, None) == 5.0
    assert policy.wait(50, None) == 5.0


@pytest.mark.parametrize("attempt", [1, 2, 3, 8, 30])
def test_wait_jitter_bounded(attempt: int) -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=3.0)
    base = min(3.0, 0.5 * 2 ** (attempt - 1))
    rng_waits = [policy.wait(attempt, APITimeoutError("x")) for _ in range(200)]
    assert all(base <= w <= base + 0.5 for w in rng_waits)
    # Jitter is really random, not a constant offset.
    assert len(set(rng_waits)) > 1


def test_wait_zero_base_is_zero() -> None:
    policy = RetryPolicy(backoff_base=0.0, backoff_max=30.0)
    assert all(policy.wait(a, None) == 0.0 for a in range(1, 10))


def test_retry_policy_defaults_and_frozen() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.backoff_base, policy.backoff_max,
            policy.max_retry_after) == (5, 0.5, 30.0, 300.0)
    with pytest.raises(AttributeError):
        policy.max_retries = 1  # type: ignore[misc]
