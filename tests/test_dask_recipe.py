"""The Dask recipe of docs/etl.md: partitions read by 4 worker processes.

The sandbox runs in a process of its own, so the workers can reach it; the partitions
travel to the workers pickled, which is what the processes scheduler proves.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import pytest

from testio_async import Client, Partition

dask_bag = pytest.importorskip("dask.bag")
cloudpickle = pytest.importorskip("cloudpickle")

RECORDS = 200_000
WORKERS = 4


async def _fetch_ids(url: str, token: str, part: Partition) -> list[int]:
    async with Client(token, base_url=url) as client:
        return [execution.id async for execution in client.executions.stream(partition=part)]


def fetch_partition(job: tuple[str, str, Partition]) -> list[int]:
    """Read one partition on a worker, with a client of its own; return its ids."""
    url, token, part = job
    return asyncio.run(_fetch_ids(url, token, part))


async def _partitions(url: str, token: str) -> list[Partition]:
    async with Client(token, base_url=url) as client:
        return await client.executions.partitions(WORKERS, per_page=1000)


@pytest.fixture
def sandbox_process() -> Iterator[tuple[str, str]]:
    """A sandbox of :data:`RECORDS` records in its own process: ``(url, token)``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "testio_async.sandbox", "--port", "0",
         "--records", str(RECORDS)],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "URL TOKEN" once it serves; "" if it died
        assert line, f"the sandbox exited with {process.wait()}"
        url, token = line.split()
        yield url, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_dask_bag_reads_every_record_once(sandbox_process: tuple[str, str]) -> None:
    url, token = sandbox_process
    parts = asyncio.run(_partitions(url, token))
    assert len(parts) == WORKERS
    assert parts[-1].last_page is None  # the last one reads to the end

    # The workers import this test module by value: it is not on their sys.path.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        bag = dask_bag.from_sequence([(url, token, p) for p in parts], npartitions=WORKERS)
        per_partition = bag.map(fetch_partition).compute(
            scheduler="processes", num_workers=WORKERS
        )
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])

    assert len(per_partition) == WORKERS
    assert all(per_partition)
    ids = [i for chunk in per_partition for i in chunk]
    assert len(ids) == RECORDS  # no duplicates ...
    assert set(ids) == set(range(1, RECORDS + 1))  # ... and no gaps
