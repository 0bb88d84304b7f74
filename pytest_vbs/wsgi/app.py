"""The WSGI application: request → operation → response, the same pipeline for every route.

route match → journal entry → hooks (may answer: faults, user hooks) → microversion → body parsed and
validated against the operation's schema → handler (state under its lock) → response with the operation's
status or the family's error envelope → hooks see the answered entry. Nothing here knows a specific route.
"""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from pytest_vbs import api as operations
from pytest_vbs.api import native
from pytest_vbs.errors import STATUS_DESCRIPTIONS, APIError, Family, error_body
from pytest_vbs.faults import FaultInjector
from pytest_vbs.hookspecs import Answer
from pytest_vbs.journal import Journal, RecordedRequest
from pytest_vbs.service import policies
from pytest_vbs.service.identity import Identity
from pytest_vbs.service.state import State
from pytest_vbs.wsgi import validation

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from pytest_vbs.api import Operation

#: Request bodies above this are refused with 413 without being read whole.
DEFAULT_MAX_BODY = 1024 * 1024
# Routes of the VBS-native family, for requests that match no rule (they still get that family's envelope).
_VBS_PATH = re.compile(r"^/v1/|^/v2/[^/]+/(cloudbackups|backuppolicy|backuppolicyresources|os-vendor-backup-sharing)")
_IDENTITY_PATH = re.compile(r"^/identity(/|$)")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")
#: Routing results kept per app (tests repeat the same paths); the cache is emptied when it outgrows this.
ROUTE_CACHE_SIZE = 4096


def _family_of(path: str) -> Family:
    """The envelope family of a path no operation matched (unknown routes still answer in their family's shape)."""
    if _IDENTITY_PATH.match(path):
        return Family.IDENTITY
    return Family.VBS if _VBS_PATH.match(path) else Family.NATIVE
# Wire faults after which the client gets no HTTP status at all.
_NO_ANSWER = ("connection_reset", "empty_response", "hang")
# "No handler result to journal": the answer came from a hook or an error, so the sent body is parsed back.
_UNSET: Any = object()


