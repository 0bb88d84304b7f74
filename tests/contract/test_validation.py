"""Every documented rule of create, restore and delete (sections 3.1, 3.5, 3.6, 4, 7.5), and how the body is read.

Each rejected request must leave the fake's state exactly as it was.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import requests
from vbs_support import JSON, Disk, assert_error

from pytest_vbs import FakeVBS


def snapshot_state(vbs: FakeVBS) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Everything a request could change, by value (status, names, ...)."""
    return (
        {k: copy.deepcopy(vars(v)) for k, v in vbs.backups.items()},
        {k: copy.deepcopy(vars(v)) for k, v in vbs.volumes.items()},
        {k: copy.deepcopy(vars(v)) for k, v in vbs.snapshots.items()},
    )


# -- field rules of the create body ------------------------------------------------------------------------
INVALID_FIELDS = [
    # (field, value, fragments of the message besides the field path)
    ("name", "", ["empty"]),
    ("name", "x" * 65, ["64"]),
    ("name", "a b", ["letters, digits"]),
    ("name", "a.b", ["letters, digits"]),
    ("name", "bäckup", ["letters, digits"]),
    ("name", "a/b", ["letters, digits"]),
    ("name", "backup\n", ["letters, digits"]),
    ("name", "auto", ["auto"]),
    ("name", "autobk_1", ["auto"]),
    ("name", "Auto1", ["auto"]),
    ("name", "AUTO", ["auto"]),
    ("name", "aUtO-x", ["auto"]),
    ("name", 5, ["string"]),
    ("name", ["x"], ["string"]),
    ("description", "x" * 256, ["255"]),
    ("description", "a<b", ["'<'"]),
    ("description", "a>b", ["'>'"]),
    ("description", 7, ["string"]),
    ("force", "true", ["true, false"]),
    ("force", 1, ["true, false"]),
    ("force", "yes", ["true, false"]),
    ("incremental", "no", ["true, false"]),
    ("container", 3, ["string"]),
    ("volume_id", None, ["string"]),
    ("volume_id", "", ["empty"]),
    ("volume_id", 42, ["string"]),
    ("snapshot_id", None, ["string"]),
    ("snapshot_id", "", ["empty"]),
    ("foo", "bar", ["not a documented field"]),
    ("metadata", {"k": "v"}, ["microversion 3.43"]),  # v3 without a header (3.0), and v2: Cinder's 3.43 field
    ("user_id", "u", ["not a documented field"]),
]


@pytest.mark.parametrize(("field", "value", "fragments"), INVALID_FIELDS,
                         ids=[f"{f}={v!r}"[:40] for f, v, _ in INVALID_FIELDS])
def test_create_rejects_an_invalid_field(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str,
    field: str, value: Any, fragments: list[str],
) -> None:
    before = snapshot_state(vbs)

    response = http.post(f"{endpoint}/backups", json=disk.backup(**{field: value}))

    assert_error(response, 400, "badRequest", f"backup.{field}", *fragments)
    assert snapshot_state(vbs) == before


VALID_FIELDS = [
    ("name", "a"),
    ("name", "x" * 64),
    ("name", "A-Za_z09"),
    ("name", "my-auto"),
    ("name", "_auto"),
    ("name", "au-to"),
    ("name", None),
    ("description", ""),
    ("description", "x" * 255),
    ("description", "multi\nline, with 'quotes' & symbols"),
    ("description", None),
    ("force", True),
    ("force", False),
    ("force", None),
    ("container", "my-bucket"),
    ("container", None),
    ("incremental", True),
    ("incremental", False),
    ("incremental", None),
    ("project_id", None),
]


@pytest.mark.parametrize(("field", "value"), VALID_FIELDS, ids=[f"{f}={v!r}"[:40] for f, v in VALID_FIELDS])
def test_create_accepts_a_valid_field(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str, field: str, value: Any
) -> None:
    response = http.post(f"{endpoint}/backups", json=disk.backup(**{field: value}))

    assert response.status_code == 202, response.text
    backup = vbs.backups[response.json()["backup"]["id"]]
    if field in ("name", "description"):
        assert getattr(backup, field) == value


