"""Backup policies and their tags (``api_description/backup_policies``): ``/v2/{project_id}/backuppolicy``,
``/backuppolicyresources`` and the policy tags. Rows, handlers and views; the handlers only translate between
the wire and the rules in ``service/policies.py`` (enabling/disabling is the modify row).

Errors use the ``{"error": {"code": "AutoBackup.xxxx", ...}}`` envelope; the rows map reasons to codes where the
code depends on the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pytest_vbs.api.call import Call, Operation
from pytest_vbs.errors import APIError, Family
from pytest_vbs.service import policies
from pytest_vbs.service.models import Policy, Project, ScheduledPolicy, Task


# -- views ----------------------------------------------------------------------------------------------------
def task_time(value: datetime) -> str:
    """``2016-12-03T06:24:34.467``: milliseconds, no zone (backuptasks page)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def schedule_view(schedule: ScheduledPolicy) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "remain_first_backup_of_curMonth": schedule.remain_first_backup_of_curMonth,
        "start_time": schedule.start_time,
        "status": schedule.status,
    }
    if schedule.frequency is not None:
        shown["frequency"] = schedule.frequency
    else:
        shown["week_frequency"] = list(schedule.week_frequency or [])
    if schedule.rentention_num is not None:
        shown["rentention_num"] = schedule.rentention_num
    else:
        shown["rentention_day"] = schedule.rentention_day
    return shown


def policy_view(project: Project, policy: Policy) -> dict[str, Any]:
    """A policy as the list page shows it (``time_zone`` only when set; the example shows none)."""
    shown: dict[str, Any] = {
        "backup_policy_id": policy.id,
        "backup_policy_name": policy.name,
        "scheduled_policy": schedule_view(policy.scheduled_policy),
        "policy_resource_count": len(policies.live_volumes(project, policy)),
    }
    if policy.time_zone is not None:
        shown["time_zone"] = policy.time_zone
    return shown


def task_view(project: Project, task: Task) -> dict[str, Any]:
    status, finished = policies.task_status(project, task)
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
def create_backup_policy(call: Call) -> dict[str, Any]:
    body = call.body
    policy = policies.create_policy(call.state, call.project_id, body["backup_policy_name"], body["scheduled_policy"],
                                    time_zone=body.get("time_zone"), tags=body.get("tags") or [])
    return {"backup_policy_id": policy.id}


def list_backup_policies(call: Call) -> dict[str, Any]:
    with call.state.lock:
        project = call.state.project(call.project_id)
        return {"backup_policies": [policy_view(project, p) for p in project.policies.values()]}


def update_backup_policy(call: Call) -> dict[str, Any]:
    """Modify (and enable/disable: ``{"scheduled_policy": {"status": "ON"|"OFF"}}``). Answers the page's
    ``backup_policy_id`` within the whole policy (the Go SDK reads a policy from this answer). The body may repeat
    the path's ``backup_policy_id`` (otcextensions does); an empty ``scheduled_policy`` changes no schedule."""
    body = call.body
    sent = body.get("backup_policy_id")
    if sent is not None and sent != call.args["policy_id"]:
        raise APIError(400, f"Invalid input for field 'backup_policy_id': {sent} is not the policy "
                       f"{call.args['policy_id']} of the request URL.", reason="policy_id_mismatch",
                       code="AutoBackup.0008")
    with call.state.lock:
        policy = policies.update_policy(call.state, call.project_id, call.args["policy_id"],
                                        name=body.get("backup_policy_name"),
                                        scheduled_policy=body.get("scheduled_policy"), time_zone=body.get("time_zone"))
        return policy_view(call.state.project(call.project_id), policy)


def delete_backup_policy(call: Call) -> None:
    policies.delete_policy(call.state, call.project_id, call.args["policy_id"])


def associate_backup_policy_resources(call: Call) -> dict[str, Any]:
    volume_ids = [resource["resource_id"] for resource in call.body["resources"]]
    success, fail = policies.associate_resources(call.state, call.project_id, call.body["backup_policy_id"], volume_ids)
    return {"success_resources": success, "fail_resources": fail}


def disassociate_backup_policy_resources(call: Call) -> dict[str, Any]:
    volume_ids = [resource["resource_id"] for resource in call.body["resources"]]
    success, fail = policies.disassociate_resources(call.state, call.project_id, call.args["policy_id"], volume_ids)
    return {"success_resources": success, "fail_resources": fail}


def execute_backup_policy(call: Call) -> None:
    policies.execute_policy(call.state, call.project_id, call.args["policy_id"])


def list_backup_policy_tasks(call: Call) -> dict[str, Any]:
    query = call.query
    with call.state.lock:
        project = call.state.project(call.project_id)
        policy = policies.find_policy(project, call.args["policy_id"])
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
def add_backup_policy_tag(call: Call) -> None:
    tag = call.body["tag"]
    policies.add_tag(call.state, call.project_id, call.args["policy_id"], tag["key"], tag["value"])


def delete_backup_policy_tag(call: Call) -> None:
    policies.delete_tag(call.state, call.project_id, call.args["policy_id"], call.args["key"])


def list_all_backup_policy_tags(call: Call) -> dict[str, Any]:
    tags = policies.all_tags(call.state, call.project_id)
    return {"tags": [{"key": key, "values": values} for key, values in tags.items()]}


