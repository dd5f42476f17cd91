"""Running the ``testio-async`` console script as a child process, for the CLI tests.

The child runs through ``asyncio`` subprocesses so that a sandbox served by the test's
own event loop keeps answering while the test waits for it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping

import attrs

from testio_async.sandbox import SandboxServer

__all__ = ["DEADLINE", "Result", "against", "child_env", "run_cli", "spawn"]

# Generous: only a hung child would need it, a passing test never waits for it.
DEADLINE = 60.0


@attrs.frozen
class Result:
    """A finished child: exit status and both streams."""

    returncode: int
    stdout: bytes
    stderr: str


def child_env(**extra: str) -> dict[str, str]:
    """This environment without any Test IO settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESTIO_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


async def spawn(
    *args: str, env: Mapping[str, str] | None = None
) -> asyncio.subprocess.Process:
    """Start ``python -m testio_async.cli ARGS`` with piped stdout and stderr."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "testio_async.cli", *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env if env is not None else child_env()),
    )  # fmt: skip


async def run_cli(*args: str, env: Mapping[str, str] | None = None) -> Result:
    """Run the CLI to completion."""
    process = await spawn(*args, env=env)
    stdout, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
    assert process.returncode is not None
    return Result(process.returncode, stdout, stderr.decode())


def against(sandbox: SandboxServer, *args: str, token: str | None = None) -> list[str]:
    """``executions`` arguments pointing at ``sandbox``."""
    return ["executions", "--base-url", sandbox.url, "--token", token or sandbox.token, *args]
