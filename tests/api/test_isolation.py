"""Projects are isolated; every test starts from a clean fake; the journal records every request."""

from __future__ import annotations

import pytest
import requests
from vbs_support import JSON, Disk, assert_error

from pytest_vbs import DEFAULT_PROJECT_ID, FakeVBS, TransitionMode


def create(http: requests.Session, endpoint: str, disk: Disk, **fields: object) -> str:
    response = http.post(f"{endpoint}/backups", json=disk.backup(**fields))
    assert response.status_code == 202, response.text
    return str(response.json()["backup"]["id"])


# -- projects ------------------------------------------------------------------------------------------------
def test_a_backup_of_one_project_is_404_from_another(
    vbs: FakeVBS, http: requests.Session, disk: Disk, version: str
) -> None:
    other = vbs.for_project("other")
    endpoint = vbs.endpoint if version == "v3" else vbs.endpoint_v2
    foreign = other.endpoint if version == "v3" else other.endpoint_v2
    backup_id = create(http, endpoint, disk)
    target = other.add_volume()
    url = f"{foreign}/backups/{backup_id}"
    expected = f"Backup {backup_id} could not be found."

    assert assert_error(http.get(url), 404, "itemNotFound") == expected
    assert assert_error(http.delete(url), 404, "itemNotFound") == expected
    restored = http.post(f"{url}/restore", json={"restore": {"volume_id": target}})
    assert assert_error(restored, 404, "itemNotFound") == expected
    assert http.get(f"{foreign}/backups/detail").json() == {"backups": []}
    assert list(vbs.backups) == [backup_id]
    assert vbs.backups[backup_id].status == "available"
    assert other.backups == {}


