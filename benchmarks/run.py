"""Run every benchmark scenario, print one table, write ``benchmarks/results.json``.

``python -m benchmarks`` or ``python benchmarks/run.py``; ``--quick`` for tiny sizes (the
test suite), ``--only NAME`` (repeatable) for some scenarios (merged into an existing
output file), ``--output PATH`` for another results file. Every figure is a ratio to
something measured in the same run: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: import `benchmarks` from the repo root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import orjson

from benchmarks import adaptive, cpu, faults, latency, memory, profiling, structuring
from benchmarks._common import Row, format_table, machine_info, round_floats

__all__ = ["SCENARIOS", "main"]

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"


def _structuring(quick: bool) -> dict[str, Any]:
    result = (structuring.run(records=2_000, repeats=1) if quick
              else structuring.run(records=30_000, repeats=3))
    result["table"] = structuring.table(result)
    return result


def _profile(quick: bool) -> dict[str, Any]:
    result = profiling.run(quick)
    result["text"] = profiling.report(result)
    result["table"] = []
    return result


SCENARIOS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "latency": latency.run,
    "cpu": cpu.run,
    "structuring": _structuring,
    "profile": _profile,
    "memory": memory.run,
    "faults": faults.run,
    "adaptive": adaptive.run,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the tests")
    parser.add_argument("--only", action="append", choices=list(SCENARIOS), metavar="NAME",
                        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results JSON path")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = args.only or list(SCENARIOS)
    output: Path = args.output
    results: dict[str, Any] = {}
    if args.only and output.exists():
        results = orjson.loads(output.read_bytes())
    results["machine"] = machine_info()
    results["command"] = " ".join(["python -m benchmarks", *(argv or sys.argv[1:])])
    results["quick"] = args.quick
    scenarios: dict[str, Any] = results.setdefault("scenarios", {})
    rows: list[Row] = []
    for name in names:
        print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        result = SCENARIOS[name](args.quick)
        result["elapsed_s"] = time.perf_counter() - start
        scenarios[name] = result
        rows += [tuple(row) for row in result.get("table", [])]  # type: ignore[misc]
    results["targets"] = {name: s["target"] for name, s in scenarios.items() if "target" in s}
    print(format_table(rows))
    if "profile" in names:
        print()
        print(scenarios["profile"]["text"])
    print()
    for name, target in results["targets"].items():
        print(f"target {name}: {'met' if target['met'] else 'MISSED'} - {target['name']}"
              + (f" (value {target['value']:.3g})" if "value" in target else ""))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(orjson.dumps(round_floats(results), option=orjson.OPT_INDENT_2) + b"\n")
    print(f"\nwrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
