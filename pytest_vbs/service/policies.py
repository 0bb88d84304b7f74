"""Backup policy rules (``api_description/backup_policies``): create, modify, delete, associate volumes, execute,
tags, runs and retention, and seeding (the schedule is ``scheduler.py``).

A policy is kept per project (``Project.policies``). It backs up its volumes when executed at once or, while
``ON``, at its scheduled times as a test moves the fake's clock (``State.advance_clock``): each run makes one
backup per volume through the same machinery (and job) as ``/cloudbackups``, records a task per volume (the
``backuptasks`` page), then prunes the policy's own older backups of that volume by its retention rule.

Rules raise :class:`APIError` with a reason (and the code where it does not depend on the page); the operation
rows (``api/policies.py``) map the other reasons to codes (``policy_not_found`` is ``AutoBackup.0205``, or
``AutoBackup.1100`` on the query pages). Where the pages contradict each other the choice is written in
``docs/policies.md``.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pytest_vbs.errors import APIError
from pytest_vbs.service.models import (
    BACKUPABLE_VOLUME_STATUSES,
    Policy,
    Project,
    ScheduledPolicy,
    Task,
    time_zone_offset,
)
from pytest_vbs.service.state import State

#: "A tenant can create a maximum of 10 backup policies." (creating_a_backup_policy; the UMN says default + 31:
#: the page wins). AutoBackup.0203.
POLICY_LIMIT = 10
#: At most 10 tags per policy (UMN; AutoBackup.0215).
MAX_POLICY_TAGS = 10
#: Volumes one policy can hold (AutoBackup.0204). The number is not documented; see docs/policies.md.
MAX_POLICY_VOLUMES = 200
#: Policy-made backups are named ``autobk_<4 hex>`` (backuptasks example); hence the user rule "not auto...".
AUTO_NAME_PREFIX = "autobk_"
#: Job type of the backups a policy makes (the same job as ``/cloudbackups``).
BACKUP_JOB_TYPE = "bksCreateBackup"



# -- rules ------------------------------------------------------------------------------------------------
def find_policy(project: Project, policy_id: str) -> Policy:
    """The project's policy ``policy_id``, or 404."""
    policy = project.policies.get(policy_id)
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
    """Store a new policy (no checks: ``create_policy`` has made them; seeding skips them)."""
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
        state.project(project_id).policies[policy.id] = policy
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
    for other in project.policies.values():
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


# -- the operations' rules ------------------------------------------------------------------------------------
def create_policy(
    state: State,
    project_id: str,
    name: str,
    scheduled_policy: Mapping[str, Any],
    *,
    time_zone: str | None = None,
    tags: Iterable[Mapping[str, str]] = (),
) -> Policy:
    """creating_a_backup_policy: tags unique, start times ascending, at most :data:`POLICY_LIMIT` policies."""
    with state.lock:
        project = state.project(project_id)
        tag_map = _tags(tags)
        schedule = _schedule(scheduled_policy)
        _check_start_order(schedule.start_time, time_zone)
        if len(project.policies) >= POLICY_LIMIT:
            raise APIError(400, f"The number of existing backup policies has reached the upper limit: a tenant can "
                           f"create a maximum of {POLICY_LIMIT} backup policies.", reason="policy_limit",
                           code="AutoBackup.0203")
        return new_policy(state, project_id, name, schedule, time_zone=time_zone, tags=tag_map)


def update_policy(
    state: State,
    project_id: str,
    policy_id: str,
    *,
    name: str | None = None,
    scheduled_policy: Mapping[str, Any] | None = None,
    time_zone: str | None = None,
) -> Policy:
    """modifying_a_backup_policy (and enabling/disabling): ``None`` leaves a setting as it is; the schedule's
    fields are merged into the policy's. The default policy cannot be renamed."""
    with state.lock:
        policy = find_policy(state.project(project_id), policy_id)
        name = policy.name if name is None else name
        if policy.default and name != policy.name:
            raise APIError(400, "The tenant cannot modify the default backup policy: it cannot be renamed.",
                           reason="default_policy", code="AutoBackup.0100")
        changes = scheduled_policy or {}
        schedule = _schedule(changes, policy.scheduled_policy)
        time_zone = policy.time_zone if time_zone is None else time_zone
        _check_start_order(schedule.start_time, time_zone)
        now = state.now()
        if time_zone != policy.time_zone or {"frequency", "week_frequency", "start_time"} & set(changes):
            policy.anchor = (now + time_zone_offset(time_zone)).date()
        policy.name, policy.scheduled_policy, policy.time_zone, policy.since = name, schedule, time_zone, now
        return policy


def delete_policy(state: State, project_id: str, policy_id: str) -> None:
    with state.lock:
        project = state.project(project_id)
        del project.policies[find_policy(project, policy_id).id]


Outcomes = tuple[list[dict[str, Any]], list[dict[str, Any]]]


def associate_resources(state: State, project_id: str, policy_id: str, volume_ids: Iterable[str]) -> Outcomes:
    """Put volumes under a policy: the success and the failure entries, one per volume."""
    with state.lock:
        project = state.project(project_id)
        policy = find_policy(project, policy_id)
        success: list[dict[str, Any]] = []
        fail: list[dict[str, Any]] = []
        for volume_id in volume_ids:
            entry = associate(state, project, policy, volume_id)
            (fail if "code" in entry else success).append(entry)
        return success, fail


