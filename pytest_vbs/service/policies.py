"""Backup policies: the model, its rules, the scheduler on the virtual clock, and the handlers of the 15 policy
pages (``api_description/backup_policies``): ``/v2/{project_id}/backuppolicy``, ``/backuppolicyresources`` and
the policy tags.

A policy is kept per project (``Project.policies``). It backs up its volumes when executed at once or, while
``ON``, at its scheduled times as a test moves the fake's clock (``State.advance_clock``): each run makes one
backup per volume through the same machinery (and job) as ``/cloudbackups``, records a task per volume (the
``backuptasks`` page), then prunes the policy's own older backups of that volume by its retention rule.

Errors use the ``{"error": {"code": "AutoBackup.xxxx", ...}}`` envelope. Handlers raise :class:`APIError` with a
reason; the operation rows (``operations._policies``) map reasons to codes where the code depends on the page
(``policy_not_found`` is ``AutoBackup.0205``, or ``AutoBackup.1100`` on the query pages). Where the pages
contradict each other the choice is written in ``docs/policies.md``.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from pytest_vbs.errors import APIError
from pytest_vbs.service.state import BACKUPABLE_VOLUME_STATUSES, Project, State

if TYPE_CHECKING:
    from pytest_vbs.api import Call

#: "A tenant can create a maximum of 10 backup policies." (creating_a_backup_policy; the UMN says default + 31:
#: the page wins). AutoBackup.0203.
POLICY_LIMIT = 10
#: At most 10 tags per policy (UMN; AutoBackup.0215).
MAX_POLICY_TAGS = 10
#: Volumes one policy can hold (AutoBackup.0204). The number is not documented; see docs/policies.md.
MAX_POLICY_VOLUMES = 200
#: Days of ``week_frequency``, in ``date.isoweekday() % 7`` order.
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
#: Policy-made backups are named ``autobk_<4 hex>`` (backuptasks example); hence the user rule "not auto...".
AUTO_NAME_PREFIX = "autobk_"
#: Job type of the backups a policy makes (the same job as ``/cloudbackups``).
BACKUP_JOB_TYPE = "bksCreateBackup"

_TIME_ZONE = re.compile(r"UTC([+-])(\d{2}):(\d{2})")


# -- the model ----------------------------------------------------------------------------------------------
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

    def view(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "remain_first_backup_of_curMonth": self.remain_first_backup_of_curMonth,
            "start_time": self.start_time,
            "status": self.status,
        }
        if self.frequency is not None:
            shown["frequency"] = self.frequency
        else:
            shown["week_frequency"] = list(self.week_frequency or [])
        if self.rentention_num is not None:
            shown["rentention_num"] = self.rentention_num
        else:
            shown["rentention_day"] = self.rentention_day
        return shown


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


def policies_of(project: Project) -> dict[str, Policy]:
    """The project's policies by id, in creation order."""
    found: dict[str, Policy] = project.policies
    return found


def task_time(value: datetime) -> str:
    """``2016-12-03T06:24:34.467``: milliseconds, no zone (backuptasks page)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


# -- rules ------------------------------------------------------------------------------------------------
def _policy(project: Project, policy_id: str) -> Policy:
    policy = policies_of(project).get(policy_id)
    if policy is None:
        raise APIError(404, f"The backup policy {policy_id} does not exist.", reason="policy_not_found")
    return policy


def _check_start_order(start_time: str, time_zone: str | None) -> None:
    """"To set multiple backup execution times, enter them in ascending order by local time" (create page):
    strictly ascending, so also no time twice. AutoBackup.0103."""
    offset = int(time_zone_offset(time_zone).total_seconds() // 60)
    local = [(hour * 60 + offset) % 1440 for hour in (int(p[:2]) for p in start_time.split(","))]
    if any(later <= earlier for earlier, later in itertools.pairwise(local)):
        zone = time_zone or "UTC"
        raise APIError(
            400,
            f"Invalid input for field 'scheduled_policy.start_time': the times must be in ascending order of local "
            f"time ({zone}), each at most once (got {start_time!r}).",
            reason="bad_time_order",
            code="AutoBackup.0103",
        )


def _tags(items: Iterable[Mapping[str, str]], field_name: str = "tags") -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        if item["key"] in tags:
            raise APIError(400, f"Invalid input for field '{field_name}': the tag key {item['key']!r} is repeated.",
                           reason="duplicate_key", code="AutoBackup.0214")
        tags[item["key"]] = item.get("value", "")
    return tags


def _schedule(spec: Mapping[str, Any], base: ScheduledPolicy | None = None) -> ScheduledPolicy:
    """A schedule from a request's ``scheduled_policy`` (merged into ``base`` on modify)."""
    schedule = ScheduledPolicy(**vars(base)) if base is not None else ScheduledPolicy(start_time=spec["start_time"])
    for key in ("start_time", "status", "remain_first_backup_of_curMonth"):
        if key in spec:
            setattr(schedule, key, spec[key])
    if "frequency" in spec:
        schedule.frequency, schedule.week_frequency = spec["frequency"], None
    elif "week_frequency" in spec:
        schedule.frequency, schedule.week_frequency = None, list(spec["week_frequency"])
    if "rentention_num" in spec:
        schedule.rentention_num, schedule.rentention_day = spec["rentention_num"], None
    elif "rentention_day" in spec:
        # "If you enter a floating point number, the number will be rounded down" (create page).
        schedule.rentention_num, schedule.rentention_day = None, int(spec["rentention_day"])
    return schedule


