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
from typing import Any, TypeVar, get_args, get_origin

from cattrs import Converter, transform_error
from cattrs.gen import make_dict_structure_fn

from ._errors import ResponseValidationError
from ._models import (
    Browser,
    Device,
    DeviceCategory,
    Execution,
    ExecutionStatus,
    OperatingSystem,
    OperatingSystemVersion,
    Page,
    TestCycle,
    TestEnvironment,
    Vendor,
)

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

# Objects shared among records; they are frozen, so sharing is safe.
_LEAVES = (DeviceCategory, Vendor, OperatingSystem, OperatingSystemVersion, Device, Browser,
           TestEnvironment)
_INTERNED_MAX = 4096

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


def _strict_optional_str(value: object, _: object) -> str | None:
    if value is None or type(value) is str:
        return value
    raise TypeError(f"expected str or null, got {type(value).__name__}")


def _is_optional(t: Any) -> bool:
    args = get_args(t)
    return len(args) == 2 and type(None) in args and t != str | None


def _is_tuple(t: Any) -> bool:
    args = get_args(t)
    return get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis


def _shared(
    hook: Callable[[Any, Any], T],
    cache: dict[Any, T],
    *,
    key: Callable[[dict[str, Any]], Any] | None = None,
    nullable: bool = False,
) -> Callable[[Any, Any], T | None]:
    """``hook``, sharing one frozen object among equal inputs (vendors, browsers, ...).

    Small objects repeat across most records; building each once is the largest saving
    on the hot path. Only inputs whose ``id`` is a real int are shared, so ``true`` is not
    taken for ``1``; every input is checked strictly the first time it is seen. The key is
    the input's items unless ``key`` says otherwise; ``nullable`` makes it the hook of
    ``X | None`` too, saving a call per field.
    """

    def structure(value: Any, cls: Any) -> T | None:
        if value is None and nullable:
            return None
        if type(value) is dict and type(value.get("id")) is int:
            try:
                k = tuple(value.items()) if key is None else key(value)
                return cache[k]
            except KeyError:
                if len(cache) >= _INTERNED_MAX:  # bounded, whatever a server sends
                    cache.clear()
                made = cache[k] = hook(value, cls)
                return made
            except TypeError:  # an unhashable value: nothing to share
                pass
        return hook(value, cls)

    return structure


def _cycle_key(value: dict[str, Any]) -> tuple[Any, ...]:
    # The fields a TestCycle is made of; others are ignored when structuring anyway.
    env = value.get("test_environment")
    if type(env) is dict:  # its id's type too: an env id of true must not pass for 1
        return value["id"], value.get("title"), type(env.get("id")), tuple(env.items())
    return value["id"], value.get("title"), env


def _specialise(conv: Converter) -> Converter:
    """Hooks for the hot path, resolved once here instead of at every call.

    cattrs' generic ``X | None`` and ``tuple[X, ...]`` hooks look the inner hook up on
    each call (about 30 % of the stream's CPU); these look it up once.
    """
    conv.register_structure_hook(str | None, _strict_optional_str)

    nullable: dict[Any, Callable[[Any, Any], Any]] = {}

    def optional(t: Any) -> Callable[[Any, Any], Any]:
        inner = next(a for a in get_args(t) if a is not type(None))
        if inner in nullable:
            return nullable[inner]
        hook = conv.get_structure_hook(inner)
        return lambda value, _: None if value is None else hook(value, inner)

    def sequence(t: Any) -> Callable[[Any, Any], tuple[Any, ...]]:
        inner = get_args(t)[0]
        hook = conv.get_structure_hook(inner)

        def structure(value: Any, _: Any) -> tuple[Any, ...]:
            if type(value) is not list:
                raise TypeError(f"expected a list, got {type(value).__name__}")
            return tuple([hook(item, inner) for item in value])

        return structure

    conv.register_structure_hook_factory(_is_optional, optional)
    conv.register_structure_hook_factory(_is_tuple, sequence)
    for leaf, key in [*((leaf, None) for leaf in _LEAVES), (TestCycle, _cycle_key)]:
        hook = make_dict_structure_fn(leaf, conv)
        cache: dict[Any, Any] = {}
        conv.register_structure_hook(leaf, _shared(hook, cache, key=key))
        nullable[leaf] = _shared(hook, cache, key=key, nullable=True)
    return conv


def _page_hooks(conv: Converter) -> Converter:
    """A :class:`Page` unstructures to the response body it came from."""
    execution = conv.get_unstructure_hook(Execution)

    def unstructure(page: Page) -> dict[str, Any]:
        return {"meta": {"record_count": page.record_count},
                RECORDS_KEY: [execution(item) for item in page.items]}

    conv.register_unstructure_hook(Page, unstructure)
    return conv


converter: Converter = _page_hooks(_specialise(_make(detailed=False)))
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