def test_create_accepts_every_optional_field_as_null(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str
) -> None:
    optional = ("name", "description", "container", "incremental", "force", "project_id")

    response = http.post(f"{endpoint}/backups", json=disk.backup(**dict.fromkeys(optional)))

    assert response.status_code == 202, response.text
    assert response.json()["backup"]["name"] is None
    assert len(vbs.backups) == 1


def test_container_and_incremental_are_accepted_and_ignored(
    http: requests.Session, disk: Disk, endpoint: str
) -> None:
    first = http.post(f"{endpoint}/backups", json=disk.backup(container="mine", incremental=True))
    second = http.post(f"{endpoint}/backups", json=disk.backup(container="mine", incremental=False))

    assert (first.status_code, second.status_code) == (202, 202)
    views = [http.get(f"{endpoint}/backups/{r.json()['backup']['id']}").json()["backup"] for r in (first, second)]
    # VBS decides: the first backup of a disk is full, later ones incremental, whatever was asked.
    assert [v["is_incremental"] for v in views] == [False, True]
    assert all(v["container"] != "mine" for v in views)


@pytest.mark.parametrize("field", ["volume_id", "snapshot_id"])
def test_create_needs_volume_id_and_snapshot_id(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str, field: str
) -> None:
    body = disk.backup()
    del body["backup"][field]

    response = http.post(f"{endpoint}/backups", json=body)

    assert_error(response, 400, "badRequest", f"backup.{field}", "mandatory")
    assert vbs.backups == {}


# -- the body as a whole ------------------------------------------------------------------------------------
RAW_BODIES = [
    # (raw body, fragments)
    (b"[1]", ["body", "object"]),
    (b'"backup"', ["body", "object"]),
    (b"42", ["body", "object"]),
    (b"null", ["body", "object"]),
    (b"{}", ["'backup'", "mandatory"]),
    (b'{"backup": []}', ["'backup'", "object"]),
    (b'{"backup": null}', ["'backup'", "object"]),
    (b'{"backup": "x"}', ["'backup'", "object"]),
    (b'{"backup": {}, "extra": 1}', ["'extra'", "not a documented field"]),
    (b"", ["missing"]),
    (b"  \r\n ", ["missing"]),
    (b'{"backup": {', ["Malformed"]),
    (b"{bad json}", ["Malformed"]),
    (b"{'backup': {}}", ["Malformed"]),
    (b'{"backup": {}} trailing', ["Malformed"]),
    (b'{"backup": {"name": "\xff\xfe"}}', ["UTF-8"]),
    (b'{"backup": {}, "backup": {}}', ["duplicate", "'backup'"]),
    (b'{"backup": {"name": "a", "name": "b"}}', ["duplicate", "'name'"]),
    (b'{"backup": NaN}', ["NaN"]),
    (b'{"backup": {"size": Infinity}}', ["Infinity"]),
    (b'{"backup": {"size": -Infinity}}', ["Infinity"]),
]


@pytest.mark.parametrize(("raw", "fragments"), RAW_BODIES, ids=[repr(r)[2:30] for r, _ in RAW_BODIES])
def test_create_rejects_a_body_that_is_not_a_valid_request(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str, raw: bytes, fragments: list[str]
) -> None:
    before = snapshot_state(vbs)

    response = http.post(f"{endpoint}/backups", data=raw, headers=JSON)

    assert_error(response, 400, "badRequest", *fragments)
    assert snapshot_state(vbs) == before


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"]
)
def test_create_rejects_a_body_that_is_not_json_with_415(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str, content_type: str
) -> None:
    response = http.post(f"{endpoint}/backups", json=disk.backup(), headers={"Content-Type": content_type})

    assert_error(response, 415, "badMediaType", content_type, "application/json")
    assert vbs.backups == {}


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/json;charset=UTF-8"])
def test_create_accepts_json_with_a_charset(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str, content_type: str
) -> None:
    response = http.post(f"{endpoint}/backups", json=disk.backup(), headers={"Content-Type": content_type})

    assert response.status_code == 202, response.text
    assert len(vbs.backups) == 1


