"""The operation table: every route the fake serves, described once as data.

A row names the operation (the name the journal, fault injection and assertions use), its method and
werkzeug URL rule, its API family (which error envelope), its normal status, the handler, its request
and query schemas (``schemas/requests|queries/<name>.json``) and the documentation page it follows.
Routing, validation, the journal, faults and the docs' coverage table are all derived from this table.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers
from werkzeug.routing import Map, Rule

from pytest_vbs import openapi
from pytest_vbs.api import cloudbackups, control, native
from pytest_vbs.errors import Family
from pytest_vbs.service import identity, policies, sharing

if TYPE_CHECKING:
    from pytest_vbs.service.state import State
    from pytest_vbs.wsgi.app import VBSApp


@dataclass
class Call:
    """What a handler gets: the validated request, where it was sent, and the fake's state."""

    app: VBSApp
    project_id: str
    args: Mapping[str, str]
    query: dict[str, Any]  #: query parameters, coerced to their documented types and validated
    raw_query: dict[str, str]
    body: Any
    version: str  #: ``"v2"`` or ``"v3"`` (the URL's version segment)
    microversion: tuple[int, int] | None
    base_url: str
    path: str
    headers: Headers = field(default_factory=Headers)  #: the request's headers
    response_headers: dict[str, str] = field(default_factory=dict)  #: headers the handler adds to its answer

    @property
    def state(self) -> State:
        return self.app.state


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    rule: str
    handler: Handler
    status: int = 200
    family: Family = Family.NATIVE
    request_schema: str | None = None
    query_schema: str | None = None
    doc_page: str = ""
    version: str = ""  #: URL version segment for native routes (``v2``/``v3``), for links and microversions
    journal: bool = True  #: control routes are not recorded
    tags: tuple[str, ...] = field(default=())
    #: VBS error code for each error reason this operation can give (VBS-native envelope only).
    codes: Mapping[str, str] = field(default_factory=dict)

    @property
    def documented(self) -> bool:
        """Part of the documented VBS API (not the Cinder helpers, discovery or control)."""
        return "vbs" in self.tags


def _native_backups(version: str, suffix: str, page_suffix: str) -> list[Operation]:
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
        Operation("create_backup" + suffix, "POST", base, native.create_backup, 202,
                  request_schema="create_backup" + suffix, doc_page=pages["create"], **common),
        Operation("list_backups" + suffix, "GET", base, native.list_backups,
                  query_schema=query, doc_page=pages["list"], **common),
        Operation("list_backups_detail" + suffix, "GET", f"{base}/detail", native.list_backups_detail,
                  query_schema=query, doc_page=pages["detail"], **common),
        Operation("get_backup" + suffix, "GET", f"{base}/<backup_id>", native.get_backup,
                  doc_page=pages["get"], **common),
        Operation("delete_backup" + suffix, "DELETE", f"{base}/<backup_id>", native.delete_backup, 202,
                  doc_page=pages["delete"], **common),
        Operation("restore_backup" + suffix, "POST", f"{base}/<backup_id>/restore", native.restore_backup, 202,
                  request_schema="restore_backup" + suffix, doc_page=pages["restore"], **common),
    ]


# Error codes of the VBS-native backup operations, by error reason (error_codes; mapping of digest 9.3).
_FORMAT_CODES = {"malformed_json": "VolumeBackup.0002", "missing_body": "VolumeBackup.0002",
                 "bad_encoding": "VolumeBackup.0002", "bad_media_type": "VolumeBackup.0002"}


