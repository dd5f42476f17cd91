"""The CLI's parts in-process: argument checks via ``main()``, CSV text, the progress bar."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from testio_async import Browser, Device, DeviceCategory, DeviceReport, Execution
from testio_async._cli._progress import ProgressBar, format_duration
from testio_async._cli._writers import JsonWriter, csv_row, device_report_text
from testio_async.cli import main


@pytest.fixture(autouse=True)
def _no_testio_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TESTIO_API_TOKEN", raising=False)
    monkeypatch.delenv("TESTIO_BASE_URL", raising=False)


def test_no_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "error:" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["executions", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "device_report_count" in help_text  # the CSV columns are documented
    assert "TESTIO_API_TOKEN" in help_text


def test_sandbox_with_base_url_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["executions", "--sandbox", "--base-url", "http://127.0.0.1:1/x"]) == 2
    assert "--sandbox and --base-url" in capsys.readouterr().err


def test_insecure_base_url_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["executions", "--token", "t0k3n-here", "--base-url", "http://example.com"]) == 2
    err = capsys.readouterr().err
    assert "clear text" in err
    assert "t0k3n-here" not in err


def test_bad_sandbox_setting_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--error-rate", "2"]) == 2
    assert "error:" in capsys.readouterr().err


def _execution(*reports: DeviceReport) -> Execution:
    return Execution(
        id=9,
        status="brand-new-status",
        executed_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        device_reports=reports,
    )


def test_device_report_text_leaves_out_missing_parts() -> None:
    full = DeviceReport(
        id=1,
        category=DeviceCategory(id=1, name="Desktop"),
        device=Device(id=2, name="iMac"),
        browsers=(Browser(id=1, name="Chrome"), Browser(id=2, name="Safari")),
    )
    assert device_report_text(full) == "Desktop / iMac [Chrome, Safari]"
    assert device_report_text(DeviceReport(id=7)) == "device report 7"


def test_csv_row_without_cycle_and_unknown_status() -> None:
    report = DeviceReport(id=1, browsers=(Browser(id=1, name="Chrome"),))
    row = csv_row(_execution(report, report))
    assert row == (
        9, "brand-new-status", None, None, "2024-01-02T03:04:05.000Z",
        None, None, None, None, "[Chrome]; [Chrome]", 2, "Chrome",
    )  # fmt: skip


def test_json_writer_closes_an_empty_array() -> None:
    out = io.BytesIO()
    writer = JsonWriter(out)
    writer.start()
    writer.write_page([])
    writer.finish()
    assert out.getvalue() == b"[\n]\n"


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_bar_is_throttled_and_shows_rate_and_eta() -> None:
    stream, clock = io.StringIO(), _Clock()
    bar = ProgressBar(stream, enabled=True, max_fps=10, clock=clock)
    clock.now += 1.0
    bar.update(100, 1000)
    bar.update(150)  # within 0.1 s of the last redraw: not drawn
    assert stream.getvalue().count("\r") == 1
    assert "100/1,000 records" in stream.getvalue()
    assert "100/s" in stream.getvalue()
    assert "ETA 0:09" in stream.getvalue()
    clock.now += 0.2
    bar.update(200)
    bar.close()
    assert stream.getvalue().count("\r") == 3
    assert stream.getvalue().endswith("\n")


def test_disabled_progress_bar_writes_nothing() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, enabled=False)
    bar.update(10, 20)
    bar.close()
    assert stream.getvalue() == ""


def test_format_duration() -> None:
    assert format_duration(9) == "0:09"
    assert format_duration(3725) == "1:02:05"
