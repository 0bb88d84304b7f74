"""Backup sharing (/v2/{p}/os-vendor-backup-sharing), over real sockets."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from vbs_support import TIMESTAMP

from pytest_vbs import FakeVBS

OTHER = "722513ed0a324dadaabe5b2d0fe848c9"
THIRD = "722513ed0a324dadaabe5b2d0fe84919"


def sharing_url(vbs: FakeVBS, project: str | None = None) -> str:
    return f"{vbs.url}/v2/{project or vbs.project_id}/os-vendor-backup-sharing"


def share(vbs: FakeVBS, http: requests.Session, backup_id: str, *targets: str) -> requests.Response:
    return http.post(sharing_url(vbs), json={"shared": {"backup_id": backup_id, "to_project_ids": list(targets)}})


def error_code(response: requests.Response) -> tuple[int, str]:
    body = response.json()
    assert list(body) == ["error"], body
    return response.status_code, body["error"]["code"]


def test_share_returns_one_record_per_project(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup(name="lbf")
    response = share(vbs, http, backup_id, OTHER, THIRD)
    assert response.status_code == 200
    records = response.json()["shared"]  # a list, as in the page's example (its table says dict)
    assert [r["to_project_id"] for r in records] == [OTHER, THIRD]
    for record in records:
        assert record["backup_id"] == backup_id
        assert record["from_project_id"] == vbs.project_id
        assert TIMESTAMP.match(record["created_at"])
        assert set(record) == {"backup_id", "id", "to_project_id", "from_project_id", "created_at", "updated_at",
                               "deleted", "deleted_at"}


def test_list_count_and_get_from_both_sides(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup(name="lbf")
    sharing_id = share(vbs, http, backup_id, OTHER).json()["shared"][0]["id"]
    mine = http.get(f"{sharing_url(vbs)}/detail").json()["shared"]
    assert [s["id"] for s in mine] == [sharing_id]
    assert mine[0]["backup"]["name"] == "lbf"
    assert mine[0]["backup"]["status"] == "available"
    assert "service_metadata" in mine[0]["backup"]
    received = http.get(f"{sharing_url(vbs, OTHER)}/detail", params={"share_to_me": "true"}).json()["shared"]
    assert [s["id"] for s in received] == [sharing_id]
    assert http.get(f"{sharing_url(vbs, OTHER)}/detail").json()["shared"] == []  # shared *by* OTHER: none
    assert http.get(f"{sharing_url(vbs)}/count").json() == {"count": 1}
    assert http.get(f"{sharing_url(vbs, OTHER)}/count", params={"share_to_me": "true"}).json() == {"count": 1}
    for project in (vbs.project_id, OTHER):
        got = http.get(f"{sharing_url(vbs, project)}/{sharing_id}")
        assert got.status_code == 200
        assert got.json()["shared"]["id"] == sharing_id
    assert error_code(http.get(f"{sharing_url(vbs, THIRD)}/{sharing_id}")) == (404, "VolumeBackup.0110")


@pytest.mark.parametrize(("params", "expected"), [
    ({"name": "nigh"}, ["nightly"]),
    ({"status": "available"}, ["nightly", "weekly"]),
    ({"to_project_id": THIRD}, ["weekly"]),
    ({"backup_id": "missing"}, []),
    ({"sort_key": "name", "sort_dir": "asc"}, ["nightly", "weekly"]),
    ({"sort_key": "name", "sort_dir": "desc"}, ["weekly", "nightly"]),
    ({"sort_key": "name", "sort_dir": "asc", "limit": "1", "offset": "1"}, ["weekly"]),
])
def test_list_filters_sorting_paging(vbs: FakeVBS, http: requests.Session, params: dict[str, str],
                                     expected: list[str]) -> None:
    share(vbs, http, vbs.add_backup(name="nightly"), OTHER)
    share(vbs, http, vbs.add_backup(name="weekly"), THIRD)
    listed = http.get(f"{sharing_url(vbs)}/detail", params=params).json()["shared"]
    names = [s["backup"]["name"] for s in listed]
    assert names == expected if "sort_key" in params or len(expected) < 2 else sorted(names) == expected


@pytest.mark.parametrize("zone_key", ["availability_zone", "avalilability_zone"])
def test_zone_filter_accepts_both_spellings(vbs: FakeVBS, http: requests.Session, zone_key: str) -> None:
    share(vbs, http, vbs.add_backup(), OTHER)
    assert len(http.get(f"{sharing_url(vbs)}/detail", params={zone_key: "eu-de-01"}).json()["shared"]) == 1
    assert http.get(f"{sharing_url(vbs)}/count", params={zone_key: "eu-de-02"}).json() == {"count": 0}


def test_cancel_by_sharing_id_and_by_backup_id(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup()
    first, second = (r["id"] for r in share(vbs, http, backup_id, OTHER, THIRD).json()["shared"])
    response = http.delete(f"{sharing_url(vbs)}/{first}", params={"is_backup_id": "false"})
    assert (response.status_code, response.content) == (200, b"")
    assert [s["id"] for s in http.get(f"{sharing_url(vbs)}/detail").json()["shared"]] == [second]
    assert http.delete(f"{sharing_url(vbs)}/{backup_id}", params={"is_backup_id": "true"}).status_code == 200
    assert http.get(f"{sharing_url(vbs)}/count").json() == {"count": 0}
    assert error_code(http.delete(f"{sharing_url(vbs)}/{backup_id}", params={"is_backup_id": "true"})) == (
        404, "VolumeBackup.0110")


def test_only_the_owner_cancels(vbs: FakeVBS, http: requests.Session) -> None:
    sharing_id = share(vbs, http, vbs.add_backup(), OTHER).json()["shared"][0]["id"]
    assert error_code(http.delete(f"{sharing_url(vbs, OTHER)}/{sharing_id}")) == (404, "VolumeBackup.0110")


def test_shared_backup_is_readable_but_not_restorable_by_the_receiver(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup(size=1)
    share(vbs, http, backup_id, OTHER)
    receiver = vbs.for_project(OTHER)
    target = receiver.add_volume(size=10)
    assert http.get(f"{receiver.endpoint}/backups/{backup_id}").status_code == 200
    restore = http.post(f"{receiver.endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": target}})
    assert restore.status_code == 403
    assert "shared" in restore.json()["forbidden"]["message"]
    vbs_restore = http.post(f"{receiver.endpoint_v2}/cloudbackups/{backup_id}/restore",
                            json={"restore": {"volume_id": target}})
    assert error_code(vbs_restore) == (403, "VolumeBackup.0042")
    assert http.delete(f"{receiver.endpoint}/backups/{backup_id}").status_code == 403
    assert vbs.backups[backup_id].status == "available"


def test_deleting_a_backup_cancels_its_sharings(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup()
    share(vbs, http, backup_id, OTHER)
    assert http.delete(f"{vbs.endpoint}/backups/{backup_id}").status_code == 202
    assert http.get(f"{sharing_url(vbs, OTHER)}/count", params={"share_to_me": "true"}).json() == {"count": 0}


@pytest.mark.parametrize(("body", "code", "status"), [
    ({"shared": {"backup_id": "missing", "to_project_ids": [OTHER]}}, "VolumeBackup.0110", 404),
    ({"shared": {"backup_id": "BACKUP", "to_project_ids": []}}, "VolumeBackup.0002", 400),
    ({"shared": {"backup_id": "BACKUP"}}, "VolumeBackup.0002", 400),
    ({"shared": {"backup_id": "BACKUP", "to_project_ids": "x"}}, "VolumeBackup.0002", 400),
    ({"backup_id": "BACKUP"}, "VolumeBackup.0002", 400),
    ({"shared": {"backup_id": "BACKUP", "to_project_ids": ["SELF"]}}, "VolumeBackup.0002", 400),
    ({"shared": {"backup_id": "ERROR", "to_project_ids": [OTHER]}}, "VolumeBackup.0089", 400),
])
def test_share_rules(vbs: FakeVBS, http: requests.Session, body: dict[str, Any], code: str, status: int) -> None:
    text = str(body).replace("'BACKUP'", repr(vbs.add_backup())).replace("'SELF'", repr(vbs.project_id))
    text = text.replace("'ERROR'", repr(vbs.add_backup(status="error")))
    response = http.post(sharing_url(vbs), json=eval(text))  # ids substituted into the table's bodies
    assert error_code(response) == (status, code)
    assert http.get(f"{sharing_url(vbs)}/count").json() == {"count": 0}


def test_sharing_twice_with_the_same_project_is_rejected(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup()
    share(vbs, http, backup_id, OTHER)
    response = share(vbs, http, backup_id, OTHER)
    assert error_code(response) == (400, "VolumeBackup.0002")
    assert "already shared" in response.json()["error"]["message"]
