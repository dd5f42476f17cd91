"""The cattrs converter between the API's JSON and the models, built once.

Two converters share the same hooks. The fast one (``detailed_validation=False``)
structures every record on the hot path. Only when it fails is the record structured
again by the detailed one, whose exception cattrs' ``transform_error`` turns into a
message naming the JSON path of the bad value. ``benchmarks/structuring.py`` measured
the choice (see CHANGELOG).

Primitive hooks are strict: cattrs' defaults would turn ``null`` into ``"None"`` for a
``str`` field or ``"12"`` into ``12``, and a model that accepts anything is no check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from cattrs import Converter, transform_error

from ._errors import ResponseValidationError
from ._models import Execution, ExecutionStatus

__all__ = [
    "RECORDS_KEY",
    "converter",
    "format_datetime",
    "parse_datetime",
    "structure_execution",
    "structure_executions",
    "structure_response",
    "unstructure_execution",
]

RECORDS_KEY = "user_story_version_executions"

T = TypeVar("T")

_STATUS_BY_VALUE: Mapping[str, ExecutionStatus] = {s.value: s for s in ExecutionStatus}


def parse_datetime(value: object) -> datetime:
    """Parse the API's ISO 8601 timestamps (``...000Z`` and ``...+02:00``) as aware datetimes.

    A timestamp without an offset is taken as UTC rather than handed out naive.
    """
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """Format a datetime the way the API does: milliseconds, and ``Z`` for UTC."""
    text = value.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _structure_status(value: object, _: object) -> ExecutionStatus | str:
    if not isinstance(value, str):
        raise TypeError(f"expected a status string, got {type(value).__name__}")
    return _STATUS_BY_VALUE.get(value, value)


def _strict(kind: type[T]) -> Callable[[object, object], T]:
    def structure(value: object, _: object) -> T:
        # bool is an int subclass, and True is no id.
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


def _make(detailed: bool) -> Converter:
    conv = Converter(
        detailed_validation=detailed,
        unstruct_collection_overrides={Sequence: list, tuple: list},
    )
    conv.register_structure_hook(int, _strict(int))
    conv.register_structure_hook(str, _strict(str))
    conv.register_structure_hook(datetime, lambda v, _: parse_datetime(v))
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_structure_hook(ExecutionStatus | str, _structure_status)
    conv.register_unstructure_hook(ExecutionStatus | str, str)
    return conv


converter: Converter = _make(detailed=False)
"""The converter for the models: ``converter.unstructure(execution)`` gives the API's JSON shape."""

_detailed = _make(detailed=True)
_structure_fast = converter.get_structure_hook(Execution)
_unstructure = converter.get_unstructure_hook(Execution)


def _explain(row: object, path: str) -> ResponseValidationError:
    """Structure ``row`` (found at ``path``) again with full validation, to say where it is bad."""
    record_id = row.get("id") if isinstance(row, dict) else None
    if not isinstance(record_id, int) or isinstance(record_id, bool):
        record_id = None
    try:
        _detailed.structure(row, Execution)
    except Exception as exc:  # cattrs raises ClassValidationError / ValueError / TypeError
        details = "; ".join(transform_error(exc, path=path))
    else:  # only the fast converter failed: unexpected, but say so rather than hide it
        details = f"could not be structured @ {path}"
    where = f"execution {record_id}" if record_id is not None else "an execution"
    return ResponseValidationError(f"{where} is not valid: {details}", record_id=record_id)


def structure_execution(row: Any) -> Execution:
    """Structure one execution dict, raising :class:`ResponseValidationError` on bad data."""
    try:
        execution: Execution = _structure_fast(row, Execution)
    except Exception:
        raise _explain(row, "$") from None
    return execution


def structure_executions(rows: Any) -> tuple[Execution, ...]:
    """Structure the records list of one page."""
    if not isinstance(rows, list):
        raise ResponseValidationError(f"$.{RECORDS_KEY} is not a list")
    hook = _structure_fast
    try:
        return tuple([hook(row, Execution) for row in rows])
    except Exception:
        pass
    # Slow path: find the first bad record and say what is wrong with it.
    for index, row in enumerate(rows):
        try:
            hook(row, Execution)
        except Exception:
            raise _explain(row, f"$.{RECORDS_KEY}[{index}]") from None
    raise AssertionError("unreachable: a record failed to structure only once")


def unstructure_execution(execution: Execution) -> dict[str, Any]:
    """Turn an execution back into a JSON-ready dict of the API's own shape."""
    result: dict[str, Any] = _unstructure(execution)
    return result


def structure_response(body: Any) -> tuple[tuple[Execution, ...], int]:
    """The executions and ``meta.record_count`` of one decoded response body."""
    if not isinstance(body, dict):
        raise ResponseValidationError(f"$ is not a JSON object but {type(body).__name__}")
    meta = body.get("meta")
    record_count = meta.get("record_count") if isinstance(meta, dict) else None
    if type(record_count) is not int or record_count < 0:
        raise ResponseValidationError("$.meta.record_count is missing or not a whole number")
    if RECORDS_KEY not in body:
        raise ResponseValidationError(f"$.{RECORDS_KEY} is missing")
    return structure_executions(body[RECORDS_KEY]), record_count
