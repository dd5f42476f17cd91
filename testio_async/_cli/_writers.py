"""Record writers: each takes whole pages and writes them as one chunk.

A page is encoded into bytes first and written with a single ``write`` followed by a
flush, so an interrupted export leaves only whole records behind.

CSV columns (one row per execution; empty cell for a missing value):

- ``id``, ``status``, ``comment``, ``executed_by``
- ``executed_at``: ISO 8601 as the API sends it (``2024-01-01T00:00:34.000Z``)
- ``test_cycle_id``, ``test_cycle_title``, ``test_environment_id``, ``test_environment_title``
- ``device_reports``: one entry per report, joined with ``"; "``, each
  ``category / vendor / OS version / device [browser, ...]``, e.g.
  ``Desktop / Apple / macOS 14.0 / MacBook Pro [Chrome, Safari]``
- ``device_report_count``: number of device reports
- ``browsers``: distinct browser names over all reports, first seen first, joined with ``", "``

Parquet (``--format parquet``, needs the ``parquet`` extra: pyarrow) keeps the nesting,
one row group per page, with :func:`parquet_schema` as its schema:

- ``id`` int64, ``status`` string, ``comment`` string (null when missing),
  ``executed_by`` string, ``executed_at`` timestamp[ms, tz=UTC]
- ``test_cycle_id`` int64, ``test_cycle_title`` string, ``test_environment_id`` int64,
  ``test_environment_title`` string (all nullable)
- ``device_reports`` list<struct<id int64, category string, vendor string,
  operating_system string, operating_system_version string, device string,
  browsers list<string>>>: the names of each report's parts
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO, Final, Literal, Protocol

import orjson

from .._convert import format_datetime, unstructure_execution
from .._models import DeviceReport, Execution

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "PARQUET_INSTALL_HINT",
    "CsvWriter",
    "Format",
    "JsonWriter",
    "JsonlWriter",
    "ParquetWriter",
    "RecordWriter",
    "csv_row",
    "device_report_text",
    "make_writer",
    "parquet_schema",
]

Format = Literal["jsonl", "json", "csv", "parquet"]
FORMATS: Final[tuple[Format, ...]] = ("jsonl", "json", "csv", "parquet")

#: What to run when ``--format parquet`` finds no pyarrow.
PARQUET_INSTALL_HINT: Final = "pip install 'testio-async[parquet]'"

CSV_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "status",
    "comment",
    "executed_by",
    "executed_at",
    "test_cycle_id",
    "test_cycle_title",
    "test_environment_id",
    "test_environment_title",
    "device_reports",
    "device_report_count",
    "browsers",
)


class RecordWriter(Protocol):
    """Writes a header once, then pages of records, then a footer."""

    def start(self) -> None:
        """Write what comes before the first record."""

    def write_page(self, records: Sequence[Execution]) -> None:
        """Write every record of one page and flush."""

    def finish(self) -> None:
        """Write what comes after the last record and flush; the output is then complete."""


class _ChunkWriter:
    """Shared plumbing: one ``write`` and one flush per chunk."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def _emit(self, chunk: bytes) -> None:
        if chunk:
            self._out.write(chunk)
        self._out.flush()


class JsonlWriter(_ChunkWriter):
    """One JSON object per line, in the API's shape."""

    def start(self) -> None:
        """JSON Lines has no header."""

    def write_page(self, records: Sequence[Execution]) -> None:
        """Write one line per record."""
        dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        self._emit(b"".join([dumps(unstructure_execution(r), option=option) for r in records]))

    def finish(self) -> None:
        """JSON Lines has no footer."""
        self._emit(b"")


class JsonWriter(_ChunkWriter):
    """A single JSON array, written incrementally: one object per line between brackets."""

    def __init__(self, out: BinaryIO) -> None:
        super().__init__(out)
        self._first = True

    def start(self) -> None:
        """Open the array."""
        self._emit(b"[")

    def write_page(self, records: Sequence[Execution]) -> None:
        """Append the page's records to the array."""
        if not records:
            return
        parts = []
        for record in records:
            parts.append(b"\n" if self._first else b",\n")
            parts.append(orjson.dumps(unstructure_execution(record)))
            self._first = False
        self._emit(b"".join(parts))

    def finish(self) -> None:
        """Close the array, so even a partial export is valid JSON."""
        self._emit(b"\n]\n")