# -- rules on the disk and snapshot (section 7.5) ------------------------------------------------------------
def test_create_for_an_unknown_volume_is_404(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str
) -> None:
    response = http.post(f"{endpoint}/backups", json={"backup": {"volume_id": "nope", "snapshot_id": disk.snapshot_id}})

    assert assert_error(response, 404, "itemNotFound") == "Volume nope could not be found."
    assert vbs.backups == {}


def test_create_for_an_unknown_snapshot_is_404(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str
) -> None:
    response = http.post(f"{endpoint}/backups", json={"backup": {"volume_id": disk.volume_id, "snapshot_id": "nope"}})

    assert assert_error(response, 404, "itemNotFound") == "Snapshot nope could not be found."
    assert vbs.backups == {}


def test_create_with_a_snapshot_of_another_volume_is_400(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str
) -> None:
    other_volume = vbs.add_volume()
    other_snapshot = vbs.add_snapshot(other_volume)

    response = http.post(
        f"{endpoint}/backups", json={"backup": {"volume_id": disk.volume_id, "snapshot_id": other_snapshot}}
    )

    assert_error(response, 400, "badRequest", other_snapshot, disk.volume_id)
    assert vbs.backups == {}


@pytest.mark.parametrize("status", ["creating", "error", "deleting"])
def test_create_from_a_snapshot_that_is_not_available_is_400(
    vbs: FakeVBS, http: requests.Session, endpoint: str, status: str
) -> None:
    volume = vbs.add_volume()
    snapshot = vbs.add_snapshot(volume, status=status)

    response = http.post(f"{endpoint}/backups", json={"backup": {"volume_id": volume, "snapshot_id": snapshot}})

    assert_error(response, 400, "badRequest", snapshot, "available", status)
    assert vbs.backups == {}


@pytest.mark.parametrize("status", ["error", "creating", "deleting", "error_restoring", "restoring-backup"])
def test_create_of_a_volume_that_is_not_available_or_in_use_is_400(
    vbs: FakeVBS, http: requests.Session, endpoint: str, status: str
) -> None:
    volume = vbs.add_volume(status=status)
    snapshot = vbs.add_snapshot(volume)

    response = http.post(
        f"{endpoint}/backups", json={"backup": {"volume_id": volume, "snapshot_id": snapshot, "force": True}}
    )

    assert_error(response, 400, "badRequest", volume, "available", "in-use", status)
    assert vbs.backups == {}


@pytest.mark.parametrize("force", [None, False, "absent"])
def test_create_of_an_in_use_volume_without_force_is_400(
    vbs: FakeVBS, http: requests.Session, endpoint: str, force: Any
) -> None:
    volume = vbs.add_volume(status="in-use")
    disk = Disk(volume, vbs.add_snapshot(volume))
    body = disk.backup() if force == "absent" else disk.backup(force=force)

    response = http.post(f"{endpoint}/backups", json=body)

    assert_error(response, 400, "badRequest", volume, "in-use", "force")
    assert vbs.backups == {}


def test_create_of_an_in_use_volume_with_force_is_accepted(
    vbs: FakeVBS, http: requests.Session, endpoint: str
) -> None:
    volume = vbs.add_volume(status="in-use")
    disk = Disk(volume, vbs.add_snapshot(volume))

    response = http.post(f"{endpoint}/backups", json=disk.backup(force=True))

    assert response.status_code == 202, response.text
    assert [b.volume_id for b in vbs.backups.values()] == [volume]


def test_a_second_create_while_one_is_creating_is_400(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str
) -> None:
    vbs.set_transitions("manual")
    first = http.post(f"{endpoint}/backups", json=disk.backup(name="first"))
    assert first.status_code == 202
    before = snapshot_state(vbs)

    second = http.post(f"{endpoint}/backups", json=disk.backup(name="second"))

    assert_error(second, 400, "badRequest", disk.volume_id, "not complete")
    assert snapshot_state(vbs) == before
    assert vbs.advance() == 1
    third = http.post(f"{endpoint}/backups", json=disk.backup(name="third"))
    assert third.status_code == 202, third.text


