"""Hostile input over raw sockets: each request is answered with a clear error envelope or dropped cleanly, the
fake's state is unchanged, nothing raised inside the fake, and the server keeps serving.

Every test seeds a disk and a backup, abuses the server, then checks (``Unharmed``) that the state the control
API reports is the same, that the backup still reads back on a new connection, and that no server connection
is left open (so the fixture's check for internal errors sees everything the abuse caused).
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from vbs_support import JSON, Disk

from pytest_vbs import FakeVBS

MIB = 1024 * 1024
#: Longest wait for any answer: every answer here is immediate, the bound only stops a hung test.
TIMEOUT = 5.0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  #: the server closed the connection after answering
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body)


def exchange(vbs: FakeVBS, data: bytes, *, pieces: tuple[bytes, ...] = ()) -> Reply:
    """Send ``data`` (then ``pieces``) on a new connection; read one response and whether the server closes."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", vbs.server.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        for piece in pieces:
            sock.sendall(piece)
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            body = response.read()
            elapsed = time.monotonic() - started
            headers = {k.lower(): v for k, v in response.getheaders()}
        finally:
            response.close()
        closing = headers.get("connection", "").lower() == "close"
        return Reply(response.status, headers, body, closing and _closed_by_server(sock), elapsed)


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed its end (it announced ``Connection: close``: EOF is immediate)."""
    sock.settimeout(TIMEOUT)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def drop(vbs: FakeVBS, data: bytes, *, reset: bool = False) -> None:
    """Send ``data`` and hang up without reading (``reset``: with a TCP RST instead of a FIN)."""
    sock = socket.create_connection(("127.0.0.1", vbs.server.port), timeout=TIMEOUT)
    try:
        if data:
            sock.sendall(data)
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


def request_bytes(method: str, path: str | bytes, body: bytes = b"", headers: dict[str, str] | None = None,
                  *, length: int | None = None) -> bytes:
    """A raw HTTP/1.1 request; ``length`` announces a Content-Length other than the body's."""
    lines = ["Host: 127.0.0.1", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if body or length is not None:
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    target = path if isinstance(path, bytes) else path.encode()
    head = method.encode() + b" " + target + b" HTTP/1.1\r\n" + "".join(f"{line}\r\n" for line in lines).encode()
    return head + b"\r\n" + body


def assert_native_error(reply: Reply, status: int, fault: str, *fragments: str) -> None:
    assert reply.status == status, reply
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert list(body) == [fault], body
    assert body[fault]["code"] == status
    for fragment in fragments:
        assert fragment in body[fault]["message"], body


def assert_vbs_error(reply: Reply, status: int, *fragments: str) -> None:
    assert reply.status == status, reply
    body = reply.json()
    assert list(body) == ["error"], body
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"].startswith(("VolumeBackup.", "common."))
    for fragment in fragments:
        assert fragment in body["error"]["message"], body


class Unharmed:
    """The fake as seeded before the abuse; :meth:`check` proves nothing changed and the server still serves."""

    def __init__(self, vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
        self.vbs, self.http, self.disk = vbs, http, disk
        created = http.post(f"{vbs.endpoint}/backups", json=disk.backup(name="before"))
        assert created.status_code == 202, created.text
        self.backup_id = created.json()["backup"]["id"]
        self.state = self._state()
        self.connections = _open_connections(vbs)  # the test session's keep-alive one, and any other test's

    def _state(self) -> Any:
        """The control API's view of every project; projects without any resource are left out (reading a
        project's lists makes its empty record, which is not a change of what it holds)."""
        state = self.http.get(f"{self.vbs.url}/__vbs__/state").json()
        state["projects"] = {k: v for k, v in state["projects"].items() if any(v.values())}
        return state

    def check(self) -> None:
        _wait_until_idle(self.vbs, self.connections)
        assert self._state() == self.state
        with requests.Session() as fresh:  # a new connection: the abused one may be closed
            assert fresh.get(f"{self.vbs.endpoint}/backups/{self.backup_id}").json()["backup"]["name"] == "before"
            created = fresh.post(f"{self.vbs.endpoint}/backups", json=self.disk.backup(name="after"))
        assert created.status_code == 202, created.text
        assert sorted(b.name or "" for b in self.vbs.backups.values()) == ["after", "before"]


def _open_connections(vbs: FakeVBS) -> set[socket.socket]:
    httpd = vbs.server._httpd
    assert httpd is not None
    with httpd._connections_lock:
        return set(httpd._connections)


def _wait_until_idle(vbs: FakeVBS, before: set[socket.socket]) -> None:
    """Until every connection the server accepted since ``before`` is finished (bounded: a hang fails)."""
    deadline = time.monotonic() + TIMEOUT
    while _open_connections(vbs) - before:
        assert time.monotonic() < deadline, "the server still holds a connection the abuse opened"
        time.sleep(0.01)


@pytest.fixture
def unharmed(vbs: FakeVBS, http: requests.Session, disk: Disk) -> Iterator[Unharmed]:
    guard = Unharmed(vbs, http, disk)
    yield guard
    guard.check()


# -- bodies over the limit -------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["native", "vbs"])
def test_a_huge_content_length_is_413_at_once_without_reading_the_body(
    vbs: FakeVBS, unharmed: Unharmed, family: str
) -> None:
    path = f"/v3/{vbs.project_id}/backups" if family == "native" else f"/v2/{vbs.project_id}/cloudbackups"
    # 10 GB announced, 64 KiB sent: the answer cannot have waited for the body.
    data = request_bytes("POST", path, b"{" + b" " * 65535, JSON, length=10 * 1024**3)

    reply = exchange(vbs, data)

    if family == "native":
        assert_native_error(reply, 413, "overLimit", "10737418240 bytes", str(MIB))
    else:
        assert_vbs_error(reply, 413, str(MIB))
    assert reply.closed  # the unread body cannot be skipped: the connection closes
    assert reply.elapsed < 2.0


def test_a_body_just_over_the_limit_is_413(vbs: FakeVBS, unharmed: Unharmed) -> None:
    reply = exchange(vbs, request_bytes("POST", f"/v3/{vbs.project_id}/backups", b" " * (MIB + 1), JSON))

    assert_native_error(reply, 413, "overLimit")
    assert reply.closed


# -- malformed bodies ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["native", "vbs"])
@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_deeply_nested_json_is_400(vbs: FakeVBS, unharmed: Unharmed, family: str, opener: bytes) -> None:
    path = f"/v3/{vbs.project_id}/backups" if family == "native" else f"/v2/{vbs.project_id}/cloudbackups"
    closer = b"]" if opener == b"[" else b"}"
    body = (opener * 200_000 + closer * 200_000)[:MIB]

    reply = exchange(vbs, request_bytes("POST", path, body, JSON))

    if family == "native":
        assert_native_error(reply, 400, "badRequest", "Malformed request body")
    else:
        assert_vbs_error(reply, 400, "Malformed request body")
    assert not reply.closed


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"backup": {"name": "\xff\xfe"}}', "not valid UTF-8"),
        (b'{"backup": {"name": "a"}, "backup": {"name": "b"}}', "duplicate key 'backup'"),
        (b'{"backup": {"volume_id": "v", "volume_id": "w"}}', "duplicate key 'volume_id'"),
        (b'{"backup": NaN}', "NaN is not valid JSON"),
        (b'{"backup": {}', "Malformed request body"),
        (b"\xef\xbb\xbf{}", "Malformed request body"),  # a UTF-8 byte order mark
        (b"   ", "body is missing"),
    ],
    ids=["invalid-utf8", "duplicate-key", "duplicate-nested-key", "nan", "truncated", "bom", "blank"],
)
def test_a_malformed_body_is_400(vbs: FakeVBS, unharmed: Unharmed, body: bytes, fragment: str) -> None:
    reply = exchange(vbs, request_bytes("POST", f"/v3/{vbs.project_id}/backups", body, JSON))

    assert_native_error(reply, 400, "badRequest", fragment)


