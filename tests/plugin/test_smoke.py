from __future__ import annotations

import requests

from pytest_vbs import FakeVBS


def test_create_then_get(vbs: FakeVBS, http: requests.Session) -> None:
    volume = vbs.add_volume(size=10)
    snapshot = vbs.add_snapshot(volume)
    created = http.post(f"{vbs.endpoint}/backups", json={"backup": {"volume_id": volume, "snapshot_id": snapshot}})
    assert created.status_code == 202
    backup_id = created.json()["backup"]["id"]
    got = http.get(f"{vbs.endpoint}/backups/{backup_id}")
    assert got.json()["backup"]["status"] == "available"
    assert [r.operation for r in vbs.requests] == ["create_backup", "get_backup"]


def test_state_is_clean_per_test(vbs: FakeVBS) -> None:
    assert vbs.backups == {}
    assert vbs.requests == []
