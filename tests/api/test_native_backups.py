"""The six native backup operations, V3 and deprecated v2 (digest sections 3, 4 and 7), over real HTTP."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
import requests
from vbs_support import JSON, REQUEST_ID, TIMESTAMP, Disk, assert_error

from pytest_vbs import FakeVBS

#: The detail fields both families document (sections 3.3/3.4 and 4.3/4.4, table 7.1).
COMMON_DETAIL_FIELDS = {
    "id", "name", "status", "description", "links", "availability_zone", "volume_id", "snapshot_id",
    "fail_reason", "size", "object_count", "container", "created_at", "updated_at", "data_timestamp",
    "has_dependent_backups", "is_incremental",
}
DETAIL_FIELDS = {
    "v3": COMMON_DETAIL_FIELDS | {"os-backup-project-attr:project_id"},
    "v2": COMMON_DETAIL_FIELDS | {"os-bak-tenant-attr:tenant_id", "service_metadata"},
}
OWNER_KEY = {"v3": "os-backup-project-attr:project_id", "v2": "os-bak-tenant-attr:tenant_id"}


def expected_links(vbs: FakeVBS, version: str, backup_id: str) -> list[dict[str, str]]:
    """``self`` with the request's version segment, ``bookmark`` without one (section 7.2)."""
    return [
        {"href": f"{vbs.url}/{version}/{vbs.project_id}/backups/{backup_id}", "rel": "self"},
        {"href": f"{vbs.url}/{vbs.project_id}/backups/{backup_id}", "rel": "bookmark"},
    ]


def create(http: requests.Session, endpoint: str, body: dict[str, Any]) -> str:
    response = http.post(f"{endpoint}/backups", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["backup"]["id"])


def test_create_answers_202_with_id_links_and_name(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str, version: str, suffix: str
) -> None:
    response = http.post(f"{endpoint}/backups", json=disk.backup(name="backup1", description="Backup_Demo"))

    assert response.status_code == 202
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["backup"]
    backup = body["backup"]
    assert set(backup) == {"id", "links", "name"}
    assert backup["name"] == "backup1"
    assert backup["links"] == expected_links(vbs, version, backup["id"])
    assert f"/{version}/" in backup["links"][0]["href"]
    assert "/v2/" not in backup["links"][1]["href"]
    assert "/v3/" not in backup["links"][1]["href"]
    assert list(vbs.backups) == [backup["id"]]
    assert [(r.operation, r.status) for r in vbs.requests] == [("create_backup" + suffix, 202)]


def test_create_without_name_answers_null_name(http: requests.Session, disk: Disk, endpoint: str) -> None:
    response = http.post(f"{endpoint}/backups", json=disk.backup())

    assert response.status_code == 202
    assert response.json()["backup"]["name"] is None


def test_get_answers_every_documented_detail_field(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str, version: str, suffix: str
) -> None:
    backup_id = create(http, endpoint, disk.backup(name="backup1", description="Backup_Demo"))

    response = http.get(f"{endpoint}/backups/{backup_id}")

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["backup"]
    backup = body["backup"]
    assert set(backup) == DETAIL_FIELDS[version]
    assert backup["id"] == backup_id
    assert backup["name"] == "backup1"
    assert backup["description"] == "Backup_Demo"
    assert backup["status"] == "available"
    assert backup["volume_id"] == disk.volume_id
    assert backup["snapshot_id"] == disk.snapshot_id
    assert backup["size"] == 10  # the volume's size, in GB
    assert backup["fail_reason"] is None
    assert backup[OWNER_KEY[version]] == vbs.project_id
    assert backup["links"] == expected_links(vbs, version, backup_id)
    assert isinstance(backup["availability_zone"], str)
    assert backup["availability_zone"]
    assert backup["object_count"] is None or isinstance(backup["object_count"], int)
    assert backup["container"] is None or isinstance(backup["container"], str)
    assert backup["is_incremental"] is False
    assert backup["has_dependent_backups"] is False
    assert [r.operation for r in vbs.requests] == ["create_backup" + suffix, "get_backup" + suffix]


