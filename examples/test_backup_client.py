"""The backup client of ``backup_client.py`` against the fake VBS: the recipes of docs/fault-injection.md.

Backoff sleeps are recorded instead of slept, so the whole file runs in well under a second or two.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from backup_client import BackupError, create_backup, prune_backups, wait_for_backup

from pytest_vbs import FakeVBS


@pytest.fixture
def disk(vbs: FakeVBS) -> tuple[str, str]:
    """A volume and a snapshot of it, ready to be backed up."""
    volume_id = vbs.add_volume(size=10)
    return volume_id, vbs.add_snapshot(volume_id)


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff pauses the client asked for (appended to instead of sleeping)."""
    return []


def backup_now(vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float], **options: Any) -> str:
    return create_backup(vbs.endpoint, *disk, "nightly-2024-05-01", sleep=sleeps.append, **options)


def operations(vbs: FakeVBS) -> list[str]:
    return [entry.operation for entry in vbs.requests]


@pytest.mark.vbs_fault("create_backup", status=503, times=2)
def test_create_retries_503_then_succeeds(vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float]) -> None:
    backup_id = backup_now(vbs, disk, sleeps, backoff=0.5)

    assert list(vbs.backups) == [backup_id]
    assert sleeps == [0.5, 1.0]  # exponential backoff
    # Before each retry the client checked that the failed create had not been committed after all.
    assert operations(vbs) == ["create_backup", "list_backups_detail"] * 2 + ["create_backup"]


def test_conflict_is_not_retried_and_carries_the_message(
    vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float]
) -> None:
    vbs.fail("create_backup", 409, message="A backup of this disk is already being created.")

    with pytest.raises(BackupError) as raised:
        backup_now(vbs, disk, sleeps)

    assert (raised.value.status, raised.value.message) == (409, "A backup of this disk is already being created.")
    assert operations(vbs) == ["create_backup"]
    assert sleeps == []


def test_504_after_commit_does_not_create_a_duplicate(
    vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float]
) -> None:
    vbs.fail("create_backup", 504, after_commit=True, times=1)  # the backup is made, the client sees 504

    backup_id = backup_now(vbs, disk, sleeps)

    assert list(vbs.backups) == [backup_id]
    assert vbs.backups[backup_id].name == "nightly-2024-05-01"
    assert operations(vbs) == ["create_backup", "list_backups_detail"]


@pytest.mark.parametrize("after_commit", [False, True], ids=["lost", "committed"])
@pytest.mark.parametrize("fault", ["hang", "connection_reset", "empty_response", "malformed_body"])
def test_broken_connections_and_timeouts_are_retried(
    vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float], fault: str, after_commit: bool
) -> None:
    status = 502 if fault == "malformed_body" else None  # a truncated 502 page
    vbs.fail("create_backup", status, fault=fault, after_commit=after_commit, times=1)

    backup_id = backup_now(vbs, disk, sleeps, timeout=0.3)  # "hang" lasts until this read timeout

    assert list(vbs.backups) == [backup_id]
    label = " ".join([*([str(status)] if status else []), fault, *(["after_commit"] if after_commit else [])])
    assert vbs.requests[0].fault == label
    expected = ["create_backup", "list_backups_detail"] + ([] if after_commit else ["create_backup"])
    assert operations(vbs) == expected


def test_gives_up_after_the_last_attempt(vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float]) -> None:
    vbs.fail("create_backup", 503, message="Maintenance.")

    with pytest.raises(BackupError, match=r"gave up after 3 attempts: Maintenance\.") as raised:
        backup_now(vbs, disk, sleeps, attempts=3, backoff=0.1)

    assert raised.value.status == 503
    assert vbs.backups == {}
    assert sleeps == [0.1, 0.2]


def test_every_documented_error_is_reported(
    vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float], vbs_error_status: int
) -> None:
    vbs.fail("create_backup", vbs_error_status, message="Injected.")

    with pytest.raises(BackupError) as raised:
        backup_now(vbs, disk, sleeps, attempts=2)

    assert raised.value.status == vbs_error_status
    assert raised.value.message.endswith("Injected.")
    assert vbs.backups == {}


