"""In-process mode: ``requests`` calls for the fake's URL go straight into its WSGI app, with no socket.

For tests that need no wire faults, this skips the TCP round trip and the server thread: the request is
turned into a WSGI environ and handed to the same :class:`~pytest_vbs.wsgi.app.VBSApp` the server runs, so
state, journal, hooks, HTTP-level faults (error statuses, ``Retry-After``, delays) and validation are
exactly those of the server. Mount it on the session your client code uses::

    import requests
    from pytest_vbs.inprocess import mount_inprocess

    def test_list(vbs):
        session = requests.Session()
        mount_inprocess(session, vbs)          # calls to vbs.url/... never touch a socket
        session.get(f"{vbs.endpoint}/backups").json()
        assert vbs.requests[0].operation == "list_backups"

Any other URL still goes through the session's normal adapters. A fake that was never started has no URL
of its own: give one, ``mount_inprocess(session, FakeVBS(), base_url="http://vbs.test")``, and send
requests there (the app's links use that host). For ``httpx``, its own
``httpx.WSGITransport(app=vbs.app)`` already does the same for HTTP-level behaviour.

Wire faults (which a socket would perform) are translated into the exception ``requests`` raises for them
over a real connection: ``connection_reset`` and ``empty_response`` raise :class:`requests.ConnectionError`,
``malformed_body`` raises :class:`requests.exceptions.ChunkedEncodingError`; ``hang`` waits for the read
timeout and raises :class:`requests.ReadTimeout` (without a timeout it raises ``ConnectionError`` at once,
instead of blocking the test); ``slow_body`` raises ``ConnectionError`` after the read timeout when it is
shorter than the pause between its pieces, and otherwise delivers the body at once.

``requests`` is an optional dependency of pytest-vbs: import this module only where ``requests`` is
installed.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from pytest_vbs.faults import WireFault
from pytest_vbs.wsgi.app import ENVIRON_FAULT
from pytest_vbs.wsgi.reply import call_wsgi
from pytest_vbs.wsgi.serving import SLOW_BODY_INTERVAL

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from pytest_vbs.fake import FakeVBS

__all__ = ["InProcessAdapter", "mount_inprocess"]

#: The environ key where the app asks the server for a wire fault, and the fault names (``hookspecs``).
_NO_BODY_STATUSES = (204, 304)
_Timeout = float | tuple[float | None, float | None] | None


class InProcessAdapter(BaseAdapter):
    """A ``requests`` transport adapter that answers every request by calling a WSGI ``app`` in-process.

    ``base_url`` (``http://host:port``) is what the app sees as its host (``Host``, ``SERVER_NAME``,
    ``SERVER_PORT``), so links in responses point at the same URL the client used. Mount the adapter on
    that URL: ``session.mount(base_url + "/", InProcessAdapter(app, base_url))``, or use
    :func:`mount_inprocess`.
    """

    def __init__(self, app: WSGIApplication, base_url: str) -> None:
        super().__init__()
        self.app = app
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._scheme = parts.scheme or "http"
        self._server_name = parts.hostname or "localhost"
        self._server_port = str(parts.port or (443 if self._scheme == "https" else 80))
        # Every environ starts from this; only the per-request keys are added.
        self._environ_base: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self._scheme,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "SERVER_SOFTWARE": "pytest-vbs-inprocess",
            "SCRIPT_NAME": "",
            "SERVER_NAME": self._server_name,
            "SERVER_PORT": self._server_port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": 0,
        }

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: _Timeout | Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Run ``request`` through the app and return its answer as a :class:`requests.Response`."""
        environ = self._environ(request)
        status, headers, body = call_wsgi(self.app, environ)
        fault = environ.get(ENVIRON_FAULT)
        if fault:
            self._wire_fault(str(fault), request, timeout, len(body))
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        if request.method == "HEAD" or code in _NO_BODY_STATUSES:
            body = b""
        return self._response(request, code, reason, headers, body)

    def close(self) -> None:
        """Nothing to release: there are no connections."""

    # -- request → environ ---------------------------------------------------------------------------
    def _environ(self, request: requests.PreparedRequest) -> dict[str, Any]:
        url = urlsplit(request.url or "/")
        data = _body_bytes(request.body)
        environ = dict(self._environ_base)
        raw_uri = url.path + (f"?{url.query}" if url.query else "")
        environ.update(
            {
                "REQUEST_METHOD": (request.method or "GET").upper(),
                # WSGI's "bytes as latin-1" for the unquoted path, like werkzeug's server.
                "PATH_INFO": unquote_to_bytes(url.path or "/").decode("latin-1"),
                "QUERY_STRING": url.query,
                "REQUEST_URI": raw_uri,
                "RAW_URI": raw_uri,
                "HTTP_HOST": url.netloc or f"{self._server_name}:{self._server_port}",
                "wsgi.input": io.BytesIO(data),
            }
        )
        for key, value in request.headers.items():
            name = key.upper().replace("-", "_")
            if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[name] = value
            elif name != "HOST":
                environ["HTTP_" + name] = value
        if data or "CONTENT_LENGTH" in environ:
            environ["CONTENT_LENGTH"] = str(len(data))
        return environ

    # -- answer → response ---------------------------------------------------------------------------
    def _response(
        self, request: requests.PreparedRequest, code: int, reason: str, headers: list[tuple[str, str]], body: bytes
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = code
        response.reason = reason or _reason(code)
        response.headers = CaseInsensitiveDict(headers)
        if "Content-Length" not in response.headers and code not in _NO_BODY_STATUSES:
            response.headers["Content-Length"] = str(len(body))
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = io.BytesIO(body)
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]
        return response

    def _wire_fault(self, fault: str, request: requests.PreparedRequest, timeout: Any, size: int) -> None:
        """Raise what ``requests`` raises when a server performs ``fault`` on the socket."""
        raise_for = WIRE_ERRORS.get(fault)
        if raise_for is not None:
            raise_for(request, _read_timeout(timeout), size)


