"""The control API under /__vbs__/: drive the fake from outside the test process (not journaled)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests
from vbs_support import JSON, Disk, assert_error

from pytest_vbs import FakeVBS, TransitionMode


def control(vbs: FakeVBS, path: str) -> str:
    return f"{vbs.url}/__vbs__/{path}"


def test_reset_forgets_state_and_journal(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    http.post(f"{vbs.endpoint}/backups", json=disk.backup())
    vbs.for_project("other").add_backup()

    response = http.post(control(vbs, "reset"))

    assert response.status_code == 200
    assert response.json() == {"reset": True}
    assert vbs.backups == {}
    assert vbs.volumes == {}
    assert vbs.for_project("other").backups == {}
    assert vbs.requests == []
    assert http.get(f"{vbs.endpoint}/backups").json() == {"backups": []}


def test_reset_restores_the_default_transitions(vbs: FakeVBS, http: requests.Session) -> None:
    http.post(control(vbs, "config"), json={"transitions": "manual", "reads": 3})

    http.post(control(vbs, "reset"))

    # Like the vbs fixture between tests: back to the configured defaults (immediate, 1 read).
    state = http.get(control(vbs, "state")).json()
    assert (state["transitions"], state["reads"]) == ("immediate", 1)
    volume = vbs.add_volume()
    disk = Disk(volume, vbs.add_snapshot(volume))
    backup_id = http.post(f"{vbs.endpoint}/backups", json=disk.backup()).json()["backup"]["id"]
    assert vbs.backups[backup_id].status == "available"


def test_requests_returns_the_journal_as_json(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    http.post(f"{vbs.endpoint}/backups", json=disk.backup(name="seen"), headers={"X-Trace": "abc"})
    http.get(f"{vbs.endpoint}/backups", params={"limit": "1"})
    http.get(f"{vbs.url}/no/such/route")
    http.get(control(vbs, "state"))

    response = http.get(control(vbs, "requests"))

    assert response.status_code == 200
    entries = response.json()["requests"]
    assert [(e["operation"], e["method"], e["status"]) for e in entries] == [
        ("create_backup", "POST", 202), ("list_backups", "GET", 200), ("unknown", "GET", 404),
    ]
    create = entries[0]
    assert create["path"] == f"/v3/{vbs.project_id}/backups"
    assert create["json"] == disk.backup(name="seen")
    assert create["headers"]["X-Trace"] == "abc"
    assert create["project_id"] == vbs.project_id
    assert create["response_json"]["backup"]["name"] == "seen"
    assert entries[1]["query"] == {"limit": "1"}
    assert entries[2]["project_id"] is None
    # Control calls are not journaled, including this one.
    assert [e.operation for e in vbs.requests] == ["create_backup", "list_backups", "unknown"]


def test_delete_requests_clears_the_journal_only(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    http.post(f"{vbs.endpoint}/backups", json=disk.backup())

    response = http.delete(control(vbs, "requests"))

    assert response.status_code == 204
    assert response.content == b""
    assert vbs.requests == []
    assert http.get(control(vbs, "requests")).json() == {"requests": [], "next_marker": None, "evicted": 0}
    assert len(vbs.backups) == 1


def test_add_volume(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.post(control(vbs, "volumes"), json={"project_id": "p1", "size": 25, "status": "in-use",
                                                          "name": "seeded"})

    assert response.status_code == 201
    volume = response.json()["volume"]
    assert (volume["size"], volume["status"], volume["name"]) == (25, "in-use", "seeded")
    assert volume["os-vol-tenant-attr:tenant_id"] == "p1"
    assert volume["links"][0]["href"] == f"{vbs.url}/v3/p1/volumes/{volume['id']}"
    assert list(vbs.for_project("p1").volumes) == [volume["id"]]
    assert vbs.volumes == {}
    assert http.get(f"{vbs.url}/v3/p1/volumes/{volume['id']}").json()["volume"]["status"] == "in-use"


def test_add_volume_defaults_and_chosen_id(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.post(control(vbs, "volumes"), json={"project_id": vbs.project_id, "id": "vol-fixed"})

    assert response.status_code == 201
    volume = response.json()["volume"]
    assert volume["id"] == "vol-fixed"
    assert volume["status"] == "available"
    assert isinstance(volume["size"], int)
    assert volume["size"] >= 1
    assert "vol-fixed" in vbs.volumes


def test_add_snapshot(vbs: FakeVBS, http: requests.Session) -> None:
    volume = vbs.add_volume(size=12)

    response = http.post(control(vbs, "snapshots"), json={"project_id": vbs.project_id, "volume_id": volume,
                                                            "status": "creating", "name": "s"})

    assert response.status_code == 201
    snapshot = response.json()["snapshot"]
    assert (snapshot["volume_id"], snapshot["status"], snapshot["name"], snapshot["size"]) == (volume, "creating",
                                                                                                "s", 12)
    assert vbs.snapshots[snapshot["id"]].status == "creating"


def test_add_snapshot_of_an_unknown_volume_is_404(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.post(control(vbs, "snapshots"), json={"project_id": vbs.project_id, "volume_id": "nope"})

    assert assert_error(response, 404, "itemNotFound") == "Volume nope could not be found."
    assert vbs.snapshots == {}


def test_seed_over_the_control_api_then_back_up(vbs: FakeVBS, http: requests.Session) -> None:
    volume = http.post(control(vbs, "volumes"), json={"project_id": vbs.project_id, "size": 5}).json()["volume"]
    snapshot = http.post(control(vbs, "snapshots"), json={"project_id": vbs.project_id,
                                                          "volume_id": volume["id"]}).json()["snapshot"]

    created = http.post(f"{vbs.endpoint}/backups", json=Disk(volume["id"], snapshot["id"]).backup())

    assert created.status_code == 202
    assert [e.operation for e in vbs.requests] == ["create_backup"]


def test_config_then_advance(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    configured = http.post(control(vbs, "config"), json={"transitions": "manual"})
    assert configured.status_code == 200
    assert configured.json() == {"transitions": "manual", "reads": 1, "seconds": 1.0}
    assert vbs.state.transitions is TransitionMode.MANUAL
    backup_id = http.post(f"{vbs.endpoint}/backups", json=disk.backup()).json()["backup"]["id"]
    assert http.get(f"{vbs.endpoint}/backups/{backup_id}").json()["backup"]["status"] == "creating"

    advanced = http.post(control(vbs, "advance"), json={})

    assert advanced.status_code == 200
    assert advanced.json() == {"advanced": 1}
    assert http.get(f"{vbs.endpoint}/backups/{backup_id}").json()["backup"]["status"] == "available"
    assert http.post(control(vbs, "advance"), json={}).json() == {"advanced": 0}


def test_config_reads(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    response = http.post(control(vbs, "config"), json={"transitions": "reads", "reads": 2})

    assert response.json() == {"transitions": "reads", "reads": 2, "seconds": 1.0}
    backup_id = http.post(f"{vbs.endpoint}/backups", json=disk.backup()).json()["backup"]["id"]
    statuses = [http.get(f"{vbs.endpoint}/backups/{backup_id}").json()["backup"]["status"] for _ in range(3)]
    assert statuses == ["creating", "creating", "available"]
    # Only "reads" given: the mode stays.
    assert http.post(control(vbs, "config"), json={"reads": 1}).json() == {"transitions": "reads", "reads": 1,
                                                                        "seconds": 1.0}


def test_advance_one_backup_with_a_fail_reason(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.set_transitions("manual")
    ids = []
    for _ in range(2):
        volume = vbs.add_volume()
        body = Disk(volume, vbs.add_snapshot(volume)).backup()
        ids.append(http.post(f"{vbs.endpoint}/backups", json=body).json()["backup"]["id"])

    response = http.post(control(vbs, "advance"), json={"project_id": vbs.project_id, "backup_id": ids[0],
                                                          "fail_reason": "boom"})

    assert response.json() == {"advanced": 1}
    failed = http.get(f"{vbs.endpoint}/backups/{ids[0]}").json()["backup"]
    assert (failed["status"], failed["fail_reason"]) == ("error", "boom")
    assert vbs.backups[ids[1]].status == "creating"
    # A project's transitions only.
    assert http.post(control(vbs, "advance"), json={"project_id": "other"}).json() == {"advanced": 0}
    assert http.post(control(vbs, "advance"), json={"project_id": vbs.project_id}).json() == {"advanced": 1}


def test_advance_of_an_unknown_backup_is_404(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.post(control(vbs, "advance"), json={"project_id": vbs.project_id, "backup_id": "nope"})

    assert assert_error(response, 404, "itemNotFound") == "Backup nope could not be found."


def test_state_shows_every_project(vbs: FakeVBS, http: requests.Session) -> None:
    volume = vbs.add_volume(size=3)
    snapshot = vbs.add_snapshot(volume)
    backup_id = vbs.add_backup(volume, name="b", status="error")
    other_backup = vbs.for_project("other").add_backup()
    vbs.set_transitions("reads", reads=4)

    response = http.get(control(vbs, "state"))

    assert response.status_code == 200
    state = response.json()
    assert (state["transitions"], state["reads"]) == ("reads", 4)
    mine = state["projects"][vbs.project_id]
    assert mine["volumes"][volume] == {"status": "available", "size": 3}
    assert mine["snapshots"][snapshot] == {"status": "available", "volume_id": volume}
    assert mine["backups"][backup_id]["status"] == "error"
    assert mine["backups"][backup_id]["name"] == "b"
    assert mine["backups"][backup_id]["volume_id"] == volume
    assert list(state["projects"]["other"]["backups"]) == [other_backup]
    assert vbs.requests == []


BAD_BODIES: list[tuple[str, Any, list[str]]] = [
    ("volumes", {}, ["project_id", "mandatory"]),
    ("volumes", {"project_id": "p", "size": 0}, ["size", ">= 1"]),
    ("volumes", {"project_id": "p", "size": "big"}, ["size", "integer"]),
    ("volumes", {"project_id": "p", "status": "melted"}, ["status", "available"]),
    ("volumes", {"project_id": "p", "colour": "red"}, ["colour", "not a documented field"]),
    ("volumes", {"project_id": ""}, ["project_id", "empty"]),
    ("volumes", [], ["body", "object"]),
    ("snapshots", {"project_id": "p"}, ["volume_id", "mandatory"]),
    ("snapshots", {"volume_id": "v"}, ["project_id", "mandatory"]),
    ("snapshots", {"project_id": "p", "volume_id": "v", "status": "frozen"}, ["status"]),
    ("config", {"transitions": "sometimes"}, ["transitions", "immediate"]),
    ("config", {"reads": -1}, ["reads", ">= 1"]),
    ("config", {"reads": "two"}, ["reads", "integer"]),
    ("config", {"speed": 1}, ["speed", "not a documented field"]),
    ("config", "manual", ["body", "object"]),
    ("advance", {"backup_id": "b"}, ["project_id"]),
    ("advance", {"fail_reason": ""}, ["fail_reason", "empty"]),
    ("advance", {"fail_reason": 3}, ["fail_reason", "string"]),
]


@pytest.mark.parametrize(("path", "body", "fragments"), BAD_BODIES, ids=[f"{p}-{b}"[:50] for p, b, _ in BAD_BODIES])
def test_a_bad_control_body_is_400(
    vbs: FakeVBS, http: requests.Session, path: str, body: Any, fragments: list[str]
) -> None:
    response = http.post(control(vbs, path), json=body)

    assert_error(response, 400, "badRequest", *fragments)
    assert vbs.for_project("p").volumes == {}
    assert vbs.state.transitions is TransitionMode.IMMEDIATE
    assert vbs.requests == []


@pytest.mark.parametrize("path", ["volumes", "snapshots", "config", "advance"])
@pytest.mark.parametrize(("raw", "fragment"), [(b"{oops", "Malformed"), (b"", "missing")])
def test_a_control_body_that_is_not_json_is_400(
    vbs: FakeVBS, http: requests.Session, path: str, raw: bytes, fragment: str
) -> None:
    response = http.post(control(vbs, path), data=raw, headers=JSON)

    assert_error(response, 400, "badRequest", fragment)


def test_control_routes_answer_405_for_other_methods(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.get(control(vbs, "reset"))

    assert_error(response, 405, "badMethod")
    assert response.headers["Allow"] == "POST"


def test_a_request_delayed_across_a_reset_is_not_recorded_after_it(vbs: FakeVBS, http: requests.Session) -> None:
    """Issue 15 item 7: the reset starts a new generation; a request begun before it stays out of the new journal."""
    rule = vbs.fail("list_backups", delay=0.5)
    before = vbs.app.flights.generation
    answers: list[int] = []
    thread = threading.Thread(target=lambda: answers.append(requests.get(f"{vbs.endpoint}/backups", timeout=30)
                                                            .status_code))
    thread.start()
    deadline = time.monotonic() + 30
    while not rule.matched and time.monotonic() < deadline:
        time.sleep(0.005)

    assert http.post(control(vbs, "reset")).status_code == 200
    assert vbs.app.flights.wait(before, timeout=30) == []  # it finished
    thread.join(30)
    assert answers == [200]
    assert vbs.requests == []
    assert http.get(control(vbs, "requests")).json()["requests"] == []
