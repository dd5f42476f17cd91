"""State files of ``--state`` (resume) and ``--since-state`` (incremental sync).

Both are small JSON files replaced atomically: the new content goes to a temporary file
in the same directory, is fsync'd, then ``os.replace``-d over the old one, so a crash
leaves either the old state or the new one, never a mix.

``--state FILE`` holds::

    {"checkpoint": <Page.checkpoint>, "output_bytes": N, "format": "jsonl",
     "output": "/abs/path", "query": {"order": ..., "user_story_ids": ...,
     "user_story_version_ids": ..., "per_page": ...}}

``output_bytes`` is the size of the output once the checkpoint's page was written and
fsync'd; a resumed export cuts the output back to it first, so a page written after the
last state save is not written twice. ``query`` keeps the flags as given, to refuse a
rerun with other ones.

``--since-state FILE`` holds ``{"watermark_id": N, "executed_at": ISO 8601 or null,
"query": {"user_story_ids": ..., "user_story_version_ids": ...}}``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from typing import Any

import orjson

__all__ = [
    "StateError",
    "atomic_write_json",
    "query_of",
    "read_json",
    "since_query_of",
]


class StateError(Exception):
    """A state file cannot be read or does not fit the command (a usage error)."""


def atomic_write_json(path: str, value: Any) -> None:
    """Replace ``path`` with ``value`` as JSON: temp file, fsync, ``os.replace``."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not possible on every platform.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_json(path: str, flag: str) -> dict[str, Any] | None:
    """The JSON object in ``path``, or ``None`` when there is no such file."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read {flag} {path}: {exc.strerror or exc}") from None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise StateError(f"{flag} {path} is not JSON; delete it to start over") from None
    if not isinstance(value, dict):
        raise StateError(f"{flag} {path} is not a state file; delete it to start over")
    return value


def _ids(values: list[int] | None) -> list[int] | None:
    return None if values is None else sorted(set(values))


def query_of(args: argparse.Namespace) -> dict[str, Any]:
    """The query flags of a ``--state`` export, as saved and compared."""
    return {
        "order": args.order,
        "user_story_ids": _ids(args.user_story_ids),
        "user_story_version_ids": _ids(args.user_story_version_ids),
        "per_page": args.per_page,
    }


def since_query_of(args: argparse.Namespace) -> dict[str, Any]:
    """The filters of a ``--since-state`` export, as saved and compared."""
    return {
        "user_story_ids": _ids(args.user_story_ids),
        "user_story_version_ids": _ids(args.user_story_version_ids),
    }
