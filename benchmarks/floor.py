"""The floor the benchmark compares against: a bare werkzeug server answering canned JSON.

Threaded, no request logging, stopped with a 10 ms shutdown poll (werkzeug's default is 0.5 s). It does no
work per request beyond werkzeug's own parsing and writing, so it is the lowest cost a werkzeug-based fake
can reach over a socket. Used by ``run.py`` in-process and by the generated pytest runs (via ``PYTHONPATH``).
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

#: The shape of a ``get_backup`` answer, so canned answers weigh what the fake's do.
CANNED_BACKUP: dict[str, Any] = {
    "backup": {
        "status": "available",
        "description": None,
        "links": [
            {"href": "http://127.0.0.1:1/v3/0d5b1e9a6c7f4b2e8a1d3c5e7f9b0a24/backups/"
                     "a2a77c91-87e1-4304-99d6-131dd8d1589d", "rel": "self"},
            {"href": "http://127.0.0.1:1/0d5b1e9a6c7f4b2e8a1d3c5e7f9b0a24/backups/"
                     "a2a77c91-87e1-4304-99d6-131dd8d1589d", "rel": "bookmark"},
        ],
        "availability_zone": "eu-de-01",
        "volume_id": "5e0c7d2a-4b1f-4c8e-9d3a-2f6b8e1c0a97",
        "fail_reason": None,
        "id": "a2a77c91-87e1-4304-99d6-131dd8d1589d",
        "size": 10,
        "object_count": 0,
        "container": "volumebackups",
        "name": None,
        "created_at": "2024-01-01T00:00:00.000001",
        "updated_at": "2024-01-01T00:00:00.000001",
        "data_timestamp": "2024-01-01T00:00:00.000001",
        "has_dependent_backups": False,
        "snapshot_id": "8c1d0f3e-6a2b-4e7d-b9c5-1a3f5e7d9b20",
        "is_incremental": False,
        "os-backup-project-attr:project_id": "0d5b1e9a6c7f4b2e8a1d3c5e7f9b0a24",
    }
}
#: What an empty backup list answers.
CANNED_LIST: dict[str, Any] = {"backups": []}
_BACKUP_BYTES = json.dumps(CANNED_BACKUP).encode()
_LIST_BYTES = json.dumps(CANNED_LIST).encode()


def canned_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Answer any request with canned JSON: an empty list for ``.../backups``, a backup otherwise."""
    body = _LIST_BYTES if environ.get("PATH_INFO", "").endswith("/backups") else _BACKUP_BYTES
    length = environ.get("CONTENT_LENGTH")
    if length:
        environ["wsgi.input"].read(int(length))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No per-request logging (the fake does none either)."""


class BareServer:
    """``werkzeug`` threaded server around :func:`canned_app`, 10 ms shutdown poll."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = ThreadedWSGIServer(host, port, canned_app, handler=_QuietHandler)
        self.port = self.httpd.server_port
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    def start(self) -> BareServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.thread.join()
        self.httpd.server_close()


_CEILING_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                     % len(_BACKUP_BYTES)) + _BACKUP_BYTES


class CeilingServer:
    """Not a usable server: one thread that answers every request head it sees (bodies are not supported)
    with the canned backup, parsing nothing else. Keep-alive, no WSGI, no headers read. No server in this
    process can answer a GET for less, so its throughput bounds what any server can reach with the same
    clients: the rest of the CPU is theirs."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._wake_r, self._wake_w = socket.socketpair()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> CeilingServer:
        self.thread.start()
        return self

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            pending: dict[socket.socket, bytes] = {}
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        for connection in pending:
                            connection.close()
                        return
                    if key.fileobj is self._listener:
                        connection, _ = self._listener.accept()
                        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        pending[connection] = b""
                        selector.register(connection, selectors.EVENT_READ)
                        continue
                    connection = key.fileobj  # type: ignore[assignment]
                    data = connection.recv(65536)
                    if not data:
                        selector.unregister(connection)
                        del pending[connection]
                        connection.close()
                        continue
                    buffered = pending[connection] + data
                    heads = buffered.count(b"\r\n\r\n")
                    pending[connection] = buffered[buffered.rindex(b"\r\n\r\n") + 4 :] if heads else buffered
                    connection.sendall(_CEILING_RESPONSE * heads)

    def stop(self) -> None:
        self._wake_w.send(b"x")
        self.thread.join()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
