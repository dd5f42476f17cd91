"""The ``testio-async`` console script, run as a subprocess against an in-test sandbox.

The child runs through ``asyncio`` subprocesses so the sandbox, served by this test's
event loop, keeps answering while the test waits.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cli_support import DEADLINE, Result, against, child_env, run_cli, spawn

from testio_async import __version__
from testio_async._cli._writers import CSV_COLUMNS
from testio_async.sandbox import SandboxServer
from testio_async.sandbox.pytest_plugin import SandboxFactory

SECRET = "s3cr3t-t0ken-xyz"
WRONG = "wr0ng-t0ken-abc"


def jsonl(data: bytes) -> list[dict[str, Any]]:
    """Every line parsed; fails on a partial line."""
    assert data == b"" or data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


def assert_clean(result: Result, *secrets: str) -> None:
    """No traceback, no secret, in either stream."""
    assert "Traceback" not in result.stderr
    for secret in secrets:
        assert secret not in result.stderr
        assert secret.encode() not in result.stdout


@pytest.fixture
async def sandbox(testio_sandbox_factory: SandboxFactory) -> SandboxServer:
    """250 records behind a distinctive token."""
    return await testio_sandbox_factory(records=250, token=SECRET)


# -- formats ------------------------------------------------------------------


async def test_jsonl_is_the_api_shape_in_order(sandbox: SandboxServer) -> None:
    result = await run_cli(*against(sandbox, "--per-page", "40"))
    assert result.returncode == 0, result.stderr
    assert jsonl(result.stdout) == sandbox.expected()
    # The summary: records, pages, requests, retries, seconds.
    assert re.search(r"250 records, 7 pages, 7 requests, 0 retries, [\d.]+ s", result.stderr)
    assert_clean(result, SECRET)


async def test_json_is_one_array(sandbox: SandboxServer) -> None:
    result = await run_cli(*against(sandbox, "--format", "json", "--per-page", "30"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == sandbox.expected()


async def test_json_of_nothing_is_an_empty_array(sandbox: SandboxServer) -> None:
    result = await run_cli(*against(sandbox, "--format", "json", "--limit", "0"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def _device_report(report: dict[str, Any]) -> str:
    os_name = report["operating_system"]["name"]
    version = report["operating_system_version"]["name"]
    os_text = version if version.startswith(os_name) else f"{os_name} {version}"
    text = " / ".join(
        [report["category"]["name"], report["vendor"]["name"], os_text, report["device"]["name"]]
    )
    browsers = ", ".join(b["name"] for b in report["browsers"])
    return f"{text} [{browsers}]" if browsers else text


def _csv_expected(row: dict[str, Any]) -> dict[str, str]:
    cycle = row["test_cycle"]
    reports = row["device_reports"]
    return {
        "id": str(row["id"]),
        "status": row["status"],
        "comment": row["comment"] or "",
        "executed_by": row["executed_by"] or "",
        "executed_at": row["executed_at"],
        "test_cycle_id": str(cycle["id"]),
        "test_cycle_title": cycle["title"],
        "test_environment_id": str(cycle["test_environment"]["id"]),
        "test_environment_title": cycle["test_environment"]["title"],
        "device_reports": "; ".join(_device_report(r) for r in reports),
        "device_report_count": str(len(reports)),
        "browsers": ", ".join(dict.fromkeys(b["name"] for r in reports for b in r["browsers"])),
    }


async def test_csv_has_the_documented_flat_columns(sandbox: SandboxServer) -> None:
    result = await run_cli(*against(sandbox, "--format", "csv"))
    assert result.returncode == 0, result.stderr
    reader = csv.DictReader(io.StringIO(result.stdout.decode(), newline=""))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    assert rows == [_csv_expected(row) for row in sandbox.expected()]
    assert any("; " in row["device_reports"] for row in rows)  # several reports joined
    assert any("," in row["comment"] for row in rows)  # quoting round-trips


async def test_output_file(sandbox: SandboxServer, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    result = await run_cli(*against(sandbox, "--output", str(target), "--limit", "7"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert jsonl(target.read_bytes()) == sandbox.expected()[:7]


# -- query --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "query"),
    [
        (["--user-story-id", "3", "--user-story-id", "7"], {"user_story_ids": [3, 7]}),
        (
            ["--user-story-version-id", "301", "--user-story-version-id", "1202"],
            {"user_story_version_ids": [301, 1202]},
        ),
        (
            ["--user-story-id", "3", "--user-story-version-id", "301", "--order", "desc"],
            {"user_story_ids": [3], "user_story_version_ids": [301], "order": "desc"},
        ),
        (["--order", "desc"], {"order": "desc"}),
    ],
)
async def test_filters_and_order(
    sandbox: SandboxServer, flags: list[str], query: dict[str, Any]
) -> None:
    expected = sandbox.expected(**query)
    assert expected  # the filter matches something, so the comparison means something
    result = await run_cli(*against(sandbox, *flags, "--per-page", "3"))
    assert result.returncode == 0, result.stderr
    assert jsonl(result.stdout) == expected


async def test_limit_and_order(sandbox: SandboxServer) -> None:
    result = await run_cli(*against(sandbox, "--order", "desc", "--limit", "17", "--per-page", "5"))
    assert result.returncode == 0, result.stderr
    assert jsonl(result.stdout) == sandbox.expected(order="desc")[:17]


async def test_environment_token_and_base_url(sandbox: SandboxServer) -> None:
    env = child_env(TESTIO_API_TOKEN=SECRET, TESTIO_BASE_URL=sandbox.url)
    result = await run_cli("executions", "--limit", "3", env=env)
    assert result.returncode == 0, result.stderr
    assert jsonl(result.stdout) == sandbox.expected()[:3]
    assert_clean(result, SECRET)


async def test_sandbox_flag_needs_no_token() -> None:
    result = await run_cli("executions", "--sandbox", "--limit", "5", "--sandbox-records", "20")
    assert result.returncode == 0, result.stderr
    assert jsonl(result.stdout) == SandboxServer(records=20).expected()[:5]


# -- errors -------------------------------------------------------------------


async def test_wrong_token_exits_1_without_leaking(sandbox: SandboxServer) -> None:
    result = await run_cli(*against(sandbox, token=WRONG))
    assert result.returncode == 1
    assert result.stdout == b""
    assert "401" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert_clean(result, WRONG, SECRET)


async def test_server_error_exits_1_and_keeps_json_valid(
    testio_sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await testio_sandbox_factory(records=100, token=SECRET)
    sandbox.inject(503, body={"error": "Service Unavailable"}, page=3, times=10)
    result = await run_cli(*against(sandbox, "--format", "json", "--per-page", "10",
                                    "--concurrency", "1", "--max-retries", "0"))
    assert result.returncode == 1
    assert "503" in result.stderr
    assert json.loads(result.stdout) == sandbox.expected()[:20]  # pages 1 and 2, closed array
    assert_clean(result, SECRET)


async def test_no_token_exits_2_and_points_to_sandbox(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    result = await run_cli("executions", "--output", str(target))
    assert result.returncode == 2
    assert "testio-async: error:" in result.stderr
    assert "TESTIO_API_TOKEN" in result.stderr
    assert "--sandbox" in result.stderr
    assert not target.exists()  # refused before touching the output


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--per-page", "0"], "--per-page"),
        (["--per-page", "ten"], "--per-page"),
        (["--limit", "-1"], "--limit"),
        (["--user-story-id", "x"], "--user-story-id"),
        (["--concurrency", "0"], "--concurrency"),
        (["--timeout", "0"], "--timeout"),
        (["--format", "xml"], "--format"),
        (["--order", "up"], "--order"),
        (["--output", "/nonexistent-dir/out.jsonl"], "/nonexistent-dir/out.jsonl"),
    ],
)
async def test_bad_usage_exits_2(sandbox: SandboxServer, flags: list[str], says: str) -> None:
    result = await run_cli(*against(sandbox, *flags))
    assert result.returncode == 2
    assert result.stdout == b""
    error_lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error_lines) == 1
    assert says in error_lines[0]
    assert_clean(result, SECRET)


async def test_version() -> None:
    result = await run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.decode().strip() == f"testio-async {__version__}"


# -- progress -----------------------------------------------------------------


async def test_progress_bar_goes_to_stderr_only(sandbox: SandboxServer) -> None:
    result = await run_cli(*against(sandbox, "--progress", "--per-page", "50"))
    assert result.returncode == 0, result.stderr
    assert jsonl(result.stdout) == sandbox.expected()  # nothing but records on stdout
    assert b"\r" not in result.stdout
    assert "\r" in result.stderr
    assert "250/250 records" in result.stderr


async def test_retries_warn_on_their_own_line(sandbox: SandboxServer) -> None:
    sandbox.inject(503, body={"error": "Service Unavailable"}, page=2)
    result = await run_cli(*against(sandbox, "--progress", "--per-page", "50"))
    assert result.returncode == 0, result.stderr
    assert jsonl(result.stdout) == sandbox.expected()
    warnings = [line for line in result.stderr.split("\n") if "warning:" in line]
    assert len(warnings) == 1
    # What a terminal shows of that line: the text after the last carriage return.
    assert warnings[0].split("\r")[-1].startswith("testio-async: warning:")
    assert "1 retries" in result.stderr
    assert_clean(result, SECRET)


async def test_no_progress_and_quiet(sandbox: SandboxServer) -> None:
    result = await run_cli(*against(sandbox, "--no-progress", "--quiet"))
    assert result.returncode == 0
    assert result.stderr == ""


# -- Ctrl-C -------------------------------------------------------------------


# Output holding at least one record, past any header.
HAS_A_RECORD = {
    "jsonl": lambda data: data != b"",
    "json": lambda data: b"{" in data,
    "csv": lambda data: data.count(b"\r\n") >= 2,
}


async def _read_until_a_record(stream: asyncio.StreamReader, fmt: str) -> bytes:
    """Read stdout until it holds a record; return what was read."""
    data = b""
    async with asyncio.timeout(DEADLINE):
        while not HAS_A_RECORD[fmt](data):
            chunk = await stream.read(65536)
            assert chunk, "the export ended before writing a record"
            data += chunk
    return data


def _parse(fmt: str, data: bytes) -> Sequence[dict[str, Any]] | Sequence[str]:
    if fmt == "json":
        parsed: list[dict[str, Any]] = json.loads(data)
        return parsed
    if fmt == "csv":
        text = data.decode()
        assert text.endswith("\r\n")
        return [row["id"] for row in csv.DictReader(io.StringIO(text, newline=""))]
    return jsonl(data)


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
async def test_sigint_leaves_whole_records(
    testio_sandbox_factory: SandboxFactory, fmt: str
) -> None:
    sandbox = await testio_sandbox_factory(records=500, token=SECRET, latency=0.01)
    # Page 4 answers only at shutdown, so the export is still running when signalled,
    # whatever the machine's speed; pages 1-3 are written by then.
    sandbox.inject(200, body={"meta": {"record_count": 500}, "user_story_version_executions": []},
                   page=4, delay=3600)
    process = await spawn(*against(sandbox, "--format", fmt, "--per-page", "10",
                                   "--concurrency", "2"))
    assert process.stdout is not None
    head = await _read_until_a_record(process.stdout, fmt)
    process.send_signal(signal.SIGINT)
    stdout, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
    result = Result(process.returncode or 0, head + stdout, stderr.decode())
    assert result.returncode == 130, result.stderr
    assert "interrupted" in result.stderr
    assert_clean(result, SECRET)
    records = _parse(fmt, result.stdout)
    expected = sandbox.expected()
    if fmt == "csv":
        assert records == [str(row["id"]) for row in expected[: len(records)]]
    else:
        assert records == expected[: len(records)]
    assert 0 < len(records) <= 30
    assert f"holds {len(records)} whole records" in result.stderr


# -- sandbox command ------------------------------------------------------------


async def test_sandbox_command_serves_until_ctrl_c() -> None:
    process = await spawn("sandbox", "--port", "0", "--records", "40", "--token", SECRET)
    assert process.stderr is not None
    async with asyncio.timeout(DEADLINE):
        banner = ""
        while "Ctrl-C" not in banner:
            line = await process.stderr.readline()
            assert line, f"the sandbox ended early: {banner}"
            banner += line.decode()
    assert SECRET in banner  # the sandbox's own token is announced on purpose
    match = re.search(r"http://\S+/customer/v2", banner)
    assert match is not None
    exported = await run_cli("executions", "--base-url", match.group(0), "--token", SECRET)
    assert exported.returncode == 0, exported.stderr
    assert jsonl(exported.stdout) == SandboxServer(records=40).expected()
    process.send_signal(signal.SIGINT)
    stdout, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
    assert process.returncode in (0, 130)
    assert "Traceback" not in stderr.decode()
    assert stdout == b""
