"""The floor the benchmark compares against: a bare werkzeug server answering canned JSON.

Threaded, no request logging, stopped with a 10 ms shutdown poll (werkzeug's default is 0.5 s). It does no
work per request beyond werkzeug's own parsing and writing, so it is the lowest cost a werkzeug-based fake
can reach over a socket. Used by ``run.py`` in-process and by the generated pytest runs (via ``PYTHONPATH``).
"""

from __future__ import annotations

import json
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