def test_survives_a_flaky_service(vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float]) -> None:
    rule = vbs.fail("*", 503, probability=0.5, seed=4)  # any request, every other one on average, reproducibly

    backup_id = backup_now(vbs, disk, sleeps, attempts=10)

    assert list(vbs.backups) == [backup_id]
    assert rule.served > 0


@pytest.mark.vbs(transitions="reads", reads=2)
def test_wait_for_backup_polls_until_available(vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float]) -> None:
    backup_id = backup_now(vbs, disk, sleeps)

    backup = wait_for_backup(vbs.endpoint, backup_id, timeout=60, interval=2.0, sleep=sleeps.append)

    assert backup["status"] == "available"
    assert [entry.response_json["backup"]["status"] for entry in vbs.requests if entry.operation == "get_backup"] == [
        "creating", "creating", "available"
    ]
    assert sleeps == [2.0, 2.0]


@pytest.mark.vbs(transitions="reads", reads=1)
def test_wait_for_backup_rides_out_a_hiccup(vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float]) -> None:
    backup_id = backup_now(vbs, disk, sleeps)
    vbs.fail("get_backup", 503, times=1)

    assert wait_for_backup(vbs.endpoint, backup_id, timeout=60, sleep=sleeps.append)["status"] == "available"
    assert [entry.status for entry in vbs.requests if entry.operation == "get_backup"] == [503, 200, 200]


def test_backup_going_to_error_raises(vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float]) -> None:
    vbs.set_transitions("manual")
    backup_id = backup_now(vbs, disk, sleeps)

    def backend_fails(_: float) -> None:  # while the client waits, the backup fails
        vbs.advance(fail_reason="Connection to swift failed")

    with pytest.raises(BackupError, match="Connection to swift failed"):
        wait_for_backup(vbs.endpoint, backup_id, timeout=60, sleep=backend_fails)
    assert vbs.backups[backup_id].status == "error"


def test_wait_for_backup_times_out(vbs: FakeVBS, disk: tuple[str, str], sleeps: list[float]) -> None:
    vbs.set_transitions("manual")
    backup_id = backup_now(vbs, disk, sleeps)
    now = [0.0]

    with pytest.raises(BackupError, match="still creating after 5 s"):
        wait_for_backup(vbs.endpoint, backup_id, timeout=5, interval=1.0, sleep=lambda s: now.append(now[-1] + s),
                        clock=lambda: now[-1])


def seed_backups(vbs: FakeVBS, volume_id: str, days: list[int]) -> dict[int, str]:
    """One backup per day of May 2024, created in the order given; returns their ids by day."""
    return {day: vbs.add_backup(volume_id, created_at=datetime(2024, 5, 1) + timedelta(days=day)) for day in days}


def test_prune_keeps_the_newest(vbs: FakeVBS, sleeps: list[float]) -> None:
    volume_id, other_volume = vbs.add_volume(), vbs.add_volume()
    by_day = seed_backups(vbs, volume_id, [3, 0, 4, 1, 2])
    untouched = vbs.add_backup(other_volume, created_at=datetime(2024, 1, 1))

    deleted = prune_backups(vbs.endpoint, volume_id, keep=2, sleep=sleeps.append)

    assert deleted == [by_day[2], by_day[1], by_day[0]]
    assert set(vbs.backups) == {by_day[3], by_day[4], untouched}


def test_prune_retries_a_delete_that_was_committed(vbs: FakeVBS, sleeps: list[float]) -> None:
    volume_id = vbs.add_volume()
    by_day = seed_backups(vbs, volume_id, [0, 1, 2])
    vbs.fail("delete_backup", 502, after_commit=True, times=1)  # deleted, but the client sees 502

    assert prune_backups(vbs.endpoint, volume_id, keep=1, sleep=sleeps.append) == [by_day[1], by_day[0]]
    assert set(vbs.backups) == {by_day[2]}
    assert [entry.status for entry in vbs.requests if entry.operation == "delete_backup"] == [502, 404, 202]
