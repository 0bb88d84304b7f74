"""A finished answer and how it is written: :class:`Reply` (status, headers, whole body) in place of werkzeug's
``Response``, the JSON and error answers the pipeline builds, and :func:`call_wsgi`, which runs any WSGI app to
completion for the socket server and the in-process adapter."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.http import HTTP_STATUS_CODES

from pytest_vbs.errors import STATUS_DESCRIPTIONS, Family, error_body
from pytest_vbs.hookspecs import Answer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def call_wsgi(app: Any, environ: WSGIEnvironment) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run a WSGI app to completion: its status line, headers and whole body (the server and the
    in-process adapter both answer from this)."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return started.append  # the legacy write() callable: its chunks come first

    iterable = app(environ, start_response)
    try:
        body = b"".join([*started[2:], *iterable])
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    return started[0], started[1], body


class Reply:
    """A finished answer: status, headers (set case-insensitively, last value wins) and the whole body.

    What the pipeline builds instead of werkzeug's ``Response``, which does far more per request than a
    complete JSON body needs; it is a WSGI response all the same."""

    __slots__ = ("_headers", "body", "status_code")

    def __init__(self, status_code: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8") -> None:
        self.status_code = status_code
        self.body = body
        self._headers: dict[str, tuple[str, str]] = {}
        if status_code != 304:  # what werkzeug sends: no entity headers on 304, no length on 204
            self._headers["content-type"] = ("Content-Type", content_type)
            if status_code != 204:
                self._headers["content-length"] = ("Content-Length", str(len(body)))

    def set_headers(self, headers: Mapping[str, object]) -> None:
        for name, value in headers.items():
            text = str(value)
            if "\n" in text or "\r" in text:
                raise ValueError(f"Header values must not contain newlines ({name}: {text!r}).")
            self._headers[name.lower()] = (name, text)

    @property
    def headers(self) -> list[tuple[str, str]]:
        return list(self._headers.values())

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(f"{self.status_code} {HTTP_STATUS_CODES.get(self.status_code, 'Unknown')}", self.headers)
        return [self.body]


def json_response(status: int, body: Any) -> Reply:
    """A JSON response (or an empty one) with the standard reason phrase (``404 Not Found``)."""
    if body is None:
        return Reply(status)
    return Reply(status, json.dumps(body).encode(), "application/json")


def answer_response(answer: Answer, family: Family) -> Reply:
    """The response an :class:`Answer` with a ``status`` asks for (the family's envelope for errors)."""
    status = answer.status or 200
    body = answer.json
    if body is None and status >= 400:
        message = answer.message or STATUS_DESCRIPTIONS.get(status, "Error.")
        body = error_body(family, status, message, answer.code)
    return json_response(status, body)
