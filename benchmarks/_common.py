"""Shared helpers of the benchmarks: machine info, timing, the table, sizes."""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "REPO_ROOT",
    "Row",
    "Stopwatch",
    "child_env",
    "client_cpu_seconds",
    "format_table",
    "machine_info",
    "median",
    "ratio",
    "round_floats",
]

REPO_ROOT = Path(__file__).resolve().parent.parent

# One line of the printed table: scenario, case, figure, ratio, target or note.
Row = tuple[str, str, str, str, str]


def machine_info() -> dict[str, Any]:
    """What the figures were measured on (every figure is a ratio within one run)."""
    try:
        load: tuple[float, ...] | None = os.getloadavg()
    except OSError:
        load = None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average_at_start": load,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "packages": _versions(["aiohttp", "orjson", "cattrs", "attrs", "tenacity", "yarl"]),
    }


def _versions(names: Iterable[str]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found


def client_cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ratio(value: float, reference: float) -> float:
    """``value / reference``, NaN when the reference is zero."""
    return value / reference if reference else float("nan")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def round_floats(value: Any, digits: int = 4) -> Any:
    """Round every float in a nested structure, for a readable JSON file."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: round_floats(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [round_floats(v, digits) for v in value]
    return value


def child_env() -> dict[str, str]:
    """The environment of a child Python process that must import ``benchmarks``."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + path if path else "")
    return env


def format_table(rows: Sequence[Row]) -> str:
    """Rows as plain aligned text, with a header and a rule."""
    header: Row = ("scenario", "case", "figure", "ratio", "target / note")
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for n, row in enumerate(table):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]),
                 row[3].rjust(widths[3]), row[4]]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


class Stopwatch:
    """Wall and CPU time of a block: ``with Stopwatch() as sw: ...; sw.wall``."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self._wall0 = 0.0
        self._cpu0 = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall0 = time.perf_counter()
        self._cpu0 = client_cpu_seconds()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.cpu = client_cpu_seconds() - self._cpu0
