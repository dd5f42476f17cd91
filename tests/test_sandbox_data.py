"""Unit tests of the sandbox's data generator, index arithmetic, config and CLI flags."""

from __future__ import annotations

import argparse
import datetime as dt
import typing

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testio_async.sandbox import (
    RecordFactory,
    Sandbox,
    SandboxConfig,
    SandboxKnobs,
    add_config_arguments,
    config_from_namespace,
    user_story_of,
    version_of,
)
from testio_async.sandbox._cli import CONFIG_HELP
from testio_async.sandbox._faults import Fault, FaultQueue
from testio_async.sandbox._ratelimit import TokenBucket
from testio_async.sandbox._selection import IndexSelection, matching_residues

RECORD_KEYS = [
    "id",
    "status",
    "comment",
    "executed_by",
    "device_reports",
    "test_cycle",
    "executed_at",
]
REPORT_KEYS = [
    "id",
    "category",
    "vendor",
    "operating_system",
    "operating_system_version",
    "device",
    "browsers",
]
STATUSES = {"pending", "passed", "failed", "blocked", "cancelled"}


def parse_timestamp(text: str) -> dt.datetime:
    assert text[19:23] == ".000"
    assert text.endswith("Z") or text.endswith("+02:00")
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def decoded(factory: RecordFactory, index: int) -> dict[str, typing.Any]:
    result: dict[str, typing.Any] = orjson.loads(orjson.dumps(factory.build(index)))
    return result


# -- records -------------------------------------------------------------------


def test_record_has_exactly_the_reference_shape() -> None:
    factory = RecordFactory(0)
    for index in range(500):
        record = decoded(factory, index)
        assert list(record) == RECORD_KEYS
        assert record["id"] == index + 1
        assert record["status"] in STATUSES
        assert isinstance(record["executed_by"], str | None)
        cycle = record["test_cycle"]
        assert list(cycle) == ["id", "title", "test_environment"]
        assert isinstance(cycle["id"], int)
        assert cycle["title"]
        assert list(cycle["test_environment"]) == ["id", "title"]
        for report in record["device_reports"]:
            assert list(report) == REPORT_KEYS
            assert report["category"]["key"] in {"desktop", "smartphone", "tablet"}
            assert list(report["category"]) == ["id", "key", "name"]
            assert list(report["vendor"]) == ["id", "name"]
            assert list(report["operating_system"]) == ["id", "key", "name"]
            assert list(report["operating_system_version"]) == ["id", "name"]
            assert list(report["device"]) == ["id", "name"]
            assert all(list(browser) == ["id", "name"] for browser in report["browsers"])


def test_comment_present_exactly_for_passed_failed_blocked() -> None:
    factory = RecordFactory(7)
    for index in range(2000):
        record = factory.build(index)
        if record["status"] in {"passed", "failed", "blocked"}:
            assert isinstance(record["comment"], str)
            assert record["comment"]
        else:
            assert record["comment"] is None
        if record["executed_by"] is None:
            assert record["status"] == "pending"


def test_value_mix_is_realistic() -> None:
    records = [RecordFactory(3).build(i) for i in range(5000)]
    statuses = typing.Counter(r["status"] for r in records)
    assert set(statuses) == STATUSES
    assert statuses["passed"] > len(records) / 2
    report_counts = {len(r["device_reports"]) for r in records}
    assert report_counts == {0, 1, 2, 3}
    assert any(r["executed_by"] is None for r in records)
    assert any(not report["browsers"] for r in records for report in r["device_reports"])
    assert any(r["executed_at"].endswith("Z") for r in records)
    assert any(r["executed_at"].endswith("+02:00") for r in records)


def test_device_report_ids_are_unique() -> None:
    factory = RecordFactory(0)
    ids = [rep["id"] for i in range(3000) for rep in factory.build(i)["device_reports"]]
    assert len(ids) == len(set(ids))


