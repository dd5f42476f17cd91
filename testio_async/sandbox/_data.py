"""Deterministic, index-addressed generator of user story version execution records.

Every field of record ``i`` is a pure function of ``(seed, i)``: nothing is
materialised up front, so a sandbox of any size starts instantly.  Lookup
tables are encoded once at import; per-record work is a few integer mixes
and one bytes formatting operation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Final

import orjson

__all__ = ["BASE_EPOCH", "SECONDS_PER_RECORD", "RecordFactory"]

#: ``executed_at`` of record 0 before jitter: 2024-01-01T00:00:00Z.
BASE_EPOCH: Final = 1_704_067_200
#: Record ``i`` is executed in ``[BASE_EPOCH + i*37, BASE_EPOCH + (i+1)*37)`` seconds.
SECONDS_PER_RECORD: Final = 37

_MASK64: Final = (1 << 64) - 1
_RECORDS_PER_CYCLE_BLOCK: Final = 1500
_OFFSET_SECONDS: Final = 2 * 3600


def _mix64(value: int) -> int:
    """SplitMix64 finaliser: a cheap, well-spread hash of a 64-bit integer."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _weighted(pairs: list[tuple[Any, int]]) -> tuple[Any, ...]:
    """Expand ``(value, weight)`` pairs into a table indexed by a uniform draw."""
    return tuple(value for value, weight in pairs for _ in range(weight))


# Weights sum to 128 so that ``h & 127`` picks uniformly from the table.
_STATUSES: Final[tuple[str, ...]] = _weighted(
    [("passed", 88), ("failed", 16), ("blocked", 7), ("pending", 10), ("cancelled", 7)]
)
_REPORT_COUNTS: Final[tuple[int, ...]] = _weighted([(0, 2), (1, 9), (2, 4), (3, 1)])

_COMMENTS: Final[dict[str, tuple[str, ...]]] = {
    "passed": (
        "Verified all steps on checkout flow.",
        "All acceptance criteria met, no issues found.",
        "Works as described; tested with a new and an existing account.",
        "Steps 1-5 completed successfully.",
        "Login, search and add to cart behave as expected.",
        "Checked in portrait and landscape, everything fine.",
        "Feature works, confirmation e-mail received within a minute.",
        "Passed on first try, page loads quickly.",
    ),
    "failed": (
        "Add to cart button does not respond on mobile.",
        "Payment form shows a 500 error after submitting.",
        "Confirmation e-mail never arrived.",
        "Search returns no results for existing products.",
        "Layout breaks below 375px width, button hidden.",
        "Password reset link leads to a 404 page.",
    ),
    "blocked": (
        "Test environment was down during the whole session.",
        "Could not log in with the provided credentials.",
        "Staging build not reachable over VPN.",
        "Required test data (voucher code) was missing.",
    ),
}

_FIRST_NAMES: Final = (
    "anna", "ben", "carla", "dmitri", "elif", "felix", "gabriela", "hiro",
    "ines", "jonas", "kemal", "lena", "marco", "nadia", "oskar", "priya",
)  # fmt: skip
_LAST_NAMES: Final = ("schmidt", "rossi", "novak", "kowalski", "garcia", "tanaka", "silva", "berg")
_TESTERS: Final[tuple[str, ...]] = tuple(f"{f}.{s}" for f in _FIRST_NAMES for s in _LAST_NAMES)

_CATEGORIES: Final = {
    "desktop": {"id": 1, "key": "desktop", "name": "Desktop"},
    "smartphone": {"id": 2, "key": "smartphone", "name": "Smartphone"},
    "tablet": {"id": 3, "key": "tablet", "name": "Tablet"},
}
_BROWSERS: Final = {
    name: {"id": n, "name": name}
    for n, name in enumerate(("Chrome", "Firefox", "Safari", "Edge", "Samsung Internet"), 1)
}
_OPERATING_SYSTEMS: Final = {
    "macos": {"id": 1, "key": "macos", "name": "macOS"},
    "windows": {"id": 2, "key": "windows", "name": "Windows"},
    "linux": {"id": 3, "key": "linux", "name": "Linux"},
    "ios": {"id": 4, "key": "ios", "name": "iOS"},
    "android": {"id": 5, "key": "android", "name": "Android"},
    "ipados": {"id": 6, "key": "ipados", "name": "iPadOS"},
}

