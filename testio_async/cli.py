"""The ``testio-async`` command line.

``testio-async executions`` streams user story version executions to stdout or a file
as JSON Lines (default), one JSON array, or flat CSV; ``testio-async sandbox`` serves a
fake API to try it against. ``testio-async executions --help`` documents every flag,
the CSV columns and the exit statuses:

- 0 done, 1 API error (the SDK's message, never the token), 2 bad usage,
- 130 interrupted by Ctrl-C (143 by SIGTERM), 141 the output pipe was closed.

CSV columns: id, status, comment, executed_by, executed_at, test_cycle_id,
test_cycle_title, test_environment_id, test_environment_title, device_reports
(``"Desktop / Apple / macOS 14.0 / MacBook Pro [Chrome, Safari]; ..."``),
device_report_count, browsers (distinct names joined with ``", "``).

Call :func:`main` with a list of arguments to run it in-process; ``python -m
testio_async.cli`` runs it too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from ._cli._args import PROG, build_parser
from ._cli._export import UsageError, run_executions
from ._cli._serve import run_sandbox

__all__ = ["main"]

_EXIT_INTERRUPTED = 130


def _run(argv: list[str] | None, environ: Mapping[str, str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "sandbox":
            return run_sandbox(args)
        return run_executions(args, environ)
    except UsageError as exc:
        parser.error(str(exc))  # exits with status 2


def main(argv: list[str] | None = None) -> int:
    """Run ``testio-async`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    try:
        return _run(argv, os.environ)
    except SystemExit as exc:  # argparse: --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:  # Ctrl-C outside the export's own handling
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
