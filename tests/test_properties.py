"""Bad input, by property: models round-trip, any 200 body fails typed, bad args fail early."""

from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import testio_async as tio
from testio_async._convert import (
    structure_execution,
    structure_response,
    unstructure_execution,
)
from testio_async.cli import main as cli_main
from testio_async.sandbox import Sandbox
from testio_async.sandbox.pytest_plugin import SandboxFactory

SECRET = "prop-t0ken-secret"

# -- models round-trip -------------------------------------------------------------

ids = st.integers(min_value=-(2**63), max_value=2**63 - 1)
texts = st.text(max_size=20)
opt_texts = st.none() | texts
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
timestamps = st.builds(
    lambda dt, ms, tz: dt.replace(microsecond=ms * 1000, tzinfo=tz),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30)),
    st.integers(0, 999),
    st.just(UTC) | offsets,
)
statuses = st.sampled_from(list(tio.ExecutionStatus)) | texts
reports = st.builds(
    tio.DeviceReport,
    id=ids,
    category=st.none() | st.builds(tio.DeviceCategory, id=ids, key=opt_texts, name=opt_texts),
    vendor=st.none() | st.builds(tio.Vendor, id=ids, name=opt_texts),
    operating_system=st.none() | st.builds(tio.OperatingSystem, id=ids, key=opt_texts,
                                            name=opt_texts),
    operating_system_version=st.none() | st.builds(tio.OperatingSystemVersion, id=ids,
                                                    name=opt_texts),
    device=st.none() | st.builds(tio.Device, id=ids, name=opt_texts),
    browsers=st.lists(st.builds(tio.Browser, id=ids, name=opt_texts), max_size=3).map(tuple),
)
executions = st.builds(
    tio.Execution,
    id=ids,
    status=statuses,
    comment=opt_texts,
    executed_by=opt_texts,
    device_reports=st.lists(reports, max_size=3).map(tuple),
    test_cycle=st.none() | st.builds(
        tio.TestCycle, id=ids, title=opt_texts,
        test_environment=st.none() | st.builds(tio.TestEnvironment, id=ids, title=opt_texts),
    ),
    executed_at=timestamps,
)


@given(executions)
def test_an_execution_round_trips_through_its_dict(execution: tio.Execution) -> None:
    as_dict = unstructure_execution(execution)
    assert structure_execution(as_dict) == execution
    assert tio.converter.structure(tio.converter.unstructure(execution),
                                   tio.Execution) == execution
    assert unstructure_execution(structure_execution(as_dict)) == as_dict


# -- any 200 body ------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
VALID_BODY: dict[str, Any] = {
    "meta": {"record_count": 3},
    "user_story_version_executions": Sandbox(records=3).expected(),
}


def _check(body: Any) -> None:
    """``structure_response`` returns, or raises ResponseValidationError: nothing else."""
    try:
        items, count = structure_response(body)
    except tio.ResponseValidationError as exc:
        message = str(exc)
        assert message
    else:
        assert isinstance(count, int) and count >= 0
        assert all(isinstance(item, tio.Execution) for item in items)


@given(json_values)
def test_arbitrary_json_raises_only_response_validation_error(body: Any) -> None:
    _check(body)


@given(st.dictionaries(st.sampled_from(["meta", "user_story_version_executions", "x"]),
                       json_values, max_size=3))
def test_arbitrary_top_level_objects(body: Any) -> None:
    _check(body)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (dict keys and list indices)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


ALL_PATHS = _paths(VALID_BODY)


@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), st.booleans(), json_values),
                min_size=1, max_size=3))
def test_mutations_of_a_valid_body(mutations: list[tuple[tuple[Any, ...], bool, Any]]) -> None:
    body = copy.deepcopy(VALID_BODY)
    for path, delete, value in mutations:
        parent: Any = body
        try:
            for step in path[:-1]:
                parent = parent[step]
            if delete and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    _check(body)


@pytest.mark.parametrize("body", [
    {"meta": {"record_count": 1}, "user_story_version_executions": [None]},
    {"meta": {"record_count": 1}, "user_story_version_executions": [[]]},
    {"meta": {"record_count": True}, "user_story_version_executions": []},
    {"meta": {"record_count": -1}, "user_story_version_executions": []},
    {"meta": {"record_count": 1.0}, "user_story_version_executions": []},
    {"meta": [], "user_story_version_executions": []},
    {"meta": {"record_count": 1}, "user_story_version_executions": "[]"},
    [{"meta": {"record_count": 1}}],
])
async def test_bad_200_bodies_end_to_end(
    testio_sandbox_factory: SandboxFactory, body: Any
) -> None:
    sandbox = await testio_sandbox_factory(records=3)
    sandbox.inject(200, body=body, times=2)
    async with tio.Client(sandbox.token, base_url=sandbox.url, backoff_base=0.0) as client:
        with pytest.raises(tio.ResponseValidationError) as info:
            await client.executions.collect()
        assert type(info.value) is tio.ResponseValidationError
        with pytest.raises(tio.ResponseValidationError):
            await client.executions.get_page()
    assert sandbox.stats.requests == 2  # not retried


# -- arguments --------------------------------------------------------------------

class _Sent(Exception):
    """Raised by the fake session: the arguments passed and a request was attempted."""


