"""Scenario ``cpu``: no latency, so the client's own work decides the speed.

Records/s of ``stream()`` at ``max_concurrency`` 8 against a raw baseline of the same run
that fetches the same pages with aiohttp (8 at a time: a semaphore over tasks) and decodes
them with orjson into dicts, dropping each page as ``stream()`` does. Runs alternate
(raw, SDK, raw, SDK, ...) and the best of each is kept; client and server CPU seconds are
reported too, since on 2 cores the sandbox can share the bottleneck.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import aiohttp
import orjson

from benchmarks._common import Row, Stopwatch, median, ratio
from benchmarks._sandbox import SandboxProcess, sandbox_process
from testio_async import Client

__all__ = ["run"]

PATH = "/user_story_version_executions"
CONCURRENCY = 8


async def raw_fetch(url: str, token: str, per_page: int, pages: int) -> dict[str, Any]:
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def fetch(session: aiohttp.ClientSession, page: int) -> int:
        async with semaphore, session.get(
            url + PATH, params={"page": page, "per_page": per_page}
        ) as response:
            response.raise_for_status()
            rows: list[dict[str, Any]] = orjson.loads(await response.read())[
                "user_story_version_executions"]
            return len(rows)

    with Stopwatch() as sw:
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            tasks = [asyncio.create_task(fetch(session, p)) for p in range(1, pages + 1)]
            records = 0
            for task in tasks:  # in page order, as a consumer would read them
                records += await task
    return {"wall_s": sw.wall, "cpu_s": sw.cpu, "records": records, "requests": pages}


async def sdk_stream(url: str, token: str, per_page: int) -> dict[str, Any]:
    records = 0
    last_id = 0
    in_order = True
    with Stopwatch() as sw:
        async with Client(token, base_url=url, max_concurrency=CONCURRENCY) as client:
            stream = client.executions.stream(per_page=per_page)
            async for execution in stream:
                records += 1
                in_order = in_order and execution.id > last_id
                last_id = execution.id
    return {"wall_s": sw.wall, "cpu_s": sw.cpu, "records": records, "in_order": in_order,
            "requests": stream.stats.requests}


def _measure(sandbox: SandboxProcess, job: Any) -> dict[str, Any]:
    server0 = sandbox.cpu_seconds()
    result: dict[str, Any] = asyncio.run(job)
    result["server_cpu_s"] = sandbox.cpu_seconds() - server0
    result["records_per_s"] = result["records"] / result["wall_s"]
    result["client_cpu_us_per_record"] = 1e6 * result["cpu_s"] / max(1, result["records"])
    return result


def run(quick: bool) -> dict[str, Any]:
    records, per_page, rounds = (5_000, 500, 1) if quick else (500_000, 1000, 2)
    pages = math.ceil(records / per_page)
    raws: list[dict[str, Any]] = []
    sdks: list[dict[str, Any]] = []
    with sandbox_process(records=records) as sandbox:
        url, token = sandbox.url, sandbox.token
        asyncio.run(raw_fetch(url, token, per_page, min(pages, 4)))  # warm up
        for _ in range(rounds):
            raws.append(_measure(sandbox, raw_fetch(url, token, per_page, pages)))
            sdks.append(_measure(sandbox, sdk_stream(url, token, per_page)))
    raw = max(raws, key=lambda r: r["records_per_s"])
    sdk = max(sdks, key=lambda r: r["records_per_s"])
    ratios = {
        "sdk_to_raw_records_per_s": ratio(sdk["records_per_s"], raw["records_per_s"]),
        "sdk_to_raw_client_cpu_per_record": ratio(sdk["client_cpu_us_per_record"],
                                                  raw["client_cpu_us_per_record"]),
    }
    target = {"name": "stream() records/s at least 0.5x of the raw aiohttp+orjson baseline",
              "limit": 0.5, "value": ratios["sdk_to_raw_records_per_s"]}
    target["met"] = target["value"] >= 0.5
    settings = {"records": records, "per_page": per_page, "pages": pages,
                "max_concurrency": CONCURRENCY, "latency_s": 0.0, "rounds": rounds,
                "kept": "best records/s of the rounds",
                "rounds_records_per_s": {"raw": [r["records_per_s"] for r in raws],
                                         "sdk": [r["records_per_s"] for r in sdks]},
                "median_records_per_s": {"raw": median([r["records_per_s"] for r in raws]),
                                         "sdk": median([r["records_per_s"] for r in sdks])}}
    rows: list[Row] = [
        ("cpu", f"raw aiohttp+orjson C={CONCURRENCY}", f"{raw['records_per_s']:,.0f} rec/s",
         "1.00x", f"client {raw['client_cpu_us_per_record']:.1f} us/rec,"
                  f" server cpu {raw['server_cpu_s']:.1f}s"),
        ("cpu", f"stream() C={CONCURRENCY}", f"{sdk['records_per_s']:,.0f} rec/s",
         f"{ratios['sdk_to_raw_records_per_s']:.2f}x",
         f"target >= 0.5x; client {sdk['client_cpu_us_per_record']:.1f} us/rec"
         f" ({ratios['sdk_to_raw_client_cpu_per_record']:.1f}x raw), server cpu"
         f" {sdk['server_cpu_s']:.1f}s"),
    ]
    return {"settings": settings, "raw": raw, "sdk": sdk, "ratios": ratios, "target": target,
            "table": rows}