# (category, vendor, os key, os version, device, browser choices); an empty
# tuple among the choices stands for a native app tested without a browser.
_DEVICE_PROFILES: Final[tuple[tuple[str, str, str, str, str, tuple[tuple[str, ...], ...]], ...]] = (
    ("desktop", "Apple", "macos", "14.0", "MacBook Pro", (("Chrome",), ("Safari",), ("Firefox",))),
    ("desktop", "Apple", "macos", "13.6", "iMac", (("Safari",), ("Chrome", "Safari"))),
    ("desktop", "Dell", "windows", "11", "XPS 13", (("Chrome",), ("Edge",), ("Chrome", "Edge"))),
    ("desktop", "Lenovo", "windows", "10", "ThinkPad X1 Carbon", (("Firefox",), ("Chrome",))),
    ("desktop", "HP", "linux", "Ubuntu 22.04", "EliteBook 840", (("Firefox",), ("Chrome",))),
    ("smartphone", "Apple", "ios", "17.2", "iPhone 15", (("Safari",), ())),
    ("smartphone", "Apple", "ios", "16.7", "iPhone 12 mini", (("Safari",), ("Chrome",))),
    ("smartphone", "Samsung", "android", "14", "Galaxy S23",
     (("Chrome",), ("Samsung Internet",), ())),
    ("smartphone", "Google", "android", "14", "Pixel 8", (("Chrome",), ())),
    ("smartphone", "Xiaomi", "android", "13", "Redmi Note 12", (("Chrome",),)),
    ("tablet", "Apple", "ipados", "17.1", "iPad Air (5th generation)", (("Safari",), ())),
    ("tablet", "Samsung", "android", "13", "Galaxy Tab S9", (("Chrome",), ())),
)  # fmt: skip


def _build_report_templates() -> tuple[dict[str, Any], ...]:
    """Build every device report body (without ``id``) once, sharing sub-objects."""
    vendors: dict[str, dict[str, Any]] = {}
    os_versions: dict[tuple[str, str], dict[str, Any]] = {}
    templates: list[dict[str, Any]] = []
    for device_id, profile in enumerate(_DEVICE_PROFILES, 1):
        category, vendor, os_key, os_version, device, browser_choices = profile
        vendor_obj = vendors.setdefault(vendor, {"id": len(vendors) + 1, "name": vendor})
        version_obj = os_versions.setdefault(
            (os_key, os_version), {"id": len(os_versions) + 1, "name": os_version}
        )
        device_obj = {"id": device_id, "name": device}
        for browsers in browser_choices:
            templates.append(
                {
                    "category": _CATEGORIES[category],
                    "vendor": vendor_obj,
                    "operating_system": _OPERATING_SYSTEMS[os_key],
                    "operating_system_version": version_obj,
                    "device": device_obj,
                    "browsers": [_BROWSERS[name] for name in browsers],
                }
            )
    return tuple(templates)


_REPORT_TEMPLATES: Final = _build_report_templates()

_CYCLE_KINDS: Final = (
    "Regression Test",
    "Exploratory Test",
    "Release Candidate Check",
    "Smoke Test",
    "Focused Test",
)
_ENVIRONMENTS: Final = tuple(
    {"id": n, "title": title}
    for n, title in enumerate(("Staging", "Production", "QA", "UAT", "Beta"), 1)
)
_EPOCH_DATE: Final = dt.date(1970, 1, 1)


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


# Everything below is pre-encoded JSON, so a record is assembled from byte
# fragments: several times faster than building dicts and serialising them.
_STATUS_JSON: Final = tuple(_json(status) for status in _STATUSES)
_COMMENT_JSON: Final = {status: tuple(map(_json, texts)) for status, texts in _COMMENTS.items()}
_TESTER_JSON: Final = tuple(map(_json, _TESTERS))
# A template without its opening brace, to follow ``{"id":N,``.
_REPORT_TAILS: Final = tuple(_json(template)[1:] for template in _REPORT_TEMPLATES)
_ONE_REPORT: Final = b'{"id":%d,%s'
_TWO_REPORTS: Final = b'{"id":%d,%s,{"id":%d,%s'
_THREE_REPORTS: Final = b'{"id":%d,%s,{"id":%d,%s,{"id":%d,%s'
_RECORD_FORMAT: Final = (
    b'{"id":%d,"status":%s,"comment":%s,"executed_by":%s,'
    b'"device_reports":[%s],"test_cycle":%s,"executed_at":"%sT%02d:%02d:%02d.000%s"}'
)