def new_policy(
    state: State,
    project_id: str,
    name: str,
    schedule: ScheduledPolicy,
    *,
    time_zone: str | None = None,
    tags: Mapping[str, str] | None = None,
    default: bool = False,
) -> Policy:
    """Store a new policy (no checks: the handler has made them; seeding skips them)."""
    with state.lock:
        now = state.now()
        policy = Policy(
            id=str(uuid.uuid4()),
            project_id=project_id,
            name=name,
            scheduled_policy=schedule,
            created_at=now,
            anchor=(now + time_zone_offset(time_zone)).date(),
            since=now,
            time_zone=time_zone,
            tags=dict(tags or {}),
            default=default,
        )
        policies_of(state.project(project_id))[policy.id] = policy
        return policy


def associate(state: State, project: Project, policy: Policy, volume_id: str) -> dict[str, Any]:
    """Put a volume under ``policy`` (moving it from another policy: one policy per disk, UMN); the answer's
    success or failure entry."""
    entry: dict[str, Any] = {"resource_id": volume_id, "resource_type": "volume"}
    volume = project.volumes.get(volume_id)
    if volume is None:
        return {**entry, "code": "AutoBackup.1400",
                "message": f"The resource to be associated is invalid: volume {volume_id} does not exist."}
    entry |= {"availability_zone": volume.availability_zone, "os_vol_host_attr": f"pod01.{volume.availability_zone}"}
    if volume.status not in BACKUPABLE_VOLUME_STATUSES:
        return {**entry, "code": "AutoBackup.0206",
                "message": f"The status of the disk to be associated is invalid: volume {volume_id} is "
                           f"'{volume.status}' (must be available or in-use)."}
    if volume_id not in policy.volume_ids and len(policy.volume_ids) >= MAX_POLICY_VOLUMES:
        return {**entry, "code": "AutoBackup.0204",
                "message": f"The number of associated volumes has reached the upper limit ({MAX_POLICY_VOLUMES})."}
    for other in policies_of(project).values():
        if other is not policy and volume_id in other.volume_ids:
            other.volume_ids.remove(volume_id)
    if volume_id not in policy.volume_ids:
        policy.volume_ids.append(volume_id)
    return entry


def live_volumes(project: Project, policy: Policy) -> list[str]:
    """The policy's volumes that still exist (a deleted disk leaves its policy)."""
    return [v for v in policy.volume_ids if v in project.volumes]


# -- runs and retention -------------------------------------------------------------------------------------
def task_status(project: Project, task: Task) -> tuple[str, datetime | None]:
    """A task's status and finish time: fixed, or following its backup's VBS job."""
    if task.status is not None:
        return task.status, task.finished_at
    job = project.jobs.get(task.vbs_job_id or "")
    if job is None or job.status in ("INIT", "RUNNING"):
        return "RUNNING", None
    return ("EXECUTE_SUCCESS" if job.status == "SUCCESS" else "EXECUTE_FAIL"), job.end_time


def is_running(project: Project, policy: Policy) -> bool:
    return any(task_status(project, task)[0] == "RUNNING" for task in policy.tasks)


