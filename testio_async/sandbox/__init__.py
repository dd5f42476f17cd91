"""A faithful fake of the Test IO Customer API v2 ``GET /user_story_version_executions``.

Run it in tests (``async with SandboxServer(records=500) as sandbox``), through
the pytest fixtures of :mod:`testio_async.sandbox.pytest_plugin`, embedded via
:func:`create_app`, or as a process: ``python -m testio_async.sandbox --port 0``.
"""

from __future__ import annotations

from ._app import API_PREFIX, ENDPOINT_PATH, REQUEST_LOG_SIZE, Sandbox, create_app, sandbox_of
from ._cli import add_config_arguments, config_from_namespace
from ._config import (
    DEFAULT_TOKEN,
    OverflowPolicy,
    RetryAfterFormat,
    SandboxConfig,
    SandboxKnobs,
    TruncateMode,
)
from ._data import RecordFactory
from ._faults import ResetPoint
from ._selection import user_story_of, version_of
from ._server import SandboxServer, serve
from ._stats import RequestInfo, SandboxStats

__all__ = [
    "API_PREFIX",
    "DEFAULT_TOKEN",
    "ENDPOINT_PATH",
    "REQUEST_LOG_SIZE",
    "OverflowPolicy",
    "RecordFactory",
    "RequestInfo",
    "ResetPoint",
    "RetryAfterFormat",
    "Sandbox",
    "SandboxConfig",
    "SandboxKnobs",
    "SandboxServer",
    "SandboxStats",
    "TruncateMode",
    "add_config_arguments",
    "config_from_namespace",
    "create_app",
    "sandbox_of",
    "serve",
    "user_story_of",
    "version_of",
]
