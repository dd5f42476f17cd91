"""Start ``python -m testio_async.sandbox`` in its own process and stop it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

__all__ = ["SandboxProcess", "sandbox_process"]

_READY_TIMEOUT = 30.0


class SandboxProcess:
    """A running sandbox process: its URL, token and pid."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, token: str) -> None:
        self.process = process
        self.url = url
        self.token = token

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (Linux /proc)."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            return float("nan")
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


def _flags(knobs: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for name, value in knobs.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + name.replace("_", "-"))
        else:
            args += [flag, "none" if value is None else str(value)]
    return args


@contextmanager
def sandbox_process(**knobs: Any) -> Iterator[SandboxProcess]:
    """Run a sandbox with ``knobs`` (SandboxConfig fields) until the block ends."""
    command = [sys.executable, "-m", "testio_async.sandbox", "--port", "0", "--json",
               *_flags(knobs)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + _READY_TIMEOUT
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the sandbox did not start: {stderr.strip()[-2000:]}")
        ready = orjson.loads(line)
        yield SandboxProcess(process, str(ready["url"]), str(ready["token"]))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
