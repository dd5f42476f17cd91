"""Scenario ``adaptive``: fixed against adaptive (AIMD) concurrency under a rate limit.

The sandbox allows ``rate`` requests per second (token bucket, 429 with ``Retry-After``
in whole seconds) and answers after ``latency``. The same stream runs with
``adaptive_concurrency`` off and on, alternating, and reports wall time, 429s and
requests of each; the ratio is adaptive to fixed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from benchmarks._common import Row, Stopwatch, ratio
from benchmarks._sandbox import sandbox_process
from testio_async import Client

__all__ = ["run"]


async def _stream(url: str, token: str, per_page: int, adaptive: bool,
                  concurrency: int) -> dict[str, Any]:
    with Stopwatch() as sw:
        async with Client(token, base_url=url, max_concurrency=concurrency, backoff_base=0.1,
                          max_retries=10, adaptive_concurrency=adaptive) as client:
            records = 0
            async for _ in client.executions.stream(per_page=per_page):
                records += 1
            stats = client.stats
    return {"wall_s": sw.wall, "records": records, "requests": stats.requests,
            "rate_limited": stats.rate_limited}


def run(quick: bool) -> dict[str, Any]:
    if quick:
        records, per_page, rate, latency, concurrency, rounds = 200, 20, 10.0, 0.01, 8, 1
    else:
        records, per_page, rate, latency, concurrency, rounds = 3000, 25, 20.0, 0.25, 16, 2
    logger = logging.getLogger("testio_async")
    level = logger.level
    logger.setLevel(logging.ERROR)
    runs: dict[str, list[dict[str, Any]]] = {"fixed": [], "adaptive": []}
    try:
        for _ in range(rounds):
            for name in runs:
                # A fresh sandbox per run: each starts with a full token bucket.
                with sandbox_process(records=records, rate_limit=rate, latency=latency) as box:
                    runs[name].append(asyncio.run(
                        _stream(box.url, box.token, per_page, name == "adaptive", concurrency)))
    finally:
        logger.setLevel(level)
    best = {name: min(results, key=lambda r: r["wall_s"]) for name, results in runs.items()}
    ratios = {"wall_adaptive_to_fixed": ratio(best["adaptive"]["wall_s"], best["fixed"]["wall_s"]),
              "429s_adaptive_to_fixed": ratio(best["adaptive"]["rate_limited"],
                                              best["fixed"]["rate_limited"])}
    rows: list[Row] = [
        ("adaptive", f"{name} C={concurrency}", f"{r['wall_s']:.2f} s",
         f"{ratio(r['wall_s'], best['fixed']['wall_s']):.2f}x",
         f"{r['rate_limited']} x 429, {r['requests']} requests, {r['records']} records")
        for name, r in best.items()
    ]
    settings = {"records": records, "per_page": per_page, "rate_limit_per_s": rate,
                "latency_s": latency, "max_concurrency": concurrency, "rounds": rounds}
    return {"settings": settings, "runs": runs, "best": best, "ratios": ratios, "table": rows}
