"""Command line flags mirroring :class:`SandboxConfig` one to one.

``max_per_page`` becomes ``--max-per-page``, and so on for every field.
"""

from __future__ import annotations

import argparse
import types
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin

import attrs

from ._config import SandboxConfig

__all__ = ["CONFIG_HELP", "add_config_arguments", "config_from_namespace"]

#: One help line per :class:`SandboxConfig` field.
CONFIG_HELP: dict[str, str] = {
    "records": "records created at start (ids 1..N)",
    "seed": "seed of the data and of every random knob",
    "token": "accepted API token (Authorization: Token <token>)",
    "user_stories": "number of user stories (ids 1..N)",
    "versions_per_story": "versions per user story (ids story*100+1..), below 100",
    "per_page_default": "per_page when the query has none",
    "latency": "fixed delay per request, seconds",
    "latency_jitter": "extra uniform random delay per request, seconds",
    "rate_limit": "allowed requests per second (429 with Retry-After above); 'none' = unlimited",
    "retry_after_format": "Retry-After as whole seconds or an HTTP-date",
    "error_rate": "share of requests answered 503 with a JSON error",
    "html_error_rate": "share of requests answered 502 with an nginx HTML page",
    "truncate_rate": "share of 200 answers cut in half",
    "truncate_mode": "connection: close mid-body; body: valid response with half the JSON",
    "max_per_page": "largest per_page honoured; 'none' = no maximum",
    "per_page_overflow": "above max_per_page: cap silently or reject with 422",
    "ignore_page": "ignore page and per_page, always serve the first page",
    "insert_per_request": "records created after each served page",
    "delete_per_request": "oldest records deleted after each served page",
    "record_count_offset": "added to meta.record_count",
}


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_optional(text: str) -> Any:
        return None if text.lower() == "none" else parse(text)

    parse_optional.__name__ = getattr(parse, "__name__", "value")
    return parse_optional


def _argument_options(field_type: Any) -> dict[str, Any]:
    """Translate a resolved field type into ``add_argument`` keyword arguments."""
    origin = get_origin(field_type)
    if origin in (Union, types.UnionType):
        (inner,) = [arg for arg in get_args(field_type) if arg is not type(None)]
        options = _argument_options(inner)
        options["type"] = _optional(options["type"])
        return options
    if origin is Literal:
        return {"type": str, "choices": list(get_args(field_type))}
    if field_type is bool:
        return {"action": argparse.BooleanOptionalAction}
    return {"type": field_type}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per :class:`SandboxConfig` field, defaulting to the field default."""
    attrs.resolve_types(SandboxConfig)
    for field in attrs.fields(SandboxConfig):
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            dest=field.name,
            default=field.default,
            help=f"{CONFIG_HELP[field.name]} (default: %(default)s)",
            **_argument_options(field.type),
        )


def config_from_namespace(namespace: argparse.Namespace) -> SandboxConfig:
    """Build a :class:`SandboxConfig` from arguments parsed with :func:`add_config_arguments`."""
    values = {field.name: getattr(namespace, field.name) for field in attrs.fields(SandboxConfig)}
    return SandboxConfig(**values)
