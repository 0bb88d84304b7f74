"""The journal as an HTTP Archive: HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), for a browser's
network panel or any HAR viewer.

Every entry carries its timings, the request's and the answer's headers, both bodies as the journal keeps them,
and, where a fault was injected, a ``comment`` naming it. A request the fake could not route is still an entry.
Tokens and passwords read ``[redacted]``, as in ``GET /__vbs__/requests``: a HAR is meant to be shared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pytest_vbs.journal import REDACTED, SECRET_HEADERS, RecordedRequest, redacted

HAR_VERSION = "1.2"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
#: Longest file name :func:`file_name` makes from a test id (file systems allow 255 bytes).
MAX_NAME = 150


def document(entries: Iterable[RecordedRequest], *, comment: str = "") -> dict[str, Any]:
    """A HAR 1.2 document (``{"log": {...}}``) of ``entries``, oldest first."""
    from importlib import metadata  # deferred for import cost: only when a HAR is made

    try:
        version = metadata.version("pytest-vbs")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "0"
    log: dict[str, Any] = {
        "version": HAR_VERSION,
        "creator": {"name": "pytest-vbs", "version": version},
        "entries": [_entry(entry) for entry in entries],
    }
    if comment:
        log["comment"] = comment
    return {"log": log}


def _headers(headers: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": REDACTED if name.lower() in SECRET_HEADERS else value}
            for name, value in headers.items()]


def _entry(entry: RecordedRequest) -> dict[str, Any]:
    milliseconds = round(entry.duration * 1000, 3)
    host = entry.headers.get("Host", "localhost")
    query = f"?{urlencode(entry.query)}" if entry.query else ""
    request: dict[str, Any] = {
        "method": entry.method,
        "url": f"http://{host}{entry.path}{query}",
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _headers(entry.headers),
        "queryString": [{"name": name, "value": value} for name, value in entry.query.items()],
        "headersSize": -1,
        "bodySize": entry.body_length,  # as sent; the journal may keep only its beginning
    }
    if entry.body:
        parsed = entry.json
        text = entry.body.decode("utf-8", "replace") if parsed is None else json.dumps(redacted(parsed))
        request["postData"] = {"mimeType": entry.headers.get("Content-Type", ""), "text": text}
    answer = entry.response_json
    text = "" if answer is None else json.dumps(redacted(answer))
    result: dict[str, Any] = {
        "startedDateTime": datetime.fromtimestamp(entry.started, timezone.utc).isoformat(timespec="milliseconds"),
        "time": milliseconds,
        "request": request,
        "response": {
            "status": entry.status,
            "statusText": _status_text(entry.status),
            "httpVersion": "HTTP/1.1" if entry.status else "",
            "cookies": [],
            "headers": _headers(entry.response_headers) if entry.status else [],
            "content": {"size": len(text), "mimeType": entry.response_headers.get("Content-Type", ""), "text": text},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(text) if entry.status else -1,
        },
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": milliseconds, "receive": 0},
        "comment": f"operation {entry.operation}",
    }
    if entry.fault:
        result["comment"] += f"; injected fault: {entry.fault}"
    if entry.truncated:
        cut = ", ".join(entry.truncated)
        result["comment"] += f"; cut by the journal: {cut} (request body: {entry.body_length} bytes)"
    if entry.error:
        result["comment"] += "; the fake failed unexpectedly: " + entry.error.strip().splitlines()[-1]
    return result


def _status_text(status: int) -> str:
    if not status:
        return "no answer (the connection was broken)"
    from werkzeug.http import HTTP_STATUS_CODES  # deferred for import cost: only when a HAR is made

    return HTTP_STATUS_CODES.get(status, "")


def file_name(test_id: str) -> str:
    """A file name for the HAR of test ``test_id``: unsafe characters replaced; a long id cut, with a digest of
    the whole id so that two long ids sharing a beginning do not overwrite each other."""
    name = _UNSAFE.sub("_", test_id).strip("_.") or "test"
    if len(name) > MAX_NAME:
        import hashlib  # deferred for import cost: only for long test ids

        name = name[: MAX_NAME - 9] + "-" + hashlib.sha1(test_id.encode()).hexdigest()[:8]
    return name + ".har"


def write(directory: str | Path, test_id: str, entries: Iterable[RecordedRequest]) -> Path:
    """Write the HAR of ``entries`` to ``directory/<test id>.har``; returns the path."""
    path = Path(directory) / file_name(test_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document(entries, comment=f"requests of {test_id}"), indent=1), encoding="utf-8")
    return path