def test_a_lone_surrogate_in_a_body_is_answered_in_json(vbs: FakeVBS, unharmed: Unharmed) -> None:
    body = b'{"backup": {"volume_id": "\\ud800", "snapshot_id": "\\udfff"}}'

    reply = exchange(vbs, request_bytes("POST", f"/v3/{vbs.project_id}/backups", body, JSON))

    assert_native_error(reply, 404, "itemNotFound", "\ud800")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/json-patch"])
def test_a_wrong_content_type_is_415(vbs: FakeVBS, unharmed: Unharmed, content_type: str) -> None:
    body = json.dumps(unharmed.disk.backup()).encode()

    reply = exchange(vbs, request_bytes("POST", f"/v3/{vbs.project_id}/backups", body,
                                        {"Content-Type": content_type}))

    assert_native_error(reply, 415, "badMediaType", "application/json")


def test_a_wrong_content_type_on_a_vbs_native_route_is_415_in_its_envelope(vbs: FakeVBS, unharmed: Unharmed) -> None:
    reply = exchange(vbs, request_bytes("POST", f"/v2/{vbs.project_id}/cloudbackups", b"{}",
                                        {"Content-Type": "text/plain"}))

    assert_vbs_error(reply, 415, "application/json")


def test_a_missing_content_type_with_a_json_body_is_accepted(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    """Like Cinder, a body without Content-Type is read as JSON (clients such as curl -d rely on it)."""
    body = json.dumps(disk.backup(name="untyped")).encode()

    reply = exchange(vbs, request_bytes("POST", f"/v3/{vbs.project_id}/backups", body))

    assert reply.status == 202, reply
    assert [b.name for b in vbs.backups.values()] == ["untyped"]


@pytest.mark.parametrize("length", ["abc", "-5", "1, 2", "0x10", "99999999999999999999999"])
def test_an_invalid_content_length_is_400_and_closes(vbs: FakeVBS, unharmed: Unharmed, length: str) -> None:
    data = request_bytes("POST", f"/v3/{vbs.project_id}/backups", headers={**JSON, "Content-Length": length})

    reply = exchange(vbs, data + b"{}")

    assert reply.status in (400, 413), reply
    assert "badRequest" in reply.json() or "overLimit" in reply.json()
    assert reply.closed  # where the body ends is unknown: the rest of the stream is not read as a request


def test_a_broken_chunked_body_is_400_and_closes(vbs: FakeVBS, unharmed: Unharmed) -> None:
    data = request_bytes("POST", f"/v3/{vbs.project_id}/backups", headers={**JSON, "Transfer-Encoding": "chunked"})

    reply = exchange(vbs, data + b"zz\r\n{}\r\n0\r\n\r\n")

    assert_native_error(reply, 400, "badRequest", "could not be read")
    assert reply.closed


# -- headers and request lines ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /v3 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"GET /v3 HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(150)) + b"\r\n", 431),
        (b"GET /v3/" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"\x00\xff\xfe garbage\r\n\r\n", 400),
        (b"HELLO THERE FRIEND AND\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)) + b"\r\n\r\n", 400),  # TLS hello
    ],
    ids=["header-70kB", "150-headers", "request-line-70kB", "binary-garbage", "five-words", "http-9.9",
         "bad-version", "tls-client-hello"],
)
def test_a_broken_request_head_is_answered_in_json_and_closed(
    vbs: FakeVBS, unharmed: Unharmed, data: bytes, status: int
) -> None:
    reply = exchange(vbs, data)

    assert reply.status == status
    assert reply.headers["content-type"] == "application/json"
    (envelope,) = reply.json().values()
    assert envelope["code"] == status
    assert envelope["message"]
    assert reply.closed