def test_volumes_and_snapshots_are_per_project(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    other = vbs.for_project("other")

    response = http.post(f"{other.endpoint}/backups", json=disk.backup())

    assert assert_error(response, 404, "itemNotFound") == f"Volume {disk.volume_id} could not be found."
    assert http.get(f"{other.endpoint}/volumes/{disk.volume_id}").status_code == 404
    assert http.get(f"{other.endpoint}/snapshots/{disk.snapshot_id}").status_code == 404
    assert other.volumes == {}
    assert other.snapshots == {}


def test_lists_are_per_project(vbs: FakeVBS, http: requests.Session, endpoint: str, version: str) -> None:
    other = vbs.for_project("other")
    mine = {vbs.add_backup(name=f"mine-{i}") for i in range(3)}
    theirs = {other.add_backup(name=f"theirs-{i}") for i in range(2)}
    foreign = other.endpoint if version == "v3" else other.endpoint_v2
    owner = "os-backup-project-attr:project_id" if version == "v3" else "os-bak-tenant-attr:tenant_id"

    my_list = http.get(f"{endpoint}/backups/detail").json()["backups"]
    their_list = http.get(f"{foreign}/backups/detail").json()["backups"]

    assert {b["id"] for b in my_list} == mine
    assert {b["id"] for b in their_list} == theirs
    assert {b[owner] for b in my_list} == {vbs.project_id}
    assert {b[owner] for b in their_list} == {"other"}
    assert {b["id"] for b in http.get(f"{foreign}/backups").json()["backups"]} == theirs


def test_for_project_shares_the_server_but_not_the_data(vbs: FakeVBS) -> None:
    other = vbs.for_project("other")

    assert other.url == vbs.url
    assert other.endpoint == f"{vbs.url}/v3/other"
    assert other.endpoint_v2 == f"{vbs.url}/v2/other"
    assert vbs.project_id == DEFAULT_PROJECT_ID
    assert vbs.endpoint == f"{vbs.url}/v3/{DEFAULT_PROJECT_ID}"
    other.add_volume()
    assert vbs.volumes == {}


@pytest.mark.vbs(project_id="marked-project")
def test_the_marker_chooses_the_project(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    backup_id = create(http, vbs.endpoint, disk)

    assert vbs.project_id == "marked-project"
    assert vbs.endpoint.endswith("/v3/marked-project")
    assert vbs.for_project(DEFAULT_PROJECT_ID).backups == {}
    assert vbs.requests[0].project_id == "marked-project"
    assert backup_id in vbs.backups


# -- a clean fake per test (the two tests run in this order) --------------------------------------------------
def test_dirty_the_fake(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    create(http, vbs.endpoint, disk)
    vbs.for_project("other").add_backup()
    vbs.set_transitions("reads", reads=5)
    create(http, vbs.endpoint, disk)

    assert len(vbs.backups) == 2
    assert len(vbs.requests) == 2


def test_the_next_test_starts_clean(vbs: FakeVBS, http: requests.Session) -> None:
    assert vbs.backups == {}
    assert vbs.volumes == {}
    assert vbs.snapshots == {}
    assert vbs.for_project("other").backups == {}
    assert vbs.requests == []
    assert vbs.state.transitions is TransitionMode.IMMEDIATE
    assert vbs.state.reads == 1
    assert vbs.project_id == DEFAULT_PROJECT_ID
    assert http.get(f"{vbs.endpoint}/backups").json() == {"backups": []}


# -- the journal ----------------------------------------------------------------------------------------------
def test_journal_records_operation_method_path_headers_body_and_status(
    vbs: FakeVBS, http: requests.Session, disk: Disk
) -> None:
    body = disk.backup(name="journaled")

    created = http.post(f"{vbs.endpoint}/backups", json=body, headers={"X-Trace": "t-1"})
    listed = http.get(f"{vbs.endpoint}/backups", params={"limit": "5", "name": "journaled"})

    first, second = vbs.requests
    assert first.operation == "create_backup"
    assert first.method == "POST"
    assert first.path == f"/v3/{vbs.project_id}/backups"
    assert first.headers["X-Trace"] == "t-1"
    assert first.headers["Content-Type"] == "application/json"
    assert first.json == body
    assert first.status == 202
    assert first.project_id == vbs.project_id
    assert first.response_json == created.json()
    assert second.operation == "list_backups"
    assert second.method == "GET"
    assert second.query == {"limit": "5", "name": "journaled"}
    assert second.json is None
    assert second.status == 200
    assert second.response_json == listed.json()


def test_journal_records_rejected_requests(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    http.post(f"{vbs.endpoint}/backups", json=disk.backup(name="auto-1"))
    http.post(f"{vbs.endpoint}/backups", data=b"{not json", headers=JSON)
    http.get(f"{vbs.endpoint}/backups/nope")
    http.put(f"{vbs.endpoint}/backups")

    entries = vbs.requests

    assert [(e.operation, e.method, e.status) for e in entries] == [
        ("create_backup", "POST", 400),
        ("create_backup", "POST", 400),
        ("get_backup", "GET", 404),
        ("unknown", "PUT", 405),
    ]
    assert entries[0].json == disk.backup(name="auto-1")
    assert entries[0].response_json["badRequest"]["code"] == 400
    assert entries[1].json is None
    assert entries[1].body == b"{not json"
    assert entries[2].response_json == {"itemNotFound": {"code": 404, "message": "Backup nope could not be found."}}


@pytest.mark.parametrize(
    "path",
    ["/nothing/here", "/v3/{p}/backup", "/v3/{p}/backups/a/b/c", "/v4/{p}/backups", "/v2/{p}/cloudbackups/x/y/z/w"],
)
def test_journal_records_unknown_routes(vbs: FakeVBS, http: requests.Session, path: str) -> None:
    url = vbs.url + path.format(p=vbs.project_id)

    response = http.get(url, params={"q": "1"})

    assert response.status_code == 404
    [entry] = vbs.requests
    assert entry.operation == "unknown"
    assert entry.method == "GET"
    assert entry.path == path.format(p=vbs.project_id)
    assert entry.query == {"q": "1"}
    assert entry.status == 404
    assert entry.project_id is None


def test_journal_is_in_request_order_and_survives_state_changes(
    vbs: FakeVBS, http: requests.Session, disk: Disk
) -> None:
    backup_id = create(http, vbs.endpoint, disk)
    http.get(f"{vbs.endpoint_v2}/backups/{backup_id}")
    http.delete(f"{vbs.endpoint}/backups/{backup_id}")
    http.get(f"{vbs.endpoint}/backups/{backup_id}")

    assert [(e.operation, e.status) for e in vbs.requests] == [
        ("create_backup", 202), ("get_backup_v2", 200), ("delete_backup", 202), ("get_backup", 404),
    ]


def test_seeding_and_inspecting_are_not_journaled(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.add_backup(vbs.add_volume())
    vbs.advance()
    assert not vbs.requests

    http.get(f"{vbs.url}/__vbs__/state")
    http.get(f"{vbs.url}/__vbs__/requests")

    assert vbs.requests == []