class CsvWriter(_ChunkWriter):
    """Flat rows with :data:`CSV_COLUMNS`, UTF-8, RFC 4180 quoting and ``\\r\\n`` line ends."""

    def start(self) -> None:
        """Write the header row."""
        self._emit(self._encode([CSV_COLUMNS]))

    def write_page(self, records: Sequence[Execution]) -> None:
        """Write one row per record."""
        self._emit(self._encode([csv_row(r) for r in records]))

    def finish(self) -> None:
        """CSV has no footer."""
        self._emit(b"")

    @staticmethod
    def _encode(rows: Iterable[Sequence[object]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        return buffer.getvalue().encode()


def _os_text(report: DeviceReport) -> str | None:
    os_name = report.operating_system.name if report.operating_system else None
    version = report.operating_system_version.name if report.operating_system_version else None
    if os_name and version:
        # Some versions carry the OS name already ("Ubuntu 22.04" does not, "macOS 14" would).
        return version if version.startswith(os_name) else f"{os_name} {version}"
    return os_name or version


def device_report_text(report: DeviceReport) -> str:
    """``category / vendor / OS version / device [browsers]``, leaving out missing parts."""
    parts = [
        report.category.name if report.category else None,
        report.vendor.name if report.vendor else None,
        _os_text(report),
        report.device.name if report.device else None,
    ]
    text = " / ".join(part for part in parts if part)
    browsers = ", ".join(b.name for b in report.browsers if b.name)
    if browsers:
        text = f"{text} [{browsers}]" if text else f"[{browsers}]"
    return text or f"device report {report.id}"


def _distinct_browsers(reports: Iterable[DeviceReport]) -> str:
    names = dict.fromkeys(b.name for r in reports for b in r.browsers if b.name)
    return ", ".join(names)


def csv_row(record: Execution) -> tuple[object, ...]:
    """One execution as the values of :data:`CSV_COLUMNS` (``None`` becomes an empty cell)."""
    cycle = record.test_cycle
    environment = cycle.test_environment if cycle else None
    return (
        record.id,
        str(record.status),
        record.comment,
        record.executed_by,
        format_datetime(record.executed_at),
        cycle.id if cycle else None,
        cycle.title if cycle else None,
        environment.id if environment else None,
        environment.title if environment else None,
        "; ".join(device_report_text(r) for r in record.device_reports),
        len(record.device_reports),
        _distinct_browsers(record.device_reports),
    )


def _name(part: Any) -> str | None:
    return None if part is None else part.name


def _device_report_row(report: DeviceReport) -> dict[str, Any]:
    return {
        "id": report.id,
        "category": _name(report.category),
        "vendor": _name(report.vendor),
        "operating_system": _name(report.operating_system),
        "operating_system_version": _name(report.operating_system_version),
        "device": _name(report.device),
        "browsers": [b.name for b in report.browsers if b.name is not None],
    }


def parquet_schema() -> Any:
    """The ``pyarrow.Schema`` of ``--format parquet`` (imports pyarrow)."""
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    string, int64 = pa.string(), pa.int64()
    report = pa.struct([
        ("id", int64), ("category", string), ("vendor", string),
        ("operating_system", string), ("operating_system_version", string),
        ("device", string), ("browsers", pa.list_(string)),
    ])  # fmt: skip
    return pa.schema([
        pa.field("id", int64, nullable=False),
        pa.field("status", string, nullable=False),
        ("comment", string),
        ("executed_by", string),
        pa.field("executed_at", pa.timestamp("ms", tz="UTC"), nullable=False),
        ("test_cycle_id", int64),
        ("test_cycle_title", string),
        ("test_environment_id", int64),
        ("test_environment_title", string),
        ("device_reports", pa.list_(report)),
    ])  # fmt: skip


class ParquetWriter:
    """Parquet through ``pyarrow.parquet.ParquetWriter``: one row group per page.

    :meth:`finish` writes the footer, so an interrupted export still leaves a readable file.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._schema: Any = None
        self._writer: Any = None
        self._pa: Any = None

    def start(self) -> None:
        """Open the Parquet writer on the output (writes the magic bytes)."""
        import pyarrow as pa
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

        self._pa = pa
        self._schema = parquet_schema()
        self._writer = pq.ParquetWriter(self._out, self._schema)

    def write_page(self, records: Sequence[Execution]) -> None:
        """Write the page as one row group and flush."""
        if not records:
            return
        columns: dict[str, list[Any]] = {name: [] for name in self._schema.names}
        for record in records:
            cycle = record.test_cycle
            environment = cycle.test_environment if cycle else None
            columns["id"].append(record.id)
            columns["status"].append(str(record.status))
            columns["comment"].append(record.comment)
            columns["executed_by"].append(record.executed_by)
            columns["executed_at"].append(record.executed_at)
            columns["test_cycle_id"].append(cycle.id if cycle else None)
            columns["test_cycle_title"].append(cycle.title if cycle else None)
            columns["test_environment_id"].append(environment.id if environment else None)
            columns["test_environment_title"].append(environment.title if environment else None)
            columns["device_reports"].append(
                [_device_report_row(r) for r in record.device_reports]
            )
        table = self._pa.Table.from_pydict(columns, schema=self._schema)
        self._writer.write_table(table)
        self._out.flush()

    def finish(self) -> None:
        """Write the footer; the file is then a complete Parquet file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._out.flush()


def make_writer(fmt: Format, out: BinaryIO) -> RecordWriter:
    """The writer of ``fmt`` onto ``out``."""
    writers: dict[Format, type[JsonlWriter | JsonWriter | CsvWriter | ParquetWriter]] = {
        "jsonl": JsonlWriter,
        "json": JsonWriter,
        "csv": CsvWriter,
        "parquet": ParquetWriter,
    }
    return writers[fmt](out)
