"""Scenario ``memory``: peak RSS of a client streaming N records, against ``collect()``.

Each client runs in a child process (``benchmarks/_child.py``) that reports its own
peak RSS (``VmHWM``; also ``ru_maxrss``, which Linux carries over exec from the
forking parent, so it can overstate); the sandbox runs in a third process.
``per_page`` 1000, ``max_concurrency`` 8.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson

from benchmarks._common import REPO_ROOT, Row, child_env, ratio
from benchmarks._sandbox import sandbox_process

__all__ = ["run"]

PER_PAGE = 1000
CONCURRENCY = 8
TARGET_MIB = 150.0
CHILD_TIMEOUT_S = 900


def _child(mode: str, url: str, token: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks._child", mode, url, token, str(PER_PAGE),
               str(CONCURRENCY)]
    done = subprocess.run(command, cwd=REPO_ROOT, env=child_env(), capture_output=True,
                          timeout=CHILD_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} child failed: {done.stderr.decode()[-2000:]}")
    result: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool, records: int | None = None) -> dict[str, Any]:
    records = records or (5_000 if quick else 1_000_000)
    with sandbox_process(records=records) as sandbox:
        stream = _child("stream", sandbox.url, sandbox.token)
        collect = _child("collect", sandbox.url, sandbox.token)
    for figures in (stream, collect):
        figures["records_per_s"] = figures["records"] / figures["wall_s"]
        figures["growth_mib"] = figures["peak_rss_mib"] - figures["rss_before_mib"]
    collect["bytes_per_record_held"] = (
        collect["growth_mib"] * 2**20 / max(1, collect["records"]))
    target = {"name": f"stream peak RSS under {TARGET_MIB:.0f} MiB for 1,000,000 records",
              "limit": TARGET_MIB, "value": stream["peak_rss_mib"],
              "met": stream["peak_rss_mib"] < TARGET_MIB and records >= 1_000_000,
              "records": records}
    ok = stream["records"] == records and collect["records"] == records
    rows: list[Row] = [
        ("memory", f"stream {records:,} peak RSS", f"{stream['peak_rss_mib']:.0f} MiB",
         f"{ratio(stream['peak_rss_mib'], collect['peak_rss_mib']):.2f}x",
         f"target < {TARGET_MIB:.0f} MiB; start {stream['rss_before_mib']:.0f} MiB,"
         f" {stream['wall_s']:.0f}s" + ("" if ok else "; RECORD COUNT WRONG")),
        ("memory", f"collect {records:,} peak RSS", f"{collect['peak_rss_mib']:.0f} MiB", "1.00x",
         f"~{collect['bytes_per_record_held']:,.0f} B/record held, {collect['wall_s']:.0f}s"),
    ]
    return {"settings": {"records": records, "per_page": PER_PAGE,
                         "max_concurrency": CONCURRENCY,
                         "measure": "VmHWM of a child process per client; its ru_maxrss_mib"
                                    " overstates: Linux keeps ru_maxrss across exec"},
            "stream": stream, "collect": collect, "ratios": {
                "stream_to_collect_peak_rss": ratio(stream["peak_rss_mib"],
                                                    collect["peak_rss_mib"])},
            "target": target, "table": rows}