def disassociate_resources(state: State, project_id: str, policy_id: str, volume_ids: Iterable[str]) -> Outcomes:
    """Take volumes off a policy: the success and the failure entries (not associated: AutoBackup.1400)."""
    with state.lock:
        policy = find_policy(state.project(project_id), policy_id)
        success: list[dict[str, Any]] = []
        fail: list[dict[str, Any]] = []
        for volume_id in volume_ids:
            if volume_id in policy.volume_ids:
                policy.volume_ids.remove(volume_id)
                success.append({"resource_id": volume_id})
            else:
                fail.append({"resource_id": volume_id, "code": "AutoBackup.1400",
                             "message": f"Volume {volume_id} is not associated with backup policy {policy.id}."})
        return success, fail


def execute_policy(state: State, project_id: str, policy_id: str) -> list[Task]:
    """Back up every volume of the policy now (also when it is ``OFF``), unless a run is still going."""
    with state.lock:
        project = state.project(project_id)
        policy = find_policy(project, policy_id)
        if is_running(project, policy):
            raise APIError(400, f"The policy is being executed: backup policy {policy.id} still has running "
                           "backup jobs.", reason="policy_running", code="AutoBackup.0225")
        return run_policy(state, project, policy, state.now())


# -- tags -----------------------------------------------------------------------------------------------------
def _check_tag_count(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_POLICY_TAGS:
        raise APIError(400, f"The number of tags has reached the upper limit: a policy can have at most "
                       f"{MAX_POLICY_TAGS} tags.", reason="too_many_tags", code="AutoBackup.0215")


def add_tag(state: State, project_id: str, policy_id: str, key: str, value: str) -> None:
    """Add a tag; a key the policy has gets the new value."""
    with state.lock:
        policy = find_policy(state.project(project_id), policy_id)
        tags = {**policy.tags, key: value}
        _check_tag_count(tags)
        policy.tags = tags


def delete_tag(state: State, project_id: str, policy_id: str, key: str) -> None:
    with state.lock:
        policy = find_policy(state.project(project_id), policy_id)
        if key not in policy.tags:
            raise APIError(404, f"The tag does not exist: backup policy {policy.id} has no tag {key!r}.",
                           reason="tag_not_found", code="AutoBackup.0216")
        del policy.tags[key]


def batch_tags(state: State, project_id: str, policy_id: str, action: str, items: Sequence[Mapping[str, str]]) -> None:
    """``create`` and ``update`` add or overwrite keys; ``delete`` removes keys (only where the value matches,
    when one is given; absent keys are ignored). All or nothing."""
    with state.lock:
        policy = find_policy(state.project(project_id), policy_id)
        given = _tags(items)
        tags = dict(policy.tags)
        if action == "delete":
            for item in items:
                if item["key"] in tags and ("value" not in item or tags[item["key"]] == item["value"]):
                    del tags[item["key"]]
        else:
            tags.update(given)
            _check_tag_count(tags)
        policy.tags = tags


def all_tags(state: State, project_id: str) -> dict[str, list[str]]:
    """Every key used by the project's policies with its distinct values (keys and values sorted)."""
    with state.lock:
        values: dict[str, set[str]] = {}
        for policy in state.project(project_id).policies.values():
            for key, value in policy.tags.items():
                values.setdefault(key, set()).add(value)
    return {key: sorted(values[key]) for key in sorted(values)}


def _tag_matches(tags: Mapping[str, str], condition: Mapping[str, Any]) -> bool:
    """A ``{key, values}`` condition: the key is present with one of the values (any value when none given)."""
    key, values = condition["key"], condition["values"]
    return key in tags and (not values or tags[key] in values)


def _check_unique_keys(conditions: Mapping[str, Any]) -> None:
    for name in ("tags", "tags_any", "not_tags", "not_tags_any"):
        keys = [condition["key"] for condition in conditions.get(name) or []]
        if len(keys) != len(set(keys)):
            raise APIError(400, f"Invalid input for field '{name}': tag keys must be unique.",
                           reason="duplicate_key", code="AutoBackup.0214")


def _selected(policy: Policy, conditions: Mapping[str, Any]) -> bool:
    checks: Sequence[tuple[str, Callable[[Iterable[bool]], bool], bool]] = (
        ("tags", all, True), ("tags_any", any, True), ("not_tags", all, False), ("not_tags_any", any, False),
    )
    for name, combine, wanted in checks:
        given = conditions.get(name)
        if given and combine(_tag_matches(policy.tags, c) for c in given) != wanted:
            return False
    return all(match["value"] in policy.name for match in conditions.get("matches") or [])


def policies_by_tag(state: State, project_id: str, conditions: Mapping[str, Any]) -> list[Policy]:
    """The project's policies matching every condition (``tags``, ``tags_any``, ``not_tags``, ``not_tags_any``,
    ``matches``: querying_backup_policies_by_tag), in creation order."""
    _check_unique_keys(conditions)
    with state.lock:
        return [p for p in state.project(project_id).policies.values() if _selected(p, conditions)]


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
            for other in project.policies.values():
                if volume_id in other.volume_ids:
                    other.volume_ids.remove(volume_id)
            policy.volume_ids.append(volume_id)
        return policy
