"""VBS-native backup handlers: ``/v2/{project_id}/cloudbackups`` (create, deprecated POST-delete, restore),
the job they return (``/v1/{project_id}/jobs/{job_id}``) and the quota (``/cloudbackups/quota``).

Errors use the ``{"error": {"code": "VolumeBackup.xxxx", ...}}`` envelope; each operation row maps error
reasons to codes (see ``operations.py``). Backups made here are the same backups the native API serves.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pytest_vbs.service.state import QUOTA_TYPES, Job

if TYPE_CHECKING:
    from pytest_vbs.api import Call


def job_time(value: datetime | None) -> str | None:
    """``2016-01-28T16:14:09.466Z``: milliseconds and ``Z`` (querying_the_job_status)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z" if value else None


def create(call: Call) -> dict[str, Any]:
    spec = call.body["backup"]
    full = (spec.get("extend_param") or {}).get("FullBackup") == "true"
    # The real service returns such descriptions as JSON text with DESC and INC (digest 7.4; the detail
    # pages document the DESC/INC sub-fields and the Go SDK decodes them).
    description = json.dumps({"DESC": spec.get("description") or "", "INC": 0 if full else 1})
    backup = call.state.create_backup(
        call.project_id,
        volume_id=spec["volume_id"],
        snapshot_id=spec.get("snapshot_id"),
        name=spec["name"],
        description=description,
        force=True,  # VBS-native: available and in-use disks can be backed up (UMN)
        job_type="bksCreateBackup",
        tags=spec.get("tags") or [],
        full=full,
    )
    return {"job_id": backup.job_id}


def delete(call: Call) -> dict[str, Any]:
    backup = call.state.delete_backup(call.project_id, call.args["backup_id"], job_type="bksDeleteBackup")
    return {"job_id": backup.job_id}


def restore(call: Call) -> dict[str, Any]:
    backup, _ = call.state.restore_backup(
        call.project_id, call.args["backup_id"], call.body["restore"]["volume_id"], job_type="bksRestoreBackup"
    )
    return {"job_id": backup.job_id}


def job_view(job: Job) -> dict[str, Any]:
    return {
        "status": job.status,
        "entities": dict(job.entities),
        "job_id": job.id,
        "job_type": job.job_type,
        "begin_time": job_time(job.begin_time),
        "end_time": job_time(job.end_time),
        "error_code": job.error_code,
        "fail_reason": job.fail_reason,
        "sub_jobs": [],
    }


def get_job(call: Call) -> dict[str, Any]:
    return job_view(call.state.job(call.project_id, call.args["job_id"]))


def get_quota(call: Call) -> dict[str, Any]:
    project = call.state.project(call.project_id)
    used = call.state.quota_usage(call.project_id)
    return {
        "quotas": {
            "resources": [
                {"type": kind, "used": used[kind], "reserved": 0, "quota": project.quota[kind]}
                for kind in QUOTA_TYPES
            ]
        }
    }
