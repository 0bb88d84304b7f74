"""Backup sharing (``/v2/{project_id}/os-vendor-backup-sharing``): share a backup with other projects,
cancel, list, count and read sharings. The model (rules under the state lock) and the handlers.

Pages: sharing_a_backup, canceling_sharing_of_a_backup, querying_backup_sharings, counting_backup_sharings,
querying_details_about_a_backup_sharing. A backup shared with a project is visible there (sharing views,
native GET) but cannot be restored or deleted by it (UMN; state.State.backup).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pytest_vbs.api.native import backup_detail, timestamp
from pytest_vbs.errors import APIError, bad_request, not_found

if TYPE_CHECKING:
    from pytest_vbs.api import Call
    from pytest_vbs.service.state import Backup, State

# Sort keys of the list page; the backup-level ones sort by the shared backup's attribute.
_BACKUP_KEYS = ("name", "status", "size", "container_format", "disk_format")


@dataclass
class Sharing:
    id: str
    backup_id: str
    from_project_id: str
    to_project_id: str
    created_at: datetime
    updated_at: datetime | None = None


# -- model ----------------------------------------------------------------------------------------------
def share(state: State, project_id: str, backup_id: str, to_project_ids: list[str]) -> list[Sharing]:
    with state.lock:
        backup = state.backup(project_id, backup_id)
        if backup.status != "available":
            raise bad_request(f"Backup {backup_id} must be available to be shared, but it is '{backup.status}'.",
                              reason="backup_status")
        targets = list(dict.fromkeys(to_project_ids))
        if project_id in targets:
            raise bad_request(f"Backup {backup_id} cannot be shared with its own project {project_id}.",
                              reason="share_to_self")
        already = sorted(s.to_project_id for s in state.sharings.values()
                         if s.backup_id == backup_id and s.to_project_id in targets)
        if already:
            raise bad_request(f"Backup {backup_id} is already shared with project(s) {', '.join(already)}.",
                              reason="already_shared")
        made = [Sharing(str(uuid.uuid4()), backup_id, project_id, target, state.now()) for target in targets]
        state.sharings.update((s.id, s) for s in made)
        return made


def cancel(state: State, project_id: str, ident: str, *, is_backup_id: bool) -> None:
    """Cancel one sharing (by its id) or every sharing of a backup (by the backup's id)."""
    with state.lock:
        if is_backup_id:
            state.backup(project_id, ident)  # the caller must own the backup
            doomed = [s.id for s in state.sharings.values() if s.backup_id == ident]
            if not doomed:
                raise APIError(404, f"Backup {ident} is not shared.", reason="sharing_not_found")
        else:
            sharing = state.sharings.get(ident)
            if sharing is None or sharing.from_project_id != project_id:
                raise not_found("Sharing", ident)
            doomed = [ident]
        for sharing_id in doomed:
            del state.sharings[sharing_id]


def visible(state: State, project_id: str) -> list[Sharing]:
    """Sharings made by the project or received by it."""
    with state.lock:
        return [s for s in state.sharings.values() if project_id in (s.from_project_id, s.to_project_id)]


def find(state: State, project_id: str, sharing_id: str) -> Sharing:
    sharing = next((s for s in visible(state, project_id) if s.id == sharing_id), None)
    if sharing is None:
        raise not_found("Sharing", sharing_id)
    return sharing


# -- views and handlers -------------------------------------------------------------------------------
def _backup(state: State, sharing: Sharing) -> Backup:
    return state.project(sharing.from_project_id).backups[sharing.backup_id]


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
    view = backup_detail(owner_call, _backup(call.state, sharing))
    for key in ("links", "os-bak-tenant-attr:tenant_id"):
        view.pop(key, None)
    return {"backup": view, **_record(sharing)}


def _as_owner(call: Call, sharing: Sharing) -> Call:
    from dataclasses import replace

    return replace(call, project_id=sharing.from_project_id, version="v2")


def create(call: Call) -> dict[str, Any]:
    spec = call.body["shared"]
    made = share(call.state, call.project_id, spec["backup_id"], spec["to_project_ids"])
    # The page's table says a dict; its example (and the Go SDK) a list, one entry per project.
    return {"shared": [{**_record(s), "deleted": None, "deleted_at": None} for s in made]}


def delete(call: Call) -> None:
    cancel(call.state, call.project_id, call.args["sharing_id"], is_backup_id=bool(call.query.get("is_backup_id")))


def _matching(call: Call) -> list[Sharing]:
    query = call.query
    to_me = bool(query.get("share_to_me"))
    found = []
    for sharing in visible(call.state, call.project_id):
        if (sharing.to_project_id if to_me else sharing.from_project_id) != call.project_id:
            continue
        backup = _backup(call.state, sharing)
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


def list_detail(call: Call) -> dict[str, Any]:
    query = call.query
    key = query.get("sort_key", "created_at")
    found = _matching(call)

    def sort_value(sharing: Sharing) -> tuple[int, Any]:
        value = getattr(_backup(call.state, sharing), key, None) if key in _BACKUP_KEYS else getattr(sharing, key)
        return (0, "") if value is None else (1, value)

    found.sort(key=sort_value, reverse=query.get("sort_dir", "desc") == "desc")
    offset = query.get("offset", 0)
    limit = query.get("limit")
    page = found[offset : offset + limit if limit is not None else None]
    return {"shared": [_detail(call, s) for s in page]}


def count(call: Call) -> dict[str, Any]:
    return {"count": len(_matching(call))}


def get(call: Call) -> dict[str, Any]:
    return {"shared": _detail(call, find(call.state, call.project_id, call.args["sharing_id"]))}
