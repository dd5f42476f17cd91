"""Arithmetic mapping of record indices to user stories, versions and filter matches.

Record index ``i`` (0-based) belongs to user story ``(i % S) + 1`` and to version
``story * 100 + ((i // S) % V) + 1``.  Both depend only on ``i % (S * V)``, so a
filter is a set of residues and the ``j``-th match is computable in O(1): no
request ever scans the whole data set.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

__all__ = [
    "VERSION_MULTIPLIER",
    "IndexSelection",
    "matching_residues",
    "user_story_of",
    "version_of",
]

#: Version ids are ``story_id * VERSION_MULTIPLIER + n`` with ``1 <= n < VERSION_MULTIPLIER``.
VERSION_MULTIPLIER = 100


def user_story_of(index: int, *, user_stories: int = 50) -> int:
    """Return the user story id of the record at 0-based ``index``."""
    return index % user_stories + 1


def version_of(index: int, *, user_stories: int = 50, versions_per_story: int = 3) -> int:
    """Return the user story version id of the record at 0-based ``index``."""
    story = user_story_of(index, user_stories=user_stories)
    return story * VERSION_MULTIPLIER + (index // user_stories) % versions_per_story + 1


def _story_residues(story_ids: Iterable[int], stories: int, versions: int) -> set[int]:
    return {
        (story - 1) + stories * k
        for story in story_ids
        if 1 <= story <= stories
        for k in range(versions)
    }


def _version_residues(version_ids: Iterable[int], stories: int, versions: int) -> set[int]:
    residues: set[int] = set()
    for version_id in version_ids:
        story, n = divmod(version_id, VERSION_MULTIPLIER)
        if 1 <= story <= stories and 1 <= n <= versions:
            residues.add((story - 1) + stories * (n - 1))
    return residues


def matching_residues(
    user_story_ids: Iterable[int] | None,
    version_ids: Iterable[int] | None,
    *,
    user_stories: int,
    versions_per_story: int,
) -> list[int] | None:
    """Return the sorted residues modulo ``S * V`` that pass both filters.

    ``None`` means "no filter at all"; an empty list means nothing matches.
    Both filters given means both must match (AND), as on the real server.
    """
    story_ids = list(user_story_ids) if user_story_ids is not None else []
    vers_ids = list(version_ids) if version_ids is not None else []
    if not story_ids and not vers_ids:
        return None
    residues: set[int] | None = None
    if story_ids:
        residues = _story_residues(story_ids, user_stories, versions_per_story)
    if vers_ids:
        by_version = _version_residues(vers_ids, user_stories, versions_per_story)
        residues = by_version if residues is None else residues & by_version
    return sorted(residues or ())


class IndexSelection:
    """The matching record indices inside the live window ``[lo, hi)``, addressable by rank."""

    __slots__ = ("_base", "_count", "_period", "_residues")

    def __init__(self, residues: list[int] | None, period: int, lo: int, hi: int) -> None:
        self._residues = residues
        self._period = period
        hi = max(lo, hi)
        self._base = self._rank_below(lo)
        self._count = self._rank_below(hi) - self._base

    def __len__(self) -> int:
        return self._count

    def _rank_below(self, bound: int) -> int:
        """Count matching indices in ``[0, bound)``."""
        if self._residues is None:
            return bound
        cycles, rest = divmod(bound, self._period)
        return cycles * len(self._residues) + bisect_left(self._residues, rest)

    def _index_at_rank(self, rank: int) -> int:
        if self._residues is None:
            return rank
        cycles, pos = divmod(rank, len(self._residues))
        return cycles * self._period + self._residues[pos]

    def page(self, offset: int, limit: int, *, descending: bool) -> list[int]:
        """Return at most ``limit`` indices after skipping ``offset`` in the given order."""
        stop = min(offset + limit, self._count)
        if offset >= stop:
            return []
        if descending:
            top = self._base + self._count - 1
            ranks: Iterable[int] = range(top - offset, top - stop, -1)
        else:
            ranks = range(self._base + offset, self._base + stop)
        return [self._index_at_rank(rank) for rank in ranks]

    def all(self, *, descending: bool) -> list[int]:
        """Return every selected index in the given order."""
        return self.page(0, self._count, descending=descending)
