"""The ``timed`` transition mode: every pending change completes after a wall-clock delay, read or not; lists,
quotas, jobs and policy tasks follow the clock; bad values are clear errors."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from vbs_support import JSON, Disk, assert_error

from pytest_vbs import FakeVBS, TransitionMode

DELAY = 0.5  # long enough for the few requests a test sends before it is due, on a busy machine
#: How long a test waits at most for a due change before it fails (the machine may be busy).
PATIENCE = 10.0


def create(http: requests.Session, vbs: FakeVBS, disk: Disk) -> str:
    response = http.post(f"{vbs.endpoint}/backups", json=disk.backup())
    assert response.status_code == 202, response.text
    return str(response.json()["backup"]["id"])


def listed(http: requests.Session, vbs: FakeVBS) -> dict[str, str]:
    return {b["id"]: b["status"] for b in http.get(f"{vbs.endpoint}/backups/detail").json()["backups"]}


def wait_for(check: object, started: float) -> float:
    """Poll ``check()`` until it is true (never longer than PATIENCE); the seconds since ``started``."""
    assert callable(check)
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, "the timed change never completed"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_creation_completes_after_the_delay_without_being_read(
    vbs: FakeVBS, http: requests.Session, disk: Disk
) -> None:
    vbs.set_transitions("timed", seconds=DELAY)
    started = time.monotonic()
    backup_id = create(http, vbs, disk)
    assert listed(http, vbs) == {backup_id: "creating"}

    time.sleep(DELAY)
    elapsed = wait_for(lambda: vbs.backups[backup_id].status == "available", started)  # no API read at all

    assert elapsed >= DELAY
    assert listed(http, vbs) == {backup_id: "available"}


@pytest.mark.vbs(transitions="timed", seconds=DELAY)
def test_deletions_leave_lists_and_quotas_when_due(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    kept, doomed = vbs.add_backup(disk.volume_id, size=4), vbs.add_backup(disk.volume_id, size=6)
    started = time.monotonic()
    assert http.delete(f"{vbs.endpoint}/backups/{doomed}").status_code == 202
    assert listed(http, vbs) == {kept: "available", doomed: "deleting"}

    wait_for(lambda: doomed not in listed(http, vbs), started)

    quota = http.get(f"{vbs.endpoint_v2}/cloudbackups/quota").json()["quotas"]["resources"]
    assert {r["type"]: r["used"] for r in quota} == {"backups": 1, "backup_gigabytes": 4}
    assert_error(http.get(f"{vbs.endpoint}/backups/{doomed}"), 404, "itemNotFound")


def test_restores_and_jobs_follow_the_clock(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    backup_id = vbs.add_backup(disk.volume_id)
    vbs.set_transitions("timed", seconds=DELAY)
    started = time.monotonic()
    response = http.post(f"{vbs.endpoint_v2}/cloudbackups/{backup_id}/restore",
                         json={"restore": {"volume_id": disk.volume_id}})
    job_url = f"{vbs.url}/v1/{vbs.project_id}/jobs/{response.json()['job_id']}"

    assert [http.get(job_url).json()["status"] for _ in range(2)] == ["INIT", "RUNNING"]
    assert listed(http, vbs) == {backup_id: "restoring"}
    wait_for(lambda: http.get(job_url).json()["status"] == "SUCCESS", started)
    assert listed(http, vbs) == {backup_id: "available"}


def test_policy_tasks_finish_with_their_backups(vbs: FakeVBS, http: requests.Session) -> None:
    volume_id = vbs.add_volume()
    policy_id = vbs.add_policy("nightly", volumes=[volume_id])
    vbs.set_transitions("timed", seconds=DELAY)
    started = time.monotonic()
    assert http.post(f"{vbs.endpoint_v2}/backuppolicy/{policy_id}/action").status_code == 204
    tasks_url = f"{vbs.endpoint_v2}/backuppolicy/{policy_id}/backuptasks"

    assert [t["status"] for t in http.get(tasks_url).json()["tasks"]] == ["RUNNING"]
    wait_for(lambda: [t["status"] for t in http.get(tasks_url).json()["tasks"]] == ["EXECUTE_SUCCESS"], started)


def test_entering_timed_mode_times_what_is_pending_and_leaving_it_stops_the_clock(
    vbs: FakeVBS, http: requests.Session, disk: Disk
) -> None:
    vbs.set_transitions("manual")
    first = create(http, vbs, disk)
    vbs.set_transitions("timed", seconds=0)
    assert listed(http, vbs) == {first: "available"}  # pending before: due now

    vbs.set_transitions("timed", seconds=DELAY)
    second = vbs.add_backup(disk.volume_id)
    assert http.delete(f"{vbs.endpoint}/backups/{second}").status_code == 202
    vbs.set_transitions("manual")
    time.sleep(DELAY + 0.1)
    assert listed(http, vbs)[second] == "deleting"  # manual again: only advance() completes it
    assert vbs.advance() == 1


def test_timed_changes_start_no_thread(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.set_transitions("timed", seconds=DELAY)
    threads = threading.active_count()
    started = time.monotonic()
    ids = [vbs.add_backup(status="available") for _ in range(15)]
    for backup_id in ids:
        assert http.delete(f"{vbs.endpoint}/backups/{backup_id}").status_code == 202

    assert threading.active_count() == threads
    wait_for(lambda: not vbs.backups, started)
    assert threading.active_count() == threads


def test_reset_brings_back_the_default_mode(vbs: FakeVBS) -> None:
    vbs.set_transitions("timed", seconds=5)
    vbs.reset()
    assert (vbs.state.transitions, vbs.state.seconds) == (TransitionMode.IMMEDIATE, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mode": "timed", "seconds": -1}, ValueError, "seconds must be a finite number >= 0"),
        ({"mode": "timed", "seconds": float("nan")}, ValueError, "finite"),
        ({"mode": "timed", "seconds": "0.2"}, TypeError, "seconds must be a number of seconds"),
        ({"mode": "timed", "seconds": True}, TypeError, "seconds must be a number of seconds"),
        ({"mode": "manual", "seconds": 0.2}, ValueError, "delay of timed transitions"),
    ],
)
def test_bad_seconds_are_clear_errors(vbs: FakeVBS, kwargs: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        vbs.set_transitions(**kwargs)  # type: ignore[arg-type]
    assert (vbs.state.transitions, vbs.state.seconds) == (TransitionMode.IMMEDIATE, 1.0)


def test_the_control_api_sets_timed_transitions(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.post(f"{vbs.url}/__vbs__/config", json={"transitions": "timed", "seconds": 0.2})

    assert response.status_code == 200, response.text
    assert response.json() == {"transitions": "timed", "reads": 1, "seconds": 0.2}
    assert http.get(f"{vbs.url}/__vbs__/state").json()["seconds"] == 0.2
    assert http.post(f"{vbs.url}/__vbs__/config", json={"seconds": 0.5}).json()["seconds"] == 0.5  # timed in force


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"transitions": "timed", "seconds": -0.1}, "seconds"),
        ({"transitions": "timed", "seconds": "fast"}, "seconds"),
        ({"transitions": "manual", "seconds": 0.2}, "delay of timed transitions"),
        ({"seconds": 0.2}, "delay of timed transitions"),
        ({"transitions": "reads", "reads": 0}, "reads"),  # as set_transitions and --vbs-reads: reads >= 1,
        ({"transitions": "manual", "reads": 2}, "reads transitions"),  # and only for the reads mode
        ({"reads": 2}, "reads transitions"),
    ],
)
def test_the_control_api_refuses_a_config_it_cannot_honour(
    vbs: FakeVBS, http: requests.Session, body: dict[str, object], fragment: str
) -> None:
    response = http.post(f"{vbs.url}/__vbs__/config", json=body, headers=JSON)

    assert_error(response, 400, "badRequest", fragment)
    assert vbs.state.transitions is TransitionMode.IMMEDIATE


def test_the_control_api_sets_reads_transitions(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.post(f"{vbs.url}/__vbs__/config", json={"transitions": "reads", "reads": 3}, headers=JSON)

    assert response.status_code == 200, response.text
    assert (vbs.state.transitions, vbs.state.reads) == (TransitionMode.READS, 3)
    assert http.post(f"{vbs.url}/__vbs__/config", json={"reads": 2}, headers=JSON).json()["reads"] == 2