class _FakeSession:
    def __init__(self) -> None:
        self.requests = 0

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self.requests += 1
        raise _Sent


anything = (st.none() | st.booleans() | st.integers(-5, 2**70) | st.floats() | st.text(max_size=5)
            | st.lists(st.integers(-3, 10) | st.text(max_size=2) | st.none(), max_size=3)
            | st.sampled_from(["asc", "desc", b"asc", 1.5, object()]))
arguments = st.fixed_dictionaries({}, optional={
    "per_page": anything, "limit": anything, "order": anything,
    "user_story_ids": anything, "user_story_version_ids": anything,
})


async def _call(method: str, kwargs: dict[str, Any]) -> tuple[BaseException | None, int]:
    session = _FakeSession()
    client = tio.Client(SECRET, session=session, max_retries=0)  # type: ignore[arg-type]
    try:
        if method == "stream":
            async for _ in client.executions.stream(**kwargs):
                pass
        elif method == "pages":
            async for _ in client.executions.pages(**kwargs):
                pass
        elif method == "collect":
            await client.executions.collect(**kwargs)
        else:
            kwargs.pop("limit", None)
            await client.executions.get_page(**kwargs)
    except BaseException as exc:  # classified by the caller
        return exc, session.requests
    finally:
        await client.close()
    return None, session.requests


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["stream", "pages", "collect", "get_page"]), arguments,
       st.none() | anything)
def test_arbitrary_arguments_fail_before_any_request(
    method: str, kwargs: dict[str, Any], page: Any
) -> None:
    if method == "get_page" and page is not None:
        kwargs["page"] = page
    error, requests = asyncio.run(_call(method, dict(kwargs)))
    if error is None or isinstance(error, _Sent):
        return  # valid arguments: no request (limit=0) or a request was attempted
    assert isinstance(error, ValueError | TypeError), repr(error)
    assert requests == 0


# -- the command line --------------------------------------------------------------

def _cli(argv: list[str], capsys: pytest.CaptureFixture[str],
         monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.delenv("TESTIO_API_TOKEN", raising=False)
    monkeypatch.delenv("TESTIO_BASE_URL", raising=False)
    status = cli_main(argv)
    return status, capsys.readouterr().err


BAD_USAGE = [
    ("unknown-flag", ["executions", "--sandbox", "--frobnicate"], "frobnicate"),
    ("per-page-zero", ["executions", "--sandbox", "--per-page", "0"], "per-page"),
    ("per-page-word", ["executions", "--sandbox", "--per-page", "many"], "per-page"),
    ("limit-negative", ["executions", "--sandbox", "--limit", "-1"], "limit"),
    ("order-bad", ["executions", "--sandbox", "--order", "sideways"], "order"),
    ("format-bad", ["executions", "--sandbox", "--format", "xml"], "format"),
    ("timeout-nan", ["executions", "--sandbox", "--timeout", "nan"], "timeout"),
    ("story-id-zero", ["executions", "--sandbox", "--user-story-id", "0"], "user-story-id"),
    ("no-command", [], "required"),
    ("no-token", ["executions"], "token"),
    ("token-with-space", ["executions", "--token", f"{SECRET} x"], "whitespace"),
    ("token-with-newline", ["executions", "--token", f"{SECRET}\nx"], "whitespace"),
    ("token-with-control", ["executions", "--token", f"{SECRET}\x07"], "control"),
    ("http-remote", ["executions", "--token", SECRET, "--base-url", "http://example.com"],
     "clear text"),
    ("sandbox-and-base-url", ["executions", "--sandbox", "--base-url", "https://x.io"],
     "sandbox"),
    ("output-in-missing-dir", ["executions", "--sandbox", "-o", "/nonexistent/dir/x.jsonl"],
     "output"),
]


@pytest.mark.parametrize(("argv", "says"), [b[1:] for b in BAD_USAGE],
                         ids=[b[0] for b in BAD_USAGE])
def test_cli_bad_usage_is_one_clear_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, err = _cli(argv, capsys, monkeypatch)
    assert status == 2, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert says in errors[0], errors[0]
    assert "Traceback" not in err
    assert SECRET not in err


def test_cli_unwritable_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "read-only"
    target.mkdir()
    target.chmod(0o500)
    if os.access(target, os.W_OK):  # running as root: permissions do not stop us
        pytest.skip("the directory stays writable for this user")
    try:
        status, err = _cli(["executions", "--sandbox", "-o", str(target / "x.jsonl")],
                           capsys, monkeypatch)
    finally:
        target.chmod(0o700)
    assert status == 2 and "Traceback" not in err
    assert [line for line in err.splitlines() if "error:" in line]


def test_cli_output_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    status, err = _cli(["executions", "--sandbox", "-o", str(tmp_path)], capsys, monkeypatch)
    assert status == 2 and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert "output" in line


def test_cli_console_script_bad_token(tmp_path: Path) -> None:
    """The installed ``testio-async`` script, as a user runs it."""
    script = Path(sys.executable).with_name("testio-async")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "testio_async.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESTIO_")}
    env["TESTIO_API_TOKEN"] = f"{SECRET} with space"
    result = subprocess.run([*command, "executions", "-o", str(tmp_path / "x.jsonl")],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "error:" in line]
    assert "token" in line
