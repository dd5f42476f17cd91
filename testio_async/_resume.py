"""Checkpoints and partitions: plain values that let a stream continue or split.

A :data:`Checkpoint` is a JSON-ready dict; a :class:`Partition` is a frozen attrs
object, so both can be saved to a file or pickled to another worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from attrs import field, frozen

__all__ = ["CHECKPOINT_VERSION", "Checkpoint", "Partition", "QuerySpec", "read_checkpoint"]

CHECKPOINT_VERSION = 1


class Checkpoint(TypedDict):
    """Where a stream stands, as a JSON-ready dict (see :attr:`Page.checkpoint`).

    ``next_page`` is the next page to read with ``per_page``; ``seen_ids`` the ids of
    the rows of the page before it, so that rows it repeats are dropped; ``record_count``
    the total at that page, to spot rows that slipped away meanwhile; ``end_page`` the
    last page of a partition (``None``: to the end); ``done`` whether nothing is left.
    """

    version: int
    order: str
    user_story_ids: list[int] | None
    user_story_version_ids: list[int] | None
    per_page: int
    next_page: int
    end_page: int | None
    seen_ids: list[int]
    record_count: int | None
    records: int
    done: bool


def _tuple(values: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if values is None else tuple(values)


@frozen(kw_only=True)
class QuerySpec:
    """The filters, order and page size of one query."""

    order: str = "asc"
    user_story_ids: tuple[int, ...] | None = field(default=None, converter=_tuple)
    user_story_version_ids: tuple[int, ...] | None = field(default=None, converter=_tuple)
    per_page: int = 100


@frozen(kw_only=True)
class Partition:
    """A picklable share of one query: pages ``first_page`` to ``last_page``.

    Made by :meth:`Executions.partitions`; pass it to ``stream(partition=...)`` on any
    worker. ``last_page`` is ``None`` for the last partition, which reads on until a
    short page, so records added meanwhile are not missed.
    """

    query: QuerySpec
    index: int
    count: int
    first_page: int
    last_page: int | None
    record_count: int


def read_checkpoint(value: object) -> Checkpoint:
    """Check that ``value`` is a checkpoint this version can resume from."""
    if not isinstance(value, dict):
        raise TypeError(f"resume_from must be a checkpoint dict, not {type(value).__name__}")
    missing = set(Checkpoint.__annotations__) - set(value)
    if missing:
        raise ValueError(f"resume_from lacks {', '.join(sorted(missing))}: not a checkpoint")
    if value["version"] != CHECKPOINT_VERSION:
        raise ValueError(f"resume_from has version {value['version']!r}, not {CHECKPOINT_VERSION}")
    checks: list[tuple[str, bool]] = [
        ("order", value["order"] in ("asc", "desc")),
        ("per_page", _whole(value["per_page"], 1)),
        ("next_page", _whole(value["next_page"], 1)),
        ("end_page", value["end_page"] is None or _whole(value["end_page"], 1)),
        ("seen_ids", isinstance(value["seen_ids"], list)),
        ("record_count", value["record_count"] is None or _whole(value["record_count"], 0)),
        ("records", _whole(value["records"], 0)),
        ("done", isinstance(value["done"], bool)),
    ]
    for name, ok in checks:
        if not ok:
            raise ValueError(f"resume_from[{name!r}] is not valid: {value[name]!r}")
    result: Checkpoint = value  # type: ignore[assignment]
    return result


def _whole(value: Any, minimum: int) -> bool:
    return type(value) is int and value >= minimum