def test_large_headers_under_the_limit_are_served(vbs: FakeVBS, unharmed: Unharmed) -> None:
    headers = {"X-Big": "a" * 60_000, **{f"X-H{i}": "v" for i in range(90)}}

    reply = exchange(vbs, request_bytes("GET", f"/v3/{vbs.project_id}/backups/{unharmed.backup_id}", b"", headers))

    assert reply.status == 200
    assert reply.json()["backup"]["id"] == unharmed.backup_id


# -- hostile ids and query parameters -------------------------------------------------------------------------------
HOSTILE_IDS = {
    "dotdot": b"..",
    "dot": b".",
    "encoded-slash": b"a%2Fb",
    "encoded-dotdot": b"%2E%2E",
    "encoded-nul": b"a%00b",
    "invalid-utf8": b"%ff%fe",
    "unicode": "✓-бэкап-备份".encode(),
    "emoji": b"%F0%9F%92%BE",
    "10kB": b"x" * 10_240,
    "quote-and-brackets": b"%22%3Cscript%3E",
}


@pytest.mark.parametrize("ident", HOSTILE_IDS.values(), ids=HOSTILE_IDS.keys())
@pytest.mark.parametrize(
    ("method", "template", "family"),
    [
        ("GET", "/v3/{p}/backups/{id}", "native"),
        ("DELETE", "/v3/{p}/backups/{id}", "native"),
        ("POST", "/v3/{p}/backups/{id}/restore", "native"),
        ("GET", "/v2/{p}/backups/{id}", "native"),
        ("POST", "/v2/{p}/cloudbackups/{id}", "vbs"),
        ("GET", "/v1/{p}/jobs/{id}", "vbs"),
        ("GET", "/v2/{p}/os-vendor-backup-sharing/{id}", "vbs"),
        ("GET", "/v3/{id}/backups", "native"),
    ],
    ids=["get", "delete", "restore", "get-v2", "vbs-delete", "job", "sharing", "as-project"],
)
def test_a_hostile_id_is_an_error_in_the_family_envelope(
    vbs: FakeVBS, unharmed: Unharmed, ident: bytes, method: str, template: str, family: str
) -> None:
    before, _, after = template.format(p=vbs.project_id, id="\0").encode().partition(b"\0")
    body = json.dumps({"restore": {"volume_id": unharmed.disk.volume_id}}).encode() if "restore" in template else b""

    reply = exchange(vbs, request_bytes(method, before + ident + after, body, JSON if body else None))

    if template.startswith("/v3/{id}"):  # another (empty) project: a list, or an error
        assert reply.status in (200, 404), reply
        if reply.status == 200:
            assert reply.json() == {"backups": []}
            return
    assert reply.status in (400, 404, 405), reply
    if family == "native":
        (envelope,) = reply.json().values()
        assert envelope["code"] == reply.status
    else:
        assert_vbs_error(reply, reply.status)


