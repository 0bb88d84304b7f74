"""The seeding helpers check their input as the API would (issue 16 item 12), and what tests read of the state
(``vbs.jobs``, ``vbs.endpoint_v1``, the model classes; item 16)."""

from __future__ import annotations

import re
import warnings

import pytest
import requests

import pytest_vbs
from pytest_vbs import FakeVBS, SeedingWarning


@pytest.mark.parametrize(("call", "message"), [
    (lambda vbs: vbs.add_volume(status="in_use"), "add_volume: status must be one of \"available\", \"in-use\""),
    (lambda vbs: vbs.add_volume(size=0), "add_volume: size must be >= 1, got 0"),
    (lambda vbs: vbs.add_volume(size="10"), "add_volume: size "),
    (lambda vbs: vbs.add_snapshot(vbs.add_volume(), status="ready"), "add_snapshot: status must be one of"),
    (lambda vbs: vbs.set_quota(backups=-5), "quota backups must be an integer >= 0, or -1 for unlimited; got -5"),
    (lambda vbs: vbs.set_quota(backup_gigabytes=1.5), "quota backup_gigabytes must be an integer"),
    (lambda vbs: vbs.set_transitions("reads", reads=0), "reads must be an integer >= 1, not 0"),
    (lambda vbs: vbs.set_transitions("manual", reads=2), "reads=2 applies only to the 'reads' mode, not 'manual'"),
    (lambda vbs: vbs.set_transitions("manul"), "unknown transition mode 'manul' (did you mean 'manual'?)"),
    (lambda vbs: vbs.set_transitions("slow"), "unknown transition mode 'slow'; allowed: 'immediate', 'manual'"),
])
def test_a_bad_seed_is_refused_and_changes_nothing(vbs: FakeVBS, call: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call(vbs)  # type: ignore[operator]

    assert vbs.volumes == {} or len(vbs.volumes) == 1  # only add_snapshot's own volume
    assert vbs.state.transitions.value == "immediate"
    assert requests.get(f"{vbs.endpoint_v2}/cloudbackups/quota").json()["quotas"]["resources"][0]["quota"] == -1


def test_the_documented_spellings_are_accepted(vbs: FakeVBS) -> None:
    vbs.add_volume(status="in-use", size=1)
    vbs.set_quota(backups=-1, backup_gigabytes=0)
    vbs.set_transitions("reads", reads=1)


def test_a_21st_seeded_backup_warns_with_a_filterable_class(vbs: FakeVBS) -> None:
    volume = vbs.add_volume()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(20):
            vbs.add_backup(volume)

    with pytest.warns(SeedingWarning, match=r"now has 21 backups; the API refuses more than 20 per volume"):
        vbs.add_backup(volume)

    assert len(vbs.backups) == 21
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pytest_vbs.SeedingWarning)
        vbs.add_backup(volume)


def test_jobs_and_the_v1_endpoint(vbs: FakeVBS) -> None:
    volume = vbs.add_volume()
    body = {"backup": {"volume_id": volume, "snapshot_id": vbs.add_snapshot(volume), "name": "nightly"}}
    job_id = requests.post(f"{vbs.endpoint_v2}/cloudbackups", json=body).json()["job_id"]

    job = vbs.jobs[job_id]

    assert isinstance(job, pytest_vbs.Job)
    assert (job.job_type, job.status) == ("bksCreateBackup", "SUCCESS")
    document = requests.get(f"{vbs.endpoint_v1}/jobs/{job_id}").json()
    assert document["status"] == "SUCCESS"
    assert document["entities"]["backup_id"] == job.entities["backup_id"]
    assert vbs.endpoint_v1 == f"{vbs.url}/v1/{vbs.project_id}"
    vbs.jobs[job_id].status = "FAIL"  # a copy
    assert vbs.jobs[job_id].status == "SUCCESS"


def test_the_model_classes_are_exported() -> None:
    for name in ("Backup", "Volume", "Snapshot", "Job", "Policy", "Sharing", "Task", "RecordedRequest"):
        assert name in pytest_vbs.__all__
        assert getattr(pytest_vbs, name).__name__ == name
