"""The fake VBS's nouns: volumes, snapshots, backups, jobs, projects, sharings, policies and their tasks.

Plain data with the documented constants next to it; the rules that change them live in ``state.py``,
``sharing.py`` and ``policies.py``. Tests see these classes through ``vbs.backups``, ``vbs.policies`` ...
(copies), and import them from ``pytest_vbs``.
"""

from __future__ import annotations

import bisect
import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

#: Backup statuses, from the ``status`` filter of the list pages.
BACKUP_STATUSES = ("creating", "available", "deleting", "error", "restoring", "error_restoring")
#: A disk can be backed up only when ``available`` or ``in-use`` (UMN; error code VolumeBackup.0012).
BACKUPABLE_VOLUME_STATUSES = ("available", "in-use")
#: "The number of backups for the disk has reached the upper limit (20)." (VolumeBackup.0040)
MAX_BACKUPS_PER_VOLUME = 20
DEFAULT_AVAILABILITY_ZONE = "eu-de-01"
#: Job types (UMN CTS trace names; the job page shows bksCreateBackup) and the error code a failed job carries.
JOB_ERRORS = {
    "bksCreateBackup": "VolumeBackup.0027",  # Failed to create the backup.
    "bksDeleteBackup": "VolumeBackup.0102",  # Failed to delete the backup.
    "bksRestoreBackup": "VolumeBackup.0200",  # Failed to restore data.
}
#: Quota resource types (querying_quotas); -1 is unlimited.
QUOTA_TYPES = ("backups", "backup_gigabytes")

_TIME_ZONE = re.compile(r"UTC([+-])(\d{2}):(\d{2})")