def run_policy(state: State, project: Project, policy: Policy, at: datetime) -> list[Task]:
    """One run at ``at``: a backup per volume (``autobk_<4 hex>``, job ``bksCreateBackup``), a task each, then
    retention. Auto names bypass the user name rule (the state is called directly)."""
    tasks = []
    with state.lock:
        policy.volume_ids = live_volumes(project, policy)
        for volume_id in policy.volume_ids:
            name = AUTO_NAME_PREFIX + secrets.token_hex(2)
            task = Task(job_id=str(uuid.uuid4()), resource_id=volume_id, backup_name=name, created_at=state.now())
            try:
                backup = state.create_backup(
                    project.id, volume_id=volume_id, snapshot_id=None, name=name, force=True,
                    job_type=BACKUP_JOB_TYPE, policy_id=policy.id,
                )
            except APIError as error:
                task.status = "SKIP" if error.reason == "backup_in_progress" else "EXECUTE_FAIL"
                task.finished_at = task.created_at
            else:
                task.vbs_job_id, task.backup_id = backup.job_id, backup.id
            policy.tasks.append(task)
            tasks.append(task)
            apply_retention(state, project, policy, volume_id, at)
    return tasks


def apply_retention(state: State, project: Project, policy: Policy, volume_id: str, at: datetime) -> list[str]:
    """Delete this policy's backups of ``volume_id`` that its retention no longer keeps; returns their ids.

    ``rentention_num`` keeps the newest N; ``rentention_day`` deletes those more than N days older than the run;
    ``remain_first_backup_of_curMonth`` = ``Y`` also keeps the first one of the run's month (policy time zone).
    Manual backups and other policies' backups are never touched; backups still being made or deleted are left
    alone."""
    schedule = policy.scheduled_policy
    mine = sorted(
        (b for b in project.backups.values()
         if b.policy_id == policy.id and b.volume_id == volume_id and b.status != "deleting"),
        key=lambda b: b.sort_key,
    )
    keep: set[str] = set()
    if schedule.remain_first_backup_of_curMonth == "Y":
        month = policy.local(at)
        first = next((b for b in mine if (policy.local(b.created_at).year, policy.local(b.created_at).month)
                      == (month.year, month.month)), None)
        if first is not None:
            keep.add(first.id)
    if schedule.rentention_num is not None:
        doomed = mine[: max(len(mine) - schedule.rentention_num, 0)]
    else:
        cutoff = at - timedelta(days=schedule.rentention_day or 0)
        doomed = [b for b in mine if b.created_at < cutoff]
    deleted = []
    for backup in doomed:
        if backup.id not in keep and backup.status in ("available", "error"):
            state.delete_backup(project.id, backup.id)
            deleted.append(backup.id)
    return deleted


def due_times(policy: Policy, after: datetime, until: datetime) -> list[datetime]:
    """The policy's scheduled times in ``(after, until]``: each ``start_time`` hour (UTC) of every local day the
    policy runs on (every ``frequency`` days from its anchor, or the ``week_frequency`` days)."""
    if until <= after:
        return []
    schedule = policy.scheduled_policy
    found = []
    day = after.date() - timedelta(days=1)
    while day <= until.date():
        for hour in schedule.hours:
            when = datetime.combine(day, time(hour))
            if after < when <= until and _runs_on(policy, policy.local(when).date()):
                found.append(when)
        day += timedelta(days=1)
    return sorted(found)


def _runs_on(policy: Policy, local_day: date) -> bool:
    schedule = policy.scheduled_policy
    if schedule.frequency is not None:
        return (local_day - policy.anchor).days % schedule.frequency == 0
    return WEEKDAYS[local_day.isoweekday() % 7] in (schedule.week_frequency or [])


@contextlib.contextmanager
def _clock_at(state: State, when: datetime) -> Iterator[None]:
    """Run with the fake's clock showing ``when`` (backups and tasks of a scheduled run carry its time)."""
    frozen = state.clock.frozen
    state.clock.frozen = when
    try:
        yield
    finally:
        state.clock.frozen = frozen


