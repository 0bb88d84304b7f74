"""Request framing over raw sockets (RFC 9112 sections 3.2, 5, 6): a head that leaves in doubt where its body
ends is refused before the body is read, and the connection closes, so a request hidden in the body never runs;
``Host`` is required once and never reflected unchecked; ``100 Continue`` goes out once, only to HTTP/1.1
clients, only when the body is read; HTTP/1.0 keep-alive answers say so."""

from __future__ import annotations

import json
import socket

import pytest
import requests
from vbs_support import Disk
from wire_support import TIMEOUT, converse, read_until_closed, request

from pytest_vbs import FakeVBS

HIDDEN_BODY = json.dumps({"operation": "*", "status": 503}).encode()
#: What the attacks hide in their body: a control API request that would make every later request fail.
HIDDEN = request("POST", "/__vbs__/faults", HIDDEN_BODY, headers={"Content-Type": "application/json"})


def smuggling(target: str, *lines: str, version: str = "HTTP/1.1") -> bytes:
    head = "".join(f"{line}\r\n" for line in (f"POST {target} {version}", "Host: 127.0.0.1", *lines))
    return head.encode() + b"\r\n" + HIDDEN


ATTACKS = {
    # (header lines, status, a fragment of the refusal)
    "te-gzip": (["Transfer-Encoding: gzip"], 400, "last transfer coding must be chunked"),
    "te-xchunked": (["Transfer-Encoding: xchunked"], 400, "last transfer coding must be chunked"),
    "te-chunked-gzip": (["Transfer-Encoding: chunked, gzip"], 400, "last transfer coding must be chunked"),
    "te-chunked-twice": (["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], 400, "only the last"),
    "te-empty": (["Transfer-Encoding: ,"], 400, "last transfer coding must be chunked"),
    "two-lengths": ([f"Content-Length: {len(HIDDEN)}", "Content-Length: 0"], 400, "More than one Content-Length"),
    "two-equal-lengths": (["Content-Length: 0", "Content-Length: 0"], 400, "More than one Content-Length"),
    "space-before-colon": ([f"Content-Length : {len(HIDDEN)}"], 400, "Malformed header line"),
    "tab-before-colon": ([f"Content-Length\t: {len(HIDDEN)}"], 400, "Malformed header line"),
    "te-and-length": (["Transfer-Encoding: chunked", f"Content-Length: {len(HIDDEN)}"], 400, "both"),
    "folded-te": (["Transfer-Encoding: gzip", " chunked"], 400, "folded"),
}


@pytest.mark.parametrize(("lines", "status", "fragment"), list(ATTACKS.values()), ids=list(ATTACKS))
def test_a_request_hidden_in_an_ambiguous_body_never_runs(
    vbs: FakeVBS, http: requests.Session, lines: list[str], status: int, fragment: str
) -> None:
    stream = converse(vbs.server.port, smuggling(f"/v3/{vbs.project_id}/backups", *lines))

    assert stream.statuses == [status], stream.data
    assert fragment.encode() in stream.data, stream.data
    assert stream.header("Content-Type") == "application/json"
    assert stream.closed  # the rest of the stream is never read as a request
    assert http.get(f"{vbs.url}/__vbs__/faults").json() == {"faults": []}
    assert vbs.faults.rules() == []
    assert http.get(f"{vbs.endpoint}/backups").status_code == 200


def test_transfer_encoding_in_an_http_1_0_request_is_refused(vbs: FakeVBS, http: requests.Session) -> None:
    data = smuggling(f"/v3/{vbs.project_id}/backups", "Transfer-Encoding: chunked", version="HTTP/1.0")

    stream = converse(vbs.server.port, data)

    assert stream.statuses == [400], stream.data
    assert b"HTTP/1.0" in stream.data
    assert stream.closed
    assert vbs.faults.rules() == []


def test_a_transfer_coding_before_chunked_is_501_not_implemented(vbs: FakeVBS) -> None:
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(HIDDEN_BODY), HIDDEN_BODY)
    data = request("POST", "/__vbs__/faults", body, length=False,
                   headers={"Content-Type": "application/json", "Transfer-Encoding": "gzip, chunked"})

    stream = converse(vbs.server.port, data)

    assert stream.statuses == [501], stream.data
    assert b"'gzip' is not implemented" in stream.data
    assert stream.closed
    assert vbs.faults.rules() == []


@pytest.mark.parametrize("coding", ["chunked", "Chunked", " chunked ", "CHUNKED"])
def test_chunked_alone_is_served(vbs: FakeVBS, disk: Disk, coding: str) -> None:
    body = json.dumps(disk.backup(name="chunked")).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    data = request("POST", f"/v3/{vbs.project_id}/backups", chunked, length=False,
                   headers={"Content-Type": "application/json", "Transfer-Encoding": coding})

    stream = converse(vbs.server.port, data)

    assert stream.statuses == [202], stream.data
    assert [b.name for b in vbs.backups.values()] == ["chunked"]


@pytest.mark.parametrize("value", ["\x00", "a\x00b"])
def test_a_nul_in_a_header_is_refused(vbs: FakeVBS, value: str) -> None:
    stream = converse(vbs.server.port, request("GET", "/v3", headers={"X-Probe": value}))

    assert stream.statuses == [400], stream.data
    assert stream.closed


# -- Host ----------------------------------------------------------------------------------------------------------
HOSTS = {
    "missing": (request("GET", "/v3", host=None), b"needs a Host"),
    "two": (request("GET", "/v3", headers={"Host": "127.0.0.1"}), b"More than one Host"),
    "quote": (request("GET", "/v3", host='a" realm="evil'), b"Invalid Host"),
    "space": (request("GET", "/v3", host="a b"), b"Invalid Host"),
    "absolute-target": (request("GET", 'http://a"b/v3'), b"Invalid authority"),
    "two-on-http-1.0": (request("GET", "/v3", headers={"Host": "x"}, version="HTTP/1.0"), b"More than one Host"),
}


@pytest.mark.parametrize(("data", "fragment"), list(HOSTS.values()), ids=list(HOSTS))
def test_a_missing_duplicate_or_invalid_host_is_400(vbs: FakeVBS, data: bytes, fragment: bytes) -> None:
    stream = converse(vbs.server.port, data)

    assert stream.statuses == [400], stream.data
    assert fragment in stream.data
    assert stream.closed


@pytest.mark.parametrize("host", ["vbs.example", "vbs.example:8776", "10.0.0.1:8080", "[::1]:8776", ""])
def test_a_valid_host_is_served_and_reflected(vbs: FakeVBS, host: str) -> None:
    stream = converse(vbs.server.port, request("GET", "/v3", host=host, headers={"Connection": "close"}))

    assert stream.statuses == [200], stream.data
    if host:
        assert f'"href": "http://{host}/v3/"'.encode() in stream.data


def test_http_1_0_needs_no_host(vbs: FakeVBS) -> None:
    stream = converse(vbs.server.port, request("GET", "/v3", host=None, version="HTTP/1.0"))

    assert stream.statuses == [200], stream.data
    assert stream.header("Connection") == "close"
    assert stream.closed


def test_www_authenticate_reflects_a_valid_host_only(vbs: FakeVBS) -> None:
    vbs.auth = True
    path = f"/v3/{vbs.project_id}/backups"

    fine = converse(vbs.server.port, request("GET", path, host="vbs.example:8776", headers={"Connection": "close"}))
    hostile = converse(vbs.server.port, request("GET", path, host='x", evil="1'))
    absolute = converse(vbs.server.port, request("GET", f'http://x",evil="1{path}'))

    assert fine.statuses == [401]
    assert fine.header("WWW-Authenticate") == 'Keystone uri="http://vbs.example:8776/identity/v3"'
    for stream in (hostile, absolute):
        assert stream.statuses == [400], stream.data
        assert stream.header("WWW-Authenticate") is None
        assert b"evil" not in stream.data


def test_a_401_fault_reflects_a_valid_host_only(vbs: FakeVBS) -> None:
    vbs.fail("list_backups", 401)
    path = f"/v3/{vbs.project_id}/backups"

    fine = converse(vbs.server.port, request("GET", path, host="vbs.example", headers={"Connection": "close"}))
    hostile = converse(vbs.server.port, request("GET", path, host='x", evil="1'))

    assert fine.header("WWW-Authenticate") == 'Keystone uri="http://vbs.example/identity/v3"'
    assert hostile.statuses == [400], hostile.data
    assert b"evil" not in hostile.data


# -- HTTP/1.0 keep-alive -----------------------------------------------------------------------------------------
def test_an_http_1_0_keep_alive_answer_says_keep_alive_and_the_connection_serves_again(vbs: FakeVBS) -> None:
    ask = request("GET", "/v3", version="HTTP/1.0", headers={"Connection": "keep-alive"})
    with socket.create_connection(("127.0.0.1", vbs.server.port), timeout=TIMEOUT) as sock:
        sock.sendall(ask)
        first = read_until_closed(sock, quiet=0.3)
        sock.sendall(ask)
        second = read_until_closed(sock, quiet=0.3)

    assert first.statuses == [200], first.data
    assert first.header("Connection") == "keep-alive"
    assert not first.closed
    assert second.statuses == [200], second.data


# -- Expect: 100-continue ------------------------------------------------------------------------------------------
def _expecting(
    vbs: FakeVBS, disk: Disk, *, version: str = "HTTP/1.1", length: int | None = None
) -> tuple[bytes, bytes]:
    body = json.dumps(disk.backup(name="expected")).encode()
    head = request("POST", f"/v3/{vbs.project_id}/backups", version=version, headers={
        "Content-Type": "application/json", "Expect": "100-continue",
        "Content-Length": str(len(body) if length is None else length)})
    return head, body


def test_100_continue_is_sent_once_before_the_body_is_read(vbs: FakeVBS, disk: Disk) -> None:
    head, body = _expecting(vbs, disk)
    with socket.create_connection(("127.0.0.1", vbs.server.port), timeout=TIMEOUT) as sock:
        sock.sendall(head)
        interim = read_until_closed(sock, quiet=0.3)
        sock.sendall(body)
        final = read_until_closed(sock, quiet=0.3)

    assert interim.data == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.statuses == [202], final.data
    assert [b.name for b in vbs.backups.values()] == ["expected"]


def test_no_100_continue_before_a_413(vbs: FakeVBS, disk: Disk) -> None:
    head, _ = _expecting(vbs, disk, length=10 * 1024 * 1024)

    stream = converse(vbs.server.port, head)

    assert stream.statuses == [413], stream.data
    assert stream.closed


def test_no_100_continue_to_an_http_1_0_client(vbs: FakeVBS, disk: Disk) -> None:
    head, body = _expecting(vbs, disk, version="HTTP/1.0")
    with socket.create_connection(("127.0.0.1", vbs.server.port), timeout=TIMEOUT) as sock:
        sock.sendall(head)
        interim = read_until_closed(sock, quiet=0.3, first=0.3)
        sock.sendall(body)  # an HTTP/1.0 client sends its body after waiting in vain
        final = read_until_closed(sock)

    assert interim.data == b""
    assert final.statuses == [202], final.data


def test_no_100_continue_without_a_body(vbs: FakeVBS) -> None:
    data = request("GET", "/v3", headers={"Expect": "100-continue", "Connection": "close"})

    stream = converse(vbs.server.port, data)

    assert stream.statuses == [200], stream.data
