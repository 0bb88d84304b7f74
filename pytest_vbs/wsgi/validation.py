"""Request validation: JSON body parsing, body and query checks against the schemas.

Each check raises :class:`~pytest_vbs.errors.APIError` with the status and a message that names the field
and the rule. The server answers with it; the assertion helpers and strict mode report it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_vbs import schemas
from pytest_vbs.api.microversions import HEADER as MICROVERSION_HEADER
from pytest_vbs.api.microversions import MIN_MICROVERSION, version_text
from pytest_vbs.errors import APIError

if TYPE_CHECKING:
    from pytest_vbs.api import Operation

#: Deepest JSON nesting accepted in a body (the documented bodies nest 4 levels).
MAX_DEPTH = 64
_TOO_DEEP = object()
_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}
_INTEGER = re.compile(r"-?\d{1,19}")


def body(operation: Operation, parsed: Any, microversion: tuple[int, int] | None = None) -> Any:
    """The body of an operation that takes one, already parsed (:func:`parse_json`), validated against its
    request schema and, on V3, against the microversion its fields need; ``None`` for the others."""
    if operation.request_schema is None:
        return None
    found = schemas.violations("requests", operation.request_schema, parsed)
    if found:
        raise APIError(400, found[0].describe(), reason=found[0].reason, code=found[0].code)
    if microversion is None and operation.version == "v2":  # the deprecated v2 API has the base version's fields
        found = schemas.microversion_violations("requests", operation.request_schema, parsed, MIN_MICROVERSION)
        if found:
            raise APIError(400, f"Invalid input for field '{found[0].path}': {found[0].rule}, which the deprecated "
                           "v2 API does not have (use /v3).", reason=found[0].reason)
    found = schemas.microversion_violations("requests", operation.request_schema, parsed, microversion)
    if found and microversion is not None:
        raise APIError(400, f"Invalid input for field '{found[0].path}': {found[0].rule} (this request uses "
                       f"{version_text(microversion)}: send a later one in the {MICROVERSION_HEADER} header).",
                       reason=found[0].reason)
    return parsed


def parse_json(mimetype: str, data: bytes) -> Any:
    """The body as JSON, or a 400/415 that says exactly what is wrong with it."""
    if mimetype and not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise APIError(415, f"Unsupported Content-Type {mimetype!r}: the API accepts application/json.",
                       reason="bad_media_type")
    if not data.strip():
        raise APIError(400, "The request body is missing: a JSON object is expected.", reason="missing_body")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"The request body is not valid UTF-8 (byte {error.start})."
        raise APIError(400, message, reason="bad_encoding") from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        value = _TOO_DEEP
    except ValueError as error:
        raise APIError(400, f"Malformed request body: {error}.", reason="malformed_json") from None
    if value is _TOO_DEEP or not _shallow(value):
        message = f"Malformed request body: JSON nested deeper than {MAX_DEPTH} levels."
        raise APIError(400, message, reason="malformed_json")
    return value


def _shallow(value: Any) -> bool:
    """Whether ``value`` nests at most :data:`MAX_DEPTH` levels (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                return False
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return True


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def try_json(data: bytes) -> Any:
    """The body as JSON for the journal, leniently (duplicate keys, ``NaN``), or ``None`` (not JSON, or nested too
    deeply to keep): for bodies the operation does not parse, or that :func:`parse_json` refused."""
    if not data:
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if _shallow(value) else None


def query(operation: Operation, raw: Mapping[str, str], microversion: tuple[int, int] | None) -> dict[str, Any]:
    """Query parameters coerced to their documented types, validated, and gated by microversion."""
    if operation.query_schema is None or not raw:
        return dict(raw)  # no query schema requires a parameter: nothing to check (and no validator to load)
    types = schemas.query_types(operation.query_schema)
    query: dict[str, Any] = {}
    for key, value in raw.items():
        kind = types.get(key, "string")
        if kind == "integer":
            if not _INTEGER.fullmatch(value.strip()):
                raise APIError(400, f"Invalid query parameter '{key}': must be an integer (got {value!r}).",
                               reason="not_an_integer")
            query[key] = int(value)
        elif kind == "boolean":
            if value.lower() not in _TRUE | _FALSE:
                raise APIError(400, f"Invalid query parameter '{key}': must be a boolean (got {value!r}).",
                               reason="not_a_boolean")
            query[key] = value.lower() in _TRUE
        else:
            query[key] = value
    found = schemas.violations("queries", operation.query_schema, query)
    if found:
        violation = found[0]
        rule = "is not a supported query parameter" if violation.reason == "unknown_field" else violation.rule
        shown = "" if violation.reason == "unknown_field" else f" (got {violation.value!r})"
        raise APIError(400, f"Invalid query parameter '{violation.path}': {rule}{shown}.", reason=violation.reason)
    if microversion is not None:
        for key, since in schemas.min_microversions(operation.query_schema).items():
            major, minor = (int(x) for x in since.split("."))
            if key in query and microversion < (major, minor):
                raise APIError(
                    400,
                    f"Query parameter '{key}' needs microversion {since} or later; send "
                    f"'{MICROVERSION_HEADER}: volume {since}' (this request uses {version_text(microversion)}).",
                    reason="needs_microversion",
                )
    return query
