"""Asynchronous status changes (section 7.5): immediate, after N reads, or manual; failures; seeding."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests
from vbs_support import Disk, assert_error

from pytest_vbs import APIError, FakeVBS, TransitionMode


def create(http: requests.Session, vbs: FakeVBS, disk: Disk, **fields: object) -> str:
    response = http.post(f"{vbs.endpoint}/backups", json=disk.backup(**fields))
    assert response.status_code == 202, response.text
    return str(response.json()["backup"]["id"])


def status(http: requests.Session, vbs: FakeVBS, backup_id: str) -> str:
    response = http.get(f"{vbs.endpoint}/backups/{backup_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["backup"]["status"])


def view(http: requests.Session, vbs: FakeVBS, backup_id: str) -> dict[str, object]:
    response = http.get(f"{vbs.endpoint}/backups/{backup_id}")
    assert response.status_code == 200, response.text
    return dict(response.json()["backup"])


def restore(http: requests.Session, vbs: FakeVBS, backup_id: str, volume_id: str) -> None:
    response = http.post(f"{vbs.endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": volume_id}})
    assert response.status_code == 202, response.text


def delete(http: requests.Session, vbs: FakeVBS, backup_id: str) -> None:
    response = http.delete(f"{vbs.endpoint}/backups/{backup_id}")
    assert response.status_code == 202, response.text


# -- immediate (the default) -----------------------------------------------------------------------------------
def test_transitions_are_immediate_by_default(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    assert vbs.state.transitions is TransitionMode.IMMEDIATE
    backup_id = create(http, vbs, disk)

    assert vbs.backups[backup_id].status == "available"
    assert status(http, vbs, backup_id) == "available"
    restore(http, vbs, backup_id, disk.volume_id)
    assert status(http, vbs, backup_id) == "available"
    delete(http, vbs, backup_id)
    assert_error(http.get(f"{vbs.endpoint}/backups/{backup_id}"), 404, "itemNotFound")
    assert vbs.advance() == 0


# -- reads ---------------------------------------------------------------------------------------------------
@pytest.mark.vbs(transitions="reads", reads=2)
def test_reads_mode_from_the_marker(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    backup_id = create(http, vbs, disk)

    seen = [status(http, vbs, backup_id) for _ in range(4)]

    assert seen == ["creating", "creating", "available", "available"]


@pytest.mark.parametrize("reads", [1, 3])  # 0 is refused (tests/api/test_seeding.py)
def test_reads_mode_shows_the_transient_status_n_times(
    vbs: FakeVBS, http: requests.Session, disk: Disk, reads: int
) -> None:
    vbs.set_transitions("reads", reads=reads)
    backup_id = create(http, vbs, disk)

    seen = [status(http, vbs, backup_id) for _ in range(reads + 2)]

    assert seen == ["creating"] * reads + ["available", "available"]


@pytest.mark.vbs(transitions="reads", reads=2)
def test_reads_mode_counts_list_reads(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    backup_id = create(http, vbs, disk)

    listed = [http.get(f"{vbs.endpoint}/backups/detail").json()["backups"][0]["status"] for _ in range(2)]

    assert listed == ["creating", "creating"]
    assert status(http, vbs, backup_id) == "available"


@pytest.mark.vbs(transitions="reads", reads=1)
def test_reads_mode_for_restore_and_delete(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    backup_id = vbs.add_backup(disk.volume_id)

    restore(http, vbs, backup_id, disk.volume_id)
    assert [status(http, vbs, backup_id) for _ in range(2)] == ["restoring", "available"]
    delete(http, vbs, backup_id)
    assert status(http, vbs, backup_id) == "deleting"
    message = assert_error(http.get(f"{vbs.endpoint}/backups/{backup_id}"), 404, "itemNotFound")
    assert message == f"Backup {backup_id} could not be found."
    assert vbs.backups == {}


# -- manual --------------------------------------------------------------------------------------------------
def test_manual_mode_waits_for_advance(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    vbs.set_transitions("manual")
    backup_id = create(http, vbs, disk)

    assert [status(http, vbs, backup_id) for _ in range(3)] == ["creating"] * 3
    assert vbs.advance() == 1
    assert status(http, vbs, backup_id) == "available"
    assert vbs.advance() == 0


def test_advance_one_backup_leaves_the_others_pending(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.set_transitions("manual")
    disks = []
    for _ in range(2):
        volume = vbs.add_volume()
        disks.append(Disk(volume, vbs.add_snapshot(volume)))
    first, second = (create(http, vbs, d) for d in disks)

    assert vbs.advance(first) == 1

    assert status(http, vbs, first) == "available"
    assert status(http, vbs, second) == "creating"
    assert vbs.advance(first) == 0
    assert vbs.advance() == 1
    assert status(http, vbs, second) == "available"


def test_advance_with_a_fail_reason_fails_the_creation(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    vbs.set_transitions("manual")
    backup_id = create(http, vbs, disk)

    assert vbs.advance(fail_reason="boom") == 1

    backup = view(http, vbs, backup_id)
    assert backup["status"] == "error"
    assert backup["fail_reason"] == "boom"
    delete(http, vbs, backup_id)  # a backup in error can be deleted


def test_restore_goes_through_restoring(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    backup_id = vbs.add_backup(disk.volume_id)
    vbs.set_transitions("manual")

    restore(http, vbs, backup_id, disk.volume_id)

    assert status(http, vbs, backup_id) == "restoring"
    assert vbs.advance(backup_id) == 1
    assert status(http, vbs, backup_id) == "available"


def test_a_failed_restore_ends_in_error_restoring(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    backup_id = vbs.add_backup(disk.volume_id)
    vbs.set_transitions("manual")
    restore(http, vbs, backup_id, disk.volume_id)

    assert vbs.advance(backup_id, fail_reason="disk gone") == 1

    backup = view(http, vbs, backup_id)
    assert backup["status"] == "error_restoring"
    assert backup["fail_reason"] == "disk gone"


def test_delete_goes_through_deleting_then_the_backup_is_gone(
    vbs: FakeVBS, http: requests.Session, disk: Disk
) -> None:
    backup_id = vbs.add_backup(disk.volume_id)
    vbs.set_transitions("manual")

    delete(http, vbs, backup_id)

    assert status(http, vbs, backup_id) == "deleting"
    assert [b["status"] for b in http.get(f"{vbs.endpoint}/backups/detail").json()["backups"]] == ["deleting"]
    assert vbs.advance() == 1
    assert_error(http.get(f"{vbs.endpoint}/backups/{backup_id}"), 404, "itemNotFound")
    assert http.get(f"{vbs.endpoint}/backups").json() == {"backups": []}


def test_a_failed_delete_ends_in_error(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    backup_id = vbs.add_backup(disk.volume_id)
    vbs.set_transitions("manual")
    delete(http, vbs, backup_id)

    vbs.advance(fail_reason="storage busy")

    backup = view(http, vbs, backup_id)
    assert (backup["status"], backup["fail_reason"]) == ("error", "storage busy")


def test_updated_at_moves_with_the_status(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    vbs.set_transitions("manual")
    backup_id = create(http, vbs, disk)
    before = view(http, vbs, backup_id)

    vbs.advance()

    after = view(http, vbs, backup_id)
    assert after["created_at"] == before["created_at"]
    fmt = "%Y-%m-%dT%H:%M:%S.%f"
    assert datetime.strptime(str(after["updated_at"]), fmt) > datetime.strptime(str(before["updated_at"]), fmt)


def test_transitions_can_be_switched_back_to_immediate(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    vbs.set_transitions("manual")
    pending = create(http, vbs, disk)
    vbs.set_transitions("immediate")

    assert vbs.advance() == 1
    assert status(http, vbs, pending) == "available"
    assert status(http, vbs, create(http, vbs, disk)) == "available"


# -- forcing and seeding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("initial", ["available", "creating", "restoring", "deleting"])
def test_set_backup_error(vbs: FakeVBS, http: requests.Session, disk: Disk, initial: str) -> None:
    vbs.set_transitions("manual")
    backup_id = create(http, vbs, disk) if initial == "creating" else vbs.add_backup(disk.volume_id)
    if initial == "restoring":
        restore(http, vbs, backup_id, disk.volume_id)
    elif initial == "deleting":
        delete(http, vbs, backup_id)
    assert status(http, vbs, backup_id) == initial

    vbs.set_backup_error(backup_id, "reason")

    backup = view(http, vbs, backup_id)
    assert (backup["status"], backup["fail_reason"]) == ("error", "reason")
    assert vbs.advance() == 0  # whatever was pending is dropped
    assert status(http, vbs, backup_id) == "error"


def test_set_backup_error_of_an_unknown_backup_raises(vbs: FakeVBS) -> None:
    with pytest.raises(APIError, match="could not be found"):
        vbs.set_backup_error("nope", "reason")


@pytest.mark.parametrize("seeded", ["creating", "available", "deleting", "error", "restoring", "error_restoring"])
def test_add_backup_seeds_any_status(vbs: FakeVBS, http: requests.Session, seeded: str) -> None:
    backup_id = vbs.add_backup(status=seeded, fail_reason="seeded failure" if "error" in seeded else None)

    backup = view(http, vbs, backup_id)

    assert backup["status"] == seeded
    assert backup["fail_reason"] == ("seeded failure" if "error" in seeded else None)
    assert status(http, vbs, backup_id) == seeded  # seeded statuses are not transitions: they stay


def test_add_backup_seeds_the_creation_time_and_fields(vbs: FakeVBS, http: requests.Session) -> None:
    volume = vbs.add_volume(size=30)
    when = datetime(2019, 3, 27, 12, 36, 17, 596602)

    backup_id = vbs.add_backup(volume, name="seeded", description="from a test", created_at=when)

    backup = view(http, vbs, backup_id)
    assert backup["created_at"] == "2019-03-27T12:36:17.596602"
    assert (backup["name"], backup["description"], backup["volume_id"], backup["size"]) == (
        "seeded", "from a test", volume, 30
    )
    assert backup["is_incremental"] is False
    assert view(http, vbs, vbs.add_backup(volume))["is_incremental"] is True


def test_add_backup_without_a_volume_makes_one(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup(size=7)

    backup = view(http, vbs, backup_id)

    assert backup["size"] == 7
    assert backup["volume_id"] in vbs.volumes


def test_add_backup_rejects_an_unknown_status(vbs: FakeVBS) -> None:
    with pytest.raises(ValueError, match="status"):
        vbs.add_backup(status="frozen")
