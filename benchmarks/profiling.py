"""Where ``stream()`` spends its CPU: cProfile in-process, and py-spy when installed.

The sandbox runs in its own process; only the client is profiled. The cProfile view gives
exact call counts but inflates Python-heavy code; py-spy samples the unmodified client
(``benchmarks/_child.py``) and is the fairer view of shares.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks._common import REPO_ROOT, child_env
from benchmarks._sandbox import sandbox_process
from testio_async import Client

__all__ = ["CATEGORIES", "run"]

PER_PAGE = 1000
CONCURRENCY = 8
TOP = 15

# Inclusive shares: a sample counts for the first category whose marker is on its stack.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("structuring (cattrs + attrs __init__ + datetime)",
     ("structure_executions", "structure_response")),
    ("JSON decode (orjson.loads in decipher)", ("decipher",)),
    ("tenacity retry wrapper", ("tenacity",)),
    ("aiohttp (HTTP parse, socket, read)", ("aiohttp",)),
    ("pagination engine (_Seen.new, paginate)", ("_pagination",)),
    ("Stream/_flatten/_pages wrappers", ("_executions",)),
    ("asyncio event loop", ("asyncio",)),
]


async def _consume(url: str, token: str) -> int:
    count = 0
    async with Client(token, base_url=url, max_concurrency=CONCURRENCY) as client:
        async for _ in client.executions.stream(per_page=PER_PAGE):
            count += 1
    return count


def _cprofile(url: str, token: str) -> dict[str, Any]:
    profiler = cProfile.Profile()
    profiler.enable()
    count = asyncio.run(_consume(url, token))
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in sorted(
        stats.stats.items(), key=lambda item: item[1][2], reverse=True  # type: ignore[attr-defined]
    )[:TOP]:
        where = Path(filename).name if filename != "~" else "builtin"
        rows.append({"function": f"{name} ({where}:{line})", "calls": ncalls,
                     "tottime_s": tottime, "cumtime_s": cumtime, "share": tottime / total})
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
    return {"records": count, "total_s": total, "top_by_self_time": rows,
            "cumulative_text": text.getvalue()}


def _pyspy(url: str, token: str) -> dict[str, Any] | None:
    exe = shutil.which("py-spy")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stacks.txt"
        command = [exe, "record", "--format", "raw", "--rate", "250", "--output", str(out),
                   "--", sys.executable, "-m", "benchmarks._child", "stream", url, token,
                   str(PER_PAGE), str(CONCURRENCY)]
        done = subprocess.run(command, cwd=REPO_ROOT, env=child_env(), capture_output=True,
                              timeout=900, check=False)
        if done.returncode != 0 or not out.exists():
            return {"error": done.stderr.decode(errors="replace")[-1000:]}
        lines = out.read_text().splitlines()
    self_samples: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        self_samples[_strip_line(frames[-1])] += count
        for name, markers in CATEGORIES:
            if any(marker in stack for marker in markers):
                categories[name] += count
                break
        else:
            categories["other"] += count
    return {"samples": total, "rate_hz": 250,
            "top_by_self_samples": [{"function": f, "share": n / total}
                                    for f, n in self_samples.most_common(TOP)],
            "categories": {name: n / total for name, n in categories.most_common()}}


def _strip_line(frame: str) -> str:
    """``name (file.py:12)`` -> ``name (file.py)``, so lines of one function add up."""
    head, _, rest = frame.partition(" (")
    path = rest.rstrip(")").rsplit(":", 1)[0]
    return f"{head} ({Path(path).name})" if path else head


def run(quick: bool) -> dict[str, Any]:
    records = 5_000 if quick else 100_000
    with sandbox_process(records=records) as sandbox:
        profile = _cprofile(sandbox.url, sandbox.token)
        spy = None if quick else _pyspy(sandbox.url, sandbox.token)
    return {"settings": {"records": records, "per_page": PER_PAGE,
                         "max_concurrency": CONCURRENCY},
            "cprofile": profile, "py_spy": spy}


def report(result: dict[str, Any]) -> str:
    """The profile as text, for the console and the README."""
    out = []
    spy = result.get("py_spy")
    if spy and "categories" in spy:
        out.append(f"py-spy, {spy['samples']} samples at {spy['rate_hz']} Hz (inclusive):")
        out += [f"  {share:6.1%}  {name}" for name, share in spy["categories"].items()]
        out.append("py-spy, top self time:")
        out += [f"  {row['share']:6.1%}  {row['function']}" for row in spy["top_by_self_samples"]]
    elif spy:
        out.append(f"py-spy failed: {spy.get('error', '')}")
    profile = result["cprofile"]
    out.append(f"cProfile, {profile['records']:,} records, top self time"
               f" (of {profile['total_s']:.1f}s profiled):")
    out += [f"  {row['share']:6.1%}  {row['tottime_s']:6.2f}s  {row['calls']:>9}  {row['function']}"
            for row in profile["top_by_self_time"]]
    return "\n".join(out)
