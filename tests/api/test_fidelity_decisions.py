"""Decisions of docs/fidelity-notes.md that no other test pins on its own."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import requests

from pytest_vbs import FakeVBS


def test_a_backup_with_later_incremental_backups_can_be_deleted(vbs: FakeVBS, http: requests.Session) -> None:
    """Note 25: unlike Cinder, VBS lets one backup go without breaking the others (UMN)."""
    volume = vbs.add_volume()
    first, second = vbs.add_backup(volume), vbs.add_backup(volume)
    detail = http.get(f"{vbs.endpoint}/backups/{first}").json()["backup"]
    assert detail["has_dependent_backups"] is True
    assert http.delete(f"{vbs.endpoint}/backups/{first}").status_code == 202
    assert list(vbs.backups) == [second]


def test_all_tenants_lists_only_the_callers_project(vbs: FakeVBS, http: requests.Session) -> None:
    """Note 29: all_tenants is accepted (clients send it) and, as for a non-admin, shows one's own project."""
    mine = vbs.add_backup(name="mine")
    vbs.for_project("f" * 32).add_backup(name="theirs")
    listed = http.get(f"{vbs.endpoint}/backups", params={"all_tenants": "true"}).json()["backups"]
    assert [b["id"] for b in listed] == [mine]


def test_next_link_drops_offset(vbs: FakeVBS, http: requests.Session) -> None:
    """Note 7: the next link carries the marker, not the offset (both together would skip items)."""
    for _ in range(4):
        vbs.add_backup()
    first = http.get(f"{vbs.endpoint}/backups", params={"limit": 1, "offset": 1}).json()
    link = first["backups_links"][0]["href"]
    query = parse_qs(urlparse(link).query)
    assert "offset" not in query
    assert query["marker"] == [first["backups"][0]["id"]]
    assert urlparse(link).path == f"/v3/{vbs.project_id}/backups"