def test_executed_at_strictly_increases_with_id_across_offsets() -> None:
    factory = RecordFactory(11)
    instants = [parse_timestamp(factory.build(i)["executed_at"]) for i in range(3000)]
    assert instants == sorted(instants)
    assert len(set(instants)) == len(instants)
    assert instants[0] >= dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def test_executed_at_epoch_matches_formatted_instant() -> None:
    factory = RecordFactory(5)
    for index in (0, 1, 999, 123_456, 999_999):
        instant = parse_timestamp(factory.build(index)["executed_at"])
        assert instant.timestamp() == factory.executed_at_epoch(index)


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = [decoded(RecordFactory(42), i) for i in range(200)]
    again = [decoded(RecordFactory(42), i) for i in range(200)]
    other = [decoded(RecordFactory(43), i) for i in range(200)]
    assert first == again
    assert first != other
    assert [r["id"] for r in first] == [r["id"] for r in other]


def test_far_index_is_cheap_and_well_formed() -> None:
    record = decoded(RecordFactory(0), 999_999)
    assert record["id"] == 1_000_000
    assert list(record) == RECORD_KEYS


# -- story / version arithmetic ------------------------------------------------


def test_story_and_version_mapping() -> None:
    assert [user_story_of(i, user_stories=3) for i in range(7)] == [1, 2, 3, 1, 2, 3, 1]
    versions = [version_of(i, user_stories=2, versions_per_story=2) for i in range(8)]
    assert versions == [101, 201, 102, 202, 101, 201, 102, 202]


def brute_force(
    lo: int,
    hi: int,
    stories: int,
    versions: int,
    story_ids: list[int],
    version_ids: list[int],
) -> list[int]:
    return [
        i
        for i in range(lo, hi)
        if (not story_ids or user_story_of(i, user_stories=stories) in story_ids)
        and (
            not version_ids
            or version_of(i, user_stories=stories, versions_per_story=versions) in version_ids
        )
    ]


@settings(max_examples=200, deadline=None)
@given(
    stories=st.integers(1, 6),
    versions=st.integers(1, 4),
    lo=st.integers(0, 60),
    size=st.integers(0, 120),
    story_ids=st.lists(st.integers(0, 8), max_size=4),
    version_ids=st.lists(st.integers(0, 800), max_size=4),
    offset=st.integers(0, 130),
    limit=st.integers(1, 40),
    descending=st.booleans(),
)
def test_selection_matches_brute_force(
    stories: int,
    versions: int,
    lo: int,
    size: int,
    story_ids: list[int],
    version_ids: list[int],
    offset: int,
    limit: int,
    descending: bool,
) -> None:
    residues = matching_residues(
        story_ids, version_ids, user_stories=stories, versions_per_story=versions
    )
    selection = IndexSelection(residues, stories * versions, lo, lo + size)
    expected = brute_force(lo, lo + size, stories, versions, story_ids, version_ids)
    if descending:
        expected.reverse()
    assert len(selection) == len(expected)
    assert selection.all(descending=descending) == expected
    assert selection.page(offset, limit, descending=descending) == expected[offset : offset + limit]


def test_selection_over_a_million_records_is_addressable() -> None:
    residues = matching_residues([7], [702], user_stories=50, versions_per_story=3)
    selection = IndexSelection(residues, 150, 0, 1_000_000)
    last = selection.page(len(selection) - 1, 25, descending=False)
    assert len(last) == 1
    assert version_of(last[0]) == 702
    assert len(selection) == len(range(56, 1_000_000, 150))


def test_no_filter_and_unknown_ids() -> None:
    assert matching_residues(None, None, user_stories=5, versions_per_story=2) is None
    assert matching_residues([], [], user_stories=5, versions_per_story=2) is None
    assert matching_residues([99], None, user_stories=5, versions_per_story=2) == []
    assert matching_residues(None, [104], user_stories=5, versions_per_story=2) == []


# -- sandbox state without a server --------------------------------------------


