"""Settings of a sandbox: data set shape and misbehaviour knobs, mutable at run time."""

from __future__ import annotations

from typing import Literal, TypedDict

import attrs
from attrs import validators as v

from ._selection import VERSION_MULTIPLIER

__all__ = [
    "DEFAULT_TOKEN",
    "OverflowPolicy",
    "RetryAfterFormat",
    "SandboxConfig",
    "SandboxKnobs",
    "TruncateMode",
]

DEFAULT_TOKEN = "sandbox-token"

RetryAfterFormat = Literal["seconds", "http-date"]
TruncateMode = Literal["connection", "body"]
OverflowPolicy = Literal["cap", "reject"]

_RATE = [v.instance_of((int, float)), v.ge(0.0), v.le(1.0)]
_NON_NEGATIVE_INT = [v.instance_of(int), v.ge(0)]
_NON_NEGATIVE_FLOAT = [v.instance_of((int, float)), v.ge(0.0)]


@attrs.define(kw_only=True)
class SandboxConfig:
    """Everything that shapes a sandbox's answers; every misbehaviour is off by default.

    Attributes are validated on assignment too, so tests may flip them between
    requests (``sandbox.config.error_rate = 1.0``).  Each field maps one to one
    to a command line flag (``max_per_page`` -> ``--max-per-page``).
    """

    #: Records created before the first request (ids ``1..records``).
    records: int = attrs.field(default=1000, validator=_NON_NEGATIVE_INT)
    #: Seed of the data generator and of every random knob.
    seed: int = attrs.field(default=0, validator=v.instance_of(int))
    #: Accepted value of ``Authorization: Token <token>``.
    token: str = attrs.field(default=DEFAULT_TOKEN, validator=v.instance_of(str))
    #: Number of user stories; story ids are ``1..user_stories``.
    user_stories: int = attrs.field(default=50, validator=[v.instance_of(int), v.ge(1)])
    #: Versions per story; version ids are ``story_id * 100 + 1..versions_per_story``.
    versions_per_story: int = attrs.field(
        default=3, validator=[v.instance_of(int), v.ge(1), v.lt(VERSION_MULTIPLIER)]
    )
    #: ``per_page`` used when the query has none (and the page size under ``ignore_page``).
    per_page_default: int = attrs.field(default=25, validator=[v.instance_of(int), v.ge(1)])
    #: Fixed delay in seconds before answering each request (injections use their own delay).
    latency: float = attrs.field(default=0.0, validator=_NON_NEGATIVE_FLOAT)
    #: Extra uniform random delay in ``[0, latency_jitter)`` seconds (seeded).
    latency_jitter: float = attrs.field(default=0.0, validator=_NON_NEGATIVE_FLOAT)
    #: Requests per second allowed (token bucket, burst ``max(1, rate)``); ``None`` = unlimited.
    rate_limit: float | None = attrs.field(
        default=None, validator=v.optional([v.instance_of((int, float)), v.gt(0.0)])
    )
    #: How a 429 states ``Retry-After``: whole seconds or an HTTP-date.
    retry_after_format: RetryAfterFormat = attrs.field(
        default="seconds", validator=v.in_(("seconds", "http-date"))
    )
    #: Share of requests answered ``503 {"error": "Service Unavailable"}`` (seeded).
    error_rate: float = attrs.field(default=0.0, validator=_RATE)
    #: Share of requests answered 502 with an nginx HTML page (seeded).
    html_error_rate: float = attrs.field(default=0.0, validator=_RATE)
    #: Share of 200 answers whose body is cut in half (seeded).
    truncate_rate: float = attrs.field(default=0.0, validator=_RATE)
    #: ``connection``: full Content-Length, half the body, then close; ``body``: valid
    #: HTTP response carrying half the JSON.
    truncate_mode: TruncateMode = attrs.field(
        default="connection", validator=v.in_(("connection", "body"))
    )
    #: Largest ``per_page`` honoured; ``None`` = no maximum.
    max_per_page: int | None = attrs.field(
        default=None, validator=v.optional([v.instance_of(int), v.ge(1)])
    )
    #: Above ``max_per_page``: ``cap`` silently serves fewer rows, ``reject`` answers 422.
    per_page_overflow: OverflowPolicy = attrs.field(
        default="cap", validator=v.in_(("cap", "reject"))
    )
    #: Ignore ``page`` and ``per_page``: always serve the first ``per_page_default`` rows.
    ignore_page: bool = attrs.field(default=False, validator=v.instance_of(bool))
    #: New (newest) records created after each served page.
    insert_per_request: int = attrs.field(default=0, validator=_NON_NEGATIVE_INT)
    #: Oldest live records deleted after each served page.
    delete_per_request: int = attrs.field(default=0, validator=_NON_NEGATIVE_INT)
    #: Added to ``meta.record_count`` (clamped at 0) to simulate a wrong count.
    record_count_offset: int = attrs.field(default=0, validator=v.instance_of(int))


class SandboxKnobs(TypedDict, total=False):
    """Keyword arguments accepted wherever a :class:`SandboxConfig` is built from knobs."""

    records: int
    seed: int
    token: str
    user_stories: int
    versions_per_story: int
    per_page_default: int
    latency: float
    latency_jitter: float
    rate_limit: float | None
    retry_after_format: RetryAfterFormat
    error_rate: float
    html_error_rate: float
    truncate_rate: float
    truncate_mode: TruncateMode
    max_per_page: int | None
    per_page_overflow: OverflowPolicy
    ignore_page: bool
    insert_per_request: int
    delete_per_request: int
    record_count_offset: int
