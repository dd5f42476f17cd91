"""The cattrs converter: the reference page's JSON into the models and back."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testio_async import (
    Browser,
    Device,
    DeviceCategory,
    DeviceReport,
    Execution,
    ExecutionStatus,
    OperatingSystem,
    OperatingSystemVersion,
    Page,
    ResponseValidationError,
    TestCycle,
    TestEnvironment,
    Vendor,
    converter,
)
from testio_async._convert import (
    format_datetime,
    parse_datetime,
    structure_execution,
    structure_executions,
    structure_response,
    unstructure_execution,
)

# The reference page's example response, verbatim.
EXAMPLE: dict[str, Any] = {
    "meta": {"record_count": 42},
    "user_story_version_executions": [
        {
            "id": 101,
            "status": "passed",
            "comment": "Verified all steps on checkout flow.",
            "executed_by": "tester.screenname",
            "device_reports": [
                {
                    "id": 1,
                    "category": {"id": 1, "key": "desktop", "name": "Desktop"},
                    "vendor": {"id": 1, "name": "Apple"},
                    "operating_system": {"id": 1, "key": "macos", "name": "macOS"},
                    "operating_system_version": {"id": 1, "name": "14.0"},
                    "device": {"id": 1, "name": "MacBook Pro"},
                    "browsers": [{"id": 1, "name": "Chrome"}],
                }
            ],
            "test_cycle": {
                "id": 5,
                "title": "Regression Test – February 2025",
                "test_environment": {"id": 1, "title": "Staging"},
            },
            "executed_at": "2025-02-05T10:30:00.000Z",
        },
        {
            "id": 102,
            "status": "failed",
            "comment": "Add to cart button does not respond on mobile.",
            "executed_by": "another.tester",
            "device_reports": [],
            "test_cycle": {
                "id": 5,
                "title": "Regression Test – February 2025",
                "test_environment": {"id": 2, "title": "Production"},
            },
            "executed_at": "2025-02-05T11:15:00.000Z",
        },
    ],
}


def example() -> dict[str, Any]:
    return copy.deepcopy(EXAMPLE)


def row(**overrides: Any) -> dict[str, Any]:
    base = copy.deepcopy(EXAMPLE["user_story_version_executions"][0])
    base.update(overrides)
    return base


# --- the reference example ------------------------------------------------------------


def test_example_response_structures() -> None:
    items, record_count = structure_response(example())
    assert record_count == 42
    assert isinstance(items, tuple)
    assert [e.id for e in items] == [101, 102]
    first, second = items
    assert first == Execution(
        id=101,
        status=ExecutionStatus.PASSED,
        comment="Verified all steps on checkout flow.",
        executed_by="tester.screenname",
        device_reports=(
            DeviceReport(
                id=1,
                category=DeviceCategory(id=1, key="desktop", name="Desktop"),
                vendor=Vendor(id=1, name="Apple"),
                operating_system=OperatingSystem(id=1, key="macos", name="macOS"),
                operating_system_version=OperatingSystemVersion(id=1, name="14.0"),
                device=Device(id=1, name="MacBook Pro"),
                browsers=(Browser(id=1, name="Chrome"),),
            ),
        ),
        test_cycle=TestCycle(
            id=5,
            title="Regression Test – February 2025",
            test_environment=TestEnvironment(id=1, title="Staging"),
        ),
        executed_at=datetime(2025, 2, 5, 10, 30, tzinfo=UTC),
    )
    assert second.status is ExecutionStatus.FAILED
    assert second.device_reports == ()
    assert second.test_cycle is not None
    assert second.test_cycle.test_environment == TestEnvironment(id=2, title="Production")
    assert second.executed_at == datetime(2025, 2, 5, 11, 15, tzinfo=UTC)


def test_structured_collections_are_tuples_and_models_frozen() -> None:
    (first, _), _ = structure_response(example())
    assert isinstance(first.device_reports, tuple)
    assert isinstance(first.device_reports[0].browsers, tuple)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        first.id = 5  # type: ignore[misc]
    hash(first)  # frozen and made of tuples: hashable


def test_page_total_pages() -> None:
    items, record_count = structure_response(example())
    page = Page(items=items, record_count=record_count, page=1, per_page=10)
    assert page.total_pages == 5
    assert Page(items=(), record_count=0, page=1, per_page=10).total_pages == 1
    assert Page(items=(), record_count=40, page=1, per_page=10).total_pages == 4


# --- timestamps -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-02-05T10:30:00.000Z", datetime(2025, 2, 5, 10, 30, tzinfo=UTC)),
        (
            "2022-05-09T11:22:55.000+02:00",
            datetime(2022, 5, 9, 11, 22, 55, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2022-05-09T09:22:55.123+00:00", datetime(2022, 5, 9, 9, 22, 55, 123000, tzinfo=UTC)),
        ("2022-05-09T09:22:55Z", datetime(2022, 5, 9, 9, 22, 55, tzinfo=UTC)),
    ],
)
def test_executed_at_is_aware(text: str, expected: datetime) -> None:
    execution = structure_execution(row(executed_at=text))
    assert execution.executed_at.tzinfo is not None
    assert execution.executed_at.utcoffset() == expected.utcoffset()
    assert execution.executed_at == expected


def test_plus_two_hours_is_the_right_instant() -> None:
    execution = structure_execution(row(executed_at="2022-05-09T11:22:55.000+02:00"))
    assert execution.executed_at == datetime(2022, 5, 9, 9, 22, 55, tzinfo=UTC)


def test_timestamp_without_offset_taken_as_utc() -> None:
    assert parse_datetime("2025-02-05T10:30:00.000") == datetime(2025, 2, 5, 10, 30, tzinfo=UTC)


def test_format_datetime_api_style() -> None:
    assert format_datetime(datetime(2025, 2, 5, 10, 30, tzinfo=UTC)) == "2025-02-05T10:30:00.000Z"
    plus2 = datetime(2022, 5, 9, 11, 22, 55, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(plus2) == "2022-05-09T11:22:55.123+02:00"


# --- statuses -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["pending", "passed", "failed", "blocked", "cancelled"])
def test_known_status_is_enum(value: str) -> None:
    execution = structure_execution(row(status=value))
    assert isinstance(execution.status, ExecutionStatus)
    assert execution.status is ExecutionStatus(value)
    assert execution.status == value


@pytest.mark.parametrize("value", ["skipped", "in_review", "PASSED", ""])
def test_unknown_status_kept_as_raw_str(value: str) -> None:
    execution = structure_execution(row(status=value))
    assert not isinstance(execution.status, ExecutionStatus)
    assert type(execution.status) is str
    assert execution.status == value
    assert unstructure_execution(execution)["status"] == value


def test_unknown_status_does_not_break_a_page() -> None:
    body = example()
    body["user_story_version_executions"][1]["status"] = "retested"
    items, _ = structure_response(body)
    assert items[0].status is ExecutionStatus.PASSED
    assert items[1].status == "retested"


# --- lenient where the API may vary ---------------------------------------------------


def test_unknown_fields_ignored_everywhere() -> None:
    body = example()
    body["extra_top"] = {"x": 1}
    body["meta"]["page"] = 3
    first = body["user_story_version_executions"][0]
    first["new_field"] = [1, 2]
    first["device_reports"][0]["screen"] = "4k"
    first["device_reports"][0]["browsers"][0]["version"] = "121"
    first["test_cycle"]["starts_at"] = "2025-02-01T00:00:00Z"
    items, record_count = structure_response(body)
    assert record_count == 42
    assert items == structure_response(example())[0]


def test_null_comment_executed_by_and_empty_device_reports() -> None:
    execution = structure_execution(
        row(status="pending", comment=None, executed_by=None, device_reports=[])
    )
    assert execution.comment is None
    assert execution.executed_by is None
    assert execution.device_reports == ()
    assert execution.status is ExecutionStatus.PENDING


def test_missing_optional_parts_accepted() -> None:
    minimal = {"id": 7, "status": "pending", "executed_at": "2025-02-05T10:30:00.000Z"}
    execution = structure_execution(minimal)
    assert execution == Execution(
        id=7, status=ExecutionStatus.PENDING,
        executed_at=datetime(2025, 2, 5, 10, 30, tzinfo=UTC),
    )
    report = structure_execution(row(device_reports=[{"id": 3, "browsers": []}]))
    assert report.device_reports == (DeviceReport(id=3),)
    null_parts = structure_execution(row(test_cycle=None))
    assert null_parts.test_cycle is None


def test_empty_page_structures() -> None:
    assert structure_response({"meta": {"record_count": 0},
                               "user_story_version_executions": []}) == ((), 0)


# --- round trip -----------------------------------------------------------------------


def test_unstructure_gives_api_shape() -> None:
    items, _ = structure_response(example())
    for execution, original in zip(items, EXAMPLE["user_story_version_executions"],
                                   strict=True):
        for data in (converter.unstructure(execution), unstructure_execution(execution)):
            assert data == original
            assert type(data["status"]) is str
            assert isinstance(data["device_reports"], list)
            assert data["executed_at"].endswith(".000Z")
    data = unstructure_execution(items[0])
    assert isinstance(data["device_reports"][0]["browsers"], list)
    # JSON-ready as it is.
    assert orjson.loads(orjson.dumps(data)) == data


def test_round_trip_offset_timestamp() -> None:
    execution = structure_execution(row(executed_at="2022-05-09T11:22:55.000+02:00"))
    data = unstructure_execution(execution)
    assert data["executed_at"] == "2022-05-09T11:22:55.000+02:00"
    assert structure_execution(data) == execution


def test_round_trip_example() -> None:
    items, _ = structure_response(example())
    again = structure_executions([converter.unstructure(e) for e in items])
    assert again == items


# --- validation errors ----------------------------------------------------------------


def test_bad_nested_value_names_path_and_record_id() -> None:
    body = example()
    body["user_story_version_executions"][1]["device_reports"] = [
        {"id": "one", "browsers": []}
    ]
    with pytest.raises(ResponseValidationError) as info:
        structure_response(body)
    message = info.value.message
    assert "$.user_story_version_executions[1].device_reports[0].id" in message
    assert "102" in message
    assert info.value.record_id == 102


def test_bad_value_in_first_record_named() -> None:
    body = example()
    body["user_story_version_executions"][0]["test_cycle"]["test_environment"]["id"] = None
    with pytest.raises(ResponseValidationError) as info:
        structure_response(body)
    assert "$.user_story_version_executions[0].test_cycle.test_environment.id" in (
        info.value.message
    )
    assert info.value.record_id == 101


def test_bad_browser_path() -> None:
    body = example()
    body["user_story_version_executions"][0]["device_reports"][0]["browsers"].append(
        {"id": 2, "name": 3}
    )
    with pytest.raises(ResponseValidationError) as info:
        structure_response(body)
    assert "$.user_story_version_executions[0].device_reports[0].browsers[1].name" in (
        info.value.message
    )


def test_bad_timestamp_named() -> None:
    body = example()
    body["user_story_version_executions"][1]["executed_at"] = "yesterday"
    with pytest.raises(ResponseValidationError) as info:
        structure_response(body)
    assert "$.user_story_version_executions[1].executed_at" in info.value.message
    assert info.value.record_id == 102


def test_missing_required_field_named() -> None:
    body = example()
    del body["user_story_version_executions"][1]["executed_at"]
    with pytest.raises(ResponseValidationError) as info:
        structure_response(body)
    assert "$.user_story_version_executions[1].executed_at" in info.value.message


def test_record_without_usable_id_has_none_record_id() -> None:
    body = example()
    body["user_story_version_executions"][1]["id"] = "102"
    with pytest.raises(ResponseValidationError) as info:
        structure_response(body)
    assert info.value.record_id is None
    assert "$.user_story_version_executions[1].id" in info.value.message


def test_non_dict_record_rejected() -> None:
    body = example()
    body["user_story_version_executions"].append(5)
    with pytest.raises(ResponseValidationError) as info:
        structure_response(body)
    assert "$.user_story_version_executions[2]" in info.value.message
    assert info.value.record_id is None


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("12", "id"),
        (True, "id"),
        (12.0, "id"),
        (None, "id"),
        (None, "status"),
        (5, "status"),
        (42, "comment"),
        (True, "executed_by"),
        (None, "executed_at"),
        (1738751400, "executed_at"),
        (None, "device_reports"),
        ({"id": 1}, "device_reports"),
        ("5", "test_cycle"),
    ],
)
def test_strict_primitives(value: object, field: str) -> None:
    with pytest.raises(ResponseValidationError) as info:
        structure_execution(row(**{field: value}))
    assert f"$.{field}" in info.value.message


def test_strict_hooks_on_converter() -> None:
    with pytest.raises(Exception, match="expected str"):
        converter.structure(None, str)
    with pytest.raises(Exception, match="expected int"):
        converter.structure("12", int)
    with pytest.raises(Exception, match="expected int"):
        converter.structure(True, int)
    assert converter.structure(12, int) == 12


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        42,
        {"user_story_version_executions": []},
        {"meta": None, "user_story_version_executions": []},
        {"meta": {}, "user_story_version_executions": []},
        {"meta": {"record_count": "2"}, "user_story_version_executions": []},
        {"meta": {"record_count": -1}, "user_story_version_executions": []},
        {"meta": {"record_count": True}, "user_story_version_executions": []},
        {"meta": {"record_count": 2.0}, "user_story_version_executions": []},
        {"meta": {"record_count": 2}},
        {"meta": {"record_count": 2}, "user_story_version_executions": None},
        {"meta": {"record_count": 2}, "user_story_version_executions": {"id": 1}},
    ],
)
def test_structure_response_bad_shapes(body: object) -> None:
    with pytest.raises(ResponseValidationError) as info:
        structure_response(body)
    assert "$" in info.value.message
    assert info.value.record_id is None


def test_structure_response_bad_shape_messages() -> None:
    with pytest.raises(ResponseValidationError, match=r"\$\.meta\.record_count"):
        structure_response({"user_story_version_executions": []})
    with pytest.raises(ResponseValidationError, match=r"\$\.user_story_version_executions"):
        structure_response({"meta": {"record_count": 0}})
    with pytest.raises(ResponseValidationError, match="list"):
        structure_response({"meta": {"record_count": 0}, "user_story_version_executions": 1})


# --- property: round trip over generated executions -----------------------------------

_ids = st.integers(min_value=0, max_value=2**53)
_text = st.text(max_size=20)
_opt_text = st.none() | _text

_offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_timezones = st.just(UTC) | _offsets
_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=_timezones
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
_statuses = st.sampled_from(list(ExecutionStatus)) | st.text(max_size=12).filter(
    lambda s: s not in {status.value for status in ExecutionStatus}
)


def _small(cls: type, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(cls, id=_ids, **fields)


_device_reports = st.builds(
    DeviceReport,
    id=_ids,
    category=st.none() | _small(DeviceCategory, key=_opt_text, name=_opt_text),
    vendor=st.none() | _small(Vendor, name=_opt_text),
    operating_system=st.none() | _small(OperatingSystem, key=_opt_text, name=_opt_text),
    operating_system_version=st.none() | _small(OperatingSystemVersion, name=_opt_text),
    device=st.none() | _small(Device, name=_opt_text),
    browsers=st.lists(_small(Browser, name=_opt_text), max_size=3).map(tuple),
)
_test_cycles = st.builds(
    TestCycle,
    id=_ids,
    title=_opt_text,
    test_environment=st.none() | _small(TestEnvironment, title=_opt_text),
)
executions = st.builds(
    Execution,
    id=_ids,
    status=_statuses,
    comment=_opt_text,
    executed_by=_opt_text,
    device_reports=st.lists(_device_reports, max_size=3).map(tuple),
    test_cycle=st.none() | _test_cycles,
    executed_at=_datetimes,
)


@settings(max_examples=200, deadline=None)
@given(executions)
def test_round_trip_property(execution: Execution) -> None:
    data = converter.unstructure(execution)
    assert data == unstructure_execution(execution)
    # Through real JSON, as the server would send it.
    wire = orjson.loads(orjson.dumps(data))
    assert wire == data
    again = structure_execution(wire)
    assert again == execution
    assert again.executed_at.utcoffset() == execution.executed_at.utcoffset()
    assert type(again.status) is type(execution.status)
    if execution.executed_at.utcoffset() == timedelta(0):
        assert data["executed_at"].endswith("Z")


@settings(max_examples=50, deadline=None)
@given(st.lists(executions, max_size=5), st.integers(min_value=0, max_value=10_000))
def test_round_trip_property_whole_response(
    records: list[Execution], record_count: int
) -> None:
    body = {
        "meta": {"record_count": record_count},
        "user_story_version_executions": [converter.unstructure(e) for e in records],
    }
    items, count = structure_response(orjson.loads(orjson.dumps(body)))
    assert items == tuple(records)
    assert count == record_count
