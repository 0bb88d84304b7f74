"""The microversioned fields of the native backup API up to the highest version the fake advertises (3.45), as
Cinder's ``api/microversions.py`` and its v3 backup controller and views define them (docs/fidelity-notes.md C6):
``metadata`` from 3.43 (create, get, detail list), ``count`` from 3.45, ``~`` filters from 3.31 (page wins)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from vbs_support import Disk, assert_error

from pytest_vbs import FakeVBS

MV = "OpenStack-API-Version"
AT_343 = {MV: "volume 3.43"}


def create(http: requests.Session, vbs: FakeVBS, disk: Disk, version: str | None, **fields: Any) -> requests.Response:
    headers = {MV: f"volume {version}"} if version else {}
    return http.post(f"{vbs.endpoint}/backups", json=disk.backup(**fields), headers=headers)


def test_metadata_is_stored_from_343_and_shown_on_get_and_detail(
    vbs: FakeVBS, http: requests.Session, disk: Disk
) -> None:
    response = create(http, vbs, disk, "3.43", metadata={"owner": "team-a", "tier:gold": "a b/c"})

    assert response.status_code == 202, response.text
    assert "metadata" not in response.json()["backup"]  # Cinder's create answers the summary view
    backup_id = response.json()["backup"]["id"]
    assert vbs.backups[backup_id].metadata == {"owner": "team-a", "tier:gold": "a b/c"}
    shown = http.get(f"{vbs.endpoint}/backups/{backup_id}", headers=AT_343).json()["backup"]
    assert shown["metadata"] == {"owner": "team-a", "tier:gold": "a b/c"}
    (listed,) = http.get(f"{vbs.endpoint}/backups/detail", headers={MV: "volume 3.45"}).json()["backups"]
    assert listed["metadata"] == shown["metadata"]
    assert "metadata" not in http.get(f"{vbs.endpoint}/backups", headers=AT_343).json()["backups"][0]


@pytest.mark.parametrize("version", [None, "3.0", "3.42"])
def test_metadata_is_not_shown_below_343(vbs: FakeVBS, http: requests.Session, disk: Disk,
                                         version: str | None) -> None:
    backup_id = create(http, vbs, disk, "3.43", metadata={"k": "v"}).json()["backup"]["id"]
    headers = {MV: f"volume {version}"} if version else {}

    assert "metadata" not in http.get(f"{vbs.endpoint}/backups/{backup_id}", headers=headers).json()["backup"]
    assert "metadata" not in http.get(f"{vbs.endpoint}/backups/detail", headers=headers).json()["backups"][0]
    assert "metadata" not in http.get(f"{vbs.endpoint_v2}/backups/{backup_id}").json()["backup"]


def test_a_backup_without_metadata_shows_an_empty_one(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    plain = create(http, vbs, disk, None).json()["backup"]["id"]
    nulled = create(http, vbs, disk, "3.43", metadata=None)

    assert nulled.status_code == 202, nulled.text
    for backup_id in (plain, nulled.json()["backup"]["id"]):
        assert http.get(f"{vbs.endpoint}/backups/{backup_id}", headers=AT_343).json()["backup"]["metadata"] == {}


@pytest.mark.parametrize("version", [None, "3.42"])
def test_metadata_below_343_is_refused_naming_the_microversion(
    vbs: FakeVBS, http: requests.Session, disk: Disk, version: str | None
) -> None:
    response = create(http, vbs, disk, version, metadata={"k": "v"})

    assert_error(response, 400, "badRequest", "backup.metadata", "microversion 3.43", MV)
    assert vbs.backups == {}


def test_the_v2_api_has_no_metadata(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    response = http.post(f"{vbs.endpoint_v2}/backups", json=disk.backup(metadata={"k": "v"}))

    assert_error(response, 400, "badRequest", "backup.metadata", "3.43", "v2")
    assert vbs.backups == {}


@pytest.mark.parametrize(
    ("metadata", "fragments"),
    [
        ({"": "v"}, ["keys must be 1 to 255"]),
        ({"k" * 256: "v"}, ["keys must be 1 to 255"]),
        ({"bad!key": "v"}, ["keys must be"]),
        ({"k": 1}, ["backup.metadata.k", "values must be strings"]),
        ({"k": None}, ["values must be strings"]),
        ({"k": "v" * 256}, ["at most 255"]),
        (["k", "v"], ["backup.metadata"]),
        ("k=v", ["backup.metadata"]),
    ],
)
def test_metadata_follows_cinders_limits(vbs: FakeVBS, http: requests.Session, disk: Disk, metadata: Any,
                                         fragments: list[str]) -> None:
    assert_error(create(http, vbs, disk, "3.43", metadata=metadata), 400, "badRequest", *fragments)
    assert vbs.backups == {}


def test_metadata_at_the_limits_is_accepted(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    metadata = {"k" * 255: "v" * 255, "a-b_c:d. e/f": ""}

    response = create(http, vbs, disk, "3.45", metadata=metadata)

    assert response.status_code == 202, response.text
    assert vbs.backups[response.json()["backup"]["id"]].metadata == metadata


def test_backup_update_is_not_served(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    """Cinder's ``PUT /v3/{project_id}/backups/{id}`` (3.9, metadata from 3.43) has no VBS page: not served."""
    backup_id = create(http, vbs, disk, None).json()["backup"]["id"]

    response = http.put(f"{vbs.endpoint}/backups/{backup_id}", json={"backup": {"name": "x"}}, headers=AT_343)

    assert response.status_code == 405, response.text
