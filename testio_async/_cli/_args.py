"""The argument parser of ``testio-async`` and the checks of its values."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .._client import BASE_URL_ENV, DEFAULT_BASE_URL, TOKEN_ENV
from .._version import __version__
from ..sandbox import add_config_arguments
from ._writers import CSV_COLUMNS, FORMATS

__all__ = ["PROG", "build_parser"]

PROG = "testio-async"

_DESCRIPTION = "Export Test IO user story version executions (Customer API v2)."

_EXECUTIONS_EPILOG = f"""\
authentication:
  the token comes from --token, else ${TOKEN_ENV} (preferred: a flag shows in `ps`);
  the base URL from --base-url, else ${BASE_URL_ENV}, else {DEFAULT_BASE_URL}.
  --sandbox needs neither: it serves made-up data from this process.

formats:
  jsonl  one execution per line, in the API's JSON shape (default)
  json   one JSON array of executions in the API's shape, written as it streams
  csv    a header row, then one flat row per execution, with the columns
         {", ".join(CSV_COLUMNS[:5])},
         {", ".join(CSV_COLUMNS[5:9])},
         {", ".join(CSV_COLUMNS[9:])}.
         device_reports reads "Desktop / Apple / macOS 14.0 / MacBook Pro [Chrome, Safari]",
         several joined with "; "; browsers lists distinct browser names joined with ", ".

  parquet  one row group per page (needs: pip install 'testio-async[parquet]' and
         --output); columns id int64, status, comment, executed_by strings,
         executed_at timestamp[ms, tz=UTC], test_cycle_id int64, test_cycle_title,
         test_environment_id int64, test_environment_title, device_reports
         list<struct<id, category, vendor, operating_system, operating_system_version,
         device, browsers list<string>>>.

  Pages are written whole and flushed one at a time, so an interrupted or failed export
  leaves whole records only (a JSON array is closed and stays valid).

resume and incremental sync:
  --state FILE     after each page is written and fsync'd, FILE gets the page's checkpoint
                   and the output's size. Rerun the same command to resume: the output is
                   cut back to that size and only the rest is appended (exactly once). A
                   finished state exits 0 at once. The flags must match the state's
                   (else exit 2); delete FILE to start over. Not with --format json or
                   parquet (they cannot be appended to), --limit or stdout.
  --since-state FILE  the first run exports everything and saves the highest id; each
                   later run exports only executions above it, newest first (whatever
                   --order says), replacing --output, then raises the watermark. An
                   interrupted or failed run leaves the watermark as it was.

exit status:
  0 done, 1 API error, 2 bad usage, 130 interrupted (Ctrl-C), 141 output pipe closed

examples:
  {PROG} executions --sandbox --limit 5
  {PROG} executions --user-story-id 12 --user-story-id 13 --order desc -o runs.jsonl
  {PROG} executions --format csv --output executions.csv
  {PROG} executions --output runs.jsonl --state runs.state.json   # rerun to resume
  {PROG} executions --output new.jsonl --since-state sync.json     # only new ones
"""


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _add_query_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("query")
    group.add_argument("--user-story-id", dest="user_story_ids", type=_int_at_least(1),
                       action="append", metavar="ID",
                       help="only executions of this user story; repeat for several")
    group.add_argument("--user-story-version-id", dest="user_story_version_ids",
                       type=_int_at_least(1), action="append", metavar="ID",
                       help="only executions of this user story version; repeat for several")
    group.add_argument("--order", choices=("asc", "desc"), default="asc",
                       help="by creation time, oldest first (asc) or newest first (default: asc)")
    group.add_argument("--limit", type=_int_at_least(0), metavar="N",
                       help="stop after N records (default: all)")
    group.add_argument("--per-page", type=_int_at_least(1), default=100, metavar="N",
                       help="records per request (default: %(default)s)")


def _add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--token", help=f"API token (default: ${TOKEN_ENV})")
    group.add_argument("--base-url", metavar="URL",
                       help=f"API base URL (default: ${BASE_URL_ENV}, else {DEFAULT_BASE_URL})")
    group.add_argument("--allow-insecure-http", action="store_true",
                       help="allow a plain http base URL on a host other than loopback")
    group.add_argument("--concurrency", type=_int_at_least(1), default=8, metavar="N",
                       help="requests in flight at most (default: %(default)s)")
    group.add_argument("--max-retries", type=_int_at_least(0), default=5, metavar="N",
                       help="retries of a failed request (default: %(default)s)")
    group.add_argument("--timeout", type=_positive_float, default=30.0, metavar="SECONDS",
                       help="seconds per request attempt (default: %(default)s)")
    sandbox = parser.add_argument_group("sandbox")
    sandbox.add_argument("--sandbox", action="store_true",
                         help="export from a fake API served in this process (no token needed)")
    sandbox.add_argument("--sandbox-records", type=_int_at_least(0), default=1000, metavar="N",
                         help="records of the --sandbox data set (default: %(default)s)")
    sandbox.add_argument("--sandbox-seed", type=int, default=0, metavar="SEED",
                         help="seed of the --sandbox data set (default: %(default)s)")


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--format", choices=FORMATS, default="jsonl",
                       help="output format (default: %(default)s)")
    group.add_argument("-o", "--output", metavar="FILE",
                       help="write to FILE, replacing it (appending to it when --state"
                       " resumes) (default: stdout)")
    group.add_argument("--state", metavar="FILE",
                       help="resumable export: save a checkpoint to FILE after each page;"
                       " run the same command again to append only what is missing"
                       " (needs --output; jsonl or csv)")
    group.add_argument("--since-state", metavar="FILE",
                       help="incremental sync: keep the highest exported id in FILE; later"
                       " runs export only newer executions, newest first")
    group.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar on stderr (default: when stderr is a terminal)")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="no summary line and no retry warnings on stderr")


def _add_executions(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "executions",
        help="export user story version executions",
        description="Export every user story version execution matching the filters.",
        epilog=_EXECUTIONS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_query_arguments(parser)
    _add_connection_arguments(parser)
    _add_output_arguments(parser)


def _add_sandbox(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="serve a fake API in the foreground",
        description="Serve a fake GET /user_story_version_executions until Ctrl-C. The URL"
        " and token are printed to stderr.",
        epilog=f"example:\n  {PROG} sandbox --port 8080 --records 100000 --latency 0.05\n"
        f"  {TOKEN_ENV}=sandbox-token {PROG} executions --base-url"
        " http://127.0.0.1:8080/customer/v2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind"
                        " (default: %(default)s)")
    parser.add_argument("--port", type=_int_at_least(0), default=8080,
                        help="port to bind, 0 = any free port (default: %(default)s)")
    add_config_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``testio-async`` with its subcommands."""
    parser = argparse.ArgumentParser(prog=PROG, description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_executions(subparsers)
    _add_sandbox(subparsers)
    return parser
