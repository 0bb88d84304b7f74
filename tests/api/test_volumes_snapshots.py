"""The minimal Cinder volume and snapshot API the backups depend on, and seeding a backup through it."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from vbs_support import TIMESTAMP, assert_error

from pytest_vbs import FakeVBS


def create_volume(http: requests.Session, vbs: FakeVBS, **fields: Any) -> dict[str, Any]:
    response = http.post(f"{vbs.endpoint}/volumes", json={"volume": {"size": 10, **fields}})
    assert response.status_code == 202, response.text
    return dict(response.json()["volume"])


def create_snapshot(http: requests.Session, vbs: FakeVBS, volume_id: str, **fields: Any) -> dict[str, Any]:
    response = http.post(f"{vbs.endpoint}/snapshots", json={"snapshot": {"volume_id": volume_id, **fields}})
    assert response.status_code == 202, response.text
    return dict(response.json()["snapshot"])


# -- volumes -------------------------------------------------------------------------------------------------
def test_create_volume_answers_202_with_the_volume(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.post(
        f"{vbs.endpoint}/volumes",
        json={"volume": {"size": 40, "name": "data", "description": "d", "availability_zone": "eu-de-02"}},
    )

    assert response.status_code == 202
    volume = response.json()["volume"]
    assert volume["size"] == 40
    assert volume["name"] == "data"
    assert volume["description"] == "d"
    assert volume["availability_zone"] == "eu-de-02"
    assert volume["status"] == "available"
    assert volume["os-vol-tenant-attr:tenant_id"] == vbs.project_id
    assert TIMESTAMP.match(volume["created_at"])
    assert volume["links"][0] == {"href": f"{vbs.endpoint}/volumes/{volume['id']}", "rel": "self"}
    assert list(vbs.volumes) == [volume["id"]]
    assert vbs.requests[0].operation == "create_volume"


def test_get_and_list_volumes(vbs: FakeVBS, http: requests.Session) -> None:
    first = create_volume(http, vbs, name="first")
    second = create_volume(http, vbs, name="second", size=20)

    got = http.get(f"{vbs.endpoint}/volumes/{second['id']}")
    summary = http.get(f"{vbs.endpoint}/volumes").json()["volumes"]
    detail = http.get(f"{vbs.endpoint}/volumes/detail").json()["volumes"]

    assert got.status_code == 200
    assert got.json() == {"volume": second}
    assert sorted((v["id"], v["name"]) for v in summary) == sorted([(first["id"], "first"), (second["id"], "second")])
    assert all(set(v) == {"id", "links", "name"} for v in summary)
    assert sorted(detail, key=lambda v: v["name"]) == [first, second]
    assert [e.operation for e in vbs.requests][2:] == ["get_volume", "list_volumes", "list_volumes_detail"]


def test_volume_lists_filter_by_name_and_page(vbs: FakeVBS, http: requests.Session) -> None:
    for name in ("a", "b", "c"):
        create_volume(http, vbs, name=name)

    by_name = http.get(f"{vbs.endpoint}/volumes/detail", params={"name": "b"}).json()["volumes"]
    paged = http.get(f"{vbs.endpoint}/volumes", params={"limit": 2}).json()["volumes"]
    rest = http.get(f"{vbs.endpoint}/volumes", params={"offset": 2}).json()["volumes"]

    assert [v["name"] for v in by_name] == ["b"]
    assert len(paged) == 2
    assert len(rest) == 1
    assert {v["id"] for v in paged} | {v["id"] for v in rest} == set(vbs.volumes)


def test_delete_volume_answers_202_then_404(vbs: FakeVBS, http: requests.Session) -> None:
    volume = create_volume(http, vbs)

    deleted = http.delete(f"{vbs.endpoint}/volumes/{volume['id']}")

    assert deleted.status_code == 202
    assert deleted.content == b""
    assert vbs.volumes == {}
    message = assert_error(http.get(f"{vbs.endpoint}/volumes/{volume['id']}"), 404, "itemNotFound")
    assert message == f"Volume {volume['id']} could not be found."
    assert_error(http.delete(f"{vbs.endpoint}/volumes/{volume['id']}"), 404, "itemNotFound")


def test_a_volume_with_snapshots_cannot_be_deleted(vbs: FakeVBS, http: requests.Session) -> None:
    volume = create_volume(http, vbs)
    create_snapshot(http, vbs, volume["id"])

    response = http.delete(f"{vbs.endpoint}/volumes/{volume['id']}")

    assert_error(response, 400, "badRequest", volume["id"], "snapshots")
    assert list(vbs.volumes) == [volume["id"]]


INVALID_VOLUMES = [
    ({}, ["'volume'", "mandatory"]),
    ({"volume": {}}, ["volume.size", "mandatory"]),
    ({"volume": {"size": 0}}, ["volume.size", ">= 1"]),
    ({"volume": {"size": "ten"}}, ["volume.size", "integer"]),
    ({"volume": {"size": True}}, ["volume.size", "integer"]),
    ({"volume": {"size": 1, "name": 5}}, ["volume.name", "string"]),
    ({"volume": []}, ["'volume'", "object"]),
]


@pytest.mark.parametrize(("body", "fragments"), INVALID_VOLUMES, ids=[str(b) for b, _ in INVALID_VOLUMES])
def test_create_volume_rejects_an_invalid_body(
    vbs: FakeVBS, http: requests.Session, body: dict[str, Any], fragments: list[str]
) -> None:
    response = http.post(f"{vbs.endpoint}/volumes", json=body)

    assert_error(response, 400, "badRequest", *fragments)
    assert vbs.volumes == {}


# -- snapshots -----------------------------------------------------------------------------------------------
def test_create_get_list_and_delete_a_snapshot(vbs: FakeVBS, http: requests.Session) -> None:
    volume = create_volume(http, vbs, size=15)

    snapshot = create_snapshot(http, vbs, volume["id"], name="snap", description="before upgrade")
    got = http.get(f"{vbs.endpoint}/snapshots/{snapshot['id']}")
    listed = http.get(f"{vbs.endpoint}/snapshots").json()["snapshots"]
    detail = http.get(f"{vbs.endpoint}/snapshots/detail").json()["snapshots"]

    assert snapshot["volume_id"] == volume["id"]
    assert (snapshot["name"], snapshot["description"], snapshot["size"]) == ("snap", "before upgrade", 15)
    assert snapshot["status"] == "available"
    assert snapshot["os-extended-snapshot-attributes:project_id"] == vbs.project_id
    assert TIMESTAMP.match(snapshot["created_at"])
    assert got.json() == {"snapshot": snapshot}
    assert [s["id"] for s in listed] == [snapshot["id"]]
    assert [s["id"] for s in detail] == [snapshot["id"]]

    deleted = http.delete(f"{vbs.endpoint}/snapshots/{snapshot['id']}")

    assert deleted.status_code == 202
    assert deleted.content == b""
    message = assert_error(http.get(f"{vbs.endpoint}/snapshots/{snapshot['id']}"), 404, "itemNotFound")
    assert message == f"Snapshot {snapshot['id']} could not be found."
    assert vbs.snapshots == {}
    assert [e.operation for e in vbs.requests] == [
        "create_volume", "create_snapshot", "get_snapshot", "list_snapshots", "list_snapshots_detail",
        "delete_snapshot", "get_snapshot",
    ]


def test_snapshot_of_an_unknown_volume_is_404(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.post(f"{vbs.endpoint}/snapshots", json={"snapshot": {"volume_id": "nope"}})

    assert assert_error(response, 404, "itemNotFound") == "Volume nope could not be found."
    assert vbs.snapshots == {}


@pytest.mark.parametrize(
    ("body", "fragments"),
    [({}, ["'snapshot'", "mandatory"]), ({"snapshot": {}}, ["snapshot.volume_id", "mandatory"]),
     ({"snapshot": {"volume_id": 3}}, ["snapshot.volume_id", "string"])],
    ids=["no-snapshot", "no-volume_id", "volume_id-int"],
)
def test_create_snapshot_rejects_an_invalid_body(
    vbs: FakeVBS, http: requests.Session, body: dict[str, Any], fragments: list[str]
) -> None:
    response = http.post(f"{vbs.endpoint}/snapshots", json=body)

    assert_error(response, 400, "badRequest", *fragments)
    assert vbs.snapshots == {}


# -- a whole flow over HTTP --------------------------------------------------------------------------------
def test_seed_over_http_then_back_up_and_restore(vbs: FakeVBS, http: requests.Session, endpoint: str) -> None:
    volume = create_volume(http, vbs, size=8, name="source")
    snapshot = create_snapshot(http, vbs, volume["id"])
    target = create_volume(http, vbs, size=8, name="target")

    created = http.post(
        f"{endpoint}/backups",
        json={"backup": {"volume_id": volume["id"], "snapshot_id": snapshot["id"], "name": "nightly"}},
    )
    backup_id = created.json()["backup"]["id"]
    backup = http.get(f"{endpoint}/backups/{backup_id}").json()["backup"]
    restored = http.post(f"{endpoint}/backups/{backup_id}/restore", json={"restore": {"volume_id": target["id"]}})

    assert created.status_code == 202
    assert (backup["status"], backup["size"], backup["volume_id"], backup["snapshot_id"]) == (
        "available", 8, volume["id"], snapshot["id"]
    )
    assert backup["availability_zone"] == volume["availability_zone"]
    assert restored.status_code == 202
    assert restored.json() == {"restore": {"backup_id": backup_id, "volume_id": target["id"], "volume_name": "target"}}


def test_volumes_are_listed_per_project(vbs: FakeVBS, http: requests.Session) -> None:
    create_volume(http, vbs, name="mine")
    other = vbs.for_project("other")

    assert http.get(f"{other.endpoint}/volumes").json() == {"volumes": []}
    assert http.get(f"{other.endpoint}/snapshots/detail").json() == {"snapshots": []}
    assert [v["name"] for v in http.get(f"{vbs.endpoint}/volumes").json()["volumes"]] == ["mine"]
