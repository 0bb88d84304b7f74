"""The required structure of an HTTP Archive (HAR 1.2, http://www.softwareishard.com/blog/har-12-spec/) as a
JSON Schema, for the tests of ``vbs.har()`` and ``--vbs-har``: every object and field the spec marks required,
with its type."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

_NAME_VALUE = {"type": "object", "required": ["name", "value"],
               "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}
_PAIRS = {"type": "array", "items": _NAME_VALUE}
_SIZE = {"type": "integer", "minimum": -1}
_TIMING = {"type": "number", "minimum": -1}

HAR_1_2: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["log"],
    "properties": {"log": {
        "type": "object",
        "required": ["version", "creator", "entries"],
        "properties": {
            "version": {"const": "1.2"},
            "creator": {"type": "object", "required": ["name", "version"],
                        "properties": {"name": {"type": "string"}, "version": {"type": "string"}}},
            "comment": {"type": "string"},
            "entries": {"type": "array", "items": {
                "type": "object",
                "required": ["startedDateTime", "time", "request", "response", "cache", "timings"],
                "properties": {
                    "startedDateTime": {"type": "string",
                                        "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"},
                    "time": {"type": "number", "minimum": 0},
                    "request": {
                        "type": "object",
                        "required": ["method", "url", "httpVersion", "cookies", "headers", "queryString",
                                     "headersSize", "bodySize"],
                        "properties": {
                            "method": {"type": "string"}, "url": {"type": "string", "pattern": "^https?://"},
                            "httpVersion": {"type": "string"}, "cookies": {"type": "array"}, "headers": _PAIRS,
                            "queryString": _PAIRS, "headersSize": _SIZE, "bodySize": _SIZE,
                            "postData": {"type": "object", "required": ["mimeType", "text"],
                                         "properties": {"mimeType": {"type": "string"}, "text": {"type": "string"}}},
                        },
                    },
                    "response": {
                        "type": "object",
                        "required": ["status", "statusText", "httpVersion", "cookies", "headers", "content",
                                     "redirectURL", "headersSize", "bodySize"],
                        "properties": {
                            "status": {"type": "integer"}, "statusText": {"type": "string"},
                            "httpVersion": {"type": "string"}, "cookies": {"type": "array"}, "headers": _PAIRS,
                            "content": {"type": "object", "required": ["size", "mimeType"],
                                        "properties": {"size": {"type": "integer"}, "mimeType": {"type": "string"},
                                                       "text": {"type": "string"}}},
                            "redirectURL": {"type": "string"}, "headersSize": _SIZE, "bodySize": _SIZE,
                        },
                    },
                    "cache": {"type": "object"},
                    "timings": {"type": "object", "required": ["send", "wait", "receive"],
                                "properties": {key: _TIMING for key in
                                               ("blocked", "dns", "connect", "send", "wait", "receive", "ssl")}},
                    "comment": {"type": "string"},
                },
            }},
        },
    }},
}


def har_problems(document: Any) -> list[str]:
    """Every way ``document`` breaks HAR 1.2's required structure (empty: it is a valid HAR)."""
    validator = Draft202012Validator(HAR_1_2)
    problems = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
                for error in validator.iter_errors(document)]
    for entry in document.get("log", {}).get("entries", []) if isinstance(document, dict) else []:
        timings = [value for value in entry.get("timings", {}).values() if value != -1]
        if abs(sum(timings) - entry.get("time", 0)) > 0.01:  # the spec: time is the sum of the known timings
            problems.append(f"entry time {entry.get('time')} is not the sum of its timings {timings}")
    return problems