def _cloudbackups() -> list[Operation]:
    base = "/v2/<project_id>/cloudbackups"
    common: dict[str, Any] = {"family": Family.VBS, "tags": ("vbs", "vbs-native")}
    restore_codes = {"backup_not_found": "VolumeBackup.0111", "volume_not_found": "VolumeBackup.0111",
                     **dict.fromkeys(_FORMAT_CODES, "VolumeBackup.0210")}
    return [
        Operation("create_vbs_backup", "POST", base, cloudbackups.create, request_schema="create_vbs_backup",
                  doc_page="creating_a_vbs_backup", codes={
                      **_FORMAT_CODES, "volume_not_found": "VolumeBackup.0021",
                      "snapshot_not_found": "VolumeBackup.0020", "snapshot_mismatch": "VolumeBackup.0019",
                      "snapshot_status": "VolumeBackup.0062"}, **common),
        Operation("delete_vbs_backup", "POST", f"{base}/<backup_id>", cloudbackups.delete,
                  doc_page="deleting_a_vbs_backup_deprecated",
                  codes={"backup_not_found": "VolumeBackup.0110", "backup_status": "VolumeBackup.0125"}, **common),
        Operation("restore_vbs_backup", "POST", f"{base}/<backup_id>/restore", cloudbackups.restore,
                  request_schema="restore_vbs_backup", doc_page="restoring_a_disk_using_a_vbs_backup",
                  codes=restore_codes, **common),
        Operation("get_quota", "GET", f"{base}/quota", cloudbackups.get_quota, doc_page="querying_quotas",
                  **common),
        Operation("get_job", "GET", "/v1/<project_id>/jobs/<job_id>", cloudbackups.get_job,
                  doc_page="querying_the_job_status", codes={"job_not_found": "common.0011"}, **common),
    ]


def _sharing() -> list[Operation]:
    base = "/v2/<project_id>/os-vendor-backup-sharing"
    codes = {**_FORMAT_CODES, "backup_not_found": "VolumeBackup.0110", "sharing_not_found": "VolumeBackup.0110",
             "backup_status": "VolumeBackup.0089", "share_to_self": "VolumeBackup.0002",
             "already_shared": "VolumeBackup.0002", "shared_backup": "VolumeBackup.0042"}
    common: dict[str, Any] = {"family": Family.VBS, "tags": ("vbs", "sharing"), "codes": codes, "version": "v2"}
    return [
        Operation("share_backup", "POST", base, sharing.create, request_schema="share_backup",
                  doc_page="sharing_a_backup", **common),
        Operation("cancel_sharing", "DELETE", f"{base}/<sharing_id>", sharing.delete, query_schema="cancel_sharing",
                  doc_page="canceling_sharing_of_a_backup", **common),
        Operation("list_sharings", "GET", f"{base}/detail", sharing.list_detail, query_schema="list_sharings",
                  doc_page="querying_backup_sharings", **common),
        Operation("count_sharings", "GET", f"{base}/count", sharing.count, query_schema="count_sharings",
                  doc_page="counting_backup_sharings", **common),
        Operation("get_sharing", "GET", f"{base}/<sharing_id>", sharing.get,
                  doc_page="querying_details_about_a_backup_sharing", **common),
    ]


# Error codes of the backup policy operations by error reason (error_codes; digest 9.3 and docs/policies.md).
_POLICY_FORMAT_CODES = {"missing_body": "AutoBackup.0000", "malformed_json": "AutoBackup.0008",
                        "bad_encoding": "AutoBackup.0008", "bad_media_type": "AutoBackup.0008"}
# Query parameters that cannot be converted or break a rule (backuptasks): the request conversion code.
_POLICY_QUERY_CODES = dict.fromkeys(
    ("not_an_integer", "not_allowed", "out_of_range", "unknown_field", "not_a_string", "bad_marker"),
    "AutoBackup.0008")


