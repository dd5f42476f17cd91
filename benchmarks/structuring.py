"""Converter designs for the structuring step, on already-decoded pages.

Standalone: ``python benchmarks/structuring.py [--records N] [--repeats R]``; the runner
(``python -m benchmarks``) runs it too. Designs, each structuring the same decoded pages
into the SDK's attrs models:

(a)  the SDK as it is: ``testio_async._convert.structure_executions`` (cattrs
     ``detailed_validation=False`` with strict int/str hooks)
(a2) (a) plus ``X | None`` and ``tuple[X, ...]`` hooks resolved once (a proposed change)
(b)  cattrs ``Converter()`` (``detailed_validation=True``) with the same hooks
(c)  cattrs ``Converter()`` without the strict int/str hooks
(c2) cattrs ``Converter(detailed_validation=False)`` without strict hooks (isolates them)
(d)  ``cattrs.preconf.orjson.make_converter()`` as it comes (no hooks of ours)
(e)  a hand-written structure function, as strict as (a)
(e2) (e) plus interning of the small leaf objects (vendor, browser, ...) per stream
(f)  ``orjson.loads`` of the page bytes only: the floor every design pays on top of

Records/s and the ratio to (a). Only (a) is the SDK; the rest are prototypes here.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

if __package__ in (None, ""):  # run as a script: import `benchmarks` from the repo root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import cattrs
import cattrs.preconf.orjson
import orjson

from testio_async import (
    Browser,
    Device,
    DeviceCategory,
    DeviceReport,
    Execution,
    ExecutionStatus,
    OperatingSystem,
    OperatingSystemVersion,
    TestCycle,
    TestEnvironment,
    Vendor,
)
from testio_async._convert import parse_datetime, structure_executions
from testio_async.sandbox import Sandbox

__all__ = ["DESIGNS", "hand_written", "main", "run"]

T = TypeVar("T")
Rows = list[dict[str, Any]]
KEY = "user_story_version_executions"
_STATUS: Mapping[str, ExecutionStatus] = {s.value: s for s in ExecutionStatus}


# -- cattrs designs ------------------------------------------------------------------


def _strict(kind: type[T]) -> Callable[[object, object], T]:
    def structure(value: object, _: object) -> T:
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value  # type: ignore[return-value]

    return structure


def _status(value: object, _: object) -> ExecutionStatus | str:
    if not isinstance(value, str):
        raise TypeError(f"expected a status string, got {type(value).__name__}")
    return _STATUS.get(value, value)


def _cattrs(detailed: bool, strict: bool) -> Callable[[Rows], Sequence[Execution]]:
    conv = cattrs.Converter(detailed_validation=detailed)
    if strict:
        conv.register_structure_hook(int, _strict(int))
        conv.register_structure_hook(str, _strict(str))
    conv.register_structure_hook(datetime, lambda v, _: parse_datetime(v))
    conv.register_structure_hook(ExecutionStatus | str, _status)
    return _rows_with(conv)


def _specialised() -> Callable[[Rows], Sequence[Execution]]:
    """(a2): (a) plus hooks that resolve ``X | None`` and ``tuple[X, ...]`` once, at build
    time, instead of cattrs' generic ``_structure_optional``/``_structure_tuple``, which
    dispatch on the inner type at every call."""
    conv = cattrs.Converter(detailed_validation=False)
    conv.register_structure_hook(int, _strict(int))
    conv.register_structure_hook(str, _strict(str))
    conv.register_structure_hook(datetime, lambda v, _: parse_datetime(v))
    conv.register_structure_hook(ExecutionStatus | str, _status)

    def opt_str(value: object, _: object) -> str | None:
        if value is None or type(value) is str:
            return value
        raise TypeError(f"expected str or null, got {type(value).__name__}")

    conv.register_structure_hook(str | None, opt_str)

    def is_optional(t: Any) -> bool:
        args = get_args(t)
        return len(args) == 2 and type(None) in args and t != str | None

    def optional_factory(t: Any) -> Callable[[object, object], Any]:
        inner = next(a for a in get_args(t) if a is not type(None))
        hook = conv.get_structure_hook(inner)
        return lambda value, _: None if value is None else hook(value, inner)

    def is_tuple(t: Any) -> bool:
        args = get_args(t)
        return get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis

    def tuple_factory(t: Any) -> Callable[[object, object], Any]:
        inner = get_args(t)[0]
        hook = conv.get_structure_hook(inner)

        def structure(value: Any, _: object) -> tuple[Any, ...]:
            if not isinstance(value, list | tuple):
                raise TypeError(f"expected a list, got {type(value).__name__}")
            return tuple([hook(item, inner) for item in value])

        return structure

    conv.register_structure_hook_factory(is_optional, optional_factory)
    conv.register_structure_hook_factory(is_tuple, tuple_factory)
    return _rows_with(conv)


def _preconf() -> Callable[[Rows], Sequence[Execution]]:
    return _rows_with(cattrs.preconf.orjson.make_converter())


def _rows_with(conv: cattrs.Converter) -> Callable[[Rows], Sequence[Execution]]:
    hook = conv.get_structure_hook(Execution)

    def structure(rows: Rows) -> Sequence[Execution]:
        return tuple([hook(row, Execution) for row in rows])

    return structure


# -- hand-written design ---------------------------------------------------------------


def _int(value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"expected int, got {type(value).__name__}")
    return value


def _opt_str(value: object) -> str | None:
    if value is None or type(value) is str:
        return value
    raise TypeError(f"expected str or null, got {type(value).__name__}")


def _opt(build: Callable[[dict[str, Any]], T], value: Any) -> T | None:
    return None if value is None else build(value)


def _category(d: dict[str, Any]) -> DeviceCategory:
    return DeviceCategory(id=_int(d["id"]), key=_opt_str(d.get("key")),
                          name=_opt_str(d.get("name")))


def _vendor(d: dict[str, Any]) -> Vendor:
    return Vendor(id=_int(d["id"]), name=_opt_str(d.get("name")))


def _os(d: dict[str, Any]) -> OperatingSystem:
    return OperatingSystem(id=_int(d["id"]), key=_opt_str(d.get("key")),
                           name=_opt_str(d.get("name")))


def _os_version(d: dict[str, Any]) -> OperatingSystemVersion:
    return OperatingSystemVersion(id=_int(d["id"]), name=_opt_str(d.get("name")))


def _device(d: dict[str, Any]) -> Device:
    return Device(id=_int(d["id"]), name=_opt_str(d.get("name")))


def _browser(d: dict[str, Any]) -> Browser:
    return Browser(id=_int(d["id"]), name=_opt_str(d.get("name")))


def _environment(d: dict[str, Any]) -> TestEnvironment:
    return TestEnvironment(id=_int(d["id"]), title=_opt_str(d.get("title")))


Leaf = Callable[[Callable[[dict[str, Any]], Any], Any], Any]


def _builder(leaf: Leaf) -> Callable[[Rows], Sequence[Execution]]:
    """A hand-written structure function; ``leaf(build, value)`` makes each small object."""

    def report(d: dict[str, Any]) -> DeviceReport:
        browsers = d.get("browsers", ())
        if not isinstance(browsers, list | tuple):
            raise TypeError("browsers must be a list")
        return DeviceReport(
            id=_int(d["id"]),
            category=leaf(_category, d.get("category")),
            vendor=leaf(_vendor, d.get("vendor")),
            operating_system=leaf(_os, d.get("operating_system")),
            operating_system_version=leaf(_os_version, d.get("operating_system_version")),
            device=leaf(_device, d.get("device")),
            browsers=tuple([leaf(_browser, b) for b in browsers]),
        )

    def cycle(d: dict[str, Any]) -> TestCycle:
        return TestCycle(id=_int(d["id"]), title=_opt_str(d.get("title")),
                         test_environment=leaf(_environment, d.get("test_environment")))

    def execution(d: dict[str, Any]) -> Execution:
        status = d["status"]
        if type(status) is not str:
            raise TypeError("status must be a string")
        reports = d.get("device_reports", ())
        if not isinstance(reports, list | tuple):
            raise TypeError("device_reports must be a list")
        return Execution(
            id=_int(d["id"]),
            status=_STATUS.get(status, status),
            comment=_opt_str(d.get("comment")),
            executed_by=_opt_str(d.get("executed_by")),
            device_reports=tuple([report(r) for r in reports]),
            test_cycle=_opt(cycle, d.get("test_cycle")),
            executed_at=parse_datetime(d["executed_at"]),
        )

    def structure(rows: Rows) -> Sequence[Execution]:
        return tuple([execution(row) for row in rows])

    return structure


hand_written = _builder(_opt)
"""(e): structure one page by hand: plain calls, no cattrs dispatch."""


def _interning() -> Callable[[Rows], Sequence[Execution]]:
    """(e2): (e) with one cache per stream for the leaf objects that repeat across records."""
    cache: dict[tuple[Any, ...], Any] = {}

    def leaf(build: Callable[[dict[str, Any]], T], d: Any) -> T | None:
        if d is None:
            return None
        if len(cache) > 50_000:  # bounded: a hostile server must not grow it forever
            cache.clear()
        key = (build, *d.items())
        try:
            return cache[key]  # type: ignore[no-any-return]
        except KeyError:
            made = cache[key] = build(d)
            return made
        except TypeError:  # unhashable values: not a leaf
            return build(d)

    return _builder(leaf)


DESIGNS: dict[str, str] = {
    "a": "SDK: cattrs fast (detailed_validation=False) + strict hooks",
    "a2": "(a) + Optional/tuple hooks resolved at build time",
    "b": "cattrs Converter() detailed_validation=True + strict hooks",
    "c": "cattrs Converter() default, no strict hooks",
    "c2": "cattrs detailed_validation=False, no strict hooks",
    "d": "cattrs.preconf.orjson.make_converter()",
    "e": "hand-written structure function (strict)",
    "e2": "hand-written + leaf interning",
    "f": "orjson.loads of page bytes only (floor)",
}


def _pages(records: int, per_page: int) -> tuple[list[Rows], list[bytes]]:
    rows = Sandbox(records=records).expected()
    pages = [rows[i:i + per_page] for i in range(0, len(rows), per_page)]
    bodies = [orjson.dumps({"meta": {"record_count": records}, KEY: page}) for page in pages]
    return pages, bodies


def _time(work: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


def run(records: int = 30_000, per_page: int = 1000, repeats: int = 3) -> dict[str, Any]:
    """Measure every design on the same pages; best of ``repeats`` each."""
    pages, bodies = _pages(records, per_page)
    reference = [structure_executions(page) for page in pages]
    structurers: dict[str, Callable[[Rows], Sequence[Execution]]] = {
        "a": structure_executions,
        "a2": _specialised(),
        "b": _cattrs(detailed=True, strict=True),
        "c": _cattrs(detailed=True, strict=False),
        "c2": _cattrs(detailed=False, strict=False),
        "d": _preconf(),
        "e": hand_written,
    }
    work: dict[str, Callable[[], object]] = {
        name: (lambda s=structure: [s(page) for page in pages])  # type: ignore[misc]
        for name, structure in structurers.items()
    }
    # (e2) gets a fresh cache per timing, as one stream would.
    work["e2"] = lambda: [s(page) for s in [_interning()] for page in pages]
    work["f"] = lambda: [orjson.loads(body) for body in bodies]
    e2 = _interning()
    same: dict[str, bool | None] = {
        name: [tuple(structure(page)) for page in pages] == reference
        for name, structure in [*structurers.items(), ("e2", e2)]
    }
    same["f"] = None
    times: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(repeats):  # round robin, so drift on a noisy machine hits every design
        for name, job in work.items():
            times[name] += _time(job, 1)
    results: dict[str, Any] = {
        name: {"records_per_s": records / min(times[name]), "equal_to_a": same[name],
               "seconds_all": times[name]}
        for name in work
    }
    base = results["a"]["records_per_s"]
    for name, figures in results.items():
        figures["ratio_to_a"] = figures["records_per_s"] / base
        figures["design"] = DESIGNS[name]
    return {"settings": {"records": records, "per_page": per_page, "repeats": repeats,
                         "timing": "best of repeats, gc enabled, gc.collect() before each"},
            "designs": {name: results[name] for name in DESIGNS}}


def table(result: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for name, figures in result["designs"].items():
        same = figures["equal_to_a"]
        note = figures["design"] + ("" if same in (True, None) else " (DIFFERS from a)")
        rows.append(("structuring", f"({name})", f"{figures['records_per_s']:,.0f} rec/s",
                     f"{figures['ratio_to_a']:.2f}x", note))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--per-page", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from benchmarks._common import format_table

    print(format_table(table(run(args.records, args.per_page, args.repeats))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
