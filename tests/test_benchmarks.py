"""The benchmark runner works end to end at tiny sizes; no speed is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {"latency", "cpu", "structuring", "profile", "memory", "faults", "adaptive"}


def test_quick_run_writes_every_scenario(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "scenario" in done.stdout  # the table's header

    results = json.loads(output.read_text())
    assert results["quick"] is True
    assert {"python", "cpu_count", "date"} <= results["machine"].keys()
    scenarios = results["scenarios"]
    assert set(scenarios) == SCENARIOS

    lat = scenarios["latency"]
    assert {"settings", "sdk_stream", "raw_concurrent", "sequential_loop", "target"} <= lat.keys()
    for figures in lat["sdk_stream"].values():
        assert {"wall_s", "ideal_s", "ratio_to_ideal", "requests"} <= figures.keys()
        assert figures["records"] == figures["unique"] == lat["settings"]["records"]
    assert "ratio_to_ideal" in lat["sequential_loop"]

    cpu = scenarios["cpu"]
    assert {"records_per_s", "client_cpu_us_per_record"} <= cpu["sdk"].keys()
    assert cpu["sdk"]["records"] == cpu["raw"]["records"] == cpu["settings"]["records"]
    assert "sdk_to_raw_records_per_s" in cpu["ratios"]

    designs = scenarios["structuring"]["designs"]
    assert {"a", "b", "c", "d", "e", "f"} <= designs.keys()
    for name, figures in designs.items():
        assert {"records_per_s", "ratio_to_a"} <= figures.keys()
        assert figures["equal_to_a"] in (True, None), name

    assert scenarios["profile"]["cprofile"]["top_by_self_time"]

    memory = scenarios["memory"]
    for mode in ("stream", "collect"):
        assert memory[mode]["records"] == memory["settings"]["records"]
        assert memory[mode]["peak_rss_mib"] > 0

    faulted = scenarios["faults"]["faulted"]
    assert faulted["lost"] == 0
    assert faulted["duplicates"] == 0
    assert {"extra_requests", "retries", "rate_limited"} <= faulted.keys()
    assert "wall_to_fault_free" in scenarios["faults"]["ratios"]

    for name in ("latency", "cpu", "memory", "faults"):
        assert isinstance(results["targets"][name]["met"], bool)
