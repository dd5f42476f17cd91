"""Scenario ``latency``: the real API's case, where every page costs a round trip.

The SDK's ``stream()`` at several ``max_concurrency`` values, a plain sequential aiohttp
loop, and a raw concurrent aiohttp fetch of the same pages, each against the ideal
``ceil((pages - 1) / C) * latency + latency`` (page 1 alone, then C pages at a time).
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import aiohttp

from benchmarks._common import Row, Stopwatch, median, ratio
from benchmarks._sandbox import sandbox_process
from testio_async import Client

__all__ = ["run"]

PATH = "/user_story_version_executions"


def ideal(pages: int, concurrency: int, latency: float) -> float:
    """Page 1 alone, then the other pages ``concurrency`` at a time."""
    return math.ceil((pages - 1) / concurrency) * latency + latency


async def sdk_stream(url: str, token: str, per_page: int, concurrency: int) -> dict[str, Any]:
    ids: list[int] = []
    with Stopwatch() as sw:
        async with Client(token, base_url=url, max_concurrency=concurrency) as client:
            stream = client.executions.stream(per_page=per_page)
            async for execution in stream:
                ids.append(execution.id)
    stats = stream.stats
    return {"wall_s": sw.wall, "cpu_s": sw.cpu, "records": len(ids),
            "unique": len(set(ids)), "requests": stats.requests, "pages": stats.pages}


async def sequential_loop(url: str, token: str, per_page: int) -> dict[str, Any]:
    """What a user writes without the SDK: fetch a page, json.loads, next, until short."""
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    records = requests = 0
    with Stopwatch() as sw:
        async with aiohttp.ClientSession(headers=headers) as session:
            page = 1
            while True:
                async with session.get(url + PATH,
                                       params={"page": page, "per_page": per_page}) as response:
                    response.raise_for_status()
                    body = json.loads(await response.read())
                requests += 1
                rows = body["user_story_version_executions"]
                records += len(rows)
                if len(rows) < per_page:
                    break
                page += 1
    return {"wall_s": sw.wall, "cpu_s": sw.cpu, "records": records, "requests": requests}


async def raw_concurrent(url: str, token: str, per_page: int, pages: int,
                         concurrency: int) -> dict[str, Any]:
    """Page 1 alone, then the known remaining pages with gather + a semaphore (no SDK)."""
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    semaphore = asyncio.Semaphore(concurrency)

    async def fetch(session: aiohttp.ClientSession, page: int) -> int:
        async with semaphore, session.get(
            url + PATH, params={"page": page, "per_page": per_page}
        ) as response:
            response.raise_for_status()
            return len(json.loads(await response.read())["user_story_version_executions"])

    with Stopwatch() as sw:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            first = await fetch(session, 1)
            rest = await asyncio.gather(*(fetch(session, p) for p in range(2, pages + 1)))
    return {"wall_s": sw.wall, "cpu_s": sw.cpu, "records": first + sum(rest), "requests": pages}


def run(quick: bool) -> dict[str, Any]:
    if quick:
        records, per_page, latency, levels, repeats = 200, 20, 0.01, [1, 4, 8], 1
    else:
        records, per_page, latency, levels, repeats = 20_000, 100, 0.05, [1, 4, 8, 16, 32], 3
    pages = math.ceil(records / per_page)
    settings = {"records": records, "per_page": per_page, "pages": pages, "latency_s": latency,
                "latency_jitter_s": 0.0, "concurrency_levels": levels,
                "repeats_when_ideal_below_2s": repeats,
                "note": "records is an exact multiple of per_page, so the SDK plans one probe"
                        " page more (page pages+1, empty)"}
    sdk: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    with sandbox_process(records=records, latency=latency) as sandbox:
        url, token = sandbox.url, sandbox.token
        asyncio.run(sequential_loop(url, token, per_page * 50))  # warm up server and client
        sequential = asyncio.run(sequential_loop(url, token, per_page))
        for level in levels:
            best = ideal(pages, level, latency)
            n = repeats if best < 2.0 else 1
            runs = [asyncio.run(sdk_stream(url, token, per_page, level)) for _ in range(n)]
            raws = [asyncio.run(raw_concurrent(url, token, per_page, pages, level))
                    for _ in range(n)]
            sdk[str(level)] = _summary(runs, best)
            raw[str(level)] = _summary(raws, best)
    sequential["ideal_s"] = ideal(pages, 1, latency)
    sequential["ratio_to_ideal"] = ratio(sequential["wall_s"], sequential["ideal_s"])
    c8 = sdk.get("8")
    target = {"name": "stream at max_concurrency 8 within 1.15x of the ideal",
              "limit": 1.15, "value": c8["ratio_to_ideal"] if c8 else None}
    target["met"] = bool(c8) and target["value"] <= 1.15
    return {"settings": settings, "sdk_stream": sdk, "raw_concurrent": raw,
            "sequential_loop": sequential, "target": target, "table": _rows(sdk, raw, sequential)}


def _summary(runs: list[dict[str, Any]], best: float) -> dict[str, Any]:
    walls = [r["wall_s"] for r in runs]
    result = dict(min(runs, key=lambda r: r["wall_s"]))
    result.update(ideal_s=best, runs=len(runs), wall_s_all=walls, wall_s_median=median(walls),
                  ratio_to_ideal=ratio(min(walls), best))
    return result


def _rows(sdk: dict[str, Any], raw: dict[str, Any], seq: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for level, figures in sdk.items():
        ok = figures["records"] == figures["unique"]
        note = f"{figures['requests']} requests, ideal {figures['ideal_s']:.2f}s"
        if level == "8":
            note += "; target <= 1.15x"
        if not ok:
            note += "; DUPLICATES"
        rows.append(("latency", f"stream C={level}", f"{figures['wall_s']:.2f} s",
                     f"{figures['ratio_to_ideal']:.2f}x", note))
        r = raw[level]
        rows.append(("latency", f"raw aiohttp gather C={level}", f"{r['wall_s']:.2f} s",
                     f"{r['ratio_to_ideal']:.2f}x", f"{r['requests']} requests (known count)"))
    rows.append(("latency", "sequential aiohttp loop", f"{seq['wall_s']:.2f} s",
                 f"{seq['ratio_to_ideal']:.2f}x",
                 f"{seq['requests']} requests, ideal C=1 {seq['ideal_s']:.2f}s"))
    return rows
