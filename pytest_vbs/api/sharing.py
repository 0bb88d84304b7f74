"""Backup sharing (``/v2/{project_id}/os-vendor-backup-sharing``): share a backup with other projects, cancel,
list, count and read sharings. Its rows, handlers and views; the rules are in ``service/sharing.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pytest_vbs.api.call import Call, Operation
from pytest_vbs.api.cloudbackups import FORMAT_CODES
from pytest_vbs.api.views import backup_detail, timestamp
from pytest_vbs.errors import Family
from pytest_vbs.service.models import Sharing
from pytest_vbs.service.sharing import cancel, find, share, shared_backup, visible

# Sort keys of the list page; the backup-level ones sort by the shared backup's attribute.
_BACKUP_KEYS = ("name", "status", "size", "container_format", "disk_format")


def _record(sharing: Sharing) -> dict[str, Any]:
    return {
        "backup_id": sharing.backup_id,
        "created_at": timestamp(sharing.created_at),
        "from_project_id": sharing.from_project_id,
        "id": sharing.id,
        "to_project_id": sharing.to_project_id,
        "updated_at": timestamp(sharing.updated_at),
    }


def _detail(call: Call, sharing: Sharing) -> dict[str, Any]:
    """A sharing with the shared backup (the v2 backup fields, without links and owner)."""
    owner_call = _as_owner(call, sharing)
    view = backup_detail(owner_call, shared_backup(call.state, sharing))
    for key in ("links", "os-bak-tenant-attr:tenant_id"):
        view.pop(key, None)
    return {"backup": view, **_record(sharing)}


def _as_owner(call: Call, sharing: Sharing) -> Call:
    return replace(call, project_id=sharing.from_project_id, version="v2")


def share_backup(call: Call) -> dict[str, Any]:
    spec = call.body["shared"]
    made = share(call.state, call.project_id, spec["backup_id"], spec["to_project_ids"])
    # The page's table says a dict; its example (and the Go SDK) a list, one entry per project.
    return {"shared": [{**_record(s), "deleted": None, "deleted_at": None} for s in made]}


def cancel_sharing(call: Call) -> None:
    cancel(call.state, call.project_id, call.args["sharing_id"], is_backup_id=bool(call.query.get("is_backup_id")))


def _matching(call: Call) -> list[Sharing]:
    query = call.query
    to_me = bool(query.get("share_to_me"))
    found = []
    for sharing in visible(call.state, call.project_id):
        if (sharing.to_project_id if to_me else sharing.from_project_id) != call.project_id:
            continue
        backup = shared_backup(call.state, sharing)
        checks = {
            "backup_id": sharing.backup_id, "from_project_id": sharing.from_project_id,
            "to_project_id": sharing.to_project_id, "volume_id": backup.volume_id, "status": backup.status,
            "availability_zone": backup.availability_zone, "avalilability_zone": backup.availability_zone,
        }
        if any(key in query and query[key] != value for key, value in checks.items()):
            continue
        if "name" in query and query["name"] not in (backup.name or ""):  # fuzzy, per the page
            continue
        found.append(sharing)
    return found


def list_sharings(call: Call) -> dict[str, Any]:
    query = call.query
    key = query.get("sort_key", "created_at")
    found = _matching(call)

    def sort_value(sharing: Sharing) -> tuple[int, Any]:
        value = getattr(shared_backup(call.state, sharing), key, None) if key in _BACKUP_KEYS else getattr(sharing, key)
        return (0, "") if value is None else (1, value)

    found.sort(key=sort_value, reverse=query.get("sort_dir", "desc") == "desc")
    offset = query.get("offset", 0)
    limit = query.get("limit")
    page = found[offset : offset + limit if limit is not None else None]
    return {"shared": [_detail(call, s) for s in page]}


def count_sharings(call: Call) -> dict[str, Any]:
    return {"count": len(_matching(call))}


def get_sharing(call: Call) -> dict[str, Any]:
    return {"shared": _detail(call, find(call.state, call.project_id, call.args["sharing_id"]))}


# -- rows ------------------------------------------------------------------------------------------------
def _routes() -> list[Operation]:
    base = "/v2/<project_id>/os-vendor-backup-sharing"
    codes = {**FORMAT_CODES, "backup_not_found": "VolumeBackup.0110", "sharing_not_found": "VolumeBackup.0110",
             "backup_status": "VolumeBackup.0089", "share_to_self": "VolumeBackup.0002",
             "already_shared": "VolumeBackup.0002", "shared_backup": "VolumeBackup.0042"}
    common: dict[str, Any] = {"family": Family.VBS, "tags": ("vbs", "sharing"), "codes": codes, "version": "v2"}
    return [
        Operation("share_backup", "POST", base, share_backup, request_schema="share_backup",
                  doc_page="sharing_a_backup", **common),
        Operation("cancel_sharing", "DELETE", f"{base}/<sharing_id>", cancel_sharing, query_schema="cancel_sharing",
                  doc_page="canceling_sharing_of_a_backup", **common),
        Operation("list_sharings", "GET", f"{base}/detail", list_sharings, query_schema="list_sharings",
                  doc_page="querying_backup_sharings", **common),
        Operation("count_sharings", "GET", f"{base}/count", count_sharings, query_schema="count_sharings",
                  doc_page="counting_backup_sharings", **common),
        Operation("get_sharing", "GET", f"{base}/<sharing_id>", get_sharing,
                  doc_page="querying_details_about_a_backup_sharing", **common),
    ]


ROUTES: tuple[Operation, ...] = tuple(_routes())
