"""Assertion helpers: check bodies, and the requests the code under test sent, against the documented schemas.

Failures are ``AssertionError`` messages that name the operation, the JSON path, the rule broken, the
value sent and the documentation page. pytest rewrites this module's asserts (see ``plugin.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pytest_vbs import schemas
from pytest_vbs.api import BY_NAME, Operation
from pytest_vbs.api.microversions import HEADER as MICROVERSION_HEADER
from pytest_vbs.api.microversions import MIN_MICROVERSION, negotiate
from pytest_vbs.errors import APIError, unknown_operation
from pytest_vbs.journal import RecordedRequest
from pytest_vbs.wsgi import validation

__all__ = [
    "assert_all_requests_valid",
    "assert_called",
    "assert_not_called",
    "assert_valid_request",
    "assert_valid_response",
    "last_request",
    "request_problems",
]


def assert_valid_request(operation: str, body: Any, *, microversion: str | None = None) -> None:
    """Fail unless ``body`` is a request body the documentation allows for ``operation``."""
    _assert_valid("requests", operation, body, microversion)


def assert_valid_response(operation: str, body: Any, *, microversion: str | None = None) -> None:
    """Fail unless ``body`` is a response body the documentation describes for ``operation``."""
    _assert_valid("responses", operation, body, microversion)


def _operation(name: str) -> Operation:
    operation = BY_NAME.get(name)
    if operation is None:
        raise ValueError(unknown_operation(name, BY_NAME))
    return operation


def _assert_valid(kind: str, name: str, body: Any, microversion: str | None) -> None:
    operation = _operation(name)
    schema_name = operation.request_schema if kind == "requests" else operation.name
    what = "request" if kind == "requests" else "response"
    if schema_name is None or schemas.schema(kind, schema_name) is None:
        if body is None:
            return
        raise AssertionError(f"{name} takes no {what} body (page: {operation.doc_page}), got {_show(body)}")
    version = _parse_version(microversion)
    if version is None and operation.version == "v2":  # no microversions on v2: the base version's fields only
        version = MIN_MICROVERSION
    found = schemas.violations(kind, schema_name, body) + schemas.microversion_violations(
        kind, schema_name, body, version
    )
    if found:
        page = schemas.doc_page(kind, schema_name) or operation.doc_page
        lines = [f"{name} {what} body does not match the documented schema (page: {page}):"]
        lines += [f"  {v.path or '<body>'}: {v.rule} [{v.reason}]"
                  + ("" if v.reason == "missing_field" else f"; got {_show(v.value)}")
                  + (f" (rule from page: {v.doc_page})" if v.doc_page and v.doc_page != page else "")
                  for v in found]
        raise AssertionError("\n".join(lines))


def _parse_version(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    match = re.fullmatch(r"(\d+)\.(\d+)", text)
    if match is None:
        raise ValueError(f"microversion must look like '3.45', got {text!r}")
    return int(match[1]), int(match[2])


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 120 else shown[:117] + "..."


# -- the journal --------------------------------------------------------------------------------------------
def request_problems(entry: RecordedRequest) -> list[str]:
    """Everything in a recorded request that breaks the documentation (empty when it is valid)."""
    operation = BY_NAME.get(entry.operation)
    if operation is None:
        return [f"{entry.method} {entry.path} matches no documented operation"]
    problems: list[str] = []
    headers = {key.lower(): value for key, value in entry.headers.items()}
    try:
        microversion = negotiate(operation.version, headers.get(MICROVERSION_HEADER.lower()))
        validation.query(operation, entry.query, microversion)
    except APIError as error:
        problems.append(error.message)
    if operation.request_schema is not None and "body" in entry.truncated:
        problems.append(f"its body of {entry.body_length} bytes is longer than the journal keeps ({len(entry.body)} "
                        "bytes), so it could not be checked; documented bodies are far shorter")
    elif operation.request_schema is not None:
        content_type = headers.get("content-type", "")
        try:
            body = validation.parse_json(content_type.split(";")[0].strip().lower(), entry.body)
        except APIError as error:
            problems.append(error.message)
        else:
            found = schemas.violations("requests", operation.request_schema, body)
            problems += [f"{v.describe()} [{v.reason}]" for v in found]
    return problems


def assert_all_requests_valid(entries: Iterable[RecordedRequest]) -> None:
    """Fail listing every recorded request that breaks the documentation, even if it was answered."""
    invalid = [(index, entry, problems) for index, entry in enumerate(entries, 1)
               if (problems := request_problems(entry))]
    if invalid:
        lines = [f"{len(invalid)} request(s) sent to the fake VBS break the documented API:"]
        for index, entry, problems in invalid:
            page = BY_NAME[entry.operation].doc_page if entry.operation in BY_NAME else "-"
            lines.append(f"  #{index} {entry.method} {entry.path} ({entry.operation}, page: {page}) -> {entry.status}")
            lines += [f"      {problem}" for problem in problems]
        raise AssertionError("\n".join(lines))


def assert_called(
    entries: Sequence[RecordedRequest], operation: str, times: int | None = None, json: Any = None
) -> list[RecordedRequest]:
    """Fail unless ``operation`` was called (``times`` times, when given) with a body containing ``json``.

    ``json`` matches as a subset: every key given must be there with that value; others may be too.
    Returns the matching requests.
    """
    _operation(operation)
    calls = [e for e in entries if e.operation == operation]
    matching = [e for e in calls if json is None or not _differences(json, e.json)]
    if (times is None and matching) or (times is not None and len(matching) == times):
        return matching
    wanted = "at least once" if times is None else f"{times} time(s)"
    body = "" if json is None else f" with a body containing {_show(json)}"
    lines = [f"expected {operation} to be called {wanted}{body}; it was called {len(matching)} time(s)."]
    if json is not None and calls:
        lines.append("Nearest requests:")
        nearest = sorted(calls, key=lambda e: len(_differences(json, e.json)))[:3]
        for entry in nearest:
            lines.append(f"  {entry.method} {entry.path} -> {entry.status}")
            lines += [f"      {difference}" for difference in _differences(json, entry.json)]
    elif not calls:
        seen = ", ".join(e.operation for e in entries) or "none"
        lines.append(f"Requests recorded: {seen}.")
    raise AssertionError("\n".join(lines))


def assert_not_called(entries: Sequence[RecordedRequest], operation: str) -> None:
    """Fail if ``operation`` was called."""
    _operation(operation)
    calls = [e for e in entries if e.operation == operation]
    if calls:
        shown = "; ".join(f"{e.method} {e.path} -> {e.status}" for e in calls[:5])
        raise AssertionError(f"expected {operation} not to be called; it was called {len(calls)} time(s): {shown}")


def last_request(entries: Sequence[RecordedRequest], operation: str) -> RecordedRequest:
    """The most recent request of ``operation``; fails when there is none."""
    _operation(operation)
    for entry in reversed(entries):
        if entry.operation == operation:
            return entry
    seen = ", ".join(e.operation for e in entries) or "none"
    raise AssertionError(f"{operation} was never called; requests recorded: {seen}.")


def _differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """How ``actual`` fails to contain ``expected`` (dicts as subsets, lists element by element)."""
    where = path or "<body>"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {_show(actual)}"]
        found: list[str] = []
        for key, value in expected.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in actual:
                found.append(f"{child}: missing (expected {_show(value)})")
            else:
                found += _differences(value, actual[key], child)
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {_show(expected)}, got {_show(actual)}"]
        pairs = enumerate(zip(expected, actual, strict=True))
        return [d for i, (e, a) in pairs for d in _differences(e, a, f"{path}[{i}]")]
    if expected != actual or type(expected) is not type(actual):
        return [f"{where}: expected {_show(expected)}, got {_show(actual)}"]
    return []
