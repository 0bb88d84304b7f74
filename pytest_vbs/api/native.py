"""The Native OpenStack backup API, V3 and deprecated v2 (``/v3|v2/{project_id}/backups``): its rows and handlers.

Pages: ``*_native_openstack_v3_api`` and their ``*_native_openstack_api_deprecated`` twins. The v2 rows are the
same operations with ``_v2`` names; their views differ by the URL's version (``views.backup_detail``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from pytest_vbs.api.call import Call, Operation
from pytest_vbs.api.views import backup_detail, backup_summary
from pytest_vbs.service.models import ListQuery

#: "... when the number of backups exceeds 1000" (list pages): the largest page the service returns.
MAX_PAGE = 1000


def create_backup(call: Call) -> dict[str, Any]:
    spec = call.body["backup"]
    backup = call.state.create_backup(
        call.project_id,
        volume_id=spec["volume_id"],
        snapshot_id=spec["snapshot_id"],
        name=spec.get("name"),
        description=spec.get("description"),
        force=bool(spec.get("force")),
        metadata=spec.get("metadata"),  # from microversion 3.43 (the request's validation enforces it)
    )
    return {"backup": backup_summary(call, backup)}


def list_backups(call: Call) -> dict[str, Any]:
    return _list(call, backup_summary)


def list_backups_detail(call: Call) -> dict[str, Any]:
    return _list(call, backup_detail)


def _list(call: Call, view: Any) -> dict[str, Any]:
    query = call.query
    requested = query.get("limit")
    page = call.state.list_backups(
        call.project_id,
        ListQuery(
            exact={k: query[k] for k in ("name", "status", "volume_id") if k in query},
            fuzzy={k[:-1]: query[k] for k in ("name~", "status~", "volume_id~") if k in query},
            sort=_sort(query),
            limit=min(requested, MAX_PAGE) if requested is not None else MAX_PAGE,
            offset=query.get("offset", 0),
            marker=query.get("marker"),
            with_count=bool(query.get("with_count")),
        ),
    )
    result: dict[str, Any] = {"backups": [view(call, b) for b in page.items]}
    if page.count is not None:
        result["count"] = page.count
    if page.more and page.items:
        result["backups_links"] = [{"href": _next_link(call, page.items[-1].id), "rel": "next"}]
    return result


def _sort(query: dict[str, Any]) -> list[tuple[str, str]]:
    if "sort" in query:
        keys = []
        for part in query["sort"].split(","):
            key, _, direction = part.partition(":")
            keys.append((key, direction or "desc"))
        return keys
    return [(query.get("sort_key", "created_at"), query.get("sort_dir", "desc"))]


def _next_link(call: Call, last_id: str) -> str:
    """The request's own URL with ``marker`` set to the last id returned.

    The doc's example link also keeps ``offset``; applied together with ``marker`` it would skip items,
    so the fake drops it (docs/fidelity-notes.md).
    """
    params = {k: v for k, v in call.raw_query.items() if k not in ("marker", "offset")}
    params["marker"] = last_id
    return f"{call.base_url}{quote(call.path)}?{urlencode(params)}"


def get_backup(call: Call) -> dict[str, Any]:
    backup = call.state.backup(call.project_id, call.args["backup_id"], read=True, shared=True)
    return {"backup": backup_detail(call, backup)}


def delete_backup(call: Call) -> None:
    call.state.delete_backup(call.project_id, call.args["backup_id"])


def restore_backup(call: Call) -> dict[str, Any]:
    backup, volume = call.state.restore_backup(
        call.project_id, call.args["backup_id"], call.body["restore"]["volume_id"]
    )
    return {"restore": {"backup_id": backup.id, "volume_id": volume.id, "volume_name": volume.name}}


# -- rows ------------------------------------------------------------------------------------------------
def _backups(version: str, suffix: str, page_suffix: str) -> list[Operation]:
    """The six native backup operations; the v2 family is the same with ``_v2`` names and pages."""
    base = f"/{version}/<project_id>/backups"
    query = "list_backups" + suffix
    pages = {
        "create": "creating_a_vbs_backup_native_openstack_" + page_suffix,
        "list": "querying_summary_information_about_vbs_backups_native_openstack_" + page_suffix,
        "detail": "querying_details_about_vbs_backups_native_openstack_" + page_suffix,
        "get": "querying_details_about_a_vbs_backup_native_openstack_" + page_suffix,
        "delete": "deleting_a_vbs_backup_native_openstack_" + page_suffix,
        "restore": "restoring_a_disk_using_a_vbs_backup_native_openstack_" + page_suffix,
    }
    common: dict[str, Any] = {"version": version, "tags": ("vbs", "native")}
    return [
        Operation("create_backup" + suffix, "POST", base, create_backup, 202,
                  request_schema="create_backup" + suffix, doc_page=pages["create"], **common),
        Operation("list_backups" + suffix, "GET", base, list_backups,
                  query_schema=query, doc_page=pages["list"], **common),
        Operation("list_backups_detail" + suffix, "GET", f"{base}/detail", list_backups_detail,
                  query_schema=query, doc_page=pages["detail"], **common),
        Operation("get_backup" + suffix, "GET", f"{base}/<backup_id>", get_backup,
                  doc_page=pages["get"], **common),
        Operation("delete_backup" + suffix, "DELETE", f"{base}/<backup_id>", delete_backup, 202,
                  doc_page=pages["delete"], **common),
        Operation("restore_backup" + suffix, "POST", f"{base}/<backup_id>/restore", restore_backup, 202,
                  request_schema="restore_backup" + suffix, doc_page=pages["restore"], **common),
    ]


ROUTES: tuple[Operation, ...] = (*_backups("v3", "", "v3_api"), *_backups("v2", "_v2", "api_deprecated"))