@lru_cache(maxsize=4096)
def _date_bytes(days: int) -> bytes:
    return (_EPOCH_DATE + dt.timedelta(days=days)).isoformat().encode()


@lru_cache(maxsize=1024)
def _test_cycle_json(salt: int, cycle: int) -> bytes:
    """Return the encoded test cycle object shared by the records of one cycle."""
    h = _mix64(salt ^ (cycle * 0x632BE59BD9B4E019))
    block_start = BASE_EPOCH + (cycle // 2) * _RECORDS_PER_CYCLE_BLOCK * SECONDS_PER_RECORD
    month = dt.datetime.fromtimestamp(block_start, dt.UTC).strftime("%B %Y")
    return _json(
        {
            "id": cycle + 1,
            "title": f"{_CYCLE_KINDS[h % len(_CYCLE_KINDS)]} – {month}",
            "test_environment": _ENVIRONMENTS[(h >> 16) % len(_ENVIRONMENTS)],
        }
    )


class RecordFactory:
    """Encode or build the record at any 0-based index, deterministically from ``seed``."""

    __slots__ = ("_salt", "seed")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._salt = _mix64(seed & _MASK64)

    def executed_at_epoch(self, index: int) -> int:
        """Return the execution time of record ``index`` in Unix seconds."""
        jitter = (_mix64(self._salt + index) >> 20) % SECONDS_PER_RECORD
        return BASE_EPOCH + index * SECONDS_PER_RECORD + jitter

    def build(self, index: int) -> dict[str, Any]:
        """Return record ``index`` (``id == index + 1``) decoded, in the API's field order."""
        record: dict[str, Any] = orjson.loads(self.encode(index))
        return record

    def encode_many(self, indices: Iterable[int]) -> bytes:
        """Return the JSON array of the records at ``indices``, in that order."""
        return b"[" + b",".join(map(self.encode, indices)) + b"]"

    def encode(self, index: int) -> bytes:
        """Return record ``index`` as compact JSON."""
        h = _mix64(self._salt + index)
        draw = h & 127
        comments = _COMMENT_JSON.get(_STATUSES[draw])
        comment = comments[(h >> 7) % len(comments)] if comments else b"null"
        if _STATUSES[draw] == "pending" and (h >> 14) & 1:
            executed_by = b"null"
        else:
            executed_by = _TESTER_JSON[(h >> 40) % len(_TESTER_JSON)]
        epoch = BASE_EPOCH + index * SECONDS_PER_RECORD + (h >> 20) % SECONDS_PER_RECORD
        plus_two = (h >> 30) & 3 == 0
        if plus_two:
            epoch += _OFFSET_SECONDS
        days, seconds = divmod(epoch, 86400)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        # Two cycles run side by side per block, as customers often overlap tests.
        cycle = (index // _RECORDS_PER_CYCLE_BLOCK) * 2 + (h >> 33) % 2
        return _RECORD_FORMAT % (
            index + 1,
            _STATUS_JSON[draw],
            comment,
            executed_by,
            self._device_reports(index, (h >> 15) & 15),
            _test_cycle_json(self._salt, cycle),
            _date_bytes(days),
            hours,
            minutes,
            seconds,
            b"+02:00" if plus_two else b"Z",
        )

    def _device_reports(self, index: int, draw: int) -> bytes:
        count = _REPORT_COUNTS[draw]
        if not count:
            return b""
        h = _mix64(self._salt ^ (index + 0x1234567))
        tails, n_tails = _REPORT_TAILS, len(_REPORT_TAILS)
        # Ids are unique across records because no record has more than 3 reports.
        first_id = index * 3 + 1
        # Unrolled: a generator and join cost more than the rest of the record.
        if count == 1:
            return _ONE_REPORT % (first_id, tails[h % n_tails])
        if count == 2:
            return _TWO_REPORTS % (
                first_id,
                tails[h % n_tails],
                first_id + 1,
                tails[(h >> 16) % n_tails],
            )
        return _THREE_REPORTS % (
            first_id,
            tails[h % n_tails],
            first_id + 1,
            tails[(h >> 16) % n_tails],
            first_id + 2,
            tails[(h >> 32) % n_tails],
        )