def test_the_21st_backup_of_a_volume_is_400(vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str) -> None:
    for i in range(20):
        response = http.post(f"{endpoint}/backups", json=disk.backup(name=f"b{i}"))
        assert response.status_code == 202, (i, response.text)
    before = snapshot_state(vbs)

    response = http.post(f"{endpoint}/backups", json=disk.backup(name="b20"))

    assert_error(response, 400, "badRequest", disk.volume_id, "(20)")
    assert snapshot_state(vbs) == before
    # Another volume is not affected, and deleting one backup frees a place.
    other = vbs.add_volume()
    assert http.post(f"{endpoint}/backups", json=Disk(other, vbs.add_snapshot(other)).backup()).status_code == 202
    oldest = min(before[0].values(), key=lambda b: b["created_at"])["id"]
    assert http.delete(f"{endpoint}/backups/{oldest}").status_code == 202
    assert http.post(f"{endpoint}/backups", json=disk.backup(name="again")).status_code == 202


def test_create_with_a_volume_of_another_project_is_404(
    vbs: FakeVBS, http: requests.Session, endpoint: str
) -> None:
    other = vbs.for_project("another-project")
    volume = other.add_volume()
    snapshot = other.add_snapshot(volume)

    response = http.post(f"{endpoint}/backups", json={"backup": {"volume_id": volume, "snapshot_id": snapshot}})

    assert assert_error(response, 404, "itemNotFound") == f"Volume {volume} could not be found."
    assert vbs.backups == {}
    assert other.backups == {}


# -- restore -----------------------------------------------------------------------------------------------
RESTORE_BODIES = [
    ({"restore": {}}, ["restore.volume_id", "mandatory"]),
    ({}, ["'restore'", "mandatory"]),
    ({"restore": None}, ["'restore'", "object"]),
    ({"restore": {"volume_id": None}}, ["restore.volume_id", "string"]),
    ({"restore": {"volume_id": ""}}, ["restore.volume_id", "empty"]),
    ({"restore": {"volume_id": "{volume}", "name": "new"}}, ["restore.name", "not a documented field"]),
    ([], ["body", "object"]),
]


@pytest.mark.parametrize(("body", "fragments"), RESTORE_BODIES, ids=[str(b)[:40] for b, _ in RESTORE_BODIES])
def test_restore_rejects_an_invalid_body(
    vbs: FakeVBS, http: requests.Session, endpoint: str, body: Any, fragments: list[str]
) -> None:
    volume = vbs.add_volume()
    backup_id = vbs.add_backup(volume)
    if isinstance(body, dict) and isinstance(body.get("restore"), dict) and body["restore"].get("volume_id"):
        body = {"restore": {**body["restore"], "volume_id": volume}}
    before = snapshot_state(vbs)

    response = http.post(f"{endpoint}/backups/{backup_id}/restore", json=body)

    assert_error(response, 400, "badRequest", *fragments)
    assert snapshot_state(vbs) == before


def test_restore_without_a_body_is_400(vbs: FakeVBS, http: requests.Session, endpoint: str) -> None:
    backup_id = vbs.add_backup()

    response = http.post(f"{endpoint}/backups/{backup_id}/restore", headers=JSON)

    assert_error(response, 400, "badRequest", "missing")
    assert vbs.backups[backup_id].status == "available"


@pytest.mark.parametrize("status", ["creating", "error", "restoring", "deleting", "error_restoring"])
def test_restore_of_a_backup_that_is_not_available_is_400(
    vbs: FakeVBS, http: requests.Session, endpoint: str, status: str
) -> None:
    volume = vbs.add_volume()
    backup_id = vbs.add_backup(volume, status=status)
    before = snapshot_state(vbs)

    response = http.post(f"{endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": volume}})

    assert_error(response, 400, "badRequest", backup_id, "available", status)
    assert snapshot_state(vbs) == before


