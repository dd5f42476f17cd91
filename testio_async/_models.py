"""The API's objects as slotted, frozen attrs classes. Nothing else lives here."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from attrs import field, frozen

if TYPE_CHECKING:
    from ._resume import Checkpoint
else:  # cattrs reads the annotations at run time
    Checkpoint = dict

__all__ = [
    "Browser",
    "Device",
    "DeviceCategory",
    "DeviceReport",
    "Execution",
    "ExecutionStatus",
    "OperatingSystem",
    "OperatingSystemVersion",
    "Page",
    "TestCycle",
    "TestEnvironment",
    "Vendor",
]


class ExecutionStatus(StrEnum):
    """The documented execution statuses.

    A status the SDK does not know is not an error: :attr:`Execution.status` then holds
    the raw ``str``. Both compare equal to their string, so ``execution.status ==
    "passed"`` always works; ``isinstance(execution.status, ExecutionStatus)`` tells a
    documented value from a new one.
    """

    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


@frozen(kw_only=True)
class DeviceCategory:
    """A device category such as desktop or smartphone."""

    id: int
    key: str | None = None
    name: str | None = None


@frozen(kw_only=True)
class Vendor:
    """A device vendor."""

    id: int
    name: str | None = None


@frozen(kw_only=True)
class OperatingSystem:
    """An operating system."""

    id: int
    key: str | None = None
    name: str | None = None


@frozen(kw_only=True)
class OperatingSystemVersion:
    """A version of an operating system."""

    id: int
    name: str | None = None


@frozen(kw_only=True)
class Device:
    """A device model."""

    id: int
    name: str | None = None


@frozen(kw_only=True)
class Browser:
    """A browser used in a device report."""

    id: int
    name: str | None = None


@frozen(kw_only=True)
class DeviceReport:
    """The environment one execution ran in.

    The reference lists every part; they are optional here because device reports of
    native apps or custom devices may lack one, and that must not break a stream.
    """

    id: int
    category: DeviceCategory | None = None
    vendor: Vendor | None = None
    operating_system: OperatingSystem | None = None
    operating_system_version: OperatingSystemVersion | None = None
    device: Device | None = None
    browsers: tuple[Browser, ...] = ()


@frozen(kw_only=True)
class TestEnvironment:
    """The test environment of a test cycle."""

    __test__ = False

    id: int
    title: str | None = None


@frozen(kw_only=True)
class TestCycle:
    """The test cycle an execution belongs to."""

    __test__ = False

    id: int
    title: str | None = None
    test_environment: TestEnvironment | None = None


@frozen(kw_only=True)
class Execution:
    """One test run of a user story version by a tester.

    ``status`` is an :class:`ExecutionStatus`, or the raw ``str`` for a value the SDK does
    not know. ``executed_at`` is always timezone-aware.
    """

    id: int
    status: ExecutionStatus | str
    comment: str | None = None
    executed_by: str | None = None
    device_reports: tuple[DeviceReport, ...] = ()
    test_cycle: TestCycle | None = None
    executed_at: datetime


@frozen(kw_only=True)
class Page:
    """One page of executions as the server sent it (less records already yielded).

    ``page`` and ``per_page`` are what was asked for (``per_page`` is the server's cap
    when it sends fewer rows than asked); ``record_count`` is the server's total for the
    query at the time of this page; ``total_pages`` follows from the two.
    """

    items: tuple[Execution, ...]
    record_count: int
    page: int
    per_page: int
    total_pages: int = field(init=False)
    _resume: Callable[[], Checkpoint] | None = field(
        default=None, eq=False, repr=False, alias="resume"
    )

    @total_pages.default
    def _total_pages(self) -> int:
        return max(1, math.ceil(self.record_count / self.per_page))

    @property
    def checkpoint(self) -> Checkpoint | None:
        """Where the stream stands once this page is handled: pass it as ``resume_from``.

        A JSON-ready dict (see :data:`Checkpoint`), built when read; ``None`` for pages
        of :meth:`Executions.get_page`, which belong to no stream.
        """
        return None if self._resume is None else self._resume()
