"""Backup sharing rules: share a backup with other projects, cancel, and find the sharings a project sees.

Pages: sharing_a_backup, canceling_sharing_of_a_backup, querying_backup_sharings, counting_backup_sharings,
querying_details_about_a_backup_sharing. A backup shared with a project is visible there (sharing views,
native GET) but cannot be restored or deleted by it (UMN; ``State.backup``).
"""

from __future__ import annotations

import uuid

from pytest_vbs.errors import APIError, bad_request, not_found
from pytest_vbs.service.models import Backup, Sharing
from pytest_vbs.service.state import State


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
    with state.lock:
        sharing = next((s for s in visible(state, project_id) if s.id == sharing_id), None)
        if sharing is None:
            raise not_found("Sharing", sharing_id)
        return sharing


def shared_backup(state: State, sharing: Sharing) -> Backup:
    """The backup a sharing is about (in its owner's project). A caller that found the sharing must still hold
    the lock it found it under: deleting a backup deletes its sharings (the API's handlers run under it)."""
    with state.lock:
        return state.project(sharing.from_project_id).backups[sharing.backup_id]
