"""The WSGI application: request → operation → response, the same pipeline for every route.

route match → journal entry → hooks (may answer: faults, user hooks) → token check → microversion → body and query
validated against the operation's schemas → handler (state under its lock) → response with the operation's status
or the family's error envelope → journal, and the hooks see the answered entry. Nothing here knows a specific route.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Request

from pytest_vbs.api import BY_NAME, Call, Operation, family_of, url_map
from pytest_vbs.api.identity import AUTH_PATH
from pytest_vbs.api.microversions import HEADER as MICROVERSION_HEADER
from pytest_vbs.api.microversions import negotiate, version_text
from pytest_vbs.errors import APIError, Family, error_body
from pytest_vbs.faults import FaultInjector, WireFault
from pytest_vbs.hookspecs import Answer
from pytest_vbs.journal import Journal, RecordedRequest
from pytest_vbs.service import Identity, State
from pytest_vbs.service.identity import TOKEN_HEADER
from pytest_vbs.wsgi import validation
from pytest_vbs.wsgi.flights import Flights
from pytest_vbs.wsgi.framing import valid_host
from pytest_vbs.wsgi.reply import Reply, answer_response, json_response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

#: Request bodies above this are refused with 413 without being read whole.
DEFAULT_MAX_BODY = 1024 * 1024
#: Routing results kept per app (tests repeat the same paths): the cache is emptied when it holds this many
#: paths or this many characters of paths (so 64 KiB paths cannot make it large), and at every reset.
ROUTE_CACHE_SIZE = 4096
ROUTE_CACHE_CHARS = 1024 * 1024
#: Tracebacks of internal errors kept until taken (a long-lived ``serve`` never takes them); later ones are counted.
MAX_UNEXPECTED = 100
#: A request body is read in pieces of this size: a client that announces a large body and trickles it holds
#: this much memory (and what it sent), not the whole announced length.
BODY_CHUNK = 64 * 1024
#: Environ keys the application sets for the transport: the wire fault to perform instead of (or while) sending
#: the answer, and that the connection must close after it (the request's body was not read to its end).
ENVIRON_FAULT = "pytest_vbs.fault"
ENVIRON_CLOSE = "pytest_vbs.close_connection"
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")
# Wire faults after which the client gets no HTTP status at all.
_NO_ANSWER = frozenset(fault.value for fault in WireFault if not fault.answers)
# "No handler result to journal": the answer came from a hook or an error, so the sent body is parsed back.
_UNSET: Any = object()


class Abandoned(ConnectionAbortedError):
    """The server stopped while a request waited (a fault's delay): the request is dropped, unanswered and
    unrecorded, and its thread returns at once (the server drops the connection, as for a client gone)."""


@dataclass
class _Exchange:
    """One request on its way through the pipeline: what it matched and what is known of its answer so far."""

    request: Request
    operation: Operation | None
    args: dict[str, str]
    family: Family
    entry: RecordedRequest
    generation: int  #: the reset generation the request began in
    microversion: tuple[int, int] | None = None
    journal_json: Any = _UNSET  #: the handler's result, when the answer is the handler's


class VBSApp:
    """The fake VBS service as a WSGI application, over a :class:`State`, an :class:`Identity` and a
    :class:`Journal`; it is the :class:`~pytest_vbs.api.call.Controls` the control API drives.

    ``hook`` is a pluggy hook relay carrying the :mod:`pytest_vbs.hookspecs` hooks (pytest's own, or the
    standalone server's), or ``None``; ``openapi`` gives the OpenAPI document for a server URL (``FakeVBS``
    hands in :func:`pytest_vbs.openapi.document`; without it ``GET /__vbs__/openapi.json`` answers 404).
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
        openapi: Callable[[str], dict[str, Any]] | None = None,
        coverage: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.state = state if state is not None else State()
        self.journal = journal if journal is not None else Journal()
        self.hook = hook
        self.max_body = max_body
        self.control = control  #: whether the ``/__vbs__`` control API is served (else 404, like unknown routes)
        #: The only project ids served (others answer 404), or ``None``: any project id in a path works.
        self.projects = frozenset(projects) if projects is not None else None
        self.url_map = url_map(control=control)
        self._matcher = self.url_map.bind("localhost")  # no host rules: one adapter serves every request
        self._routes: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}  # (path, method) -> match
        self._routes_chars = 0
        self._routes_lock = threading.Lock()
        #: Set while the server serving this app stops: every delay ends at once (:meth:`pause`).
        self.stopping = threading.Event()
        self.faults = FaultInjector(self, operations=BY_NAME, allowed_methods=self.allowed_methods, sleep=self.pause)
        self.on_reset: Callable[[], None] = self.reset
        self.identity = identity if identity is not None else Identity()  #: users, tokens, API auth
        self._openapi = openapi
        self._coverage = coverage
        self._errors_lock = threading.Lock()
        self._unexpected: list[str] = []
        self._unexpected_dropped = 0
        self.flights = Flights()  #: reset generations and the requests in flight

    # -- control ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all state, journal entries and fault rules.

        The recorded internal errors stay: only :meth:`take_unexpected_errors` (the ``vbs`` fixture's teardown)
        takes them, so a test that hit a bug of the fake and then reset still fails.
        ``POST /__vbs__/reset`` calls :attr:`on_reset` instead, which the owning ``FakeVBS`` points at its
        own reset (defaults restored, ``pytest_vbs_configure`` run again)."""
        self.flights.new_generation()  # requests still in flight are not recorded in the new journal
        self.state.reset()
        self.identity.reset()
        self.journal.clear()
        self.faults.clear()
        with self._routes_lock:
            self._routes.clear()
            self._routes_chars = 0

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (a fault's delay), or raise :class:`Abandoned` as soon as the server stops."""
        if self.stopping.wait(seconds):
            raise Abandoned("the fake VBS server stopped while this request waited")

    def reset_fake(self) -> None:
        self.on_reset()

    def openapi_document(self, server_url: str) -> dict[str, Any]:
        if self._openapi is None:
            raise APIError(404, "This fake has no OpenAPI document (its application was built without one).",
                           reason="unknown_route")
        return self._openapi(server_url)

    def coverage_report(self) -> dict[str, Any]:
        if self._coverage is None:
            raise APIError(404, "API coverage is off: run pytest with --vbs-coverage, or serve with --coverage.",
                           reason="unknown_route")
        return self._coverage()

    def allowed_methods(self, path: str) -> list[str]:
        """The methods some operation serves at ``path`` (for ``Allow`` headers)."""
        return sorted(self._matcher.allowed_methods(path))

    def take_unexpected_errors(self) -> list[str]:
        """Tracebacks of exceptions raised inside the fake since the last call (they answered 500); past
        :data:`MAX_UNEXPECTED` a last line says how many more were not kept."""
        with self._errors_lock:
            errors, self._unexpected = self._unexpected, []
            more, self._unexpected_dropped = self._unexpected_dropped, 0
        if more:
            errors.append(f"... and {more} more internal error(s), not kept (the first {MAX_UNEXPECTED} are above)")
        return errors

    # -- WSGI ------------------------------------------------------------------------------------------
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # populate_request=False: werkzeug would put the request into its own environ, a cycle that keeps every
        # request (headers and body) alive until the cyclic collector runs (issue 15: RSS grew 5 MB a request).
        response = self.handle(Request(environ, populate_request=False))
        return response(environ, start_response)

    def handle(self, request: Request) -> Reply:
        """Answer one request: the operation's answer, a hook's, or the family's error envelope; then record it
        (unless a reset came while it was served: :mod:`pytest_vbs.wsgi.flights`)."""
        ticket, generation = self.flights.begin(f"{request.method} {request.path}")
        try:
            return self._handle(request, generation)
        finally:
            self.flights.end(ticket)

    def _handle(self, request: Request, generation: int) -> Reply:
        started = time.perf_counter()
        operation, args, route_error = self._route(request)
        exchange = _Exchange(
            request=request,
            generation=generation,
            operation=operation,
            args=args,
            family=operation.family if operation else family_of(request.path),
            entry=RecordedRequest(
                operation=operation.name if operation else "unknown",
                method=request.method,
                path=request.path,
                query=request.args.to_dict(),
                headers=dict(request.headers),
                json=None,
                project_id=args.get("project_id"),
            ),
        )
        exchange.entry.started = time.time()
        try:
            response = self._answer(exchange, route_error)
        except Abandoned:
            raise
        except APIError as error:
            # The error is also a local of the frames it passed (route_error, parse_error): without its traceback
            # and context (a JSONDecodeError's frames) it keeps none of them alive, so the request (its body) is
            # freed at once, not by the cyclic collector (issue 15: RSS grew with every refused body).
            error.__traceback__ = error.__context__ = error.__cause__ = None
            exchange.journal_json = _UNSET
            code = error.code or (operation.codes.get(error.reason or "") if operation else None)
            exchange.entry.reason = error.reason
            response = json_response(error.status, error_body(exchange.family, error.status, error.message, code))
            response.set_headers(error.headers)
        except Exception:  # a bug in the fake (or a hook): answer like Cinder would, and keep the traceback
            exchange.journal_json = _UNSET
            exchange.entry.error = self._record_unexpected(request)
            message = "The fake VBS server failed unexpectedly; the test that sent this request will fail."
            response = json_response(500, error_body(exchange.family, 500, message))
        self._stamp(exchange, response)
        exchange.entry.duration = time.perf_counter() - started
        self._record(exchange, response)
        self.state.prune()  # empty projects of unknown ids do not pile up in a long-lived serve
        return response

    def _stamp(self, exchange: _Exchange, response: Reply) -> None:
        """The headers every answer of the fake carries (a request id; the microversion it served)."""
        response.set_headers({"X-OpenStack-Request-Id": f"req-{uuid.uuid4()}"})
        if exchange.microversion is not None:
            response.set_headers({MICROVERSION_HEADER: f"volume {version_text(exchange.microversion)}",
                                  "Vary": MICROVERSION_HEADER})

    def _answer(self, exchange: _Exchange, route_error: APIError | None) -> Reply:
        """The answer to a routed request (raises :class:`APIError` for the error answers)."""
        request, operation, entry = exchange.request, exchange.operation, exchange.entry
        entry.body = self._read_body(request)
        parsed, parse_error = self._parse(operation, request.mimetype, entry.body)
        entry.json = parsed
        response: Reply | None = None
        answer = self._ask_hooks(entry, operation, committed=False)
        if answer is None:
            response = self._operate(exchange, route_error, parsed, parse_error)
            answer = self._ask_hooks(entry, operation, committed=True)
        if answer is not None:
            if answer.status is not None or response is None:
                response = answer_response(answer, exchange.family)
                exchange.journal_json = _UNSET
            response.set_headers(answer.headers)
            entry.fault = answer.label
            if answer.fault:
                request.environ[ENVIRON_FAULT] = answer.fault
        assert response is not None
        return response

    def _operate(self, exchange: _Exchange, route_error: APIError | None, parsed: Any,
                 parse_error: APIError | None) -> Reply:
        """The operation's own answer, once no hook answered first (a proxy forwards the request here instead)."""
        request, operation = exchange.request, exchange.operation
        if route_error is not None:
            raise route_error
        assert operation is not None
        if self.identity.auth and not operation.public:
            auth_url = _base_url(request.environ) + AUTH_PATH
            self.identity.check(exchange.args.get("project_id"), request.headers.get(TOKEN_HEADER), auth_url)
        exchange.microversion = negotiate(operation.version, request.headers.get(MICROVERSION_HEADER))
        if parse_error is not None:
            raise parse_error
        call = self._call(exchange, parsed)
        with self.state.lock if operation.locked else contextlib.nullcontext():
            result = operation.handler(call)  # its lookups and views see one state (issue 15: a 500)
        response = json_response(operation.status, result)
        exchange.journal_json = result
        response.set_headers(call.response_headers)
        return response

    def _record(self, exchange: _Exchange, response: Reply) -> None:
        """The journal entry completed with the answer, appended, and shown to ``pytest_vbs_answered``."""
        entry, operation = exchange.entry, exchange.operation
        entry.status = 0 if exchange.request.environ.get(ENVIRON_FAULT) in _NO_ANSWER else response.status_code
        entry.response_headers = dict(response.headers)
        if response.status_code == 204:
            entry.response_json = None
        elif exchange.journal_json is not _UNSET:
            entry.keep_response(response.body, exchange.journal_json)  # the handler's: plain and shallow
        else:
            entry.keep_response(response.body)
        if operation is None or operation.journal:
            entry.compact()  # the CPU part of recording, before the generation is held
            with self.flights.holding(exchange.generation) as current:
                if current:  # no reset since it began: it belongs to this journal
                    self.journal.append(entry)
            if current and self.hook is not None:
                try:
                    self.hook.pytest_vbs_answered(app=self, request=entry)
                except Exception:  # an observer's bug: the answer stands, the test fails at teardown
                    self._record_unexpected(exchange.request)

    def _record_unexpected(self, request: Request) -> str:
        details = traceback.format_exc()
        with self._errors_lock:
            if len(self._unexpected) < MAX_UNEXPECTED:
                self._unexpected.append(f"{request.method} {request.full_path}\n{details}")
            else:
                self._unexpected_dropped += 1
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
            with self._routes_lock:
                if len(self._routes) >= ROUTE_CACHE_SIZE or self._routes_chars + len(path) > ROUTE_CACHE_CHARS:
                    self._routes.clear()
                    self._routes_chars = 0
                self._routes[path, method] = found
                self._routes_chars += len(path)
        name, args = found[0], dict(found[1])  # handlers get their own copy
        project_id = args.get("project_id")
        if self.projects is not None and project_id is not None and project_id not in self.projects:
            served = ", ".join(sorted(self.projects))
            message = f"Project {project_id} is not served by this fake (it serves: {served})."
            return None, args, APIError(404, message, reason="project_not_found")
        return BY_NAME[name], args, None

    def _read_body(self, request: Request) -> bytes:
        length = request.content_length
        if length is not None and length > self.max_body:
            request.environ[ENVIRON_CLOSE] = True  # the unread body cannot be drained
            raise APIError(413, f"Request body of {length} bytes exceeds the limit of {self.max_body} bytes.",
                           reason="too_large")
        declared = request.headers.get("Content-Length")
        chunked = request.headers.get("Transfer-Encoding", "").rsplit(",", 1)[-1].strip().lower() == "chunked"
        if declared is not None and not chunked and not _CONTENT_LENGTH.fullmatch(declared.strip()):
            request.environ[ENVIRON_CLOSE] = True  # where the body ends is unknown
            raise APIError(400, f"Invalid Content-Length header {declared[:40]!r}.", reason="malformed_json")
        try:
            data = _read_limited(request.stream, self.max_body + 1)
        except (OSError, ValueError, HTTPException) as error:  # a broken chunked body, a client gone mid-body
            request.environ[ENVIRON_CLOSE] = True
            if _timed_out(error):  # silent for the server's idle timeout mid-body
                raise APIError(408, "The rest of the request body did not arrive in time.", reason="body_timeout",
                               headers={"Connection": "close"}) from None
            raise APIError(400, f"The request body could not be read: {error}.", reason="malformed_json") from None
        if len(data) > self.max_body:
            request.environ[ENVIRON_CLOSE] = True
            raise APIError(413, f"Request body exceeds the limit of {self.max_body} bytes.", reason="too_large")
        return data

    @staticmethod
    def _parse(operation: Operation | None, mimetype: str, data: bytes) -> tuple[Any, APIError | None]:
        """The body decoded once: strictly where the operation takes a body (the error is raised after the token
        and microversion checks, as the pipeline orders them), leniently for the journal otherwise."""
        if operation is None or operation.request_schema is None:
            return validation.try_json(data), None
        try:
            return validation.parse_json(mimetype, data), None
        except APIError as error:
            return validation.try_json(data), error

    def _ask_hooks(self, entry: RecordedRequest, operation: Operation | None, *, committed: bool) -> Answer | None:
        if self.hook is None:
            return None
        answer: Answer | None = self.hook.pytest_vbs_answer(
            app=self, request=entry, operation=operation, committed=committed
        )
        if answer is not None and answer.delay:
            self.pause(answer.delay)
        return answer

    def _call(self, exchange: _Exchange, parsed: Any) -> Call:
        request, operation = exchange.request, exchange.operation
        assert operation is not None
        body = validation.body(operation, parsed, exchange.microversion)
        raw_query = request.args.to_dict()
        return Call(
            state=self.state,
            identity=self.identity,
            controls=self,
            project_id=exchange.args.get("project_id", ""),
            args=exchange.args,
            query=validation.query(operation, raw_query, exchange.microversion),
            raw_query=raw_query,
            body=body,
            version=operation.version,
            microversion=exchange.microversion,
            base_url=_base_url(request.environ),
            path=request.path,
            headers=request.headers,
        )


def _timed_out(error: BaseException | None) -> bool:
    """Whether ``error`` is, or was raised while handling, a socket timeout (werkzeug wraps it)."""
    while error is not None:
        if isinstance(error, TimeoutError):
            return True
        error = error.__context__
    return False


def _read_limited(stream: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream``, read :data:`BODY_CHUNK` at a time."""
    pieces: list[bytes] = []
    left = limit
    while left > 0:
        piece = stream.read(min(BODY_CHUNK, left))
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


def _base_url(environ: WSGIEnvironment) -> str:
    """``scheme://host[:port]`` as the client addressed us (what ``request.host_url`` gives, without IRI work);
    a ``Host`` that is not a valid ``host[:port]`` is not reflected (links, ``WWW-Authenticate``)."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if not host or not valid_host(host):
        host = f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    default = ":443" if scheme == "https" else ":80"
    if host.endswith(default):
        host = host[: -len(default)]
    return f"{scheme}://{host}"
