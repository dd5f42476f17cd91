"""testio-async: an async client of the Test IO Customer API v2.

Start with :class:`Client`; its ``executions`` resource streams user story version
executions. Everything public is importable from here and listed in ``__all__``.
"""

from ._client import Client
from ._convert import converter
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ResponseValidationError,
    ServerError,
    TestIOError,
    UnprocessableEntityError,
)
from ._executions import Executions, Order, Stream
from ._http import RetryPolicy
from ._models import (
    Browser,
    Device,
    DeviceCategory,
    DeviceReport,
    Execution,
    ExecutionStatus,
    OperatingSystem,
    OperatingSystemVersion,
    Page,
    TestCycle,
    TestEnvironment,
    Vendor,
)
from ._resume import Checkpoint, Partition, QuerySpec
from ._stats import StreamStats
from ._version import __version__

__all__ = [
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