class TransitionMode(enum.Enum):
    """When an asynchronous status change (``creating`` → ``available`` ...) takes effect."""

    IMMEDIATE = "immediate"  #: before the accepting response is sent: clients never see the transient status
    READS = "reads"  #: after the transient status has been read N times (get or list)
    MANUAL = "manual"  #: only when the test calls ``advance()``
    TIMED = "timed"  #: after ``seconds`` of wall-clock time, whether or not anybody reads


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Clock:
    """The fake's time: real UTC time shifted by what tests advanced it, or frozen where a test set it."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.frozen: datetime | None = None

    def __call__(self) -> datetime:
        return self.frozen if self.frozen is not None else utcnow() + self.offset


# -- volumes, snapshots, backups, jobs ---------------------------------------------------------------------
@dataclass
class Volume:
    id: str
    project_id: str
    size: int
    status: str
    name: str | None
    description: str | None
    availability_zone: str
    created_at: datetime
    backup_ids: list[str] = field(default_factory=list)


@dataclass
class Snapshot:
    id: str
    project_id: str
    volume_id: str
    size: int
    status: str
    name: str | None
    description: str | None
    created_at: datetime
    #: The backup the service took this snapshot for (``/cloudbackups`` and policy backups without one): it goes
    #: with that backup, and does not keep its disk from being deleted.
    backup_id: str | None = None


@dataclass
class Job:
    """An asynchronous VBS-native job (querying_the_job_status): INIT → RUNNING → SUCCESS | FAIL."""

    id: str
    project_id: str
    job_type: str
    status: str
    entities: dict[str, str]
    begin_time: datetime
    end_time: datetime | None = None
    error_code: str | None = None
    fail_reason: str | None = None


@dataclass
class Pending:
    """A status change in progress: where it lands on success and on failure, and the job reporting it."""

    success: str | None  # None: the backup is removed (deletion)
    failure: str
    reads_left: int
    job: Job | None = None
    due: float | None = None  #: ``time.monotonic()`` deadline in ``TransitionMode.TIMED``


@dataclass
class Backup:
    id: str
    project_id: str
    volume_id: str
    snapshot_id: str | None
    name: str | None
    description: str | None
    status: str
    size: int
    availability_zone: str
    created_at: datetime
    updated_at: datetime
    data_timestamp: datetime
    is_incremental: bool
    container: str | None = "volumebackups"
    fail_reason: str | None = None
    object_count: int = 0
    pending: Pending | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    job_id: str | None = None  #: the last VBS-native job about this backup
    policy_id: str | None = None  #: the backup policy that made it, if any
    metadata: dict[str, str] = field(default_factory=dict)  #: native API, microversion 3.43 and later

    @property
    def sort_key(self) -> tuple[datetime, str]:
        return (self.created_at, self.id)


@dataclass
class ListQuery:
    """Filters, order and paging of a backup list (the list pages' query parameters)."""

    exact: dict[str, str] = field(default_factory=dict)  # name / status / volume_id
    fuzzy: dict[str, str] = field(default_factory=dict)  # name~ / status~ / volume_id~ (substring)
    sort: list[tuple[str, str]] = field(default_factory=lambda: [("created_at", "desc")])
    limit: int | None = None
    offset: int = 0
    marker: str | None = None
    with_count: bool = False


@dataclass
class Page:
    items: list[Backup]
    more: bool
    count: int | None


# -- sharing -----------------------------------------------------------------------------------------------
@dataclass
class Sharing:
    """A backup of ``from_project_id`` shared with ``to_project_id`` (sharing_a_backup)."""

    id: str
    backup_id: str
    from_project_id: str
    to_project_id: str
    created_at: datetime
    updated_at: datetime | None = None


# -- backup policies -----------------------------------------------------------------------------------------
@dataclass
class ScheduledPolicy:
    """``scheduled_policy`` with its wire names (``rentention_*`` misspelt as on the wire). Exactly one of
    ``frequency`` / ``week_frequency`` and one of ``rentention_num`` / ``rentention_day`` is set: when a request
    sends both, ``frequency`` and ``rentention_num`` win (creating_a_backup_policy)."""

    start_time: str
    status: str = "ON"
    frequency: int | None = None
    week_frequency: list[str] | None = None
    rentention_num: int | None = None
    rentention_day: int | None = None
    remain_first_backup_of_curMonth: str = "N"

    @property
    def hours(self) -> list[int]:
        """The UTC hours of ``start_time``, in the order given."""
        return [int(part[:2]) for part in self.start_time.split(",")]


@dataclass
class Task:
    """One backup job of a policy run, for one volume (querying_backup_jobs_triggered_by_a_backup_policy).

    While the backup's VBS job (``vbs_job_id``) runs the task is ``RUNNING``; it then follows the job
    (``EXECUTE_SUCCESS`` / ``EXECUTE_FAIL``). A task whose backup could not start has a fixed ``status``:
    ``SKIP`` when the previous backup of the disk is still being made, ``EXECUTE_FAIL`` otherwise."""

    job_id: str
    resource_id: str
    backup_name: str
    created_at: datetime
    vbs_job_id: str | None = None
    status: str | None = None
    finished_at: datetime | None = None
    resource_type: str = "volume"
    backup_id: str | None = None


@dataclass
class Policy:
    """A backup policy of one project (``vbs.policies`` gives copies)."""

    id: str
    project_id: str
    name: str
    scheduled_policy: ScheduledPolicy
    created_at: datetime
    #: The first local day of the ``frequency`` cycle (set when the schedule or time zone changes).
    anchor: date
    #: Scheduled runs happen only after this time (creation or last change).
    since: datetime
    time_zone: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    volume_ids: list[str] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    #: The tenant's default policy (UMN): it cannot be renamed (AutoBackup.0100). Only seeded by tests.
    default: bool = False

    @property
    def offset(self) -> timedelta:
        return time_zone_offset(self.time_zone)

    def local(self, when: datetime) -> datetime:
        """``when`` (UTC) in the policy's time zone."""
        return when + self.offset


def time_zone_offset(time_zone: str | None) -> timedelta:
    """``UTC+08:00`` → 8 hours; ``None`` → UTC."""
    if not time_zone:
        return timedelta(0)
    match = _TIME_ZONE.fullmatch(time_zone)
    if match is None:
        raise ValueError(f"time zone must look like UTC+08:00, not {time_zone!r}")
    sign = 1 if match[1] == "+" else -1
    return sign * timedelta(hours=int(match[2]), minutes=int(match[3]))


# -- projects ----------------------------------------------------------------------------------------------
class Project:
    """Everything one project owns. Backups are also kept in a list sorted by (created_at, id), so the
    default order and marker paging need no scan or sort of the whole collection."""

    def __init__(self, project_id: str) -> None:
        self.id = project_id
        self.volumes: dict[str, Volume] = {}
        self.snapshots: dict[str, Snapshot] = {}
        self.backups: dict[str, Backup] = {}
        self.order: list[tuple[datetime, str]] = []
        self.jobs: dict[str, Job] = {}
        self.quota: dict[str, int] = dict.fromkeys(QUOTA_TYPES, -1)
        self.policies: dict[str, Policy] = {}  #: backup policies by id, in creation order
        self.backup_gigabytes = 0  #: the sizes of all backups, kept as they come and go (quota checks)

    @property
    def empty(self) -> bool:
        """Holds nothing a fresh project would not (a read of an unknown project id made it)."""
        return not (self.volumes or self.snapshots or self.backups or self.jobs or self.policies
                    or self.backup_gigabytes or any(limit != -1 for limit in self.quota.values()))

    def add_backup(self, backup: Backup) -> None:
        self.backups[backup.id] = backup
        self.backup_gigabytes += backup.size
        bisect.insort(self.order, backup.sort_key)

    def remove_backup(self, backup: Backup) -> None:
        """Forget ``backup`` and the snapshot the service took for it."""
        del self.backups[backup.id]
        snapshot = self.snapshots.get(backup.snapshot_id or "")
        if snapshot is not None and snapshot.backup_id == backup.id:
            del self.snapshots[snapshot.id]
        self.backup_gigabytes -= backup.size
        index = bisect.bisect_left(self.order, backup.sort_key)
        del self.order[index]
        volume = self.volumes.get(backup.volume_id)
        if volume is not None and backup.id in volume.backup_ids:
            volume.backup_ids.remove(backup.id)