class Scheduler:
    """The clock listener: when a test advances the clock, every ``ON`` policy runs at each of its scheduled
    times in between, all policies of all projects in time order."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.last: datetime | None = None  #: where the previous advance ended (real time runs on in between)

    def __call__(self, old: datetime, new: datetime) -> None:
        start = self.last if self.last is not None and self.last <= old else old
        self.last = new
        with self.state.lock:
            due: list[tuple[datetime, datetime, str, str]] = []
            for project in self.state.projects():
                for policy in policies_of(project).values():
                    if policy.scheduled_policy.status == "ON":
                        due += [(when, policy.created_at, project.id, policy.id)
                                for when in due_times(policy, max(start, policy.since), new)]
            for when, _, project_id, policy_id in sorted(due):
                project = self.state.project(project_id)
                current = policies_of(project).get(policy_id)
                if current is not None:
                    with _clock_at(self.state, when):
                        run_policy(self.state, project, current, when)


def install(state: State) -> None:
    """Schedule the policies of ``state`` on its clock (once per state)."""
    with state.lock:
        if not any(isinstance(listener, Scheduler) for listener in state.clock_listeners):
            state.clock_listeners.append(Scheduler(state))


# -- views ----------------------------------------------------------------------------------------------------
def policy_view(project: Project, policy: Policy) -> dict[str, Any]:
    """A policy as the list page shows it (``time_zone`` only when set; the example shows none)."""
    shown: dict[str, Any] = {
        "backup_policy_id": policy.id,
        "backup_policy_name": policy.name,
        "scheduled_policy": policy.scheduled_policy.view(),
        "policy_resource_count": len(live_volumes(project, policy)),
    }
    if policy.time_zone is not None:
        shown["time_zone"] = policy.time_zone
    return shown


def task_view(project: Project, task: Task) -> dict[str, Any]:
    status, finished = task_status(project, task)
    shown: dict[str, Any] = {
        "status": status,
        "job_id": task.job_id,
        "created_at": task_time(task.created_at),
        "backup_name": task.backup_name,
        "resource_id": task.resource_id,
        "resource_type": task.resource_type,
    }
    if finished is not None:
        shown["finished_at"] = task_time(finished)
    if task.vbs_job_id is not None:
        shown["vbs_job_id"] = task.vbs_job_id
    return shown


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in tags.items()]


# -- handlers: policies ---------------------------------------------------------------------------------------
def create(call: Call) -> dict[str, Any]:
    body = call.body
    with call.state.lock:
        project = call.state.project(call.project_id)
        tags = _tags(body.get("tags") or [])
        schedule = _schedule(body["scheduled_policy"])
        _check_start_order(schedule.start_time, body.get("time_zone"))
        if len(policies_of(project)) >= POLICY_LIMIT:
            raise APIError(400, f"The number of existing backup policies has reached the upper limit: a tenant can "
                           f"create a maximum of {POLICY_LIMIT} backup policies.", reason="policy_limit",
                           code="AutoBackup.0203")
        policy = new_policy(call.state, call.project_id, body["backup_policy_name"], schedule,
                            time_zone=body.get("time_zone"), tags=tags)
        return {"backup_policy_id": policy.id}


def list_policies(call: Call) -> dict[str, Any]:
    with call.state.lock:
        project = call.state.project(call.project_id)
        return {"backup_policies": [policy_view(project, p) for p in policies_of(project).values()]}


def update(call: Call) -> dict[str, Any]:
    """Modify (and enable/disable: ``{"scheduled_policy": {"status": "ON"|"OFF"}}``). Answers the page's
    ``backup_policy_id`` within the whole policy (the Go SDK reads a policy from this answer)."""
    body = call.body
    with call.state.lock:
        project = call.state.project(call.project_id)
        policy = _policy(project, call.args["policy_id"])
        name = body.get("backup_policy_name", policy.name)
        if policy.default and name != policy.name:
            raise APIError(400, "The tenant cannot modify the default backup policy: it cannot be renamed.",
                           reason="default_policy", code="AutoBackup.0100")
        changes = body.get("scheduled_policy") or {}
        schedule = _schedule(changes, policy.scheduled_policy)
        time_zone = body.get("time_zone", policy.time_zone)
        _check_start_order(schedule.start_time, time_zone)
        now = call.state.now()
        if time_zone != policy.time_zone or {"frequency", "week_frequency", "start_time"} & set(changes):
            policy.anchor = (now + time_zone_offset(time_zone)).date()
        policy.name, policy.scheduled_policy, policy.time_zone, policy.since = name, schedule, time_zone, now
        return policy_view(project, policy)


def delete(call: Call) -> None:
    with call.state.lock:
        project = call.state.project(call.project_id)
        policy = _policy(project, call.args["policy_id"])
        del policies_of(project)[policy.id]


def associate_resources(call: Call) -> dict[str, Any]:
    body = call.body
    with call.state.lock:
        project = call.state.project(call.project_id)
        policy = _policy(project, body["backup_policy_id"])
        success: list[dict[str, Any]] = []
        fail: list[dict[str, Any]] = []
        for resource in body["resources"]:
            entry = associate(call.state, project, policy, resource["resource_id"])
            (fail if "code" in entry else success).append(entry)
        return {"success_resources": success, "fail_resources": fail}


def disassociate_resources(call: Call) -> dict[str, Any]:
    with call.state.lock:
        project = call.state.project(call.project_id)
        policy = _policy(project, call.args["policy_id"])
        success: list[dict[str, Any]] = []
        fail: list[dict[str, Any]] = []
        for resource in call.body["resources"]:
            volume_id = resource["resource_id"]
            if volume_id in policy.volume_ids:
                policy.volume_ids.remove(volume_id)
                success.append({"resource_id": volume_id})
            else:
                fail.append({"resource_id": volume_id, "code": "AutoBackup.1400",
                             "message": f"Volume {volume_id} is not associated with backup policy {policy.id}."})
        return {"success_resources": success, "fail_resources": fail}


def execute(call: Call) -> None:
    """Back up every volume of the policy now (also when it is ``OFF``)."""
    with call.state.lock:
        project = call.state.project(call.project_id)
        policy = _policy(project, call.args["policy_id"])
        if is_running(project, policy):
            raise APIError(400, f"The policy is being executed: backup policy {policy.id} still has running "
                           "backup jobs.", reason="policy_running", code="AutoBackup.0225")
        run_policy(call.state, project, policy, call.state.now())


def list_tasks(call: Call) -> dict[str, Any]:
    query = call.query
    with call.state.lock:
        project = call.state.project(call.project_id)
        policy = _policy(project, call.args["policy_id"])
        views = [task_view(project, task) for task in policy.tasks]
    if "job_id" in query:
        views = [v for v in views if v["job_id"] == query["job_id"]]
    if "status" in query:
        views = [v for v in views if v["status"] == query["status"]]
    if query.get("sort_dir", "desc") == "desc":
        views.reverse()  # tasks are kept in creation order
    count = len(views)
    if "marker" in query:
        ids = [v["job_id"] for v in views]
        if query["marker"] not in ids:
            raise APIError(400, f"Invalid query parameter 'marker': backup job {query['marker']} is not a job of "
                           f"this policy.", reason="bad_marker")
        views = views[ids.index(query["marker"]) + 1 :]
    offset, limit = query.get("offset", 0), query.get("limit", 20)
    return {"tasks": views[offset : offset + limit], "count": count}


# -- handlers: tags ------------------------------------------------------------------------------------------
def _check_tag_count(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_POLICY_TAGS:
        raise APIError(400, f"The number of tags has reached the upper limit: a policy can have at most "
                       f"{MAX_POLICY_TAGS} tags.", reason="too_many_tags", code="AutoBackup.0215")


def add_tag(call: Call) -> None:
    """Add a tag; a key the policy has gets the new value."""
    tag = call.body["tag"]
    with call.state.lock:
        policy = _policy(call.state.project(call.project_id), call.args["policy_id"])
        tags = {**policy.tags, tag["key"]: tag["value"]}
        _check_tag_count(tags)
        policy.tags = tags


def delete_tag(call: Call) -> None:
    with call.state.lock:
        policy = _policy(call.state.project(call.project_id), call.args["policy_id"])
        key = call.args["key"]
        if key not in policy.tags:
            raise APIError(404, f"The tag does not exist: backup policy {policy.id} has no tag {key!r}.",
                           reason="tag_not_found", code="AutoBackup.0216")
        del policy.tags[key]


def list_all_tags(call: Call) -> dict[str, Any]:
    """Every key used by the project's policies with its distinct values (keys and values sorted)."""
    with call.state.lock:
        values: dict[str, set[str]] = {}
        for policy in policies_of(call.state.project(call.project_id)).values():
            for key, value in policy.tags.items():
                values.setdefault(key, set()).add(value)
    return {"tags": [{"key": key, "values": sorted(values[key])} for key in sorted(values)]}


