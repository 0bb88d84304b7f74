"""Native OpenStack API handlers (V3 and deprecated v2 backups, the minimal volume/snapshot API, discovery).

Each handler takes a :class:`~pytest_vbs.api.Call` (validated body and query, project, version)
and returns the JSON body; the operation table gives it its route and status. Views render the documented
shapes: ``querying_details_about_vbs_backups_native_openstack_v3_api`` and its v2 twin.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from pytest_vbs.service.state import Backup, ListQuery, Snapshot, Volume

if TYPE_CHECKING:
    from pytest_vbs.api import Call

#: Microversions advertised on ``/v3``: the VBS pages name 3.31 (``~`` filters) and 3.45 (``with_count``).
MIN_MICROVERSION = (3, 0)
MAX_MICROVERSION = (3, 45)
#: "... when the number of backups exceeds 1000" (list pages): the largest page the service returns.
MAX_PAGE = 1000
#: ``2019-03-27T12:36:17.596602``: microseconds, no zone (list pages; the Go SDK parses exactly this).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def timestamp(value: datetime | None) -> str | None:
    return _formatted(value) if value is not None else None


@lru_cache(maxsize=8192)  # every view of a backup formats the same few instants again
def _formatted(value: datetime) -> str:
    return value.strftime(TIME_FORMAT)


@lru_cache(maxsize=8192)
def path_segment(text: str) -> str:
    """``text`` percent-encoded as one segment of a URI path (a no-op for the usual hex and UUID ids)."""
    return quote(text, safe="", errors="surrogatepass")


def version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def links(call: Call, collection: str, ident: str) -> list[dict[str, str]]:
    """``self`` (with the request's version) and ``bookmark`` (without) links (list pages, create page)."""
    project, ident = path_segment(call.project_id), path_segment(ident)
    return [
        {"href": f"{call.base_url}/{call.version}/{project}/{collection}/{ident}", "rel": "self"},
        {"href": f"{call.base_url}/{project}/{collection}/{ident}", "rel": "bookmark"},
    ]


# -- backups -----------------------------------------------------------------------------------------
def backup_summary(call: Call, backup: Backup) -> dict[str, Any]:
    return {"id": backup.id, "links": links(call, "backups", backup.id), "name": backup.name}


def backup_detail(call: Call, backup: Backup) -> dict[str, Any]:
    view: dict[str, Any] = {
        "status": backup.status,
        "description": backup.description,
        "links": links(call, "backups", backup.id),
        "availability_zone": backup.availability_zone,
        "volume_id": backup.volume_id,
        "fail_reason": backup.fail_reason,
        "id": backup.id,
        "size": backup.size,
        "object_count": backup.object_count,
        "container": backup.container,
        "name": backup.name,
        "created_at": timestamp(backup.created_at),
        "updated_at": timestamp(backup.updated_at),
        "data_timestamp": timestamp(backup.data_timestamp),
        "has_dependent_backups": call.state.has_dependent_backups(backup),
        "snapshot_id": backup.snapshot_id,
        "is_incremental": backup.is_incremental,
    }
    if call.version == "v2":
        # The v2 pages use the vendor owner key and add service_metadata, a JSON text (section 7.3 of the digest).
        view["os-bak-tenant-attr:tenant_id"] = backup.project_id
        view["service_metadata"] = json.dumps(
            {
                "bootable": False,
                "backupurl": backup.id,
                "BackupSize": backup.size,
                "progress": "100" if backup.status != "creating" else "0",
                "snap_id": backup.snapshot_id,
                "Type": 1 if backup.is_incremental else 0,
            }
        )
    else:
        # The V3 get-one table says ...:tenant_id, its example and the list page ...:project_id (as Cinder 3.18+).
        view["os-backup-project-attr:project_id"] = backup.project_id
    return view


def create_backup(call: Call) -> dict[str, Any]:
    spec = call.body["backup"]
    backup = call.state.create_backup(
        call.project_id,
        volume_id=spec["volume_id"],
        snapshot_id=spec["snapshot_id"],
        name=spec.get("name"),
        description=spec.get("description"),
        force=bool(spec.get("force")),
    )
    return {"backup": backup_summary(call, backup)}


def list_backups(call: Call) -> dict[str, Any]:
    return _list(call, backup_summary)


def list_backups_detail(call: Call) -> dict[str, Any]:
    return _list(call, backup_detail)


def _list(call: Call, view: Any) -> dict[str, Any]:
    query = call.query
    requested = query.get("limit")
    page = call.state.list_backups(
        call.project_id,
        ListQuery(
            exact={k: query[k] for k in ("name", "status", "volume_id") if k in query},
            fuzzy={k[:-1]: query[k] for k in ("name~", "status~", "volume_id~") if k in query},
            sort=_sort(query),
            limit=min(requested, MAX_PAGE) if requested is not None else MAX_PAGE,
            offset=query.get("offset", 0),
            marker=query.get("marker"),
            with_count=bool(query.get("with_count")),
        ),
    )
    result: dict[str, Any] = {"backups": [view(call, b) for b in page.items]}
    if page.count is not None:
        result["count"] = page.count
    if page.more and page.items:
        result["backups_links"] = [{"href": _next_link(call, page.items[-1].id), "rel": "next"}]
    return result


def _sort(query: dict[str, Any]) -> list[tuple[str, str]]:
    if "sort" in query:
        keys = []
        for part in query["sort"].split(","):
            key, _, direction = part.partition(":")
            keys.append((key, direction or "desc"))
        return keys
    return [(query.get("sort_key", "created_at"), query.get("sort_dir", "desc"))]


def _next_link(call: Call, last_id: str) -> str:
    """The request's own URL with ``marker`` set to the last id returned.

    The doc's example link also keeps ``offset``; applied together with ``marker`` it would skip items,
    so the fake drops it (docs/fidelity-notes.md).
    """
    params = {k: v for k, v in call.raw_query.items() if k not in ("marker", "offset")}
    params["marker"] = last_id
    return f"{call.base_url}{quote(call.path)}?{urlencode(params)}"


def get_backup(call: Call) -> dict[str, Any]:
    backup = call.state.backup(call.project_id, call.args["backup_id"], read=True, shared=True)
    return {"backup": backup_detail(call, backup)}


def delete_backup(call: Call) -> None:
    call.state.delete_backup(call.project_id, call.args["backup_id"])


def restore_backup(call: Call) -> dict[str, Any]:
    backup, volume = call.state.restore_backup(
        call.project_id, call.args["backup_id"], call.body["restore"]["volume_id"]
    )
    return {"restore": {"backup_id": backup.id, "volume_id": volume.id, "volume_name": volume.name}}


# -- volumes and snapshots (Cinder-compatible, the minimum clients need around backups) ------------------
def volume_detail(call: Call, volume: Volume) -> dict[str, Any]:
    return {
        "id": volume.id,
        "links": links(call, "volumes", volume.id),
        "name": volume.name,
        "status": volume.status,
        "size": volume.size,
        "availability_zone": volume.availability_zone,
        "created_at": timestamp(volume.created_at),
        "updated_at": None,
        "description": volume.description,
        "volume_type": "SATA",
        "snapshot_id": None,
        "source_volid": None,
        "bootable": "false",
        "encrypted": False,
        "multiattach": False,
        "attachments": [],
        "metadata": {},
        "os-vol-tenant-attr:tenant_id": volume.project_id,
        "replication_status": None,
        "consistencygroup_id": None,
        "user_id": None,
    }


def snapshot_detail(call: Call, snapshot: Snapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "name": snapshot.name,
        "status": snapshot.status,
        "size": snapshot.size,
        "volume_id": snapshot.volume_id,
        "created_at": timestamp(snapshot.created_at),
        "updated_at": None,
        "description": snapshot.description,
        "metadata": {},
        "os-extended-snapshot-attributes:project_id": snapshot.project_id,
        "os-extended-snapshot-attributes:progress": "100%",
    }


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
    return {"version": _version(call, call.version)}
