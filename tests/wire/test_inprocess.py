"""The in-process mode: requests for the fake's URL reach its app without a socket, same state and journal."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest
import requests

from pytest_vbs import FakeVBS
from pytest_vbs.inprocess import InProcessAdapter, mount_inprocess

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


@pytest.fixture
def inproc(vbs: FakeVBS) -> Iterator[requests.Session]:
    """A session whose requests to the fake never touch a socket."""
    with requests.Session() as session:
        mount_inprocess(session, vbs)
        yield session


def test_create_get_list_through_the_adapter(vbs: FakeVBS, inproc: requests.Session) -> None:
    volume = vbs.add_volume(size=10)
    snapshot = vbs.add_snapshot(volume)
    created = inproc.post(f"{vbs.endpoint}/backups",
                          json={"backup": {"volume_id": volume, "snapshot_id": snapshot, "name": "nightly"}})
    assert created.status_code == 202
    assert created.headers["Content-Type"] == "application/json"
    backup_id = created.json()["backup"]["id"]
    # Links point at the URL the client used.
    assert created.json()["backup"]["links"][0]["href"] == f"{vbs.endpoint}/backups/{backup_id}"

    got = inproc.get(f"{vbs.endpoint}/backups/{backup_id}")
    assert got.status_code == 200
    assert got.json()["backup"]["status"] == "available"
    assert got.json()["backup"]["name"] == "nightly"

    listed = inproc.get(f"{vbs.endpoint}/backups", params={"limit": 10})
    assert [b["id"] for b in listed.json()["backups"]] == [backup_id]
    # The same state as over the socket.
    assert backup_id in vbs.backups


def test_journal_records_in_process_calls(vbs: FakeVBS, inproc: requests.Session) -> None:
    backup_id = vbs.add_backup()
    inproc.get(f"{vbs.endpoint}/backups/{backup_id}", headers={"X-Trace": "abc"})
    inproc.get(f"{vbs.endpoint}/backups", params={"limit": "5"})
    entries = vbs.requests
    assert [(e.operation, e.status) for e in entries] == [("get_backup", 200), ("list_backups", 200)]
    assert entries[0].headers["X-Trace"] == "abc"
    assert entries[0].response_json["backup"]["id"] == backup_id
    assert entries[1].query == {"limit": "5"}


def test_error_envelope(vbs: FakeVBS, inproc: requests.Session) -> None:
    missing = inproc.get(f"{vbs.endpoint}/backups/does-not-exist")
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["code"] == 404
    assert missing.reason.lower() == "not found"

    invalid = inproc.post(f"{vbs.endpoint}/backups", json={"backup": {}})
    assert invalid.status_code == 400
    assert "badRequest" in invalid.json()
    assert vbs.requests[-1].json == {"backup": {}}


def test_http_level_faults_come_from_the_app(vbs: FakeVBS, inproc: requests.Session) -> None:
    backup_id = vbs.add_backup()
    rule = vbs.fail("get_backup", 503, times=1, retry_after=7)
    failed = inproc.get(f"{vbs.endpoint}/backups/{backup_id}")
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "7"
    assert inproc.get(f"{vbs.endpoint}/backups/{backup_id}").status_code == 200
    assert rule.served == 1
    assert [e.status for e in vbs.requests] == [503, 200]


def test_wire_faults_raise_what_requests_raises(vbs: FakeVBS, inproc: requests.Session) -> None:
    backup_id = vbs.add_backup()
    url = f"{vbs.endpoint}/backups/{backup_id}"
    vbs.fail("get_backup", fault="connection_reset", times=1)
    with pytest.raises(requests.ConnectionError):
        inproc.get(url)
    vbs.fail("get_backup", fault="empty_response", times=1)
    with pytest.raises(requests.ConnectionError):
        inproc.get(url)
    vbs.fail("get_backup", fault="malformed_body", times=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        inproc.get(url)
    vbs.fail("get_backup", fault="hang", times=1)
    with pytest.raises(requests.ReadTimeout):
        inproc.get(url, timeout=0.01)
    assert inproc.get(url).status_code == 200


def test_other_urls_are_untouched(vbs: FakeVBS) -> None:
    with requests.Session() as session:
        adapter = mount_inprocess(session, vbs)
        assert session.get_adapter(f"{vbs.endpoint}/backups") is adapter
        assert session.get_adapter("http://127.0.0.1:1/other") is not adapter


def test_a_fake_that_was_never_started() -> None:
    fake = FakeVBS()
    with requests.Session() as session:
        with pytest.raises(ValueError, match="base_url"):
            mount_inprocess(session, fake)
        mount_inprocess(session, fake, base_url="http://vbs.test")
        backup_id = fake.add_backup()
        got = session.get(f"http://vbs.test/v3/{fake.project_id}/backups/{backup_id}")
        assert got.status_code == 200
        assert got.json()["backup"]["links"][0]["href"].startswith("http://vbs.test/v3/")
    assert not fake.server.running


def test_adapter_on_any_wsgi_app() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}?{environ['QUERY_STRING']} "
        body += environ["wsgi.input"].read().decode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body.encode()]

    with requests.Session() as session:
        session.mount("http://app.test/", InProcessAdapter(app, "http://app.test"))
        answer = session.put("http://app.test/a%20b/c", params={"x": "1"}, data=b"payload")
        assert answer.text == "PUT /a b/c?x=1 payload"
        head = session.head("http://app.test/h")
        assert head.status_code == 200
        assert head.content == b""