def list_tags(call: Call) -> dict[str, Any]:
    with call.state.lock:
        policy = _policy(call.state.project(call.project_id), call.args["policy_id"])
        return {"tags": _tag_list(policy.tags)}


def batch_tags(call: Call) -> None:
    """``create`` and ``update`` add or overwrite keys; ``delete`` removes keys (only where the value matches,
    when one is given; absent keys are ignored). All or nothing."""
    body = call.body
    items = body.get("tags") or []
    with call.state.lock:
        policy = _policy(call.state.project(call.project_id), call.args["policy_id"])
        given = _tags(items)
        tags = dict(policy.tags)
        if body["action"] == "delete":
            for item in items:
                if item["key"] in tags and ("value" not in item or tags[item["key"]] == item["value"]):
                    del tags[item["key"]]
        else:
            tags.update(given)
            _check_tag_count(tags)
        policy.tags = tags


def _matches(tags: Mapping[str, str], condition: Mapping[str, Any]) -> bool:
    """A ``{key, values}`` condition: the key is present with one of the values (any value when none given)."""
    key, values = condition["key"], condition["values"]
    return key in tags and (not values or tags[key] in values)


def _check_unique_keys(body: Mapping[str, Any]) -> None:
    for name in ("tags", "tags_any", "not_tags", "not_tags_any"):
        keys = [condition["key"] for condition in body.get(name) or []]
        if len(keys) != len(set(keys)):
            raise APIError(400, f"Invalid input for field '{name}': tag keys must be unique.",
                           reason="duplicate_key", code="AutoBackup.0214")


