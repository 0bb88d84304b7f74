"""The Cinder-compatible helpers real clients need around backups: volumes and snapshots (under ``/v3`` and
``/v2``) and version discovery (``GET /``, ``/v3``, ``/v2``). Not VBS pages: Cinder's api-ref is the reference."""

from __future__ import annotations

from typing import Any

from pytest_vbs.api.call import Call, Operation
from pytest_vbs.api.microversions import MAX_MICROVERSION, MIN_MICROVERSION, version_text
from pytest_vbs.api.views import links, snapshot_detail, volume_detail


# -- volumes and snapshots -------------------------------------------------------------------------------
def _page(call: Call, items: list[Any]) -> list[Any]:
    offset = call.query.get("offset", 0)
    limit = call.query.get("limit")
    return items[offset : offset + limit if limit is not None else None]


def create_volume(call: Call) -> dict[str, Any]:
    spec = call.body["volume"]
    volume = call.state.add_volume(
        call.project_id,
        size=spec["size"],
        name=spec.get("name"),
        description=spec.get("description"),
        availability_zone=spec.get("availability_zone") or "eu-de-01",
    )
    return {"volume": volume_detail(call, volume)}


def list_volumes(call: Call) -> dict[str, Any]:
    volumes = _filtered(call, list(call.state.project(call.project_id).volumes.values()))
    return {"volumes": [{"id": v.id, "links": links(call, "volumes", v.id), "name": v.name} for v in volumes]}


def list_volumes_detail(call: Call) -> dict[str, Any]:
    volumes = _filtered(call, list(call.state.project(call.project_id).volumes.values()))
    return {"volumes": [volume_detail(call, v) for v in volumes]}


def get_volume(call: Call) -> dict[str, Any]:
    return {"volume": volume_detail(call, call.state.volume(call.project_id, call.args["volume_id"]))}


def delete_volume(call: Call) -> None:
    call.state.delete_volume(call.project_id, call.args["volume_id"])


def create_snapshot(call: Call) -> dict[str, Any]:
    spec = call.body["snapshot"]
    snapshot = call.state.add_snapshot(
        call.project_id, spec["volume_id"], name=spec.get("name"), description=spec.get("description")
    )
    return {"snapshot": snapshot_detail(call, snapshot)}


def list_snapshots(call: Call) -> dict[str, Any]:
    snapshots = _filtered(call, list(call.state.project(call.project_id).snapshots.values()))
    return {"snapshots": [snapshot_detail(call, s) for s in snapshots]}


def list_snapshots_detail(call: Call) -> dict[str, Any]:
    return list_snapshots(call)  # snapshots have one view: the detail


def get_snapshot(call: Call) -> dict[str, Any]:
    return {"snapshot": snapshot_detail(call, call.state.snapshot(call.project_id, call.args["snapshot_id"]))}


def delete_snapshot(call: Call) -> None:
    call.state.delete_snapshot(call.project_id, call.args["snapshot_id"])


def _filtered(call: Call, items: list[Any]) -> list[Any]:
    """Exact-match filters on ``name``/``status``/``volume_id`` (what clients use to find by name)."""
    wanted = {k: call.raw_query[k] for k in ("name", "status", "volume_id") if k in call.raw_query}
    matching = [i for i in items if all(getattr(i, k, None) == v for k, v in wanted.items())]
    return _page(call, matching)


# -- version discovery -----------------------------------------------------------------------------------
def _version(call: Call, version: str) -> dict[str, Any]:
    current = version == "v3"
    return {
        "id": "v3.0" if current else "v2.0",
        "status": "CURRENT" if current else "DEPRECATED",
        "version": version_text(MAX_MICROVERSION) if current else "",
        "min_version": version_text(MIN_MICROVERSION) if current else "",
        "updated": "2018-12-30T00:00:00Z" if current else "2014-06-28T12:20:21Z",
        "links": [{"rel": "self", "href": f"{call.base_url}/{version}/"}],
        "media-types": [
            {"base": "application/json", "type": f"application/vnd.openstack.volume+json;version={version[1]}"}
        ],
    }


def list_versions(call: Call) -> dict[str, Any]:
    return {"versions": [_version(call, "v3"), _version(call, "v2")]}


def show_version(call: Call) -> dict[str, Any]:
    """``GET /v3`` and ``/v2``: Cinder's ``VersionsController.index`` answers a list with the one version
    (tempest's ``volume_api_version_details`` requires ``versions``), not a single ``version`` object."""
    return {"versions": [_version(call, call.version)]}


# -- rows ------------------------------------------------------------------------------------------------
def _volumes_and_snapshots(version: str, suffix: str) -> list[Operation]:
    """The helpers under ``/v3``, and the same under ``/v2`` with ``_v2`` names: the catalog's ``volumev2`` entry
    points there, and openstacksdk's block-storage v2 proxy creates volumes and snapshots through it."""
    base = f"/{version}/<project_id>"
    common: dict[str, Any] = {"version": version, "tags": ("cinder",), "doc_page": "cinder (not a VBS page)"}
    listing: dict[str, Any] = {"query_schema": "list_resources", **common}
    return [
        Operation("create_volume" + suffix, "POST", f"{base}/volumes", create_volume, 202,
                  request_schema="create_volume", **common),
        Operation("list_volumes" + suffix, "GET", f"{base}/volumes", list_volumes, **listing),
        Operation("list_volumes_detail" + suffix, "GET", f"{base}/volumes/detail", list_volumes_detail, **listing),
        Operation("get_volume" + suffix, "GET", f"{base}/volumes/<volume_id>", get_volume, **common),
        Operation("delete_volume" + suffix, "DELETE", f"{base}/volumes/<volume_id>", delete_volume, 202, **common),
        Operation("create_snapshot" + suffix, "POST", f"{base}/snapshots", create_snapshot, 202,
                  request_schema="create_snapshot", **common),
        Operation("list_snapshots" + suffix, "GET", f"{base}/snapshots", list_snapshots, **listing),
        Operation("list_snapshots_detail" + suffix, "GET", f"{base}/snapshots/detail", list_snapshots_detail,
                  **listing),
        Operation("get_snapshot" + suffix, "GET", f"{base}/snapshots/<snapshot_id>", get_snapshot, **common),
        Operation("delete_snapshot" + suffix, "DELETE", f"{base}/snapshots/<snapshot_id>", delete_snapshot, 202,
                  **common),
    ]


def _discovery() -> list[Operation]:
    common: dict[str, Any] = {"tags": ("discovery",), "public": True, "doc_page": "cinder: api-ref/source/versions"}
    return [
        # Cinder answers the version list with 300 Multiple Choices; keystoneauth expects that.
        Operation("list_versions", "GET", "/", list_versions, 300, **common),
        Operation("show_version", "GET", "/v3", show_version, version="v3", **common),
        Operation("show_version_v2", "GET", "/v2", show_version, version="v2", **common),
    ]


ROUTES: tuple[Operation, ...] = (*_volumes_and_snapshots("v3", ""), *_volumes_and_snapshots("v2", "_v2"),
                                  *_discovery())
