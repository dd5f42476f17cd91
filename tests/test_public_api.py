"""The public surface: ``__all__`` pinned, everything importable and documented."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import testio_async

EXPECTED_ALL = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Browser",
    "Checkpoint",
    "Client",
    "Device",
    "DeviceCategory",
    "DeviceReport",
    "Execution",
    "ExecutionStatus",
    "Executions",
    "NotFoundError",
    "OperatingSystem",
    "OperatingSystemVersion",
    "Order",
    "Page",
    "PaginationError",
    "Partition",
    "PermissionDeniedError",
    "QuerySpec",
    "RateLimitError",
    "ResponseDecodeError",
    "ResponseValidationError",
    "RetryPolicy",
    "ServerError",
    "Stream",
    "StreamStats",
    "TestCycle",
    "TestEnvironment",
    "TestIOError",
    "UnprocessableEntityError",
    "Vendor",
    "__version__",
    "converter",
]

# Names that are values rather than classes or functions: no docstring of their own.
_NOT_DOCUMENTED_OBJECTS = {"__version__", "Order", "converter"}


def test_all_is_pinned() -> None:
    assert list(testio_async.__all__) == EXPECTED_ALL


def test_all_is_sorted_and_unique() -> None:
    assert sorted(testio_async.__all__) == list(testio_async.__all__)
    assert len(set(testio_async.__all__)) == len(testio_async.__all__)


@pytest.mark.parametrize("name", EXPECTED_ALL)
def test_every_name_importable(name: str) -> None:
    module = importlib.import_module("testio_async")
    assert hasattr(module, name)
    namespace: dict[str, object] = {}
    exec(f"from testio_async import {name}", namespace)
    assert namespace[name] is getattr(testio_async, name)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from testio_async import *", namespace)
    exported = {k for k in namespace if k != "__builtins__"}
    assert exported == set(EXPECTED_ALL)


@pytest.mark.parametrize(
    "name", [n for n in EXPECTED_ALL if n not in _NOT_DOCUMENTED_OBJECTS]
)
def test_every_public_name_has_a_docstring(name: str) -> None:
    obj = getattr(testio_async, name)
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    # Not merely inherited from a builtin base.
    assert obj.__doc__ not in (Exception.__doc__, object.__doc__, str.__doc__)


def test_module_has_a_docstring() -> None:
    assert testio_async.__doc__
    assert "Client" in testio_async.__doc__


def test_version_is_a_string() -> None:
    assert isinstance(testio_async.__version__, str)
    assert testio_async.__version__.count(".") >= 1


@pytest.mark.parametrize(
    "name", [n for n in EXPECTED_ALL if n.startswith("Test") and inspect.isclass(
        getattr(testio_async, n))]
)
def test_test_named_classes_are_not_collected(name: str) -> None:
    cls = getattr(testio_async, name)
    assert cls.__test__ is False


def test_test_named_classes_are_the_expected_three() -> None:
    names = {n for n in EXPECTED_ALL if n.startswith("Test")}
    assert names == {"TestCycle", "TestEnvironment", "TestIOError"}


def test_public_methods_of_client_and_resources_documented() -> None:
    for cls in (testio_async.Client, testio_async.Executions, testio_async.Stream,
                testio_async.RetryPolicy):
        for attr, value in vars(cls).items():
            if attr.startswith("_") or (not callable(value) and not isinstance(value, property)):
                continue
            assert inspect.getdoc(value), f"{cls.__name__}.{attr} has no docstring"


def test_py_typed_marker_present() -> None:
    package_dir = Path(testio_async.__file__).parent
    assert (package_dir / "py.typed").is_file()


def test_error_hierarchy() -> None:
    t = testio_async
    for name in EXPECTED_ALL:
        obj = getattr(t, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            assert issubclass(obj, t.TestIOError)
    assert issubclass(t.APITimeoutError, t.APIConnectionError)
    assert issubclass(t.ResponseDecodeError, t.ResponseValidationError)
    for cls in (t.BadRequestError, t.AuthenticationError, t.PermissionDeniedError,
                t.NotFoundError, t.UnprocessableEntityError, t.RateLimitError, t.ServerError):
        assert issubclass(cls, t.APIStatusError)
    assert not issubclass(t.PaginationError, t.APIStatusError)