def list_backup_policy_tags(call: Call) -> dict[str, Any]:
    with call.state.lock:
        policy = policies.find_policy(call.state.project(call.project_id), call.args["policy_id"])
        return {"tags": _tag_list(policy.tags)}


def batch_backup_policy_tags(call: Call) -> None:
    body = call.body
    policies.batch_tags(call.state, call.project_id, call.args["policy_id"], body["action"], body.get("tags") or [])


def query_backup_policies_by_tag(call: Call) -> dict[str, Any]:
    """``filter``: the policies matching every given condition, paged by ``offset``/``limit`` (strings);
    ``count``: only ``total_count``."""
    body = call.body
    with call.state.lock:
        found = policies.policies_by_tag(call.state, call.project_id, body)
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


# -- rows ------------------------------------------------------------------------------------------------------
# Error codes of the backup policy operations by error reason (error_codes; digest 9.3 and docs/policies.md).
_POLICY_FORMAT_CODES = {"missing_body": "AutoBackup.0000", "malformed_json": "AutoBackup.0008",
                        "bad_encoding": "AutoBackup.0008", "bad_media_type": "AutoBackup.0008"}
# Query parameters that cannot be converted or break a rule (backuptasks): the request conversion code.
_POLICY_QUERY_CODES = dict.fromkeys(
    ("not_an_integer", "not_allowed", "out_of_range", "unknown_field", "not_a_string", "bad_marker"),
    "AutoBackup.0008")


def _routes() -> list[Operation]:
    """Backup policies and their tags (api_description/backup_policies; enabling/disabling is the modify row)."""
    base = "/v2/<project_id>/backuppolicy"
    one = f"{base}/<policy_id>"
    missing = {"policy_not_found": "AutoBackup.0205"}  # "The policy does not exist."
    queried = {"policy_not_found": "AutoBackup.1100"}  # "The queried policy does not exist."
    common: dict[str, Any] = {"family": Family.VBS, "tags": ("vbs", "policy")}
    return [
        Operation("create_backup_policy", "POST", base, create_backup_policy, request_schema="create_backup_policy",
                  doc_page="creating_a_backup_policy", codes=_POLICY_FORMAT_CODES, **common),
        Operation("list_backup_policies", "GET", base, list_backup_policies,
                  doc_page="querying_backup_policies", **common),
        Operation("update_backup_policy", "PUT", one, update_backup_policy, request_schema="update_backup_policy",
                  doc_page="modifying_a_backup_policy", codes={**_POLICY_FORMAT_CODES, **missing}, **common),
        Operation("delete_backup_policy", "DELETE", one, delete_backup_policy, 204,
                  doc_page="deleting_a_backup_policy", codes=missing, **common),
        Operation("associate_backup_policy_resources", "POST", "/v2/<project_id>/backuppolicyresources",
                  associate_backup_policy_resources, request_schema="associate_backup_policy_resources",
                  doc_page="associating_resources_with_a_backup_policy", codes={**_POLICY_FORMAT_CODES, **missing},
                  **common),
        Operation("disassociate_backup_policy_resources", "POST",
                  "/v2/<project_id>/backuppolicyresources/<policy_id>/deleted_resources",
                  disassociate_backup_policy_resources, request_schema="disassociate_backup_policy_resources",
                  doc_page="disassociating_resources_from_a_backup_policy",
                  codes={**_POLICY_FORMAT_CODES, **missing}, **common),
        Operation("execute_backup_policy", "POST", f"{one}/action", execute_backup_policy, 204,
                  doc_page="executing_a_backup_policy_at_once", codes=missing, **common),
        Operation("list_backup_policy_tasks", "GET", f"{one}/backuptasks", list_backup_policy_tasks,
                  query_schema="list_backup_policy_tasks",
                  doc_page="querying_backup_jobs_triggered_by_a_backup_policy",
                  codes={**_POLICY_QUERY_CODES, **queried}, **common),
        Operation("add_backup_policy_tag", "POST", f"{one}/tags", add_backup_policy_tag, 204,
                  request_schema="add_backup_policy_tag", doc_page="adding_a_tag_to_a_backup_policy",
                  codes={**_POLICY_FORMAT_CODES, **missing}, **common),
        Operation("delete_backup_policy_tag", "DELETE", f"{one}/tags/<key>", delete_backup_policy_tag, 204,
                  doc_page="removing_a_tag_from_a_backup_policy", codes=missing, **common),
        Operation("list_all_backup_policy_tags", "GET", f"{base}/tags", list_all_backup_policy_tags,
                  doc_page="querying_all_backup_policy_tags", **common),
        Operation("list_backup_policy_tags", "GET", f"{one}/tags", list_backup_policy_tags,
                  doc_page="querying_tags_of_a_backup_policy", codes=queried, **common),
        Operation("batch_backup_policy_tags", "POST", f"{one}/tags/action", batch_backup_policy_tags, 204,
                  request_schema="batch_backup_policy_tags",
                  doc_page="batch_updating_or_removing_tags_of_a_backup_policy",
                  codes={**_POLICY_FORMAT_CODES, **missing}, **common),
        Operation("query_backup_policies_by_tag", "POST", f"{base}/resource_instances/action",
                  query_backup_policies_by_tag, request_schema="query_backup_policies_by_tag",
                  doc_page="querying_backup_policies_by_tag", codes=_POLICY_FORMAT_CODES, **common),
    ]


ROUTES: tuple[Operation, ...] = tuple(_routes())
