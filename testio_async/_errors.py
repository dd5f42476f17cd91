"""The exceptions testio-async raises.

Every error the SDK raises on purpose is a :class:`TestIOError`::

    TestIOError
    ├── APIConnectionError          the request did not get a whole answer
    │   └── APITimeoutError         ... because an attempt took longer than ``timeout``
    ├── APIStatusError              the server answered with an error status
    │   ├── BadRequestError         400
    │   ├── AuthenticationError     401
    │   ├── PermissionDeniedError   403
    │   ├── NotFoundError           404
    │   ├── UnprocessableEntityError 422
    │   ├── RateLimitError          429 (``retry_after``)
    │   └── ServerError             5xx
    ├── ResponseValidationError     a 2xx body that is not the documented JSON
    │   └── ResponseDecodeError     ... because it is not JSON at all (retried)
    └── PaginationError             the server ignores ``page``, or the data moved too much

Invalid arguments are not API errors: they raise :class:`ValueError` or
:class:`TypeError` before any request is sent.
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseDecodeError",
    "ResponseValidationError",
    "ServerError",
    "TestIOError",
    "UnprocessableEntityError",
]


class TestIOError(Exception):
    """Base class of every error testio-async raises on purpose."""

    __test__ = False  # not a pytest test class, whatever its name says

    @property
    def message(self) -> str:
        """The human-readable message, as passed to the constructor."""
        return str(self.args[0]) if self.args else ""


class APIConnectionError(TestIOError):
    """The request failed before a whole response arrived (refused, reset, cut short)."""


class APITimeoutError(APIConnectionError):
    """One attempt took longer than the client's ``timeout``."""


class APIStatusError(TestIOError):
    """The server answered with a status that is not 2xx.

    ``status`` is the HTTP status, ``message`` the body's ``error`` value when the body is
    the documented ``{"error": "..."}``, else a short excerpt of the body, ``body`` the
    raw body text (possibly an HTML page from a proxy), and ``retry_after`` the server's
    ``Retry-After`` in seconds, or ``None`` when it sent none.
    """

    def __init__(
        self, message: str, *, status: int, body: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


class BadRequestError(APIStatusError):
    """400: the server rejected the query."""


class AuthenticationError(APIStatusError):
    """401: the token is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the token may not read this resource."""


class NotFoundError(APIStatusError):
    """404: no such resource (often a wrong ``base_url``)."""


class UnprocessableEntityError(APIStatusError):
    """422: the server understood the query but refused its values."""


class RateLimitError(APIStatusError):
    """429: too many requests.

    ``retry_after`` is the server's ``Retry-After`` in seconds, or ``None`` when it sent
    none. Raised once retries are used up, or at once when ``retry_after`` is above the
    client's ``max_retry_after``.
    """


class ServerError(APIStatusError):
    """5xx: the server failed. 500, 502, 503 and 504 are retried first."""


class ResponseValidationError(TestIOError):
    """A 2xx response whose body is not the documented JSON.

    The message names the JSON path of the first bad value and, when known, the
    execution's id. ``record_id`` holds that id (or ``None``).
    """

    def __init__(self, message: str, *, record_id: int | None = None) -> None:
        super().__init__(message)
        self.record_id = record_id


class ResponseDecodeError(ResponseValidationError):
    """A 2xx response whose body is not JSON at all, usually cut short; it is retried."""


class PaginationError(TestIOError):
    """The pages cannot be read exactly once.

    Either the server ignores ``page`` (it sends rows already yielded while its total did
    not grow), or more than a page of records moved between reading a page and reading it
    again. Raised after every record before it was yielded, instead of looping, yielding a
    record twice or losing one silently.
    """