def _reset(request: requests.PreparedRequest, read_timeout: float | None, size: int) -> None:
    error = ConnectionResetError(104, "Connection reset by peer")
    raise requests.ConnectionError(ProtocolError("Connection aborted.", error), request=request)


def _empty(request: requests.PreparedRequest, read_timeout: float | None, size: int) -> None:
    raise requests.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionError("Remote end closed connection without response")),
        request=request,
    )


def _half_body(request: requests.PreparedRequest, read_timeout: float | None, size: int) -> None:
    raise requests.exceptions.ChunkedEncodingError(
        ProtocolError("Connection broken: IncompleteRead", f"{size // 2} bytes read, {size - size // 2} more "
                      "expected"),
        request=request,
    )


def _hang(request: requests.PreparedRequest, read_timeout: float | None, size: int) -> None:
    if read_timeout is None:
        raise requests.ConnectionError(
            "pytest-vbs in-process: a 'hang' fault without a client read timeout would block the test; "
            "send the request with timeout=...",
            request=request,
        )
    time.sleep(read_timeout)
    raise requests.ReadTimeout(
        ReadTimeoutError(None, request.url or "", f"Read timed out. (read timeout={read_timeout})"),  # type: ignore[arg-type]
        request=request,
    )


def _slow_body(request: requests.PreparedRequest, read_timeout: float | None, size: int) -> None:
    if size and read_timeout is not None and read_timeout < SLOW_BODY_INTERVAL:
        time.sleep(read_timeout)
        raise requests.ConnectionError(
            ReadTimeoutError(None, request.url or "", "Read timed out."),  # type: ignore[arg-type]
            request=request,
        )


#: What ``requests`` raises for each wire fault over a real connection (a test holds this to :class:`WireFault`).
WIRE_ERRORS: dict[str, Callable[[requests.PreparedRequest, float | None, int], None]] = {
    WireFault.CONNECTION_RESET: _reset,
    WireFault.EMPTY_RESPONSE: _empty,
    WireFault.MALFORMED_BODY: _half_body,
    WireFault.HANG: _hang,
    WireFault.SLOW_BODY: _slow_body,
}


def mount_inprocess(session: requests.Session, fake: FakeVBS, base_url: str | None = None) -> InProcessAdapter:
    """Route ``session``'s requests for ``fake``'s URL (or ``base_url``) into its app in-process.

    Returns the mounted adapter. Requests to other URLs are unaffected. ``base_url`` is required when the
    fake was not started (it has no port yet).
    """
    if base_url is None and not fake.server.running:
        raise ValueError("the fake is not started, so it has no URL: start it, or pass base_url='http://<host>'")
    url = (base_url or fake.url).rstrip("/")
    adapter = InProcessAdapter(fake.app, url)
    session.mount(url + "/", adapter)
    return adapter


def _body_bytes(body: bytes | str | Iterable[bytes] | Any | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    read = getattr(body, "read", None)
    if read is not None:
        data = read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(part.encode("utf-8") if isinstance(part, str) else bytes(part) for part in body)


def _read_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    value = timeout[1] if isinstance(timeout, tuple) else getattr(timeout, "read_timeout", timeout)
    return float(value) if isinstance(value, (int, float)) else None


def _reason(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""