class VBSApp:
    """The fake VBS service as a WSGI application, over a :class:`State` and a :class:`Journal`.

    ``hook`` is a pluggy hook relay carrying the :mod:`pytest_vbs.hookspecs` hooks (pytest's own, or the
    standalone server's), or ``None``.
    """

    def __init__(
        self,
        state: State | None = None,
        journal: Journal | None = None,
        hook: Any = None,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        identity: Identity | None = None,
        control: bool = True,
        projects: Iterable[str] | None = None,
    ) -> None:
        self.state = state if state is not None else State()
        policies.install(self.state)  # backup policies run on the state's clock
        self.journal = journal if journal is not None else Journal()
        self.hook = hook
        self.max_body = max_body
        self.control = control  #: whether the ``/__vbs__`` control API is served (else 404, like unknown routes)
        #: The only project ids served (others answer 404), or ``None``: any project id in a path works.
        self.projects = frozenset(projects) if projects is not None else None
        self.url_map = operations.url_map(control=control)
        self._matcher = self.url_map.bind("localhost")  # no host rules: one adapter serves every request
        self._routes: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}  # (path, method) -> match
        self.faults = FaultInjector(self)
        self.on_reset: Callable[[], None] = self.reset
        self.identity = identity if identity is not None else Identity()  #: users, tokens, API auth
        self._errors_lock = threading.Lock()
        self._unexpected: list[str] = []

    # -- control ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all state, journal entries, fault rules and recorded internal errors.

        ``POST /__vbs__/reset`` calls :attr:`on_reset` instead, which the owning ``FakeVBS`` points at its
        own reset (defaults restored, ``pytest_vbs_configure`` run again)."""
        self.state.reset()
        self.identity.reset()
        self.journal.clear()
        self.faults.clear()
        self.take_unexpected_errors()

    def allowed_methods(self, path: str) -> list[str]:
        """The methods some operation serves at ``path`` (for ``Allow`` headers)."""
        return sorted(self._matcher.allowed_methods(path))

    def take_unexpected_errors(self) -> list[str]:
        """Tracebacks of exceptions raised inside the fake since the last call (they answered 500)."""
        with self._errors_lock:
            errors, self._unexpected = self._unexpected, []
            return errors

    # -- WSGI ------------------------------------------------------------------------------------------
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = self.handle(Request(environ))
        return response(environ, start_response)

    def handle(self, request: Request) -> Reply:
        operation, args, route_error = self._route(request)
        family = operation.family if operation else _family_of(request.path)
        request_id = f"req-{uuid.uuid4()}"
        entry = RecordedRequest(
            operation=operation.name if operation else "unknown",
            method=request.method,
            path=request.path,
            query=request.args.to_dict(),
            headers=dict(request.headers),
            json=None,
            project_id=args.get("project_id"),
        )
        microversion: tuple[int, int] | None = None
        journal_json: Any = _UNSET
        try:
            entry.body = self._read_body(request)
            entry.json = validation.try_json(entry.body)
            response: Reply | None = None
            answer = self._ask_hooks(entry, operation, committed=False)
            if answer is None:
                if route_error is not None:
                    raise route_error
                assert operation is not None
                self.identity.check(operation, args, request.headers, _base_url(request.environ))
                microversion = validation.microversion(operation, request.headers.get(validation.MICROVERSION_HEADER))
                call = self._call(request, operation, args, entry, microversion)
                result = operation.handler(call)
                response = json_response(operation.status, result)
                journal_json = result
                response.set_headers(call.response_headers)
                answer = self._ask_hooks(entry, operation, committed=True)
            if answer is not None:
                if answer.status is not None or response is None:
                    response = answer_response(answer, family)
                    journal_json = _UNSET
                response.set_headers(answer.headers)
                entry.fault = answer.label
                if answer.fault:
                    request.environ["pytest_vbs.fault"] = answer.fault
            assert response is not None
        except APIError as error:
            journal_json = _UNSET
            code = error.code or (operation.codes.get(error.reason or "") if operation else None)
            response = json_response(error.status, error_body(family, error.status, error.message, code))
            response.set_headers(error.headers)
        except Exception:  # a bug in the fake (or a hook): answer like Cinder would, and keep the traceback
            journal_json = _UNSET
            entry.error = self._record_unexpected(request)
            message = "The fake VBS server failed unexpectedly; the test that sent this request will fail."
            response = json_response(500, error_body(family, 500, message))
        response.set_headers({"X-OpenStack-Request-Id": request_id})
        if microversion is not None:
            response.set_headers({validation.MICROVERSION_HEADER: f"volume {native.version_text(microversion)}",
                                  "Vary": validation.MICROVERSION_HEADER})
        entry.status = 0 if request.environ.get("pytest_vbs.fault") in _NO_ANSWER else response.status_code
        if response.status_code == 204:
            entry.response_json = None
        elif journal_json is not _UNSET:
            entry.response_json = journal_json  # built by the handler: plain and shallow by construction
        else:
            entry.response_json = validation.try_json(response.body)
        if operation is None or operation.journal:
            self.journal.append(entry)
            if self.hook is not None:
                try:
                    self.hook.pytest_vbs_answered(app=self, request=entry)
                except Exception:  # an observer's bug: the answer stands, the test fails at teardown
                    self._record_unexpected(request)
        return response

    def _record_unexpected(self, request: Request) -> str:
        details = traceback.format_exc()
        with self._errors_lock:
            self._unexpected.append(f"{request.method} {request.full_path}\n{details}")
        return details

    # -- pipeline steps --------------------------------------------------------------------------------
    def _route(self, request: Request) -> tuple[Operation | None, dict[str, str], APIError | None]:
        path, method = request.environ.get("PATH_INFO") or "/", request.method
        found = self._routes.get((path, method))
        if found is None:
            try:
                name, args = self._matcher.match(path, method)
            except MethodNotAllowed as error:
                allowed = sorted(set(error.valid_methods or []))
                message = f"Method {method} is not allowed for {request.path} (allowed: {', '.join(allowed)})."
                return None, {}, APIError(405, message, reason="bad_method", headers={"Allow": ", ".join(allowed)})
            except NotFound:
                message = f"Unknown resource: {method} {request.path} matches no operation of the fake VBS API."
                return None, {}, APIError(404, message, reason="unknown_route")
            found = str(name), {k: str(v) for k, v in args.items()}
            if len(self._routes) >= ROUTE_CACHE_SIZE:
                self._routes.clear()
            self._routes[path, method] = found
        name, args = found[0], dict(found[1])  # handlers get their own copy
        project_id = args.get("project_id")
        if self.projects is not None and project_id is not None and project_id not in self.projects:
            served = ", ".join(sorted(self.projects))
            message = f"Project {project_id} is not served by this fake (it serves: {served})."
            return None, args, APIError(404, message, reason="project_not_found")
        return operations.BY_NAME[name], args, None

    def _read_body(self, request: Request) -> bytes:
        length = request.content_length
        if length is not None and length > self.max_body:
            request.environ["pytest_vbs.close_connection"] = True  # the unread body cannot be drained
            raise APIError(413, f"Request body of {length} bytes exceeds the limit of {self.max_body} bytes.",
                           reason="too_large")
        declared = request.headers.get("Content-Length")
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if declared is not None and not chunked and not _CONTENT_LENGTH.fullmatch(declared.strip()):
            request.environ["pytest_vbs.close_connection"] = True  # where the body ends is unknown
            raise APIError(400, f"Invalid Content-Length header {declared[:40]!r}.", reason="malformed_json")
        try:
            data = request.stream.read(self.max_body + 1)
        except (OSError, ValueError, HTTPException) as error:  # a broken chunked body, a client gone mid-body
            request.environ["pytest_vbs.close_connection"] = True
            raise APIError(400, f"The request body could not be read: {error}.", reason="malformed_json") from None
        if len(data) > self.max_body:
            request.environ["pytest_vbs.close_connection"] = True
            raise APIError(413, f"Request body exceeds the limit of {self.max_body} bytes.", reason="too_large")
        return data

    def _ask_hooks(self, entry: RecordedRequest, operation: Operation | None, *, committed: bool) -> Answer | None:
        if self.hook is None:
            return None
        answer: Answer | None = self.hook.pytest_vbs_answer(
            app=self, request=entry, operation=operation, committed=committed
        )
        if answer is not None and answer.delay:
            time.sleep(answer.delay)
        return answer

    def _call(
        self,
        request: Request,
        operation: Operation,
        args: Mapping[str, str],
        entry: RecordedRequest,
        microversion: tuple[int, int] | None,
    ) -> operations.Call:
        body = validation.body(operation, request.mimetype, entry.body)
        raw_query = request.args.to_dict()
        return operations.Call(
            app=self,
            project_id=args.get("project_id", ""),
            args=args,
            query=validation.query(operation, raw_query, microversion),
            raw_query=raw_query,
            body=body,
            version=operation.version,
            microversion=microversion,
            base_url=_base_url(request.environ),
            path=request.path,
            headers=request.headers,
        )


def _base_url(environ: WSGIEnvironment) -> str:
    """``scheme://host[:port]`` as the client addressed us (what ``request.host_url`` gives, without IRI work)."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    default = ":443" if scheme == "https" else ":80"
    if host.endswith(default):
        host = host[: -len(default)]
    return f"{scheme}://{host}"


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
