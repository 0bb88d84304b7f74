"""The fake's state and its rules: per-project volumes, snapshots, backups, jobs and quotas, their lifecycle,
one lock.

Rules, no HTTP. Rules cite the page they come from (``../vbs-api-docs`` page names); where the pages are silent
the choice is recorded in ``docs/fidelity-notes.md``. The nouns are in ``models.py``.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from pytest_vbs.errors import APIError, bad_request, not_found
from pytest_vbs.service import listing, preconditions
from pytest_vbs.service.lifecycle import DEFAULT_SECONDS, DueQueue, Lifecycle, check_seconds
from pytest_vbs.service.models import (
    BACKUP_STATUSES,
    DEFAULT_AVAILABILITY_ZONE,
    QUOTA_TYPES,
    Backup,
    Clock,
    Job,
    ListQuery,
    Page,
    Project,
    Sharing,
    Snapshot,
    TransitionMode,
    Volume,
)

#: Projects kept before the first sweep of empty ones (``State.prune``).
PRUNE_MIN = 256


class State(Lifecycle):
    """All projects, guarded by one re-entrant lock; every public method takes it."""

    def __init__(
        self,
        *,
        transitions: TransitionMode = TransitionMode.IMMEDIATE,
        reads: int = 1,
        seconds: float = DEFAULT_SECONDS,
    ) -> None:
        self.lock = threading.RLock()
        self.transitions = transitions
        self.reads = reads
        self.seconds = check_seconds(seconds)  #: the delay of ``TransitionMode.TIMED``
        self._due = DueQueue()
        self._settling = False
        self.clock = Clock()
        self._last_time = datetime.min
        self._projects: dict[str, Project] = {}
        self._prune_at = PRUNE_MIN  # the next sweep of empty projects, when this many are kept (amortized O(1))
        #: Backup sharings across projects, by sharing id (``sharing.py``).
        self.sharings: dict[str, Sharing] = {}
        #: Called with (old, new) times whenever a test advances the clock (policy schedules use it).
        self.clock_listeners: list[Callable[[datetime, datetime], None]] = []

    # -- housekeeping -------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self._projects.clear()
            self.sharings.clear()
            self._due.clear()
            self.clock = Clock()
            self._last_time = datetime.min

    def advance_clock(self, delta: timedelta) -> None:
        """Move the fake's time forward; scheduled work due in between runs, in order."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self.lock:
            old = self.clock()
            self.clock.offset += delta
            if self.clock.frozen is not None:
                self.clock.frozen += delta
            new = self.clock()
            for listener in self.clock_listeners:
                listener(old, new)

    def project(self, project_id: str) -> Project:
        with self.lock:
            self._settle()
            project = self._projects.get(project_id)
            if project is None:
                project = self._projects[project_id] = Project(project_id)
            return project

    def prune(self) -> None:
        """Forget empty projects (a read of an unknown id makes one) when twice as many are kept as after the last
        sweep; the pipeline calls it between requests. A forgotten project comes back empty when next used."""
        with self.lock:
            if len(self._projects) < self._prune_at:
                return
            self._projects = {k: p for k, p in self._projects.items() if not p.empty}
            self._prune_at = max(PRUNE_MIN, 2 * len(self._projects))

    def projects(self) -> list[Project]:
        with self.lock:
            self._settle()
            return list(self._projects.values())

    def now(self) -> datetime:
        """The clock, made strictly increasing so creation order is a total order."""
        with self.lock:
            now = self.clock()
            if now <= self._last_time:
                now = self._last_time + timedelta(microseconds=1)
            self._last_time = now
            return now

    # -- volumes and snapshots ----------------------------------------------------------------
    def add_volume(
        self,
        project_id: str,
        *,
        size: int = 10,
        status: str = "available",
        name: str | None = None,
        description: str | None = None,
        availability_zone: str = DEFAULT_AVAILABILITY_ZONE,
        volume_id: str | None = None,
    ) -> Volume:
        with self.lock:
            volume = Volume(
                id=volume_id or str(uuid.uuid4()),
                project_id=project_id,
                size=size,
                status=status,
                name=name,
                description=description,
                availability_zone=availability_zone,
                created_at=self.now(),
            )
            self.project(project_id).volumes[volume.id] = volume
            return volume

    def volume(self, project_id: str, volume_id: str) -> Volume:
        with self.lock:
            volume = self.project(project_id).volumes.get(volume_id)
            if volume is None:
                raise not_found("Volume", volume_id)
            return volume

    def delete_volume(self, project_id: str, volume_id: str) -> None:
        with self.lock:
            project = self.project(project_id)
            volume = self.volume(project_id, volume_id)
            mine = [s for s in project.snapshots.values() if s.volume_id == volume_id]
            if any(s.backup_id is None for s in mine):
                raise bad_request(f"Volume {volume_id} still has dependent snapshots.", reason="in_use")
            for snapshot in mine:  # the ones the service took for backups go with the disk
                del project.snapshots[snapshot.id]
            del project.volumes[volume.id]

    def add_snapshot(
        self,
        project_id: str,
        volume_id: str,
        *,
        status: str = "available",
        name: str | None = None,
        description: str | None = None,
    ) -> Snapshot:
        with self.lock:
            volume = self.volume(project_id, volume_id)
            snapshot = Snapshot(
                id=str(uuid.uuid4()),
                project_id=project_id,
                volume_id=volume.id,
                size=volume.size,
                status=status,
                name=name,
                description=description,
                created_at=self.now(),
            )
            self.project(project_id).snapshots[snapshot.id] = snapshot
            return snapshot

    def snapshot(self, project_id: str, snapshot_id: str) -> Snapshot:
        with self.lock:
            snapshot = self.project(project_id).snapshots.get(snapshot_id)
            if snapshot is None:
                raise not_found("Snapshot", snapshot_id)
            return snapshot

    def delete_snapshot(self, project_id: str, snapshot_id: str) -> None:
        with self.lock:
            snapshot = self.snapshot(project_id, snapshot_id)
            del self.project(project_id).snapshots[snapshot.id]

    # -- backups --------------------------------------------------------------------------------
    def create_backup(
        self,
        project_id: str,
        *,
        volume_id: str,
        snapshot_id: str | None,
        name: str | None = None,
        description: str | None = None,
        force: bool = False,
        job_type: str | None = None,
        tags: list[dict[str, str]] | None = None,
        full: bool = False,
        policy_id: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Backup:
        """Start a backup (``creating``) after the documented checks on disk and snapshot.

        ``job_type`` also starts a VBS-native job (``backup.job_id``); without a snapshot such a backup gets one
        the service takes itself; its snapshot's id is in ``snapshot_id``, ``container`` and the job's entities, as
        backups recorded from a real region show. ``full`` forces a full backup.
        """
        with self.lock:
            project = self.project(project_id)
            volume = self.volume(project_id, volume_id)
            snapshot = self.snapshot(project_id, snapshot_id) if snapshot_id is not None else None
            preconditions.check_backupable(project, volume, snapshot, force=force)
            backup_id = str(uuid.uuid4())
            taken = snapshot is None and job_type is not None
            if taken:
                snapshot = self.add_snapshot(project_id, volume.id, name=f"autobk_snapshot_{backup_id}")
                snapshot.backup_id = backup_id
            now = self.now()
            backup = Backup(
                id=backup_id,
                project_id=project_id,
                volume_id=volume.id,
                snapshot_id=snapshot.id if snapshot is not None else None,
                name=name,
                description=description,
                status="creating",
                size=volume.size,
                availability_zone=volume.availability_zone,
                created_at=now,
                updated_at=now,
                data_timestamp=snapshot.created_at if snapshot is not None else now,
                # VBS makes the first backup of a disk full and later ones incremental (create page).
                is_incremental=bool(volume.backup_ids) and not full,
                tags=list(tags or []),
                policy_id=policy_id,
                metadata=dict(metadata or {}),
            )
            if job_type is not None:  # VBS-made backups name their snapshot as the container (recorded backups)
                backup.container = backup.snapshot_id
            project.add_backup(backup)
            volume.backup_ids.append(backup.id)
            entities = {"backup_id": backup.id, "volume_id": volume.id, "snapshot_id": backup.snapshot_id or "",
                        "bks_create_volume_name": volume.name or ""}
            self._begin(backup, success="available", failure="error", job=self._job(backup, job_type, entities))
            return backup

    def quota_usage(self, project_id: str) -> dict[str, int]:
        with self.lock:
            project = self.project(project_id)
            return {"backups": len(project.backups), "backup_gigabytes": project.backup_gigabytes}

    def set_quota(self, project_id: str, **limits: int) -> None:
        """Set quota limits (``backups``, ``backup_gigabytes``; -1 = unlimited)."""
        unknown = set(limits) - set(QUOTA_TYPES)
        if unknown:
            raise ValueError(f"unknown quota type(s) {sorted(unknown)}; known: {QUOTA_TYPES}")
        for name, limit in limits.items():
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < -1:
                raise ValueError(f"quota {name} must be an integer >= 0, or -1 for unlimited; got {limit!r}")
        with self.lock:
            self.project(project_id).quota.update(limits)

    def _job(self, backup: Backup, job_type: str | None, entities: dict[str, str]) -> Job | None:
        if job_type is None:
            return None
        job = Job(id=uuid.uuid4().hex, project_id=backup.project_id, job_type=job_type, status="INIT",
                  entities=entities, begin_time=self.now())
        self.project(backup.project_id).jobs[job.id] = job
        backup.job_id = job.id
        return job

    def job(self, project_id: str, job_id: str) -> Job:
        """A job as this read sees it; reading it counts as a read of its backup (``TransitionMode.READS``)."""
        with self.lock:
            project = self.project(project_id)
            job = project.jobs.get(job_id)
            if job is None:
                raise APIError(404, f"Job {job_id} could not be found: query job fail.", reason="job_not_found")
            if job.status in ("INIT", "RUNNING"):
                backup = project.backups.get(job.entities.get("backup_id", ""))
                if backup is not None and backup.pending is not None and backup.pending.job is job:
                    self._on_read(backup)
            if job.status == "INIT":  # the first read sees INIT, later reads RUNNING (until it completes)
                seen = copy.copy(job)
                job.status = "RUNNING"
                return seen
            return job

    def add_backup(
        self,
        project_id: str,
        *,
        volume_id: str | None = None,
        name: str | None = None,
        description: str | None = None,
        status: str = "available",
        size: int | None = None,
        created_at: datetime | None = None,
        fail_reason: str | None = None,
    ) -> Backup:
        """Seed a backup in any status, bypassing the API rules (a volume is made if none is given)."""
        if status not in BACKUP_STATUSES:
            raise ValueError(f"status must be one of {BACKUP_STATUSES}, not {status!r}")
        with self.lock:
            project = self.project(project_id)
            volume = (
                self.volume(project_id, volume_id)
                if volume_id
                else self.add_volume(project_id, size=size or 10)
            )
            when = created_at or self.now()
            backup = Backup(
                id=str(uuid.uuid4()),
                project_id=project_id,
                volume_id=volume.id,
                snapshot_id=None,
                name=name,
                description=description,
                status=status,
                size=size or volume.size,
                availability_zone=volume.availability_zone,
                created_at=when,
                updated_at=when,
                data_timestamp=when,
                is_incremental=bool(volume.backup_ids),
                fail_reason=fail_reason,
            )
            project.add_backup(backup)
            volume.backup_ids.append(backup.id)
            return backup

    def backup(self, project_id: str, backup_id: str, *, read: bool = False, shared: bool = False) -> Backup:
        """One backup of the project; ``read=True`` counts as a client read for ``TransitionMode.READS``.

        A backup another project shared with this one is returned only with ``shared=True`` (reads);
        anything else gets 403: "shared backups can be used to create disks but not to restore" (UMN).
        """
        with self.lock:
            backup = self.project(project_id).backups.get(backup_id)
            if backup is None:
                sharing = next((s for s in self.sharings.values()
                                if s.backup_id == backup_id and s.to_project_id == project_id), None)
                if sharing is None:
                    raise not_found("Backup", backup_id)
                owner = self.project(sharing.from_project_id).backups[backup_id]
                if shared:
                    return owner
                raise APIError(403, f"Backup {backup_id} is shared with this project by project "
                               f"{sharing.from_project_id}: a shared backup cannot be used to restore a disk or be "
                               "changed by the project it is shared with.", reason="shared_backup")
            if read:
                self._on_read(backup)
                if backup.id not in self.project(project_id).backups:  # a read completed a deletion
                    raise not_found("Backup", backup_id)
            return backup

    def has_dependent_backups(self, backup: Backup) -> bool:
        """Later (incremental) backups of the same disk depend on this one."""
        with self.lock:
            volume = self.project(backup.project_id).volumes.get(backup.volume_id)
            return volume is not None and bool(volume.backup_ids) and volume.backup_ids[-1] != backup.id

    def delete_backup(self, project_id: str, backup_id: str, *, job_type: str | None = None) -> Backup:
        with self.lock:
            backup = self.backup(project_id, backup_id)
            # UMN (vbs_backup_management): deletion only in Available or Error.
            if backup.status not in ("available", "error"):
                raise bad_request(
                    f"Backup {backup_id} status must be available or error to be deleted, but it is "
                    f"'{backup.status}'.",
                    reason="backup_status",
                )
            backup.status = "deleting"
            backup.updated_at = self.now()
            entities = {"backup_id": backup.id, "volume_id": backup.volume_id}
            self._begin(backup, success=None, failure="error", job=self._job(backup, job_type, entities))
            return backup

    def restore_backup(
        self, project_id: str, backup_id: str, volume_id: str, *, job_type: str | None = None
    ) -> tuple[Backup, Volume]:
        with self.lock:
            backup = self.backup(project_id, backup_id)
            volume = self.volume(project_id, volume_id)
            preconditions.check_restorable(self.project(project_id), backup, volume)
            backup.status = "restoring"
            backup.updated_at = self.now()
            entities = {"backup_id": backup.id, "volume_id": volume.id}
            job = self._job(backup, job_type, entities)
            self._begin(backup, success="available", failure="error_restoring", job=job)
            return backup, volume

    def list_backups(self, project_id: str, query: ListQuery) -> Page:
        with self.lock:
            project = self.project(project_id)
            matching = (b for b in listing.ordered(project, query) if listing.matches(b, query))
            if query.with_count:
                count: int | None = sum(1 for _ in listing.matching(project, query))
            else:
                count = None
            selected = itertools.islice(matching, query.offset, None)
            limit = query.limit
            items = list(itertools.islice(selected, limit + 1 if limit is not None else None))
            more = limit is not None and len(items) > limit
            if more:
                items = items[:limit]
            for backup in items:
                self._on_read(backup)
            items = [b for b in items if b.id in project.backups]
            return Page(items=items, more=more, count=count)