def _selected(policy: Policy, body: Mapping[str, Any]) -> bool:
    checks: Sequence[tuple[str, Callable[[Iterable[bool]], bool], bool]] = (
        ("tags", all, True), ("tags_any", any, True), ("not_tags", all, False), ("not_tags_any", any, False),
    )
    for name, combine, wanted in checks:
        conditions = body.get(name)
        if conditions and combine(_matches(policy.tags, c) for c in conditions) != wanted:
            return False
    return all(match["value"] in policy.name for match in body.get("matches") or [])


def query_by_tag(call: Call) -> dict[str, Any]:
    """``filter``: the policies matching every given condition, paged by ``offset``/``limit`` (strings);
    ``count``: only ``total_count``."""
    body = call.body
    _check_unique_keys(body)
    with call.state.lock:
        found = [p for p in policies_of(call.state.project(call.project_id)).values() if _selected(p, body)]
        if body["action"] == "count":
            return {"total_count": len(found)}
        offset, limit = int(body.get("offset", "0")), int(body.get("limit", "1000"))
        return {
            "total_count": len(found),
            "resources": [
                {"resource_id": p.id, "resource_detail": None, "resource_name": p.name, "tags": _tag_list(p.tags)}
                for p in found[offset : offset + limit]
            ],
        }


# -- seeding (FakeVBS.add_policy) ---------------------------------------------------------------------------
def seed(
    state: State,
    project_id: str,
    name: str,
    *,
    start_time: str = "12:00",
    frequency: int | None = None,
    week_frequency: Sequence[str] | None = None,
    rentention_num: int | None = None,
    rentention_day: int | None = None,
    remain_first_backup_of_curMonth: str = "N",
    status: str = "ON",
    time_zone: str | None = None,
    tags: Mapping[str, str] | None = None,
    volumes: Iterable[str] = (),
    default: bool = False,
) -> Policy:
    """A policy made without the API's rules (any name, any count). Daily unless ``week_frequency`` is given;
    without a retention rule it keeps backups for 99999 days (the longest the pages allow)."""
    time_zone_offset(time_zone)  # a malformed zone fails here, not at the first run
    if frequency is None and not week_frequency:
        frequency = 1
    if rentention_num is None and rentention_day is None:
        rentention_day = 99999
    schedule = ScheduledPolicy(
        start_time=start_time, status=status, frequency=frequency,
        week_frequency=None if frequency is not None else list(week_frequency or []),
        rentention_num=rentention_num, rentention_day=None if rentention_num is not None else rentention_day,
        remain_first_backup_of_curMonth=remain_first_backup_of_curMonth,
    )
    with state.lock:
        policy = new_policy(state, project_id, name, schedule, time_zone=time_zone, tags=tags, default=default)
        project = state.project(project_id)
        for volume_id in volumes:
            state.volume(project_id, volume_id)  # must exist
            for other in policies_of(project).values():
                if volume_id in other.volume_ids:
                    other.volume_ids.remove(volume_id)
            policy.volume_ids.append(volume_id)
        return policy