def test_v2_service_metadata_is_a_json_text(http: requests.Session, disk: Disk, vbs: FakeVBS) -> None:
    first = create(http, vbs.endpoint_v2, disk.backup())
    second = create(http, vbs.endpoint_v2, disk.backup())

    metadata = {}
    for backup_id in (first, second):
        text = http.get(f"{vbs.endpoint_v2}/backups/{backup_id}").json()["backup"]["service_metadata"]
        assert isinstance(text, str)
        metadata[backup_id] = json.loads(text)

    # Section 7.3: Type 0 full backup, 1 incremental backup; bootable is a boolean.
    assert metadata[first]["Type"] == 0
    assert metadata[second]["Type"] == 1
    assert isinstance(metadata[first]["bootable"], bool)


def test_timestamps_have_microseconds_and_no_zone(
    http: requests.Session, disk: Disk, endpoint: str
) -> None:
    backup_id = create(http, endpoint, disk.backup())

    backup = http.get(f"{endpoint}/backups/{backup_id}").json()["backup"]
    listed = http.get(f"{endpoint}/backups/detail").json()["backups"][0]

    for view in (backup, listed):
        for key in ("created_at", "updated_at", "data_timestamp"):
            assert TIMESTAMP.match(view[key]), (key, view[key])
            datetime.strptime(view[key], "%Y-%m-%dT%H:%M:%S.%f")
    created = datetime.strptime(backup["created_at"], "%Y-%m-%dT%H:%M:%S.%f")
    assert datetime.strptime(backup["updated_at"], "%Y-%m-%dT%H:%M:%S.%f") >= created
    # The data was captured when the snapshot was taken, before the backup was created.
    assert datetime.strptime(backup["data_timestamp"], "%Y-%m-%dT%H:%M:%S.%f") <= created


def test_delete_answers_202_without_body_then_the_backup_is_gone(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str, suffix: str
) -> None:
    backup_id = create(http, endpoint, disk.backup())

    deleted = http.delete(f"{endpoint}/backups/{backup_id}")

    assert deleted.status_code == 202
    assert deleted.content == b""
    assert vbs.backups == {}
    assert_error(http.get(f"{endpoint}/backups/{backup_id}"), 404, "itemNotFound")
    again = http.delete(f"{endpoint}/backups/{backup_id}")
    message = assert_error(again, 404, "itemNotFound")
    assert message == f"Backup {backup_id} could not be found."
    assert [(r.operation, r.status) for r in vbs.requests] == [
        ("create_backup" + suffix, 202),
        ("delete_backup" + suffix, 202),
        ("get_backup" + suffix, 404),
        ("delete_backup" + suffix, 404),
    ]


def test_get_of_unknown_backup_is_404_with_cinder_wording(http: requests.Session, endpoint: str) -> None:
    response = http.get(f"{endpoint}/backups/592a0c4d-65a3-4051-8d51-1e2b6401b2d8")

    message = assert_error(response, 404, "itemNotFound")
    assert message == "Backup 592a0c4d-65a3-4051-8d51-1e2b6401b2d8 could not be found."


def test_restore_answers_202_with_backup_volume_and_volume_name(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str, suffix: str
) -> None:
    backup_id = create(http, endpoint, disk.backup())
    target = vbs.add_volume(size=10, name="test_volume")

    response = http.post(f"{endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": target}})

    assert response.status_code == 202
    assert response.json() == {"restore": {"backup_id": backup_id, "volume_id": target, "volume_name": "test_volume"}}
    assert vbs.backups[backup_id].status == "available"
    assert vbs.requests[-1].operation == "restore_backup" + suffix


def test_restore_into_a_larger_volume_is_accepted(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str
) -> None:
    backup_id = create(http, endpoint, disk.backup())
    target = vbs.add_volume(size=20)

    response = http.post(f"{endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": target}})

    assert response.status_code == 202
    assert response.json()["restore"]["volume_name"] is None


def test_first_backup_is_full_and_later_ones_incremental(
    http: requests.Session, disk: Disk, endpoint: str
) -> None:
    ids = [create(http, endpoint, disk.backup(name=f"b{i}")) for i in range(3)]

    views = [http.get(f"{endpoint}/backups/{backup_id}").json()["backup"] for backup_id in ids]

    assert [v["is_incremental"] for v in views] == [False, True, True]
    # Every backup but the newest has a later (incremental) backup depending on it.
    assert [v["has_dependent_backups"] for v in views] == [True, True, False]


