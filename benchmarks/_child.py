"""A client in its own process: ``python -m benchmarks._child MODE URL TOKEN PER_PAGE C``.

MODE is ``stream`` (count records as they come) or ``collect`` (hold them all in a
list). Prints one JSON line: records, wall seconds, the RSS before streaming and the
peak RSS (``VmHWM``), so the parent can compare memory without sharing a heap.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time

import orjson

from testio_async import Client


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


async def _main(mode: str, url: str, token: str, per_page: int, concurrency: int) -> int:
    async with Client(token, base_url=url, max_concurrency=concurrency) as client:
        if mode == "collect":
            return len(await client.executions.collect(per_page=per_page))
        count = 0
        async for _ in client.executions.stream(per_page=per_page):
            count += 1
        return count


def main(argv: list[str]) -> int:
    mode, url, token, per_page, concurrency = argv
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    records = asyncio.run(_main(mode, url, token, int(per_page), int(concurrency)))
    wall = time.perf_counter() - start
    # VmHWM belongs to this address space, which exec started afresh. ru_maxrss does not:
    # Linux keeps it across exec, so it also counts the parent's pages copied by fork.
    peak = _status_kib("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(orjson.dumps({"mode": mode, "records": records, "wall_s": wall,
                        "rss_before_mib": before / 1024, "peak_rss_mib": peak / 1024,
                        "ru_maxrss_mib": maxrss / 1024}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