def test_restore_into_a_volume_in_error_is_400(vbs: FakeVBS, http: requests.Session, endpoint: str) -> None:
    backup_id = vbs.add_backup()
    target = vbs.add_volume(status="error")
    before = snapshot_state(vbs)

    response = http.post(f"{endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": target}})

    assert_error(response, 400, "badRequest", target, "error")
    assert snapshot_state(vbs) == before


@pytest.mark.parametrize("status", ["creating", "deleting"])
def test_restore_into_an_unavailable_volume_is_400(
    vbs: FakeVBS, http: requests.Session, endpoint: str, status: str
) -> None:
    backup_id = vbs.add_backup()
    target = vbs.add_volume(status=status)
    before = snapshot_state(vbs)

    response = http.post(f"{endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": target}})

    assert_error(response, 400, "badRequest", target, status)
    assert snapshot_state(vbs) == before


def test_restore_into_a_volume_smaller_than_the_backup_is_400(
    vbs: FakeVBS, http: requests.Session, endpoint: str
) -> None:
    backup_id = vbs.add_backup(vbs.add_volume(size=20))
    target = vbs.add_volume(size=19)
    before = snapshot_state(vbs)

    response = http.post(f"{endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": target}})

    assert_error(response, 400, "badRequest", target, backup_id, "at least as large")
    assert snapshot_state(vbs) == before


def test_restore_into_a_volume_whose_backup_is_being_created_is_400(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str
) -> None:
    backup_id = vbs.add_backup(disk.volume_id)
    vbs.set_transitions("manual")
    assert http.post(f"{endpoint}/backups", json=disk.backup()).status_code == 202
    before = snapshot_state(vbs)

    response = http.post(f"{endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": disk.volume_id}})

    assert_error(response, 400, "badRequest", disk.volume_id, "being created")
    assert snapshot_state(vbs) == before


def test_restore_into_a_missing_volume_is_404(vbs: FakeVBS, http: requests.Session, endpoint: str) -> None:
    backup_id = vbs.add_backup()
    before = snapshot_state(vbs)

    response = http.post(f"{endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": "gone"}})

    assert assert_error(response, 404, "itemNotFound") == "Volume gone could not be found."
    assert snapshot_state(vbs) == before


def test_restore_of_a_missing_backup_is_404(vbs: FakeVBS, http: requests.Session, endpoint: str) -> None:
    volume = vbs.add_volume()

    response = http.post(f"{endpoint}/backups/nope/restore", json={"restore": {"volume_id": volume}})

    assert assert_error(response, 404, "itemNotFound") == "Backup nope could not be found."


# -- delete ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["creating", "restoring", "deleting", "error_restoring"])
def test_delete_of_a_backup_that_is_not_available_or_error_is_400(
    vbs: FakeVBS, http: requests.Session, endpoint: str, status: str
) -> None:
    backup_id = vbs.add_backup(status=status)
    before = snapshot_state(vbs)

    response = http.delete(f"{endpoint}/backups/{backup_id}")

    assert_error(response, 400, "badRequest", backup_id, "available or error", status)
    assert snapshot_state(vbs) == before


@pytest.mark.parametrize("status", ["available", "error"])
def test_delete_of_an_available_or_error_backup_is_accepted(
    vbs: FakeVBS, http: requests.Session, endpoint: str, status: str
) -> None:
    backup_id = vbs.add_backup(status=status)

    response = http.delete(f"{endpoint}/backups/{backup_id}")

    assert response.status_code == 202
    assert vbs.backups == {}


def test_delete_of_a_backup_being_created_is_400(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str
) -> None:
    vbs.set_transitions("manual")
    backup_id = http.post(f"{endpoint}/backups", json=disk.backup()).json()["backup"]["id"]
    before = snapshot_state(vbs)

    response = http.delete(f"{endpoint}/backups/{backup_id}")

    assert_error(response, 400, "badRequest", backup_id, "creating")
    assert snapshot_state(vbs) == before
    assert vbs.backups[backup_id].status == "creating"
