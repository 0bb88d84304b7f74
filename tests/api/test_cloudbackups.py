"""VBS-native backups (/v2/{p}/cloudbackups), jobs (/v1/{p}/jobs) and quotas, over real sockets."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from pytest_vbs import FakeVBS

JOB_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UNKNOWN = "6f1e2b3c-1111-2222-3333-444455556666"


def vbs_error(response: requests.Response, status: int, code: str, *fragments: str) -> None:
    """The VBS-native envelope with this status, code and message fragments."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    for fragment in fragments:
        assert fragment in body["error"]["message"], body


def job(vbs: FakeVBS, http: requests.Session, job_id: str) -> dict[str, Any]:
    response = http.get(f"{vbs.url}/v1/{vbs.project_id}/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def create(vbs: FakeVBS, http: requests.Session, **fields: Any) -> requests.Response:
    return http.post(f"{vbs.endpoint_v2}/cloudbackups", json={"backup": fields})


def test_create_poll_job_then_read_the_backup(vbs: FakeVBS, http: requests.Session) -> None:
    """The documented client flow: POST → job_id → poll the job → backup_id → native GET."""
    volume = vbs.add_volume(size=8, name="data")
    response = create(vbs, http, volume_id=volume, name="nightly", description="Backup_Demo",
                      tags=[{"key": "k", "value": "v"}], extend_param={"FullBackup": "true"})
    assert response.status_code == 200
    assert list(response.json()) == ["job_id"]
    status = job(vbs, http, response.json()["job_id"])
    assert status["status"] == "SUCCESS"
    assert status["job_type"] == "bksCreateBackup"
    assert JOB_TIME.match(status["begin_time"])
    assert JOB_TIME.match(status["end_time"])
    assert status["error_code"] is None
    assert status["fail_reason"] is None
    assert status["sub_jobs"] == []
    backup_id = status["entities"]["backup_id"]
    assert status["entities"]["volume_id"] == volume
    backup = http.get(f"{vbs.endpoint_v2}/backups/{backup_id}").json()["backup"]
    assert backup["name"] == "nightly"
    assert backup["size"] == 8
    # The real service returns the description as JSON text with DESC and INC (digest 7.4).
    assert json.loads(backup["description"]) == {"DESC": "Backup_Demo", "INC": 0}


def test_without_a_snapshot_the_service_takes_one_and_reports_it(vbs: FakeVBS, http: requests.Session) -> None:
    """The job page's example and backups recorded from a real region carry the snapshot the service took:
    ``snapshot_id`` on the backup (also its ``container``), ``entities.snapshot_id`` on the job."""
    volume = vbs.add_volume(name="data")
    entities = job(vbs, http, create(vbs, http, volume_id=volume, name="nightly").json()["job_id"])["entities"]

    snapshot_id = entities["snapshot_id"]
    backup = http.get(f"{vbs.endpoint}/backups/{entities['backup_id']}").json()["backup"]
    assert (backup["snapshot_id"], backup["container"]) == (snapshot_id, snapshot_id)
    snapshot = http.get(f"{vbs.endpoint}/snapshots/{snapshot_id}").json()["snapshot"]
    assert (snapshot["volume_id"], snapshot["status"]) == (volume, "available")
    assert backup["data_timestamp"] == snapshot["created_at"]
    # The snapshot goes with its backup.
    deleted = http.post(f"{vbs.endpoint_v2}/cloudbackups/{backup['id']}")
    assert job(vbs, http, deleted.json()["job_id"])["status"] == "SUCCESS"
    assert vbs.snapshots == {}


def test_a_given_snapshot_is_reported_as_well(vbs: FakeVBS, http: requests.Session) -> None:
    volume = vbs.add_volume()
    snapshot_id = vbs.add_snapshot(volume)
    entities = job(vbs, http, create(vbs, http, volume_id=volume, snapshot_id=snapshot_id,
                                     name="b").json()["job_id"])["entities"]

    assert entities["snapshot_id"] == snapshot_id
    assert vbs.backups[entities["backup_id"]].container == snapshot_id
    assert list(vbs.snapshots) == [snapshot_id]  # none taken


def test_a_snapshot_taken_for_a_backup_does_not_keep_its_disk(vbs: FakeVBS, http: requests.Session) -> None:
    volume = vbs.add_volume()
    entities = job(vbs, http, create(vbs, http, volume_id=volume, name="b").json()["job_id"])["entities"]

    assert http.delete(f"{vbs.endpoint}/volumes/{volume}").status_code == 202

    assert vbs.snapshots == {}
    assert vbs.backups[entities["backup_id"]].snapshot_id == entities["snapshot_id"]  # the backup outlives both


@pytest.mark.vbs(transitions="manual")
def test_job_goes_init_running_success(vbs: FakeVBS, http: requests.Session) -> None:
    job_id = create(vbs, http, volume_id=vbs.add_volume(), name="b").json()["job_id"]
    first, second, third = (job(vbs, http, job_id) for _ in range(3))
    assert [first["status"], second["status"], third["status"]] == ["INIT", "RUNNING", "RUNNING"]
    assert third["end_time"] is None
    assert vbs.advance() == 1
    assert job(vbs, http, job_id)["status"] == "SUCCESS"


@pytest.mark.vbs(transitions="manual")
def test_failed_job_reports_error_code_and_reason(vbs: FakeVBS, http: requests.Session) -> None:
    job_id = create(vbs, http, volume_id=vbs.add_volume(), name="b").json()["job_id"]
    vbs.advance(fail_reason="storage unreachable")
    status = job(vbs, http, job_id)
    assert (status["status"], status["error_code"], status["fail_reason"]) == (
        "FAIL", "VolumeBackup.0027", "storage unreachable")
    assert vbs.backups[status["entities"]["backup_id"]].status == "error"


@pytest.mark.vbs(transitions="reads", reads=2)
def test_job_reads_settle_the_backup(vbs: FakeVBS, http: requests.Session) -> None:
    job_id = create(vbs, http, volume_id=vbs.add_volume(), name="b").json()["job_id"]
    assert [job(vbs, http, job_id)["status"] for _ in range(4)] == ["INIT", "RUNNING", "SUCCESS", "SUCCESS"]


def test_incremental_unless_full_backup_requested(vbs: FakeVBS, http: requests.Session) -> None:
    volume = vbs.add_volume()
    jobs = [create(vbs, http, volume_id=volume, name=f"b{i}", extend_param=extra).json()["job_id"]
            for i, extra in enumerate([{}, {"FullBackup": "false"}, {"FullBackup": "true"}])]
    backups = [vbs.backups[job(vbs, http, j)["entities"]["backup_id"]] for j in jobs]
    assert [b.is_incremental for b in backups] == [False, True, False]
    assert [json.loads(b.description or "")["INC"] for b in backups] == [1, 1, 0]


def test_in_use_disks_can_be_backed_up(vbs: FakeVBS, http: requests.Session) -> None:
    assert create(vbs, http, volume_id=vbs.add_volume(status="in-use"), name="b").status_code == 200


def test_delete_is_a_post_and_returns_a_job(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup(name="old")
    response = http.post(f"{vbs.endpoint_v2}/cloudbackups/{backup_id}")
    assert response.status_code == 200
    status = job(vbs, http, response.json()["job_id"])
    assert (status["job_type"], status["status"]) == ("bksDeleteBackup", "SUCCESS")
    assert http.get(f"{vbs.endpoint_v2}/backups/{backup_id}").status_code == 404


def test_restore_returns_a_job(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup(size=5)
    target = vbs.add_volume(size=5)
    response = http.post(f"{vbs.endpoint_v2}/cloudbackups/{backup_id}/restore", json={"restore": {"volume_id": target}})
    assert response.status_code == 200
    status = job(vbs, http, response.json()["job_id"])
    assert (status["job_type"], status["status"]) == ("bksRestoreBackup", "SUCCESS")
    assert status["entities"] == {"backup_id": backup_id, "volume_id": target}


def test_quota_reflects_usage_and_limits(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.add_backup(size=3)
    vbs.add_backup(size=4)
    vbs.set_quota(backups=5)
    resources = http.get(f"{vbs.endpoint_v2}/cloudbackups/quota").json()["quotas"]["resources"]
    assert {r["type"]: (r["used"], r["reserved"], r["quota"]) for r in resources} == {
        "backups": (2, 0, 5), "backup_gigabytes": (7, 0, -1)}


def test_quota_usage_follows_deletes(vbs: FakeVBS, http: requests.Session) -> None:
    """Usage is kept as backups come and go: a deleted backup's gigabytes are freed for the next create."""
    vbs.add_backup(size=3)
    doomed = vbs.add_backup(size=4)
    assert http.delete(f"{vbs.endpoint}/backups/{doomed}").status_code == 202
    resources = http.get(f"{vbs.endpoint_v2}/cloudbackups/quota").json()["quotas"]["resources"]
    assert {r["type"]: r["used"] for r in resources} == {"backups": 1, "backup_gigabytes": 3}


@pytest.mark.parametrize(("limits", "code", "fragment"), [
    ({"backups": 1}, "VolumeBackup.0080", "number of backups"),
    ({"backup_gigabytes": 12}, "VolumeBackup.0081", "capacity of backups"),
])
def test_quota_exceeded(vbs: FakeVBS, http: requests.Session, limits: dict[str, int], code: str,
                        fragment: str) -> None:
    vbs.add_backup(size=10)
    vbs.set_quota(**limits)
    before = vbs.backups
    vbs_error(create(vbs, http, volume_id=vbs.add_volume(size=10), name="b"), 400, code, fragment)
    assert vbs.backups == before


# -- every documented create rule: status, code, message ----------------------------------------------------
CREATE_RULES = [
    # (id, backup fields (volume filled in unless given), code, message fragments)
    ("name missing", {"name": None}, "VolumeBackup.0007", ("'backup.name'", "mandatory")),
    ("name empty", {"name": ""}, "VolumeBackup.0007", ("'backup.name'", "empty")),
    ("name too long", {"name": "a" * 65}, "VolumeBackup.0003", ("'backup.name'", "64")),
    ("name bad character", {"name": "a b"}, "VolumeBackup.0004", ("'backup.name'", "letters, digits")),
    ("name auto prefix", {"name": "autobk_1"}, "VolumeBackup.0005", ("'backup.name'", "auto")),
    ("name Auto prefix", {"name": "Auto1"}, "VolumeBackup.0005", ("'backup.name'", "auto")),
    ("description too long", {"description": "d" * 65}, "VolumeBackup.0006", ("'backup.description'", "64")),
    ("description empty", {"description": ""}, "VolumeBackup.0006", ("'backup.description'",)),
    ("description angle", {"description": "<b>"}, "VolumeBackup.0006", ("'backup.description'", "'<'")),
    ("volume missing", {"volume_id": None}, "VolumeBackup.0010", ("'backup.volume_id'", "mandatory")),
    ("volume not uuid", {"volume_id": "disk-1"}, "VolumeBackup.0011", ("'backup.volume_id'", "UUID")),
    ("tag bad key", {"tags": [{"key": "a/b", "value": "v"}]}, "VolumeBackup.0049", ("'backup.tags.0.key'",)),
    ("tag value too long", {"tags": [{"key": "k", "value": "v" * 44}]}, "VolumeBackup.0049",
     ("'backup.tags.0.value'", "43")),
    ("tag without value", {"tags": [{"key": "k"}]}, "VolumeBackup.0049", ("'backup.tags.0.value'", "mandatory")),
    ("too many tags", {"tags": [{"key": f"k{i}", "value": "v"} for i in range(11)]}, "VolumeBackup.0050",
     ("'backup.tags'", "10")),
    ("unsupported extend_param", {"extend_param": {"Other": "x"}}, "VolumeBackup.0002",
     ("'backup.extend_param.Other'",)),
    ("unknown field", {"force": True}, "VolumeBackup.0002", ("'backup.force'", "not a documented field")),
]


@pytest.mark.parametrize(("fields", "code", "fragments"), [r[1:] for r in CREATE_RULES],
                         ids=[r[0] for r in CREATE_RULES])
def test_create_rule(vbs: FakeVBS, http: requests.Session, fields: dict[str, Any], code: str,
                     fragments: tuple[str, ...]) -> None:
    backup = {"volume_id": vbs.add_volume(), "name": "ok", **fields}
    backup = {k: v for k, v in backup.items() if v is not None}
    vbs_error(http.post(f"{vbs.endpoint_v2}/cloudbackups", json={"backup": backup}), 400, code, *fragments)
    assert vbs.backups == {}


@pytest.mark.parametrize(("data", "fragment"), [
    (b"{", "Malformed"), (b"[]", "must be an object"), (b"{}", "'backup'"), (b"", "missing"),
])
def test_malformed_create_is_0002(vbs: FakeVBS, http: requests.Session, data: bytes, fragment: str) -> None:
    response = http.post(f"{vbs.endpoint_v2}/cloudbackups", data=data, headers={"Content-Type": "application/json"})
    vbs_error(response, 400, "VolumeBackup.0002", fragment)


def test_create_state_rules(vbs: FakeVBS, http: requests.Session) -> None:
    vbs_error(create(vbs, http, volume_id=UNKNOWN, name="b"), 404, "VolumeBackup.0021", UNKNOWN)
    vbs_error(create(vbs, http, volume_id=vbs.add_volume(status="error"), name="b"), 400, "VolumeBackup.0012",
              "available or in-use")
    volume = vbs.add_volume()
    other = vbs.add_volume()
    vbs_error(create(vbs, http, volume_id=volume, snapshot_id=vbs.add_snapshot(other), name="b"), 400,
              "VolumeBackup.0019", "belongs to volume")
    vbs_error(create(vbs, http, volume_id=volume, snapshot_id=UNKNOWN, name="b"), 404, "VolumeBackup.0020")


def test_twenty_backups_per_disk(vbs: FakeVBS, http: requests.Session) -> None:
    volume = vbs.add_volume()
    for _ in range(20):
        vbs.add_backup(volume)
    vbs_error(create(vbs, http, volume_id=volume, name="b21"), 400, "VolumeBackup.0040", "upper limit (20)")


@pytest.mark.vbs(transitions="manual")
def test_one_running_backup_per_disk(vbs: FakeVBS, http: requests.Session) -> None:
    volume = vbs.add_volume()
    assert create(vbs, http, volume_id=volume, name="first").status_code == 200
    vbs_error(create(vbs, http, volume_id=volume, name="second"), 400, "VolumeBackup.0013", "not complete")
    target = vbs.add_volume()
    backup_id = vbs.add_backup(target)
    vbs_error(http.post(f"{vbs.endpoint_v2}/cloudbackups/{backup_id}/restore", json={"restore": {"volume_id": volume}}),
              400, "VolumeBackup.0206", "being created")


@pytest.mark.parametrize(("setup", "code", "status"), [
    ("missing backup", "VolumeBackup.0111", 404),
    ("missing disk", "VolumeBackup.0111", 404),
    ("disk in error", "VolumeBackup.0202", 400),
    ("disk unavailable", "VolumeBackup.0205", 400),
    ("disk too small", "VolumeBackup.0209", 400),
    ("backup not available", "VolumeBackup.0089", 400),
    ("volume_id not a uuid", "VolumeBackup.0208", 400),
    ("volume_id missing", "VolumeBackup.0208", 400),
    ("no restore object", "VolumeBackup.0210", 400),
])
def test_restore_rule(vbs: FakeVBS, http: requests.Session, setup: str, code: str, status: int) -> None:
    backup_id = vbs.add_backup(size=10, status="error" if setup == "backup not available" else "available")
    volume = vbs.add_volume(size=5 if setup == "disk too small" else 10,
                            status={"disk in error": "error", "disk unavailable": "creating"}.get(setup, "available"))
    body: Any = {"restore": {"volume_id": volume}}
    if setup == "missing backup":
        backup_id = UNKNOWN
    body = {
        "missing disk": {"restore": {"volume_id": UNKNOWN}},
        "volume_id not a uuid": {"restore": {"volume_id": "disk"}},
        "volume_id missing": {"restore": {}},
        "no restore object": {"volume_id": volume},
    }.get(setup, body)
    before = vbs.backups
    vbs_error(http.post(f"{vbs.endpoint_v2}/cloudbackups/{backup_id}/restore", json=body), status, code)
    assert vbs.backups == before


@pytest.mark.parametrize(("status", "code", "http_status"), [
    ("creating", "VolumeBackup.0125", 400), (None, "VolumeBackup.0110", 404)])
def test_delete_rules(vbs: FakeVBS, http: requests.Session, status: str | None, code: str, http_status: int) -> None:
    backup_id = vbs.add_backup(status=status) if status else UNKNOWN
    vbs_error(http.post(f"{vbs.endpoint_v2}/cloudbackups/{backup_id}"), http_status, code)


def test_unknown_job_is_common_0011(vbs: FakeVBS, http: requests.Session) -> None:
    vbs_error(http.get(f"{vbs.url}/v1/{vbs.project_id}/jobs/4010b39b5281d3590152874bfa3b1604"), 404, "common.0011",
              "query job fail")


def test_jobs_are_per_project(vbs: FakeVBS, http: requests.Session) -> None:
    job_id = create(vbs, http, volume_id=vbs.add_volume(), name="b").json()["job_id"]
    assert http.get(f"{vbs.url}/v1/{'f' * 32}/jobs/{job_id}").status_code == 404


def test_operations_are_journaled_and_faultable(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.fail("create_vbs_backup", 503, times=1, code="VolumeBackup.0900")
    volume = vbs.add_volume()
    vbs_error(create(vbs, http, volume_id=volume, name="b"), 503, "VolumeBackup.0900")
    assert create(vbs, http, volume_id=volume, name="b").status_code == 200
    vbs.assert_called("create_vbs_backup", times=2, json={"backup": {"name": "b"}})
    assert vbs.requests[0].fault == "503"