def _policies() -> list[Operation]:
    """Backup policies and their tags (api_description/backup_policies; enabling/disabling is the modify row)."""
    base = "/v2/<project_id>/backuppolicy"
    one = f"{base}/<policy_id>"
    missing = {"policy_not_found": "AutoBackup.0205"}  # "The policy does not exist."
    queried = {"policy_not_found": "AutoBackup.1100"}  # "The queried policy does not exist."
    common: dict[str, Any] = {"family": Family.VBS, "tags": ("vbs", "policy")}
    return [
        Operation("create_backup_policy", "POST", base, policies.create, request_schema="create_backup_policy",
                  doc_page="creating_a_backup_policy", codes=_POLICY_FORMAT_CODES, **common),
        Operation("list_backup_policies", "GET", base, policies.list_policies,
                  doc_page="querying_backup_policies", **common),
        Operation("update_backup_policy", "PUT", one, policies.update, request_schema="update_backup_policy",
                  doc_page="modifying_a_backup_policy", codes={**_POLICY_FORMAT_CODES, **missing}, **common),
        Operation("delete_backup_policy", "DELETE", one, policies.delete, 204,
                  doc_page="deleting_a_backup_policy", codes=missing, **common),
        Operation("associate_backup_policy_resources", "POST", "/v2/<project_id>/backuppolicyresources",
                  policies.associate_resources, request_schema="associate_backup_policy_resources",
                  doc_page="associating_resources_with_a_backup_policy", codes={**_POLICY_FORMAT_CODES, **missing},
                  **common),
        Operation("disassociate_backup_policy_resources", "POST",
                  "/v2/<project_id>/backuppolicyresources/<policy_id>/deleted_resources",
                  policies.disassociate_resources, request_schema="disassociate_backup_policy_resources",
                  doc_page="disassociating_resources_from_a_backup_policy",
                  codes={**_POLICY_FORMAT_CODES, **missing}, **common),
        Operation("execute_backup_policy", "POST", f"{one}/action", policies.execute, 204,
                  doc_page="executing_a_backup_policy_at_once", codes=missing, **common),
        Operation("list_backup_policy_tasks", "GET", f"{one}/backuptasks", policies.list_tasks,
                  query_schema="list_backup_policy_tasks",
                  doc_page="querying_backup_jobs_triggered_by_a_backup_policy",
                  codes={**_POLICY_QUERY_CODES, **queried}, **common),
        Operation("add_backup_policy_tag", "POST", f"{one}/tags", policies.add_tag, 204,
                  request_schema="add_backup_policy_tag", doc_page="adding_a_tag_to_a_backup_policy",
                  codes={**_POLICY_FORMAT_CODES, **missing}, **common),
        Operation("delete_backup_policy_tag", "DELETE", f"{one}/tags/<key>", policies.delete_tag, 204,
                  doc_page="removing_a_tag_from_a_backup_policy", codes=missing, **common),
        Operation("list_all_backup_policy_tags", "GET", f"{base}/tags", policies.list_all_tags,
                  doc_page="querying_all_backup_policy_tags", **common),
        Operation("list_backup_policy_tags", "GET", f"{one}/tags", policies.list_tags,
                  doc_page="querying_tags_of_a_backup_policy", codes=queried, **common),
        Operation("batch_backup_policy_tags", "POST", f"{one}/tags/action", policies.batch_tags, 204,
                  request_schema="batch_backup_policy_tags",
                  doc_page="batch_updating_or_removing_tags_of_a_backup_policy",
                  codes={**_POLICY_FORMAT_CODES, **missing}, **common),
        Operation("query_backup_policies_by_tag", "POST", f"{base}/resource_instances/action",
                  policies.query_by_tag, request_schema="query_backup_policies_by_tag",
                  doc_page="querying_backup_policies_by_tag", codes=_POLICY_FORMAT_CODES, **common),
    ]


def _volumes_and_snapshots() -> list[Operation]:
    base = "/v3/<project_id>"
    common: dict[str, Any] = {"version": "v3", "tags": ("cinder",), "doc_page": "cinder (not a VBS page)"}
    listing: dict[str, Any] = {"query_schema": "list_resources", **common}
    return [
        Operation("create_volume", "POST", f"{base}/volumes", native.create_volume, 202,
                  request_schema="create_volume", **common),
        Operation("list_volumes", "GET", f"{base}/volumes", native.list_volumes, **listing),
        Operation("list_volumes_detail", "GET", f"{base}/volumes/detail", native.list_volumes_detail, **listing),
        Operation("get_volume", "GET", f"{base}/volumes/<volume_id>", native.get_volume, **common),
        Operation("delete_volume", "DELETE", f"{base}/volumes/<volume_id>", native.delete_volume, 202, **common),
        Operation("create_snapshot", "POST", f"{base}/snapshots", native.create_snapshot, 202,
                  request_schema="create_snapshot", **common),
        Operation("list_snapshots", "GET", f"{base}/snapshots", native.list_snapshots, **listing),
        Operation("list_snapshots_detail", "GET", f"{base}/snapshots/detail", native.list_snapshots, **listing),
        Operation("get_snapshot", "GET", f"{base}/snapshots/<snapshot_id>", native.get_snapshot, **common),
        Operation("delete_snapshot", "DELETE", f"{base}/snapshots/<snapshot_id>", native.delete_snapshot, 202,
                  **common),
    ]


