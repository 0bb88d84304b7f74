"""The documented shapes the API families share: links, the documented time formats, and the views of a backup
(summary and detail, v2 and v3), a volume, a snapshot and a VBS job."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from pytest_vbs.api.call import Call
from pytest_vbs.api.microversions import BACKUP_METADATA
from pytest_vbs.service.models import Backup, Job, Snapshot, Volume

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


def links(call: Call, collection: str, ident: str) -> list[dict[str, str]]:
    """``self`` (with the request's version) and ``bookmark`` (without) links (list pages, create page)."""
    project, ident = path_segment(call.project_id), path_segment(ident)
    return [
        {"href": f"{call.base_url}/{call.version}/{project}/{collection}/{ident}", "rel": "self"},
        {"href": f"{call.base_url}/{project}/{collection}/{ident}", "rel": "bookmark"},
    ]


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
        if call.microversion is not None and call.microversion >= BACKUP_METADATA:
            view["metadata"] = dict(backup.metadata)
    return view



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


def job_time(value: datetime | None) -> str | None:
    """``2016-01-28T16:14:09.466Z``: milliseconds and ``Z`` (querying_the_job_status)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z" if value else None


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
