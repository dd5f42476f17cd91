"""Scenario ``faults``: 5% 503 answers and a 10 request/s rate limit with ``Retry-After``.

The same stream against a fault-free sandbox of the same size gives the reference wall
time; the rate limit alone gives a floor, ``(requests - burst) / rate``. Records lost and
duplicated must both be 0. Retry warnings of the SDK's logger are silenced here and
counted from ``Client.stats`` instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from benchmarks._common import Row, Stopwatch, ratio
from benchmarks._sandbox import sandbox_process
from testio_async import Client

__all__ = ["run"]

CLIENT_SETTINGS: dict[str, Any] = {"max_concurrency": 8, "backoff_base": 0.1,
                                   "backoff_max": 2.0, "max_retries": 10, "timeout": 30.0}


async def _stream(url: str, token: str, per_page: int) -> dict[str, Any]:
    ids: list[int] = []
    with Stopwatch() as sw:
        async with Client(token, base_url=url, **CLIENT_SETTINGS) as client:
            stream = client.executions.stream(per_page=per_page)
            async for execution in stream:
                ids.append(execution.id)
            stats = client.stats
    return {"wall_s": sw.wall, "ids": ids, "requests": stats.requests, "retries": stats.retries,
            "rate_limited": stats.rate_limited, "pages": stream.stats.pages}


def _check(result: dict[str, Any], records: int) -> dict[str, Any]:
    ids: list[int] = result.pop("ids")
    expected = set(range(1, records + 1))
    unique = set(ids)
    result.update(records=len(ids), lost=len(expected - unique), duplicates=len(ids) - len(unique),
                  unexpected=len(unique - expected), in_order=ids == sorted(ids),
                  extra_requests=result["requests"] - result["pages"])
    return result


def run(quick: bool) -> dict[str, Any]:
    if quick:
        records, per_page, rate, error_rate = 400, 20, 5.0, 0.2
    else:
        records, per_page, rate, error_rate = 20_000, 100, 10.0, 0.05
    logger = logging.getLogger("testio_async")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with sandbox_process(records=records) as clean:
            baseline = _check(asyncio.run(_stream(clean.url, clean.token, per_page)), records)
        with sandbox_process(records=records, error_rate=error_rate, rate_limit=rate,
                             retry_after_format="seconds", seed=1) as faulty:
            faulted = _check(asyncio.run(_stream(faulty.url, faulty.token, per_page)), records)
    finally:
        logger.setLevel(level)
    burst = max(1.0, rate)
    floor = max(0.0, (faulted["pages"] - burst) / rate)
    ratios = {"wall_to_fault_free": ratio(faulted["wall_s"], baseline["wall_s"]),
              "wall_to_rate_limit_floor": ratio(faulted["wall_s"], floor),
              "requests_to_pages": ratio(faulted["requests"], faulted["pages"])}
    ok = faulted["lost"] == 0 and faulted["duplicates"] == 0 and faulted["unexpected"] == 0
    target = {"name": "no record lost or duplicated under faults", "met": ok,
              "lost": faulted["lost"], "duplicates": faulted["duplicates"]}
    rows: list[Row] = [
        ("faults", "fault-free stream", f"{baseline['wall_s']:.2f} s", "1.00x",
         f"{baseline['requests']} requests, {baseline['pages']} pages"),
        ("faults", f"{error_rate:.0%} 503 + {rate:g} req/s limit", f"{faulted['wall_s']:.2f} s",
         f"{ratios['wall_to_fault_free']:.1f}x",
         f"{ratios['wall_to_rate_limit_floor']:.2f}x of rate floor {floor:.1f}s;"
         f" lost {faulted['lost']}, dup {faulted['duplicates']}"),
        ("faults", "requests vs pages", f"{faulted['requests']} / {faulted['pages']}",
         f"{ratios['requests_to_pages']:.2f}x",
         f"+{faulted['extra_requests']} extra: {faulted['retries']} retries,"
         f" {faulted['rate_limited']} x 429"),
    ]
    settings = {"records": records, "per_page": per_page, "error_rate": error_rate,
                "rate_limit_per_s": rate, "retry_after_format": "seconds", "sandbox_seed": 1,
                "client": CLIENT_SETTINGS, "rate_limit_floor_s": floor,
                "floor": "(pages - burst) / rate, burst = max(1, rate) tokens at start"}
    return {"settings": settings, "fault_free": baseline, "faulted": faulted, "ratios": ratios,
            "target": target, "table": rows}
