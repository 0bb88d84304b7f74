"""The threaded HTTP server around :class:`~pytest_vbs.wsgi.app.VBSApp`: bind, serve, stop in milliseconds.

Built on werkzeug's server, with three changes that make it fast and faithful:

* real HTTP/1.1 keep-alive: werkzeug's handler closes every connection and then waits up to 10 ms to
  drain the socket; this handler answers with a ``Content-Length`` and keeps the connection (the app
  always reads the request body, so the stream is positioned at the next request);
* a stop that does not poll: the accept loop waits on the listening socket *and* a wake-up socket, so
  ``stop()`` returns as soon as open connections are shut down;
* connections are served by threads that are reused, not started per connection (each ``requests.get``
  opens a connection of its own).

Wire faults (reset, empty response, truncated or dribbled body, hang) are performed here, at the socket,
when the app marks a response with ``environ[ENVIRON_FAULT]`` (one per :class:`~pytest_vbs.faults.WireFault`).

Against hostile or careless clients (``docs/reliability.md``): a request head whose framing is ambiguous is
refused before its body is read (:mod:`~pytest_vbs.wsgi.framing`); a connection silent for ``idle_timeout``
seconds (keep-alive, a partial head or body, an unread answer) is closed; beyond ``max_connections`` open
connections, and when no thread can be started, a connection is answered ``503`` and closed; when ``accept()``
runs out of descriptors the loop backs off instead of spinning; ``100 Continue`` is sent once, to HTTP/1.1
clients, only when the app starts reading the body.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import json
import logging
import math
import selectors
import socket
import socketserver
import struct
import threading
import time
import warnings
from collections.abc import Callable
from http.server import HTTPServer
from typing import Any, ClassVar

from werkzeug.serving import WSGIRequestHandler, get_sockaddr, select_address_family

from pytest_vbs.api import family_of
from pytest_vbs.errors import error_body
from pytest_vbs.faults import WireFault
from pytest_vbs.wsgi import framing
from pytest_vbs.wsgi.app import ENVIRON_CLOSE, ENVIRON_FAULT, VBSApp
from pytest_vbs.wsgi.connections import EXHAUSTED, ConnectionThreads, Refusals
from pytest_vbs.wsgi.reply import call_wsgi

log = logging.getLogger("pytest_vbs")

#: A ``slow_body`` fault sends the body in this many pieces, pausing before each (about 2 s in all).
SLOW_BODY_CHUNKS = 20
SLOW_BODY_INTERVAL = 0.1
#: Longest time a ``hang`` fault holds a request when the client never gives up, in seconds.
MAX_HANG = 300.0
#: Seconds a connection may stay silent (keep-alive between requests, a partial request, an unread answer).
DEFAULT_IDLE_TIMEOUT = 60.0
#: Open connections served at once; more are answered 503 and closed (each holds a thread and a descriptor).
DEFAULT_MAX_CONNECTIONS = 512
#: Back-off of the accept loop when ``accept()`` fails for want of descriptors: first and longest pause, seconds.
ACCEPT_BACKOFF = (0.01, 0.25)


class _Handler(WSGIRequestHandler):
    """One connection: parse requests in a loop, run the app, write a complete response each time."""

    protocol_version = "HTTP/1.1"
    server: _ThreadedServer  # type: ignore[assignment]  # has everything werkzeug's handler reads of a server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)  # every read and write of the connection

    def parse_request(self) -> bool:
        """http.server's parsing, then the framing checks of :func:`framing.head_error` (400 and close)."""
        if not super().parse_request():
            return False
        refused = framing.head_error(self.headers, self.request_version, self.path)
        if refused is not None:
            self.send_error(*refused)
            return False
        return True

    def handle_expect_100(self) -> bool:
        """Not at once: ``100 Continue`` goes out when the app starts reading the body (:class:`_Continue`)."""
        return True

    def run_wsgi(self) -> None:
        stream = self.rfile
        if self.request_version != "HTTP/1.0" and self.headers.get("Expect", "").strip().lower() == "100-continue":
            self.rfile = _Continue(stream, self.wfile)  # type: ignore[assignment]  # reads like the stream
        try:
            self.environ = environ = self.make_environ()
            status, headers, body = call_wsgi(self.server.app, environ)
        except (ConnectionError, TimeoutError) as error:
            self.connection_dropped(error)
            return
        finally:
            self.rfile = stream
        code = int(status.split(None, 1)[0])
        head = self._head(status, headers, body, close=bool(environ.get(ENVIRON_CLOSE)))
        if environ["REQUEST_METHOD"] == "HEAD" or code in (204, 304):
            body = b""
        fault = environ.get(ENVIRON_FAULT)
        if fault:
            self._serve_fault(str(fault), head, body)
            return
        self.wfile.write(head + body)
        self.wfile.flush()

    def _head(self, status: str, headers: list[tuple[str, str]], body: bytes, *, close: bool) -> bytes:
        named = {key.lower() for key, _ in headers}  # a proxied answer brings its own Server and Date
        lines = [f"{self.protocol_version} {status}"]
        lines += [] if "server" in named else [f"Server: {self.version_string()}"]
        lines += [] if "date" in named else [f"Date: {self.date_time_string()}"]
        lines += [f"{key}: {value}" for key, value in headers if key.lower() not in ("content-length", "connection")]
        close = close or any(k.lower() == "connection" and v.lower() == "close" for k, v in headers)
        code = int(status.split(None, 1)[0])
        announced = next((v for k, v in headers if k.lower() == "content-length"), None)
        if self.command == "HEAD" and announced is not None:
            lines.append(f"Content-Length: {announced}")  # what GET would send (RFC 9110 9.3.2)
        elif code not in (204, 304):
            lines.append(f"Content-Length: {len(body)}")
        if close or self.close_connection:
            lines.append("Connection: close")
            self.close_connection = True
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")  # an HTTP/1.0 client closes unless told otherwise
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _serve_fault(self, fault: str, head: bytes, body: bytes) -> None:
        self.close_connection = True
        perform = self.WIRE_FAULTS.get(fault)
        if perform is not None:
            perform(self, head, body)

    def _reset(self, head: bytes, body: bytes) -> None:
        # SO_LINGER 0 makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _close_empty(self, head: bytes, body: bytes) -> None:
        self.connection.shutdown(socket.SHUT_RDWR)

    def _send_half(self, head: bytes, body: bytes) -> None:
        # Full Content-Length announced, half the body sent, then the connection closes.
        self.wfile.write(head + body[: len(body) // 2])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    def _dribble(self, head: bytes, body: bytes) -> None:
        self.wfile.write(head)
        self.wfile.flush()
        step = max(1, len(body) // SLOW_BODY_CHUNKS)
        for start in range(0, len(body), step):
            if self.server.stopping.wait(SLOW_BODY_INTERVAL):
                break
            self.wfile.write(body[start : start + step])
            self.wfile.flush()

    def _hang(self, head: bytes, body: bytes) -> None:
        self._wait_for_client_to_give_up()

    #: How each wire fault is performed at the socket (a test holds this to :class:`WireFault`).
    WIRE_FAULTS: ClassVar[dict[str, Callable[[_Handler, bytes, bytes], None]]] = {
        WireFault.CONNECTION_RESET: _reset,
        WireFault.EMPTY_RESPONSE: _close_empty,
        WireFault.MALFORMED_BODY: _send_half,
        WireFault.SLOW_BODY: _dribble,
        WireFault.HANG: _hang,
    }

    def _wait_for_client_to_give_up(self) -> None:
        """Hold the request until the client closes its end, the server stops, or :data:`MAX_HANG`."""
        deadline = time.monotonic() + MAX_HANG
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection, selectors.EVENT_READ)
            while time.monotonic() < deadline and not self.server.stopping.is_set():
                if selector.select(timeout=0.05):
                    try:
                        if not self.connection.recv(65536):
                            return
                    except OSError:
                        return

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What http.server answers before the app runs (a garbage request line, a request line or header
        over 64 KiB, more than 100 headers, an unsupported HTTP version): the family's JSON error envelope
        instead of an HTML page, then the connection closes."""
        short = self.responses.get(code, ("Error", ""))[0]
        text = (message or short).rstrip(".") + "."
        path = getattr(self, "path", "") or ""
        body = json.dumps(error_body(family_of(path.split("?")[0]), code, text)).encode()
        self.log_error("code %d, message %s", code, message)
        if self.request_version == "HTTP/0.9":  # garbage before any version: answer with a status line anyway
            self.request_version = "HTTP/1.1"
        self.close_connection = True
        self.send_response(code, short)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are in the journal; no per-request logging."""

    def log_error(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


class _Continue:
    """The request stream of an HTTP/1.1 client that sent ``Expect: 100-continue`` and waits before sending its
    body: the first read sends ``100 Continue`` (once); an answer given without reading (413, 400) sends none."""

    def __init__(self, stream: Any, out: Any) -> None:
        self._stream, self._out, self._sent = stream, out, False

    def _go(self) -> Any:
        if not self._sent:
            self._sent = True
            self._out.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._out.flush()
        return self._stream

    def read(self, size: int = -1) -> bytes:
        return bytes(self._go().read(size))

    def read1(self, size: int = -1) -> bytes:
        return bytes(self._go().read1(size))

    def readline(self, size: int = -1) -> bytes:
        return bytes(self._go().readline(size))

    def readinto(self, buffer: Any) -> int:
        return int(self._go().readinto(buffer))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@functools.cache
def _server_version() -> str:
    from importlib.metadata import version

    return f"Werkzeug/{version('werkzeug')}"


class _ThreadedServer(HTTPServer):
    """What werkzeug's handler needs of a server (werkzeug's own ``BaseWSGIServer`` reads package metadata on
    every construction, about half a millisecond, and exits the process when the port is taken), with
    connections served by reused threads, tracked so that stop can close them, and capped."""

    multithread = True
    multiprocess = False
    passthrough_errors = False
    ssl_context = None
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, app: VBSApp, *, idle_timeout: float, max_connections: int) -> None:
        self.app = app
        # Set by stop: every wait of a connection thread (the app's delays, hang, dribble) ends at once.
        stopping = getattr(app, "stopping", None)  # any WSGI app can be served (the benchmarks serve others)
        self.stopping = stopping if isinstance(stopping, threading.Event) else threading.Event()
        self.stopping.clear()
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._threads = ConnectionThreads(self._serve_connection, idle_timeout=idle_timeout)
        self.refusals = Refusals()
        self._backoff = 0.0
        self._server_version = _server_version()
        self.address_family = select_address_family(host, port)
        address = get_sockaddr(host, port, self.address_family)
        assert isinstance(address, tuple)  # an IP address and port (werkzeug also accepts unix sockets)
        super().__init__(address, _Handler)  # binds, or raises OSError
        self._threads.name = f"pytest-vbs:{self.server_port}-connection"

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # not HTTPServer's, which looks up the host's FQDN
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug(message, *args)

    def accept(self) -> float:
        """Accept one connection and hand it on; the seconds to pause before the next ``accept()`` (0 but when
        the process or the system is out of descriptors: then the pending connection would wake the loop at
        once, again and again, at full CPU)."""
        try:
            connection, address = self.socket.accept()
        except OSError as error:
            if error.errno not in EXHAUSTED:
                return 0.0
            self._backoff = min(ACCEPT_BACKOFF[1], max(ACCEPT_BACKOFF[0], self._backoff * 2))
            log.debug("pytest-vbs: accept() failed (%s): next try in %.2f s", errno.errorcode[error.errno],
                      self._backoff)
            return self._backoff
        self._backoff = 0.0
        self.process_request(connection, address)
        return 0.0

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            full = len(self._connections) >= self.max_connections
            if not full:
                self._connections.add(request)
        if full:
            self.refusals.refuse(request, f"The fake serves at most {self.max_connections} connections at once.")
        elif not self._threads.submit(request, client_address):
            with self._connections_lock:
                self._connections.discard(request)
            self.refusals.refuse(request, "The fake could not start a thread for this connection.")

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self.refusals.close_all()
        self._threads.join()

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class ExposedServerWarning(UserWarning):
    """The fake was told to listen on every interface (or another non-loopback address)."""


def exposed(host: str) -> bool:
    """Whether binding ``host`` makes the server reachable from other machines: judged by the address the bind
    uses (``0``, ``0x0`` and host names are resolved as the bind resolves them), which is a wildcard (``0.0.0.0``,
    ``::``, empty) or a non-loopback IP address."""
    if host == "":
        return True
    address = get_sockaddr(host, 0, select_address_family(host, 0))[0]  # the text itself when it does not resolve
    try:
        ip = ipaddress.ip_address(str(address).strip("[]").split("%")[0])
    except ValueError:
        return host != "localhost"
    return not ip.is_loopback


def _exposed_message(host: str, *, control: bool) -> str:
    message = (f"pytest-vbs: the fake VBS binds {host}: other machines can reach it, and without auth any "
               "request is accepted")
    if control:
        message += (", including its /__vbs__ control API (reset, seeding, fault injection); turn that off with "
                    "--vbs-no-control, ini vbs_control = false, FakeVBS(control=False) or serve --no-control")
    return message + ". Bind 127.0.0.1 (the default) unless other machines must reach the fake."


def _checked(name: str, value: object, kind: type[int] | type[float]) -> float:
    """``value`` if it is a positive ``kind`` (``float`` accepts ints too), else a ``TypeError``/``ValueError``."""
    what = "number" if kind is float else "integer"
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise TypeError(f"{name} must be a positive {what}, not {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive {what}, not {value!r}")
    return value


class VBSServer:
    """A running fake: the app served on ``host:port`` (port 0 = a free one) from a background thread.

    ``start()`` binds and returns at once (the socket listens before the accept loop runs); ``stop()``
    wakes the loop, closes keep-alive connections, ends every wait of the connection threads, joins them and
    releases the port. ``idle_timeout`` (seconds) closes a connection silent that long; ``max_connections``
    caps the connections open at once (more are answered 503 and closed).
    """

    def __init__(self, app: VBSApp, host: str = "127.0.0.1", port: int = 0, *,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        self.idle_timeout = float(_checked("idle_timeout", idle_timeout, float))
        self.max_connections = int(_checked("max_connections", max_connections, int))
        if exposed(host):
            warnings.warn(_exposed_message(host or "0.0.0.0", control=app.control), ExposedServerWarning,
                          stacklevel=3)
        self.app = app
        self.host = host
        self.port = port
        self._httpd: _ThreadedServer | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> VBSServer:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._httpd = _ThreadedServer(self.host, self.port, self.app, idle_timeout=self.idle_timeout,
                                      max_connections=self.max_connections)
        self.port = self._httpd.server_port
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=f"pytest-vbs:{self.port}", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        httpd, wake = self._httpd, self._wake_r
        assert httpd is not None
        assert wake is not None
        with selectors.DefaultSelector() as selector:
            selector.register(httpd.socket, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select(httpd.refusals.expire()):
                    if key.fileobj is wake:
                        return
                    pause = httpd.accept()
                    if pause and httpd.stopping.wait(pause):
                        return

    def stop(self) -> None:
        httpd, thread, wake_r, wake_w = self._httpd, self._thread, self._wake_r, self._wake_w
        if httpd is None or thread is None or wake_r is None or wake_w is None:
            return
        httpd.stopping.set()
        wake_w.send(b"x")
        thread.join()
        httpd.close_connections()
        httpd.server_close()  # closes the listening socket and the refused connections, joins the threads
        httpd.stopping.clear()  # the app's delays wait again (in-process use of a stopped fake)
        wake_r.close()
        wake_w.close()
        self._httpd = self._thread = self._wake_r = self._wake_w = None

    def __enter__(self) -> VBSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