def _discovery() -> list[Operation]:
    common: dict[str, Any] = {"tags": ("discovery",), "doc_page": "cinder: api-ref/source/versions"}
    return [
        # Cinder answers the version list with 300 Multiple Choices; keystoneauth expects that.
        Operation("list_versions", "GET", "/", native.list_versions, 300, **common),
        Operation("show_version", "GET", "/v3", native.show_version, version="v3", **common),
        Operation("show_version_v2", "GET", "/v2", native.show_version, version="v2", **common),
    ]


def _identity() -> list[Operation]:
    """The fake Keystone v3 (identity.py): version documents and tokens, under ``/identity``."""
    base = identity.PREFIX
    common: dict[str, Any] = {"family": Family.IDENTITY, "tags": ("identity",),
                              "doc_page": "keystone: api-ref/source/v3/authenticate-v3.inc"}
    return [
        Operation("identity_list_versions", "GET", base, identity.list_versions, 300, **common),
        Operation("identity_show_version", "GET", f"{base}/v3", identity.show_version, **common),
        Operation("identity_create_token", "POST", f"{base}/v3/auth/tokens", identity.create_token, 201,
                  request_schema="identity_create_token", **common),
        Operation("identity_validate_token", "GET", f"{base}/v3/auth/tokens", identity.validate_token, **common),
        Operation("identity_revoke_token", "DELETE", f"{base}/v3/auth/tokens", identity.revoke_token, 204,
                  **common),
    ]


def _control() -> list[Operation]:
    base = "/__vbs__"
    common: dict[str, Any] = {"tags": ("control",), "journal": False, "doc_page": "README: control API"}
    return [
        Operation("control_reset", "POST", f"{base}/reset", control.reset, **common),
        Operation("control_requests", "GET", f"{base}/requests", control.requests, **common),
        Operation("control_clear_requests", "DELETE", f"{base}/requests", control.clear_requests, 204, **common),
        Operation("control_state", "GET", f"{base}/state", control.state, **common),
        Operation("control_config", "POST", f"{base}/config", control.configure,
                  request_schema="control_config", **common),
        Operation("control_add_volume", "POST", f"{base}/volumes", control.add_volume, 201,
                  request_schema="control_add_volume", **common),
        Operation("control_add_snapshot", "POST", f"{base}/snapshots", control.add_snapshot, 201,
                  request_schema="control_add_snapshot", **common),
        Operation("control_advance", "POST", f"{base}/advance", control.advance,
                  request_schema="control_advance", **common),
        Operation("control_add_fault", "POST", f"{base}/faults", control.add_fault, 201,
                  request_schema="control_add_fault", **common),
        Operation("control_list_faults", "GET", f"{base}/faults", control.list_faults, **common),
        Operation("control_clear_faults", "DELETE", f"{base}/faults", control.clear_faults, 204, **common),
        Operation("control_openapi", "GET", f"{base}/openapi.json", openapi.serve, **common),
    ]


OPERATIONS: tuple[Operation, ...] = (
    *_native_backups("v3", "", "v3_api"),
    *_native_backups("v2", "_v2", "api_deprecated"),
    *_cloudbackups(),
    *_sharing(),
    *_policies(),
    *_volumes_and_snapshots(),
    *_discovery(),
    *_identity(),
    *_control(),
)

BY_NAME: Mapping[str, Operation] = {op.name: op for op in OPERATIONS}


@functools.cache
def url_map(*, control: bool = True) -> Map:
    """werkzeug routing for the whole table; literal segments (``/detail``) win over ids by werkzeug's
    rule weighting. Trailing slashes are optional (``/v3`` and ``/v3/``). Without ``control`` the
    ``/__vbs__`` routes are left out: they answer 404 like any unknown route.

    Built once per process and shared by every app (matching only reads it)."""
    return Map(
        [Rule(op.rule, endpoint=op.name, methods=[op.method]) for op in OPERATIONS
         if control or "control" not in op.tags],
        strict_slashes=False,
        merge_slashes=False,
    )
