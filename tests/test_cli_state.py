"""``--state`` (resume), ``--since-state`` (incremental sync) and ``--format parquet``.

The CLI runs as a subprocess against a sandbox served by the test's event loop. A killed
export is stopped deterministically: the test holds the sandbox's requests once the
state file shows progress, then SIGKILLs the child, which cannot finish meanwhile.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import DEADLINE, against, child_env, run_cli, spawn

from testio_async._cli._writers import CSV_COLUMNS
from testio_async.sandbox import SandboxServer
from testio_async.sandbox.pytest_plugin import SandboxFactory


def jsonl_ids(path: Path) -> list[int]:
    """Ids of a JSON Lines file; fails on a partial line."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return [json.loads(line)["id"] for line in data.splitlines()]


def csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file; checks the header is there once."""
    text = path.read_bytes().decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(CSV_COLUMNS)
    assert list(CSV_COLUMNS) not in rows[1:]
    return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]


def ids_of(path: Path, fmt: str) -> list[int]:
    """Ids of an output file of ``fmt``."""
    if fmt == "csv":
        return [int(row["id"]) for row in csv_rows(path)]
    return jsonl_ids(path)


def expected_ids(sandbox: SandboxServer, **filters: Any) -> list[int]:
    """Ids the sandbox serves for ``filters``, in order."""
    return [record["id"] for record in sandbox.expected(**filters)]


def saved_records(state: Path) -> int:
    """Records the state file says are written (0 while it is missing or being replaced)."""
    try:
        return int(load(state)["checkpoint"]["records"])
    except (FileNotFoundError, ValueError, KeyError):
        return 0


async def kill_after_progress(
    sandbox: SandboxServer, args: Sequence[str], state: Path, records: int
) -> None:
    """Start the CLI, SIGKILL it once ``state`` shows ``records`` written, mid-export."""
    process = await spawn(*args)
    try:
        async with asyncio.timeout(DEADLINE):
            # Waiting for a condition, polled: the state file is replaced atomically.
            while saved_records(state) < records:
                assert process.returncode is None, "the export ended before it was killed"
                await asyncio.sleep(0.005)
        sandbox.hold()  # the child cannot finish now: it waits for held pages
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.communicate(), DEADLINE)
    finally:
        sandbox.release()
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not load(state)["checkpoint"]["done"]


def load(path: Path) -> Any:
    """The JSON in ``path``."""
    return json.loads(path.read_bytes())


@pytest.fixture
async def slow_sandbox(testio_sandbox_factory: SandboxFactory) -> SandboxServer:
    """3000 records, 20 ms per request."""
    return await testio_sandbox_factory(records=3000, latency=0.02)


def killable(sandbox: SandboxServer, fmt: str, output: Path, state: Path) -> list[str]:
    """A ``--state`` export that lasts long enough to be killed in the middle."""
    # One request at a time, 20 ms each: 60 pages take over a second.
    return against(sandbox, "--per-page", "50", "--format", fmt, "--concurrency", "1",
                   "--output", str(output), "--state", str(state))  # fmt: skip


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_sigkill_then_resume_writes_every_record_once(
    slow_sandbox: SandboxServer, tmp_path: Path, fmt: str
) -> None:
    output, state = tmp_path / f"out.{fmt}", tmp_path / "state.json"
    args = killable(slow_sandbox, fmt, output, state)
    await kill_after_progress(slow_sandbox, args, state, records=500)
    assert 500 <= len(ids_of(output, fmt)) < 3000

    result = await run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert ids_of(output, fmt) == expected_ids(slow_sandbox)
    assert load(state)["checkpoint"]["done"] is True
    if fmt == "csv":
        by_id = {r["id"]: r for r in slow_sandbox.expected()}
        for row in csv_rows(output)[:3]:
            assert row["status"] == by_id[int(row["id"])]["status"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_resume_cuts_a_page_written_after_the_last_state(
    slow_sandbox: SandboxServer, tmp_path: Path, fmt: str
) -> None:
    """A crash between the output flush and the state save: the rerun cuts the extra."""
    output, state = tmp_path / f"out.{fmt}", tmp_path / "state.json"
    args = killable(slow_sandbox, fmt, output, state)
    await kill_after_progress(slow_sandbox, args, state, records=200)
    saved = load(state)
    # The last records written again, plus half a line: what a crash could leave.
    with output.open("ab") as file:
        data = output.read_bytes()
        tail = data[: saved["output_bytes"]].splitlines(keepends=True)[-50:]
        file.write(b"".join(tail) + b'{"id": 12')

    result = await run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert ids_of(output, fmt) == expected_ids(slow_sandbox)


async def test_rerun_after_completion_appends_nothing(
    testio_sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = await testio_sandbox_factory(records=120)
    output, state = tmp_path / "out.csv", tmp_path / "state.json"
    args = against(sandbox, "--per-page", "50", "--format", "csv",
                   "--output", str(output), "--state", str(state))  # fmt: skip
    first = await run_cli(*args)
    assert first.returncode == 0, first.stderr
    data, requests = output.read_bytes(), sandbox.stats.requests

    again = await run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "already complete" in again.stderr
    assert output.read_bytes() == data
    assert sandbox.stats.requests == requests  # not one request
    assert ids_of(output, "csv") == expected_ids(sandbox)


async def test_resume_with_a_filter_keeps_to_it(
    testio_sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = await testio_sandbox_factory(records=3000, user_stories=2, latency=0.02)
    output, state = tmp_path / "out.jsonl", tmp_path / "state.json"
    args = against(sandbox, "--per-page", "25", "--order", "desc", "--user-story-id", "2",
                   "--output", str(output), "--state", str(state))  # fmt: skip
    await kill_after_progress(sandbox, args, state, records=200)
    result = await run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert jsonl_ids(output) == expected_ids(sandbox, user_story_ids=[2], order="desc")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--per-page", "40"], "per_page=40"),
        (["--per-page", "50", "--order", "desc"], "order=desc"),
        (["--per-page", "50", "--user-story-id", "2"], "user_story_ids=[2]"),
        (["--per-page", "50", "--format", "csv"], "--format"),
    ],
)
async def test_state_with_other_flags_is_refused(
    testio_sandbox_factory: SandboxFactory, tmp_path: Path, change: list[str], message: str
) -> None:
    sandbox = await testio_sandbox_factory(records=120)
    output, state = tmp_path / "out", tmp_path / "state.json"
    base = [*against(sandbox), "--output", str(output), "--state", str(state)]
    first = await run_cli(*base, "--per-page", "50")
    assert first.returncode == 0, first.stderr
    data = output.read_bytes()

    result = await run_cli(*base, *change)
    assert result.returncode == 2
    assert message in result.stderr
    assert "delete it to start over" in result.stderr
    assert output.read_bytes() == data


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "json", "--output", "OUT"], "JSON file cannot be appended"),
        (["--format", "parquet", "--output", "OUT"], "PARQUET file cannot be appended"),
        ([], "--state needs --output"),
        (["--output", "OUT", "--limit", "5"], "--state and --limit"),
        (["--output", "OUT", "--since-state", "SINCE"], "--state and --since-state"),
    ],
)
async def test_state_usage_errors(
    testio_sandbox_factory: SandboxFactory, tmp_path: Path, extra: list[str], message: str
) -> None:
    sandbox = await testio_sandbox_factory(records=10)
    out, since = str(tmp_path / "out"), str(tmp_path / "since.json")
    extra = [out if a == "OUT" else since if a == "SINCE" else a for a in extra]
    result = await run_cli(*against(sandbox), "--state", str(tmp_path / "s.json"), *extra)
    assert result.returncode == 2
    assert message in result.stderr
    assert sandbox.stats.requests == 0
    assert not (tmp_path / "s.json").exists()


async def test_since_state_exports_only_new_records(
    testio_sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = await testio_sandbox_factory(records=500)
    output, since = tmp_path / "out.jsonl", tmp_path / "since.json"
    args = against(sandbox, "--per-page", "50", "--output", str(output),
                   "--since-state", str(since))  # fmt: skip

    first = await run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert jsonl_ids(output) == list(range(1, 501))
    saved = load(since)
    assert saved["watermark_id"] == 500
    assert saved["executed_at"] == sandbox.record(500)["executed_at"]

    sandbox.config.records += 25
    second = await run_cli(*args)
    assert second.returncode == 0, second.stderr
    assert jsonl_ids(output) == list(range(525, 500, -1))  # newest first
    assert load(since)["watermark_id"] == 525

    third = await run_cli(*args)
    assert third.returncode == 0, third.stderr
    assert jsonl_ids(output) == []
    assert load(since)["watermark_id"] == 525


async def test_since_state_with_other_filters_is_refused(
    testio_sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = await testio_sandbox_factory(records=50)
    since = tmp_path / "since.json"
    base = [*against(sandbox), "--output", str(tmp_path / "o"), "--since-state", str(since)]
    assert (await run_cli(*base, "--user-story-id", "1")).returncode == 0
    result = await run_cli(*base, "--user-story-id", "2")
    assert result.returncode == 2
    assert "other filters" in result.stderr


async def test_parquet_round_trip(
    testio_sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    sandbox = await testio_sandbox_factory(records=730)
    output = tmp_path / "out.parquet"
    result = await run_cli(*against(sandbox), "--per-page", "100", "--format", "parquet",
                           "--output", str(output))  # fmt: skip
    assert result.returncode == 0, result.stderr

    table = pq.read_table(output)
    assert pq.ParquetFile(output).num_row_groups == 8  # one per page
    assert str(table.schema.field("executed_at").type) == "timestamp[ms, tz=UTC]"
    assert str(table.schema.field("id").type) == "int64"
    rows = table.to_pylist()
    expected = sandbox.expected()
    assert [r["id"] for r in rows] == [e["id"] for e in expected]
    assert [r["status"] for r in rows] == [e["status"] for e in expected]
    # The same instants, in UTC (the API may send other offsets).
    assert [r["executed_at"] for r in rows] == [
        datetime.fromisoformat(e["executed_at"]).astimezone(UTC) for e in expected
    ]
    assert all(r["executed_at"].utcoffset() == timedelta(0) for r in rows)
    first, api = rows[0], expected[0]
    assert first["comment"] == api.get("comment")
    assert len(first["device_reports"]) == len(api["device_reports"])
    assert first["device_reports"][0]["id"] == api["device_reports"][0]["id"]


async def test_parquet_needs_output_and_pyarrow(
    testio_sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = await testio_sandbox_factory(records=10)
    to_stdout = await run_cli(*against(sandbox), "--format", "parquet")
    assert to_stdout.returncode == 2
    assert "--format parquet needs --output" in to_stdout.stderr

    # A pyarrow that cannot be imported, first on the path.
    fake = tmp_path / "fake" / "pyarrow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no pyarrow here')\n")
    env = child_env(PYTHONPATH=os.pathsep.join([str(tmp_path / "fake"), *sys.path]))
    missing = await run_cli(*against(sandbox), "--format", "parquet",
                            "--output", str(tmp_path / "o.parquet"), env=env)  # fmt: skip
    assert missing.returncode == 2
    assert "pip install 'testio-async[parquet]'" in missing.stderr
    assert sandbox.stats.requests == 0


async def test_summary_shows_the_stream_stats(
    testio_sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = await testio_sandbox_factory(records=120)
    result = await run_cli(*against(sandbox), "--per-page", "50", "-o", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert "120 records, 3 pages, 3 requests, 0 retries," in result.stderr
    assert ("0 rate-limited (429), 0 duplicates dropped, 0 pages refetched,"
            " record_count 120 at start, 120 at end") in result.stderr  # fmt: skip
