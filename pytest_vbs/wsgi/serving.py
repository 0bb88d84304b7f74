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
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import logging
import queue
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
from pytest_vbs.wsgi.app import ENVIRON_CLOSE, ENVIRON_FAULT, VBSApp
from pytest_vbs.wsgi.reply import call_wsgi

log = logging.getLogger("pytest_vbs")

#: A ``slow_body`` fault sends the body in this many pieces, pausing before each (about 2 s in all).
SLOW_BODY_CHUNKS = 20
SLOW_BODY_INTERVAL = 0.1
#: Longest time a ``hang`` fault holds a request when the client never gives up, in seconds.
MAX_HANG = 300.0
#: Longest wait at stop for connection threads to finish (a hook still sleeping a fault's delay), in seconds.
MAX_JOIN = 5.0


class _Handler(WSGIRequestHandler):
    """One connection: parse requests in a loop, run the app, write a complete response each time."""

    protocol_version = "HTTP/1.1"
    server: _ThreadedServer  # type: ignore[assignment]  # has everything werkzeug's handler reads of a server

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        try:
            status, headers, body = call_wsgi(self.server.app, environ)
        except (ConnectionError, TimeoutError) as error:
            self.connection_dropped(error, environ)
            self.close_connection = True
            return
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
        lines = [f"{self.protocol_version} {status}", f"Server: {self.version_string()}",
                 f"Date: {self.date_time_string()}"]
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


class _ConnectionThreads:
    """The threads that serve connections, kept and reused: a new connection goes to an idle thread when
    there is one (a queue hand-off), and only otherwise to a new thread (starting a thread costs several
    times the hand-off, on every ``requests.get`` that opens its own connection)."""

    def __init__(self, serve: Callable[[socket.socket, Any], None]) -> None:
        self._serve = serve
        self.name = "pytest-vbs-connection"  #: threads are named ``<name>-<n>``
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[socket.socket, Any] | None] = queue.SimpleQueue()
        self._idle = 0
        self._threads: list[threading.Thread] = []

    def submit(self, connection: socket.socket, address: Any) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._jobs.put((connection, address))
                return
            thread = threading.Thread(target=self._work, args=((connection, address),), daemon=True,
                                      name=f"{self.name}-{len(self._threads)}")
            self._threads.append(thread)
        thread.start()

    def _work(self, job: tuple[socket.socket, Any] | None) -> None:
        while job is not None:
            self._serve(*job)
            with self._lock:
                self._idle += 1
            job = self._jobs.get()

    def join(self) -> None:
        """Let every thread finish its connection and exit (waiting at most :data:`MAX_JOIN` in all)."""
        with self._lock:
            threads, self._threads = self._threads, []
            for _ in threads:
                self._jobs.put(None)
            self._idle = 0
        deadline = time.monotonic() + MAX_JOIN
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


@functools.cache
def _server_version() -> str:
    from importlib.metadata import version

    return f"Werkzeug/{version('werkzeug')}"


class _ThreadedServer(HTTPServer):
    """What werkzeug's handler needs of a server (werkzeug's own ``BaseWSGIServer`` reads package metadata on
    every construction, about half a millisecond, and exits the process when the port is taken), with
    connections served by reused threads and tracked so that stop can close them."""

    multithread = True
    multiprocess = False
    passthrough_errors = False
    ssl_context = None
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, app: VBSApp) -> None:
        self.app = app
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._threads = _ConnectionThreads(self._serve_connection)
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

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        self._threads.submit(request, client_address)

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
    """Whether binding ``host`` makes the server reachable from other machines: the wildcard addresses
    (``0.0.0.0``, ``::``, empty) and any non-loopback IP address. Host names other than ``localhost`` are
    resolved by the OS; they are not judged here."""
    if host == "":
        return True
    if host == "localhost":
        return False
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_loopback


def _exposed_message(host: str, *, control: bool) -> str:
    message = (f"pytest-vbs: the fake VBS binds {host}: other machines can reach it, and without auth any "
               "request is accepted")
    if control:
        message += (", including its /__vbs__ control API (reset, seeding, fault injection); turn that off with "
                    "--vbs-no-control, ini vbs_control = false, FakeVBS(control=False) or serve --no-control")
    return message + ". Bind 127.0.0.1 (the default) unless other machines must reach the fake."


class VBSServer:
    """A running fake: the app served on ``host:port`` (port 0 = a free one) from a background thread.

    ``start()`` binds and returns at once (the socket listens before the accept loop runs); ``stop()``
    wakes the loop, closes keep-alive connections, joins every thread and releases the port.
    """

    def __init__(self, app: VBSApp, host: str = "127.0.0.1", port: int = 0) -> None:
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
        self._httpd = _ThreadedServer(self.host, self.port, self.app)
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
                for key, _ in selector.select():
                    if key.fileobj is wake:
                        return
                    httpd._handle_request_noblock()  # type: ignore[attr-defined]  # socketserver's accept step

    def stop(self) -> None:
        httpd, thread, wake_r, wake_w = self._httpd, self._thread, self._wake_r, self._wake_w
        if httpd is None or thread is None or wake_r is None or wake_w is None:
            return
        httpd.stopping.set()
        wake_w.send(b"x")
        thread.join()
        httpd.close_connections()
        httpd.server_close()  # closes the listening socket and joins the connection threads
        wake_r.close()
        wake_w.close()
        self._httpd = self._thread = self._wake_r = self._wake_w = None

    def __enter__(self) -> VBSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