def test_expected_and_record_agree() -> None:
    sandbox = Sandbox(records=60, user_stories=4, versions_per_story=2)
    desc = sandbox.expected(order="desc")
    assert [r["id"] for r in desc] == list(range(60, 0, -1))
    assert sandbox.record(60) == desc[0]
    story = sandbox.user_story_id_of(10)
    version = sandbox.user_story_version_id_of(10)
    by_story = sandbox.expected(user_story_ids=[story])
    assert [r["id"] for r in by_story] == list(range(story, 61, 4))
    both = sandbox.expected(user_story_ids=[story], user_story_version_ids=[version])
    assert 10 in [r["id"] for r in both]
    assert all(sandbox.user_story_version_id_of(r["id"]) == version for r in both)
    with pytest.raises(KeyError):
        sandbox.record(61)
    with pytest.raises(KeyError):
        sandbox.record(0)


def test_expected_returns_fresh_dicts() -> None:
    sandbox = Sandbox(records=3)
    first = sandbox.expected()
    first[0]["device_reports"].clear()
    first[0]["test_cycle"]["title"] = "changed"
    assert sandbox.expected()[0] != first[0]


def test_config_or_knobs_not_both() -> None:
    with pytest.raises(TypeError):
        Sandbox(SandboxConfig(), records=3)


# -- config, CLI ---------------------------------------------------------------


def test_knobs_typed_dict_lists_every_config_field() -> None:
    fields = [field.name for field in attrs.fields(SandboxConfig)]
    assert list(typing.get_type_hints(SandboxKnobs)) == fields
    assert set(CONFIG_HELP) == set(fields)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("records", -1),
        ("user_stories", 0),
        ("versions_per_story", 100),
        ("latency", -0.1),
        ("rate_limit", 0.0),
        ("error_rate", 1.5),
        ("truncate_mode", "half"),
        ("per_page_overflow", "drop"),
        ("retry_after_format", "minutes"),
        ("max_per_page", 0),
        ("ignore_page", "yes"),
    ],
)
def test_config_rejects_bad_values_also_on_assignment(name: str, value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        SandboxConfig(**{name: value})  # type: ignore[arg-type]
    config = SandboxConfig()
    with pytest.raises((ValueError, TypeError)):
        setattr(config, name, value)


def parse_flags(argv: list[str]) -> SandboxConfig:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    return config_from_namespace(parser.parse_args(argv))


def test_cli_defaults_equal_config_defaults() -> None:
    assert parse_flags([]) == SandboxConfig()


def test_cli_flags_map_one_to_one() -> None:
    config = parse_flags(
        [
            "--records", "500000",
            "--seed", "9",
            "--token", "t",
            "--latency", "0.05",
            "--rate-limit", "20",
            "--retry-after-format", "http-date",
            "--max-per-page", "100",
            "--per-page-overflow", "reject",
            "--ignore-page",
            "--truncate-mode", "body",
            "--record-count-offset", "-3",
        ]
    )  # fmt: skip
    assert config == SandboxConfig(
        records=500_000,
        seed=9,
        token="t",
        latency=0.05,
        rate_limit=20.0,
        retry_after_format="http-date",
        max_per_page=100,
        per_page_overflow="reject",
        ignore_page=True,
        truncate_mode="body",
        record_count_offset=-3,
    )
    assert parse_flags(["--rate-limit", "none", "--max-per-page", "None"]) == SandboxConfig()


# -- fault queue, token bucket -------------------------------------------------


def test_fault_queue_is_fifo_with_page_targeting() -> None:
    queue = FaultQueue()
    queue.add(Fault(status=500, page=2), times=1)
    queue.add(Fault(status=503), times=2)
    assert len(queue) == 3
    taken = queue.take(1)
    assert taken is not None
    assert taken.status == 503
    taken = queue.take(2)
    assert taken is not None
    assert taken.status == 500
    taken = queue.take(2)
    assert taken is not None
    assert taken.status == 503
    assert queue.take(2) is None
    with pytest.raises(ValueError, match="times"):
        queue.add(Fault(), times=0)


def test_token_bucket_with_fake_clock() -> None:
    now = [100.0]
    bucket = TokenBucket(2.0, clock=lambda: now[0])
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.acquire() == 0.0
    assert bucket.acquire() > 0.0
