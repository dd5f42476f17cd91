"""Validation of the endpoint's query string, with the real server's status codes."""

from __future__ import annotations

import re

import attrs
from multidict import MultiMapping

__all__ = ["PageQuery", "QueryError", "lenient_page", "parse_query"]

_DIGITS = re.compile(r"[0-9]+")
_STORY_KEY = "user_story_ids[]"
_VERSION_KEY = "user_story_version_ids[]"


class QueryError(Exception):
    """A query the server refuses; ``status`` is 400 or 422."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@attrs.frozen
class PageQuery:
    """A validated request for one page."""

    page: int
    per_page: int
    descending: bool
    user_story_ids: tuple[int, ...]
    version_ids: tuple[int, ...]


def lenient_page(query: MultiMapping[str]) -> int | None:
    """Return the requested page (1 when absent), ``None`` when it is not an integer."""
    raw = query.get("page")
    if raw is None:
        return 1
    return int(raw) if _DIGITS.fullmatch(raw) else None


def _positive(query: MultiMapping[str], key: str, default: int) -> int:
    raw = query.get(key)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or int(raw) < 1:
        raise QueryError(400, f"{key} must be a positive integer")
    return int(raw)


def _ids(query: MultiMapping[str], key: str) -> tuple[int, ...]:
    values = query.getall(key, [])
    if not all(_DIGITS.fullmatch(value) for value in values):
        raise QueryError(400, f"{key} must contain integers only")
    return tuple(int(value) for value in values)


def _descending(query: MultiMapping[str]) -> bool:
    order = query.get("order", "asc")
    if order not in ("asc", "desc"):
        raise QueryError(422, "order must be asc or desc")
    return order == "desc"


def parse_query(query: MultiMapping[str], *, per_page_default: int, strict: bool) -> PageQuery:
    """Validate ``query``; when ``strict`` is false, bad ``page``/``per_page`` are ignored."""
    if strict:
        page = _positive(query, "page", 1)
        per_page = _positive(query, "per_page", per_page_default)
    else:
        page, per_page = lenient_page(query) or 1, per_page_default
    return PageQuery(
        page=page,
        per_page=per_page,
        descending=_descending(query),
        user_story_ids=_ids(query, _STORY_KEY),
        version_ids=_ids(query, _VERSION_KEY),
    )
