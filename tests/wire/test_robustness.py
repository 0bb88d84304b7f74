"""Unknown routes, wrong methods, HEAD, oversized and hostile bodies, and HTTP/1.1 keep-alive."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import requests
from vbs_support import JSON, REQUEST_ID, Disk, assert_error, assert_vbs_error

from pytest_vbs import FakeVBS

MIB = 1024 * 1024


# -- unknown routes and methods ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nothing"),
        ("GET", "/v3/{p}/backup"),
        ("GET", "/v3/{p}/backups/a/b"),
        ("POST", "/v3/{p}/backups/a/restore/now"),
        ("GET", "/v4/{p}/backups"),
        ("DELETE", "/v3/{p}"),
        ("GET", "/v2/{p}/volumes/a/b"),
        ("GET", "/__vbs__/nothing"),
    ],
)
def test_an_unknown_route_is_404_item_not_found(vbs: FakeVBS, http: requests.Session, method: str, path: str) -> None:
    path = path.format(p=vbs.project_id)

    response = http.request(method, vbs.url + path)

    assert_error(response, 404, "itemNotFound", method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        # Paths under the VBS-native prefixes that no documented operation has.
        ("POST", "/v2/{p}/cloudbackups/b1/unknown-action"),
        ("GET", "/v2/{p}/cloudbackups/quota/extra/segments"),
        ("GET", "/v1/{p}/no-such-collection"),
        ("GET", "/v2/{p}/backuppolicy/p1/no/such/thing"),
        ("POST", "/v2/{p}/backuppolicyresources/p1/unknown/x"),
        ("GET", "/v2/{p}/os-vendor-backup-sharing/a/b/c/d"),
    ],
)
def test_an_unknown_route_of_the_vbs_native_family_uses_the_error_envelope(
    vbs: FakeVBS, http: requests.Session, method: str, path: str
) -> None:
    path = path.format(p=vbs.project_id)

    response = http.request(method, vbs.url + path, json={})

    assert_vbs_error(response, 404, path)
    assert vbs.requests[-1].operation == "unknown"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v3/{p}/backups", {"GET", "HEAD", "POST"}),
        ("PATCH", "/v2/{p}/backups", {"GET", "HEAD", "POST"}),
        ("POST", "/v3/{p}/backups/b1", {"GET", "HEAD", "DELETE"}),
        ("PUT", "/v3/{p}/backups/b1", {"GET", "HEAD", "DELETE"}),
        ("GET", "/v3/{p}/backups/b1/restore", {"POST"}),
        ("DELETE", "/v3/{p}/backups/detail", None),  # matches "delete backup 'detail'": 404, not 405
        ("POST", "/v3/{p}/backups/detail", {"GET", "HEAD", "DELETE"}),
        ("PUT", "/v3/{p}/volumes/v1", {"GET", "HEAD", "DELETE"}),
        ("POST", "/", {"GET", "HEAD"}),
    ],
)
def test_a_wrong_method_is_405_with_allow(
    vbs: FakeVBS, http: requests.Session, method: str, path: str, allowed: set[str] | None
) -> None:
    path = path.format(p=vbs.project_id)

    response = http.request(method, vbs.url + path, json={})

    if allowed is None:
        assert_error(response, 404, "itemNotFound", "Backup detail could not be found.")
        return
    assert_error(response, 405, "badMethod", method, path)
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
    assert vbs.backups == {}


def test_head_answers_like_get_without_a_body(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup()

    found = http.head(f"{vbs.endpoint}/backups/{backup_id}")
    listed = http.head(f"{vbs.endpoint}/backups")
    missing = http.head(f"{vbs.endpoint}/backups/nope")

    assert (found.status_code, listed.status_code, missing.status_code) == (200, 200, 404)
    assert found.content == listed.content == missing.content == b""
    assert REQUEST_ID.match(found.headers["X-OpenStack-Request-Id"])
    assert [(e.operation, e.method, e.status) for e in vbs.requests] == [
        ("get_backup", "HEAD", 200), ("list_backups", "HEAD", 200), ("get_backup", "HEAD", 404),
    ]
    # The connection stays usable after bodiless answers.
    assert http.get(f"{vbs.endpoint}/backups/{backup_id}").json()["backup"]["id"] == backup_id


@pytest.mark.parametrize("path", ["backups/{id}", "backups", "backups/detail", "backups/nope"])
def test_head_does_not_announce_a_different_length_than_get(vbs: FakeVBS, http: requests.Session, path: str) -> None:
    url = f"{vbs.endpoint}/" + path.format(id=vbs.add_backup())

    head = http.head(url)
    get = http.get(url)

    # RFC 9110 section 8.6: a Content-Length on a HEAD answer must be the length GET would send.
    assert head.status_code == get.status_code
    assert head.headers.get("Content-Length", get.headers["Content-Length"]) == get.headers["Content-Length"]
    assert head.headers["Content-Type"] == get.headers["Content-Type"]


# -- bodies ----------------------------------------------------------------------------------------------------
def test_a_body_over_1_mib_is_413_over_limit(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    body = json.dumps(disk.backup(description="x" * MIB)).encode()

    response = http.post(f"{vbs.endpoint}/backups", data=body, headers=JSON)

    assert_error(response, 413, "overLimit", str(MIB))
    assert vbs.backups == {}
    assert vbs.requests[-1].status == 413
    # The server keeps serving (on a new connection when it had to close this one).
    assert http.get(f"{vbs.endpoint}/backups").status_code == 200
    assert http.post(f"{vbs.endpoint}/backups", json=disk.backup()).status_code == 202


def test_a_chunked_body_over_1_mib_is_413(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"backup": {"description": "'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}}'

    response = http.post(f"{vbs.endpoint}/backups", data=chunks(), headers=JSON)

    assert_error(response, 413, "overLimit", str(MIB))
    assert vbs.backups == {}
    assert http.post(f"{vbs.endpoint}/backups", json=disk.backup()).status_code == 202


def test_a_body_of_exactly_1_mib_is_read(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    body = json.dumps(disk.backup()).encode()
    body += b" " * (MIB - len(body))

    response = http.post(f"{vbs.endpoint}/backups", data=body, headers=JSON)

    assert response.status_code == 202, response.text
    assert len(vbs.backups) == 1


@pytest.mark.parametrize("depth", [1000, 100_000, 500_000])
@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_deeply_nested_json_is_400(
    vbs: FakeVBS, http: requests.Session, disk: Disk, depth: int, opener: bytes
) -> None:
    closer = b"]" if opener == b"[" else b"}"
    body = opener * depth + b"1" + closer * depth

    response = http.post(f"{vbs.endpoint}/backups", data=body[: MIB], headers=JSON)

    assert_error(response, 400, "badRequest")
    assert vbs.backups == {}
    assert http.post(f"{vbs.endpoint}/backups", json=disk.backup()).status_code == 202


def test_deeply_nested_bodies_keep_the_journal_readable(vbs: FakeVBS, http: requests.Session) -> None:
    # Depths around the interpreter's recursion limit: parsed on the way in, they must still be served back.
    for depth in range(850, 1000, 3):
        response = http.post(f"{vbs.endpoint}/backups", data=b"[" * depth + b"]" * depth, headers=JSON)
        assert_error(response, 400, "badRequest", "body")

    journal = http.get(f"{vbs.url}/__vbs__/requests")

    assert journal.status_code == 200, journal.text
    assert len(journal.json()["requests"]) == len(range(850, 1000, 3))


def test_the_server_keeps_serving_after_abuse(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    abuse = [
        http.post(f"{vbs.endpoint}/backups", data=b"\xff" * 100, headers=JSON),
        http.post(f"{vbs.endpoint}/backups", data=b"[" * 200_000, headers=JSON),
        http.post(f"{vbs.endpoint}/backups", data=b"x" * (MIB + 1), headers=JSON),
        http.get(f"{vbs.endpoint}/backups", headers={"OpenStack-API-Version": "volume \x7f"}),
        http.request("BREW", f"{vbs.endpoint}/backups"),
    ]

    assert [r.status_code for r in abuse] == [400, 400, 413, 400, 405]
    created = http.post(f"{vbs.endpoint}/backups", json=disk.backup())
    assert created.status_code == 202
    assert http.get(f"{vbs.endpoint}/backups").json()["backups"][0]["id"] == created.json()["backup"]["id"]
    assert vbs.app.take_unexpected_errors() == []


# -- keep-alive ------------------------------------------------------------------------------------------------
def test_a_session_reuses_one_connection(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    responses = [
        http.post(f"{vbs.endpoint}/backups", json=disk.backup()),
        http.get(f"{vbs.endpoint}/backups/detail"),
        http.get(f"{vbs.endpoint}/backups/nope"),
        http.put(f"{vbs.endpoint}/backups"),
        http.post(f"{vbs.endpoint}/backups", json={"backup": {}}),
        http.head(f"{vbs.endpoint}/backups"),
        http.get(f"{vbs.url}/"),
        http.delete(f"{vbs.endpoint}/backups/{vbs.add_backup()}"),
    ]

    assert [r.status_code for r in responses] == [202, 200, 404, 405, 400, 200, 300, 202]
    for response in responses:
        assert response.headers.get("Connection", "").lower() != "close", response.request.url
        assert "Content-Length" in response.headers
    adapter = http.get_adapter(vbs.url)
    pools = [adapter.poolmanager.pools[key] for key in adapter.poolmanager.pools.keys()]  # noqa: SIM118
    assert sum(pool.num_connections for pool in pools) == 1
    assert sum(pool.num_requests for pool in pools) == len(responses)


def test_one_socket_serves_many_requests(vbs: FakeVBS, disk: Disk) -> None:
    address = urlparse(vbs.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        connection.connect()
        sock = connection.sock
        statuses = []
        for method, path, body in [
            ("POST", f"/v3/{vbs.project_id}/backups", json.dumps(disk.backup())),
            ("GET", f"/v3/{vbs.project_id}/backups", None),
            ("GET", f"/v3/{vbs.project_id}/backups/nope", None),
            ("POST", f"/v3/{vbs.project_id}/backups", "{broken"),
            ("GET", f"/v3/{vbs.project_id}/backups/detail", None),
        ]:
            connection.request(method, path, body=body, headers=JSON if body else {})
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            assert not response.will_close
            assert connection.sock is sock
    finally:
        connection.close()

    assert statuses == [202, 200, 404, 400, 200]
    assert len(vbs.requests) == 5
