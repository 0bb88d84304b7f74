"""VBS-native backup handlers: ``/v2/{project_id}/cloudbackups`` (create, deprecated POST-delete, restore),
the job they return (``/v1/{project_id}/jobs/{job_id}``) and the quota (``/cloudbackups/quota``).

Errors use the ``{"error": {"code": "VolumeBackup.xxxx", ...}}`` envelope; each operation row maps error
reasons to codes (the rows below). Backups made here are the same backups the native API serves.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_vbs.api.call import Call, Operation
from pytest_vbs.api.views import job_view
from pytest_vbs.errors import Family
from pytest_vbs.service.models import QUOTA_TYPES


def create_vbs_backup(call: Call) -> dict[str, Any]:
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


def delete_vbs_backup(call: Call) -> dict[str, Any]:
    backup = call.state.delete_backup(call.project_id, call.args["backup_id"], job_type="bksDeleteBackup")
    return {"job_id": backup.job_id}


def restore_vbs_backup(call: Call) -> dict[str, Any]:
    backup, _ = call.state.restore_backup(
        call.project_id, call.args["backup_id"], call.body["restore"]["volume_id"], job_type="bksRestoreBackup"
    )
    return {"job_id": backup.job_id}


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


# -- rows ------------------------------------------------------------------------------------------------
# Error codes of the VBS-native backup operations, by error reason (error_codes; mapping of digest 9.3).
FORMAT_CODES = {"malformed_json": "VolumeBackup.0002", "missing_body": "VolumeBackup.0002",
                 "bad_encoding": "VolumeBackup.0002", "bad_media_type": "VolumeBackup.0002"}


def _routes() -> list[Operation]:
    base = "/v2/<project_id>/cloudbackups"
    common: dict[str, Any] = {"family": Family.VBS, "tags": ("vbs", "vbs-native")}
    restore_codes = {"backup_not_found": "VolumeBackup.0111", "volume_not_found": "VolumeBackup.0111",
                     **dict.fromkeys(FORMAT_CODES, "VolumeBackup.0210")}
    return [
        Operation("create_vbs_backup", "POST", base, create_vbs_backup, request_schema="create_vbs_backup",
                  doc_page="creating_a_vbs_backup", codes={
                      **FORMAT_CODES, "volume_not_found": "VolumeBackup.0021",
                      "snapshot_not_found": "VolumeBackup.0020", "snapshot_mismatch": "VolumeBackup.0019",
                      "snapshot_status": "VolumeBackup.0062"}, **common),
        Operation("delete_vbs_backup", "POST", f"{base}/<backup_id>", delete_vbs_backup,
                  doc_page="deleting_a_vbs_backup_deprecated",
                  codes={"backup_not_found": "VolumeBackup.0110", "backup_status": "VolumeBackup.0125"}, **common),
        Operation("restore_vbs_backup", "POST", f"{base}/<backup_id>/restore", restore_vbs_backup,
                  request_schema="restore_vbs_backup", doc_page="restoring_a_disk_using_a_vbs_backup",
                  codes=restore_codes, **common),
        Operation("get_quota", "GET", f"{base}/quota", get_quota, doc_page="querying_quotas",
                  **common),
        Operation("get_job", "GET", "/v1/<project_id>/jobs/<job_id>", get_job,
                  doc_page="querying_the_job_status", codes={"job_not_found": "common.0011"}, **common),
    ]


ROUTES: tuple[Operation, ...] = tuple(_routes())