def test_incremental_chains_are_per_volume(vbs: FakeVBS, http: requests.Session, endpoint: str) -> None:
    disks = []
    for _ in range(2):
        volume = vbs.add_volume()
        disks.append(Disk(volume, vbs.add_snapshot(volume)))
    first = create(http, endpoint, disks[0].backup())
    other = create(http, endpoint, disks[1].backup())

    assert http.get(f"{endpoint}/backups/{first}").json()["backup"]["is_incremental"] is False
    assert http.get(f"{endpoint}/backups/{other}").json()["backup"]["is_incremental"] is False
    assert http.get(f"{endpoint}/backups/{first}").json()["backup"]["has_dependent_backups"] is False


def test_all_six_operations_in_one_flow(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str, version: str, suffix: str
) -> None:
    backup_id = create(http, endpoint, disk.backup(name="flow"))
    summary = http.get(f"{endpoint}/backups").json()
    detail = http.get(f"{endpoint}/backups/detail").json()
    one = http.get(f"{endpoint}/backups/{backup_id}").json()
    restored = http.post(f"{endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": disk.volume_id}})
    deleted = http.delete(f"{endpoint}/backups/{backup_id}")

    assert summary == {"backups": [{"id": backup_id, "links": expected_links(vbs, version, backup_id), "name": "flow"}]}
    assert detail["backups"] == [one["backup"]]
    assert (restored.status_code, deleted.status_code) == (202, 202)
    assert [r.operation for r in vbs.requests] == [
        name + suffix
        for name in ("create_backup", "list_backups", "list_backups_detail", "get_backup", "restore_backup",
                     "delete_backup")
    ]
    assert {r.status for r in vbs.requests} == {200, 202}


def test_a_backup_is_visible_through_both_families(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    backup_id = create(http, vbs.endpoint, disk.backup(name="both"))

    v2 = http.get(f"{vbs.endpoint_v2}/backups/{backup_id}").json()["backup"]
    v3 = http.get(f"{vbs.endpoint}/backups/{backup_id}").json()["backup"]

    assert v2["links"] == expected_links(vbs, "v2", backup_id)
    assert v3["links"] == expected_links(vbs, "v3", backup_id)
    assert {k: v for k, v in v2.items() if k in COMMON_DETAIL_FIELDS - {"links"}} == {
        k: v for k, v in v3.items() if k in COMMON_DETAIL_FIELDS - {"links"}
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "{endpoint}/backups", "valid", 202),
        ("GET", "{endpoint}/backups", None, 200),
        ("GET", "{endpoint}/backups/detail", None, 200),
        ("GET", "{endpoint}/backups/{backup_id}", None, 200),
        ("POST", "{endpoint}/backups/{backup_id}/restore", "restore", 202),
        ("DELETE", "{endpoint}/backups/{backup_id}", None, 202),
        ("POST", "{endpoint}/backups", {"backup": {}}, 400),
        ("GET", "{endpoint}/backups/missing", None, 404),
        ("PUT", "{endpoint}/backups", None, 405),
        ("GET", "{endpoint}/backups?limit=abc", None, 400),
        ("GET", "{url}/no/such/route", None, 404),
        ("GET", "{url}/", None, 300),
    ],
    ids=["create", "list", "detail", "get", "restore", "delete", "400", "404", "405", "bad-query", "unknown", "root"],
)
def test_every_response_carries_a_request_id(
    vbs: FakeVBS, http: requests.Session, disk: Disk, endpoint: str,
    method: str, path: str, body: Any, status: int,
) -> None:
    backup_id = vbs.add_backup(disk.volume_id)
    if body == "valid":
        body = disk.backup()
    elif body == "restore":
        body = {"restore": {"volume_id": disk.volume_id}}
    url = path.format(endpoint=endpoint, url=vbs.url, backup_id=backup_id)

    first = http.request(method, url, json=body, headers=JSON)
    second = http.get(f"{endpoint}/backups")

    assert first.status_code == status, first.text
    ids = [first.headers.get("X-OpenStack-Request-Id", ""), second.headers.get("X-OpenStack-Request-Id", "")]
    assert all(REQUEST_ID.match(i) for i in ids), ids
    assert ids[0] != ids[1]
