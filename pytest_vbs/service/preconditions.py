"""The documented preconditions of creating and restoring a backup, each with its error reason and VBS code.

Pure checks on a project's volumes, snapshots, backups and quotas, called by ``State`` under its lock; each
raises :class:`~pytest_vbs.errors.APIError` (400) naming the rule broken.
"""

from __future__ import annotations

from pytest_vbs.errors import bad_request
from pytest_vbs.service.models import (
    BACKUPABLE_VOLUME_STATUSES,
    MAX_BACKUPS_PER_VOLUME,
    Backup,
    Project,
    Snapshot,
    Volume,
)


def check_backupable(project: Project, volume: Volume, snapshot: Snapshot | None, *, force: bool) -> None:
    """creating_a_vbs_backup: the snapshot (if any) of this disk and available, the disk available (or in-use
    with ``force``), no backup of it still being made, fewer than :data:`MAX_BACKUPS_PER_VOLUME` backups of
    it, and the project's quotas."""
    if snapshot is not None:
        if snapshot.volume_id != volume.id:
            raise bad_request(
                f"Snapshot {snapshot.id} belongs to volume {snapshot.volume_id}, not to volume {volume.id}.",
                reason="snapshot_mismatch",
            )
        if snapshot.status != "available":
            raise bad_request(
                f"Snapshot {snapshot.id} to be backed up must be available, but its status is '{snapshot.status}'.",
                reason="snapshot_status",
            )
    if volume.status not in BACKUPABLE_VOLUME_STATUSES:
        raise bad_request(
            f"Volume {volume.id} to be backed up must be available or in-use, but its status is '{volume.status}'.",
            reason="volume_status",
            code="VolumeBackup.0012",
        )
    if volume.status == "in-use" and not force:
        # Cinder semantics; the create page: force = "forcibly back up the attached disks".
        raise bad_request(
            f"Volume {volume.id} is in-use: backing up an attached volume needs \"force\": true.",
            reason="volume_in_use",
        )
    if any(project.backups[b].status == "creating" for b in volume.backup_ids):
        raise bad_request(
            f"The previous backup creation task of volume {volume.id} is not complete.",
            reason="backup_in_progress",
            code="VolumeBackup.0013",
        )
    if len(volume.backup_ids) >= MAX_BACKUPS_PER_VOLUME:
        raise bad_request(
            f"The number of backups for volume {volume.id} has reached the upper limit ({MAX_BACKUPS_PER_VOLUME}).",
            reason="backup_limit",
            code="VolumeBackup.0040",
        )
    check_quota(project, volume.size)


def check_quota(project: Project, size: int) -> None:
    """The project's backup quotas, for one more backup of ``size`` GB (querying_quotas; VolumeBackup.0080 / 0081)."""
    limit = project.quota
    if limit["backups"] >= 0 and len(project.backups) + 1 > limit["backups"]:
        raise bad_request(f"The quota for the number of backups ({limit['backups']}) has been used up.",
                          reason="backup_quota", code="VolumeBackup.0080")
    if limit["backup_gigabytes"] >= 0 and project.backup_gigabytes + size > limit["backup_gigabytes"]:
        raise bad_request(
            f"The quota for the capacity of backups ({limit['backup_gigabytes']} GB) has been used up: "
            f"{project.backup_gigabytes} GB used, {size} GB more needed.",
            reason="backup_gigabytes_quota", code="VolumeBackup.0081",
        )


def check_restorable(project: Project, backup: Backup, volume: Volume) -> None:
    """restoring_a_disk_using_a_vbs_backup: the backup available, the disk usable, no backup of it being made, and
    the disk at least as large as the backup."""
    if backup.status != "available":
        raise bad_request(
            f"Backup {backup.id} status must be available to restore, but it is '{backup.status}'.",
            reason="backup_status",
            code="VolumeBackup.0089",
        )
    if volume.status == "error":
        raise bad_request(f"Volume {volume.id} to restore to is in error.", reason="volume_status",
                          code="VolumeBackup.0202")
    if volume.status not in BACKUPABLE_VOLUME_STATUSES:
        raise bad_request(
            f"Volume {volume.id} to restore to is unavailable (status '{volume.status}').",
            reason="volume_status",
            code="VolumeBackup.0205",
        )
    if any(project.backups[b].status == "creating" for b in volume.backup_ids):
        raise bad_request(
            f"A backup is being created for volume {volume.id}.",
            reason="backup_in_progress",
            code="VolumeBackup.0206",
        )
    if volume.size < backup.size:
        raise bad_request(
            f"Volume {volume.id} ({volume.size} GB) is smaller than backup {backup.id} ({backup.size} GB); "
            "the disk must be at least as large as the backup.",
            reason="volume_too_small",
            code="VolumeBackup.0209",
        )