@pytest.mark.parametrize("field", ["volume_id", "snapshot_id", "name", "description"])
def test_a_10_kb_field_is_400(vbs: FakeVBS, unharmed: Unharmed, field: str) -> None:
    body = unharmed.disk.backup()
    body["backup"][field] = "x" * 10_240

    reply = exchange(vbs, request_bytes("POST", f"/v3/{vbs.project_id}/backups", json.dumps(body).encode(), JSON))

    assert_native_error(reply, 400, "badRequest", field)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("limit=-1", "limit"), ("limit=abc", "limit"), ("offset=1e9", "offset"), ("offset=-1", "offset"),
        ("limit=1.5", "limit"), ("limit=99999999999999999999", "limit"), ("limit=%00", "limit"),
        ("sort_dir=sideways", "sort_dir"), ("status=%ff", "status"), ("all_tenants=maybe", "all_tenants"),
        ("x" * 5000 + "=1", "x"),
    ],
)
def test_a_query_parameter_of_the_wrong_type_is_400(
    vbs: FakeVBS, unharmed: Unharmed, query: str, name: str
) -> None:
    reply = exchange(vbs, request_bytes("GET", f"/v3/{vbs.project_id}/backups/detail?{query}"))

    assert_native_error(reply, 400, "badRequest", f"'{name}")


@pytest.mark.parametrize("query", ["limit=abc", "offset=-1", "sort_dir=up", "share_to_me=perhaps"])
def test_a_wrong_query_parameter_on_a_vbs_native_route_is_400_in_its_envelope(
    vbs: FakeVBS, unharmed: Unharmed, query: str
) -> None:
    reply = exchange(vbs, request_bytes("GET", f"/v2/{vbs.project_id}/os-vendor-backup-sharing/detail?{query}"))

    assert_vbs_error(reply, 400, query.split("=")[0])


# -- clients that go away ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cut",
    ["nothing", "mid-request-line", "mid-headers", "mid-body", "mid-chunk", "before-the-answer"],
)
@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_a_client_that_disconnects_mid_request_is_dropped_cleanly(
    vbs: FakeVBS, unharmed: Unharmed, cut: str, reset: bool
) -> None:
    body = json.dumps(unharmed.disk.backup(name="never")).encode()
    path = f"/v3/{vbs.project_id}/backups"
    full = request_bytes("POST", path, body, JSON)
    data = {
        "nothing": b"",
        "mid-request-line": full[:10],
        "mid-headers": full[: full.index(b"Content-Length") + 5],
        "mid-body": full[: len(full) - len(body) // 2],
        "mid-chunk": request_bytes("POST", path, headers={**JSON, "Transfer-Encoding": "chunked"})
        + f"{len(body):x}\r\n".encode() + body[:10],
        "before-the-answer": request_bytes("GET", f"{path}/detail"),
    }[cut]

    drop(vbs, data, reset=reset)

    _wait_until_idle(vbs, unharmed.connections)
    assert "never" not in [b.name for b in vbs.backups.values()]


def test_many_abandoned_connections_leave_no_thread_behind(vbs: FakeVBS, unharmed: Unharmed) -> None:
    for index in range(50):
        drop(vbs, request_bytes("POST", f"/v3/{vbs.project_id}/backups", b"{", JSON, length=100), reset=index % 2 == 0)

    _wait_until_idle(vbs, unharmed.connections)
    assert _open_connections(vbs) <= unharmed.connections


def test_the_same_connection_serves_after_errors_that_keep_it_open(vbs: FakeVBS, unharmed: Unharmed) -> None:
    path = f"/v3/{vbs.project_id}/backups"
    requests_sent = [
        ("POST", path, b'{"a": 1, "a": 2}'),
        ("GET", f"{path}?limit=abc", None),
        ("GET", f"{path}/%2E%2E", None),
        ("POST", path, b"\xff"),
        ("GET", f"{path}/{unharmed.backup_id}", None),
    ]
    connection = http.client.HTTPConnection("127.0.0.1", vbs.server.port, timeout=TIMEOUT)
    try:
        statuses, sockets = [], set()
        for method, target, body in requests_sent:
            connection.request(method, target, body=body, headers=JSON if body else {})
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            sockets.add(id(connection.sock))
    finally:
        connection.close()

    assert statuses == [400, 400, 404, 400, 200]
    assert len(sockets) == 1  # one keep-alive connection throughout
