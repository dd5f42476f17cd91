"""The fast converter: shared leaf objects without looser checks, and the Page body."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import testio_async as tio
from testio_async._convert import structure_execution, structure_executions


def row(record_id: int, vendor: Any = None) -> dict[str, Any]:
    return {
        "id": record_id,
        "status": "passed",
        "comment": "ok",
        "executed_by": "t",
        "device_reports": [{
            "id": record_id * 10,
            "category": {"id": 1, "key": "desktop", "name": "Desktop"},
            "vendor": vendor if vendor is not None else {"id": 7, "name": "Apple"},
            "browsers": [{"id": 1, "name": "Chrome"}, {"id": 2, "name": "Safari"}],
        }],
        "test_cycle": {"id": 5, "title": "R", "test_environment": {"id": 1, "title": "S"}},
        "executed_at": "2025-02-05T10:30:00.000Z",
    }


def test_equal_leaves_are_one_object() -> None:
    a, b = structure_executions([row(1), row(2)])
    assert a.device_reports[0].vendor is b.device_reports[0].vendor
    assert a.device_reports[0].browsers[1] is b.device_reports[0].browsers[1]
    assert a.test_cycle is b.test_cycle
    assert a.device_reports[0] is not b.device_reports[0]  # ids differ: never shared


def test_a_shared_leaf_is_still_checked_strictly() -> None:
    structure_execution(row(1))  # vendor {"id": 7, ...} is cached now
    with pytest.raises(tio.ResponseValidationError, match=r"vendor"):
        structure_execution(row(2, vendor={"id": True, "name": "Apple"}))
    with pytest.raises(tio.ResponseValidationError, match=r"vendor"):
        structure_execution(row(3, vendor={"id": 7.0, "name": "Apple"}))


def test_unhashable_leaf_values_are_checked_not_shared() -> None:
    with pytest.raises(tio.ResponseValidationError, match=r"device_reports\[0\]\.vendor\.name"):
        structure_execution(row(4, vendor={"id": 7, "name": ["Apple"]}))


def test_different_leaves_stay_apart() -> None:
    other = row(5, vendor={"id": 8, "name": "Samsung"})
    a, b = structure_executions([row(6), other])
    assert a.device_reports[0].vendor != b.device_reports[0].vendor
    assert b.device_reports[0].vendor == tio.Vendor(id=8, name="Samsung")


def test_structuring_does_not_touch_the_input() -> None:
    data = [row(7), row(8)]
    before = copy.deepcopy(data)
    structure_executions(data)
    assert data == before


def test_a_shared_cycle_checks_its_environment() -> None:
    structure_execution(row(9))
    bad = row(10)
    bad["test_cycle"]["test_environment"]["id"] = True
    with pytest.raises(tio.ResponseValidationError, match=r"test_environment\.id"):
        structure_execution(bad)


def test_a_page_unstructures_to_the_response_body() -> None:
    rows = [row(11), row(12)]
    page = tio.Page(items=structure_executions(rows), record_count=40, page=2, per_page=2,
                    resume=lambda: {})  # type: ignore[arg-type,return-value]
    body = tio.converter.unstructure(page)
    assert body == {"meta": {"record_count": 40}, "user_story_version_executions": [
        tio.converter.unstructure(e) for e in page.items]}
    assert tio._convert.structure_response(body) == (page.items, 40)
