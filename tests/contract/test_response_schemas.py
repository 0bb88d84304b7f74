"""Every response the fake sends matches the documented response schema of its operation.

A table-driven walk (``STEPS``: operation name -> how to call it) drives every operation of
``operations.OPERATIONS`` over real sockets; every answer (the journal's ``response_json``, or the HTTP
response for the unjournaled control routes) is validated: normal answers against
``schemas/responses/<operation>.json``, errors against the family's envelope in
``schemas/response_definitions.json``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from vbs_support import json_refs

from pytest_vbs import FakeVBS, schemas
from pytest_vbs.api import BY_NAME, OPERATIONS
from pytest_vbs.assertions import assert_valid_response
from pytest_vbs.coverage import CoverageRecorder
from pytest_vbs.errors import Family

DEFINITIONS_ID = f"{schemas.BASE_URI}response_definitions.json"
MICROVERSION_3_45 = {"OpenStack-API-Version": "volume 3.45"}
FAIL_REASON = "Connection to swift failed: [Errno 111] ECONNREFUSED"
ALL_BACKUP_STATUSES = {"creating", "available", "deleting", "error", "restoring", "error_restoring"}
#: Paths of the VBS-native family (digest section 1.2): they answer with the {"error": ...} envelope.
VBS_NATIVE_PATH = re.compile(
    r"^/v1/|^/v2/[^/]+/(cloudbackups|backuppolicy|backuppolicyresources|os-vendor-backup-sharing)"
)
#: The fake Keystone: it answers with Keystone's {"error": {"code": <int>, "title": ..., "message": ...}}.
IDENTITY_PATH = re.compile(r"^/identity(/|$)")
ENVELOPES = {Family.NATIVE: "native_error", Family.VBS: "vbs_error", Family.IDENTITY: "identity_error"}


# -- schema files and validators ----------------------------------------------------------------------------
def _schema_root() -> Traversable:
    return resources.files("pytest_vbs") / "schemas"


def _schema_files() -> Iterator[Traversable]:
    root = _schema_root()
    yield from (entry for entry in root.iterdir() if entry.name.endswith(".json"))
    for kind in schemas.KINDS:
        if (root / kind).is_dir():
            yield from (entry for entry in (root / kind).iterdir() if entry.name.endswith(".json"))


def _documents() -> dict[str, dict[str, Any]]:
    documents = [json.loads(entry.read_text(encoding="utf-8")) for entry in _schema_files()]
    return {document["$id"]: document for document in documents}


def _registry() -> Registry[Any]:
    return Registry().with_resources((uri, Resource.from_contents(doc)) for uri, doc in _documents().items())


def definition_violations(name: str, instance: Any) -> list[str]:
    """Messages of every rule ``instance`` breaks in ``response_definitions.json#/$defs/<name>``."""
    validator = Draft202012Validator({"$ref": f"{DEFINITIONS_ID}#/$defs/{name}"}, registry=_registry())
    return [f"{'.'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}" for e in validator.iter_errors(instance)]


def response_files() -> list[str]:
    return sorted(entry.name for entry in (_schema_root() / "responses").iterdir() if entry.name.endswith(".json"))


# -- answers and the walk ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """One answered request: which operation answered it, with what status and body, on which path."""

    operation: str
    status: int
    body: Any
    path: str

    @property
    def family(self) -> Family:
        if self.operation in BY_NAME:
            return BY_NAME[self.operation].family
        if IDENTITY_PATH.match(self.path):
            return Family.IDENTITY
        return Family.VBS if VBS_NATIVE_PATH.match(self.path) else Family.NATIVE


def problems_of(answer: Answer) -> list[str]:
    """Why ``answer`` does not match its documented shape (empty when it does)."""
    where = f"{answer.operation} {answer.status} {answer.path}"
    if answer.status >= 400:
        envelope = ENVELOPES[answer.family]
        found = definition_violations(envelope, answer.body)
        if answer.family is Family.NATIVE and not found:
            (inner,) = answer.body.values()
            if inner["code"] != answer.status:
                found = [f"code {inner['code']} is not the HTTP status"]
        if answer.family is Family.IDENTITY and not found and answer.body["error"]["code"] != answer.status:
            found = [f"code {answer.body['error']['code']} is not the HTTP status"]
        return [f"{where}: {envelope}: {problem}" for problem in found]
    return [f"{where}: {v.path or '<body>'} {v.rule} ({v.value!r})"
            for v in schemas.violations("responses", answer.operation, answer.body)]


def body_of(response: requests.Response) -> Any:
    return response.json() if response.content else None


@dataclass
class Walk:
    """What a step gets: the fake, an HTTP client, and helpers that build state through the API."""

    vbs: FakeVBS
    http: requests.Session
    answers: list[Answer] = field(default_factory=list)

    def endpoint(self, version: str = "v3") -> str:
        return self.vbs.endpoint if version == "v3" else self.vbs.endpoint_v2

    def control_url(self, path: str) -> str:
        return f"{self.vbs.url}/__vbs__/{path}"

    def disk(self, size: int = 10, name: str | None = "walk-disk") -> str:
        return self.vbs.add_volume(size=size, name=name)

    def backup(self, version: str = "v3", volume_id: str | None = None, **fields: Any) -> str:
        """A backup made through the create API, from a fresh snapshot of ``volume_id`` (or of a new disk)."""
        volume_id = volume_id or self.disk()
        spec = {"volume_id": volume_id, "snapshot_id": self.vbs.add_snapshot(volume_id), **fields}
        created = self.http.post(f"{self.endpoint(version)}/backups", json={"backup": spec})
        assert created.status_code == 202, created.text
        return str(created.json()["backup"]["id"])

    def restore(
        self, backup_id: str, version: str = "v3", target_name: str | None = "walk-target"
    ) -> requests.Response:
        target = self.disk(name=target_name)
        return self.http.post(f"{self.endpoint(version)}/backups/{backup_id}/restore",
                              json={"restore": {"volume_id": target}})

    def populate(self, version: str = "v3") -> list[str]:
        """Backups in all six statuses, with names/descriptions set and null, full and incremental."""
        disk = self.disk()
        deleting = self.backup(version, disk, name="walk_1", description="first backup")
        restoring = self.backup(version, disk)  # incremental; no name nor description: both null
        available = self.backup(version, self.disk(size=20))
        error_restoring = self.backup(version, self.disk())
        self.vbs.set_transitions("manual")
        error = self.backup(version, self.disk(), name="walk_failed")
        assert self.vbs.advance(error, fail_reason=FAIL_REASON) == 1
        creating = self.backup(version, self.disk())
        assert self.restore(restoring, version).status_code == 202
        assert self.restore(error_restoring, version).status_code == 202
        assert self.vbs.advance(error_restoring, fail_reason=FAIL_REASON) == 1
        assert self.http.delete(f"{self.endpoint(version)}/backups/{deleting}").status_code == 202
        self.vbs.set_transitions("immediate")
        backups = [deleting, restoring, available, error_restoring, error, creating]
        statuses = {self.vbs.backups[b].status for b in backups}
        assert statuses == ALL_BACKUP_STATUSES
        return backups


Step = Callable[[Walk], list[requests.Response]]


def _create_backup(version: str) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        disk = walk.disk()
        responses = []
        for extra in ({"name": "walk_backup", "description": "Backup_Demo"}, {}):
            spec = {"volume_id": disk, "snapshot_id": walk.vbs.add_snapshot(disk), **extra}
            responses.append(walk.http.post(f"{walk.endpoint(version)}/backups", json={"backup": spec}))
        return responses

    return step


def _list_backups(version: str, detail: bool) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        walk.populate(version)
        url = f"{walk.endpoint(version)}/backups" + ("/detail" if detail else "")
        everything = walk.http.get(url)
        first_page = walk.http.get(url, params={"limit": 2})
        assert first_page.status_code == 200, first_page.text
        (next_link,) = first_page.json()["backups_links"]
        second_page = walk.http.get(next_link["href"])
        empty = walk.http.get(url, params={"name": "no-such-backup"})
        responses = [everything, first_page, second_page, empty]
        if version == "v3":
            counted = walk.http.get(url, params={"with_count": "true", "limit": "1"}, headers=MICROVERSION_3_45)
            assert counted.status_code == 200, counted.text
            assert counted.json()["count"] == 6
            responses.append(counted)
        assert len(everything.json()["backups"]) == 6
        assert empty.json() == {"backups": []}
        return responses

    return step


def _get_backup(version: str) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        return [walk.http.get(f"{walk.endpoint(version)}/backups/{b}") for b in walk.populate(version)]

    return step


def _delete_backup(version: str) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        backup = walk.backup(version)
        deleted = walk.http.delete(f"{walk.endpoint(version)}/backups/{backup}")
        assert walk.http.get(f"{walk.endpoint(version)}/backups/{backup}").status_code == 404  # gone: an error answer
        return [deleted]

    return step


def _restore_backup(version: str) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        backup = walk.backup(version)
        named = walk.restore(backup, version)
        unnamed = walk.restore(backup, version, target_name=None)  # volume_name null, as in Cinder
        assert unnamed.json()["restore"]["volume_name"] is None
        return [named, unnamed]

    return step


def _create_volume(version: str) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        url = f"{walk.endpoint(version)}/volumes"
        return [
            walk.http.post(url, json={"volume": {"size": 5, "name": "walk-vol", "description": "d",
                                                 "availability_zone": "eu-de-02"}}),
            walk.http.post(url, json={"volume": {"size": 1}}),
        ]

    return step


def _list_volumes(version: str, detail: bool) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        walk.disk()
        walk.disk(name=None)
        url = f"{walk.endpoint(version)}/volumes" + ("/detail" if detail else "")
        return [walk.http.get(url), walk.http.get(url, params={"limit": 1, "offset": 1})]

    return step


def _get_volume(version: str) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        return [walk.http.get(f"{walk.endpoint(version)}/volumes/{walk.disk(name=name)}")
                for name in ("walk-disk", None)]

    return step


def _delete_volume(version: str) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        return [walk.http.delete(f"{walk.endpoint(version)}/volumes/{walk.disk()}")]

    return step


def _create_snapshot(version: str) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        disk = walk.disk()
        url = f"{walk.endpoint(version)}/snapshots"
        return [
            walk.http.post(url, json={"snapshot": {"volume_id": disk, "name": "walk-snap", "description": "s"}}),
            walk.http.post(url, json={"snapshot": {"volume_id": disk}}),
        ]

    return step


def _list_snapshots(version: str, detail: bool) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        disk = walk.disk()
        walk.vbs.add_snapshot(disk, name="walk-snap")
        walk.vbs.add_snapshot(disk, status="creating")
        url = f"{walk.endpoint(version)}/snapshots" + ("/detail" if detail else "")
        return [walk.http.get(url), walk.http.get(url, params={"limit": 1})]

    return step


def _get_snapshot(version: str) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        return [walk.http.get(f"{walk.endpoint(version)}/snapshots/{walk.vbs.add_snapshot(walk.disk())}")]

    return step


def _delete_snapshot(version: str) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        return [walk.http.delete(f"{walk.endpoint(version)}/snapshots/{walk.vbs.add_snapshot(walk.disk())}")]

    return step


def _get(path: str) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        return [walk.http.get(f"{walk.vbs.url}{path}")]

    return step


def _control_reset(walk: Walk) -> list[requests.Response]:
    walk.backup()
    return [walk.http.post(walk.control_url("reset"))]


def _control_requests(walk: Walk) -> list[requests.Response]:
    walk.backup()
    walk.http.get(f"{walk.vbs.endpoint}/backups/no-such-backup")
    answered = walk.http.get(walk.control_url("requests"))
    assert len(answered.json()["requests"]) == 2
    return [answered]


def _control_clear_requests(walk: Walk) -> list[requests.Response]:
    walk.backup()
    return [walk.http.delete(walk.control_url("requests"))]


def _control_state(walk: Walk) -> list[requests.Response]:
    walk.populate()
    walk.vbs.for_project("another-project").add_volume(name=None)
    return [walk.http.get(walk.control_url("state"))]


def _control_config(walk: Walk) -> list[requests.Response]:
    return [
        walk.http.post(walk.control_url("config"), json={"transitions": "reads", "reads": 2}),
        walk.http.post(walk.control_url("config"), json={}),
    ]


def _control_add_volume(walk: Walk) -> list[requests.Response]:
    url = walk.control_url("volumes")
    return [
        walk.http.post(url, json={"project_id": walk.vbs.project_id}),
        walk.http.post(url, json={"project_id": walk.vbs.project_id, "size": 40, "status": "in-use", "name": "seeded"}),
    ]


def _control_add_snapshot(walk: Walk) -> list[requests.Response]:
    body = {"project_id": walk.vbs.project_id, "volume_id": walk.disk()}
    return [walk.http.post(walk.control_url("snapshots"), json=body)]


def _control_advance(walk: Walk) -> list[requests.Response]:
    walk.vbs.set_transitions("manual")
    pending = walk.backup()
    url = walk.control_url("advance")
    return [
        walk.http.post(url, json={"project_id": walk.vbs.project_id, "backup_id": pending}),
        walk.http.post(url, json={}),
    ]


def _control_add_fault(walk: Walk) -> list[requests.Response]:
    url = walk.control_url("faults")
    added = [
        walk.http.post(url, json={"operation": "get_backup", "status": 503, "times": 1, "retry_after": 3}),
        walk.http.post(url, json={"operation": "*", "delay": [0, 0.001], "seed": 7}),
    ]
    backup = walk.backup()
    assert walk.http.get(f"{walk.vbs.endpoint}/backups/{backup}").status_code == 503  # an injected error answer
    return added


def _control_list_faults(walk: Walk) -> list[requests.Response]:
    walk.vbs.fail("create_backup", 409, nth=2, message="conflict", code="VolumeBackup.0013")
    walk.vbs.fail(fault="connection_reset", probability=0.0, method="GET", path="/backups")
    return [walk.http.get(walk.control_url("faults"))]


def _control_clear_faults(walk: Walk) -> list[requests.Response]:
    walk.vbs.fail("get_backup", 500)
    return [walk.http.delete(walk.control_url("faults"))]


def _control_coverage(walk: Walk) -> list[requests.Response]:
    """The vbs fixture's fake records no coverage (404): a fake that does, driven once."""
    with FakeVBS(coverage=CoverageRecorder()) as fake:
        fake.plugin_manager.register(fake.coverage)
        walk.http.get(f"{fake.endpoint}/backups")
        return [walk.http.get(f"{fake.url}/__vbs__/coverage")]


def _cloudbackups(walk: Walk) -> str:
    return f"{walk.vbs.endpoint_v2}/cloudbackups"


def _job(walk: Walk, response: requests.Response) -> requests.Response:
    assert response.status_code == 200, response.text
    return walk.http.get(f"{walk.vbs.url}/v1/{walk.vbs.project_id}/jobs/{response.json()['job_id']}")


def _create_vbs_backup(walk: Walk) -> list[requests.Response]:
    disk = walk.disk()
    full = {"volume_id": disk, "snapshot_id": walk.vbs.add_snapshot(disk), "name": "vbs_full",
            "description": "Backup_Demo", "tags": [{"key": "env", "value": "test"}],
            "extend_param": {"FullBackup": "true"}}
    responses = [walk.http.post(_cloudbackups(walk), json={"backup": spec})
                 for spec in (full, {"volume_id": disk, "name": "vbs_incremental"})]
    for response in responses:  # the backups they made, through the native API: JSON-text descriptions, no snapshot
        backup_id = _job(walk, response).json()["entities"]["backup_id"]
        for endpoint in (walk.vbs.endpoint, walk.vbs.endpoint_v2):
            assert walk.http.get(f"{endpoint}/backups/{backup_id}").status_code == 200
    return responses


def _delete_vbs_backup(walk: Walk) -> list[requests.Response]:
    return [walk.http.post(f"{_cloudbackups(walk)}/{walk.backup()}")]


def _restore_vbs_backup(walk: Walk) -> list[requests.Response]:
    body = {"restore": {"volume_id": walk.disk(name="walk-target")}}
    return [walk.http.post(f"{_cloudbackups(walk)}/{walk.backup()}/restore", json=body)]


def _get_job(walk: Walk) -> list[requests.Response]:
    """Jobs of all three types, in every status: INIT/RUNNING (manual transitions), SUCCESS and FAIL."""
    walk.vbs.set_transitions("manual")
    url = _cloudbackups(walk)
    disk = walk.disk()
    created = walk.http.post(url, json={"backup": {"volume_id": disk, "name": "vbs_job"}})
    jobs = [_job(walk, created), _job(walk, created)]
    walk.vbs.advance()
    jobs.append(_job(walk, created))
    failing = walk.http.post(url, json={"backup": {"volume_id": walk.disk(), "name": "vbs_failing"}})
    walk.vbs.advance(fail_reason=FAIL_REASON)
    jobs.append(_job(walk, failing))
    backup = jobs[-2].json()["entities"]["backup_id"]
    jobs.append(_job(walk, walk.http.post(f"{url}/{backup}/restore",
                                          json={"restore": {"volume_id": walk.disk(name="walk-target")}})))
    walk.vbs.advance()
    jobs.append(_job(walk, walk.http.post(f"{url}/{backup}")))
    walk.vbs.advance()
    statuses = {job.json()["status"] for job in jobs}
    assert {"SUCCESS", "FAIL"} <= statuses, statuses
    assert statuses & {"INIT", "RUNNING"}, statuses
    return [*jobs, _job(walk, created)]


def _get_quota(walk: Walk) -> list[requests.Response]:
    url = f"{_cloudbackups(walk)}/quota"
    empty = walk.http.get(url)
    walk.populate()
    return [empty, walk.http.get(url)]


def _identity(walk: Walk, path: str = "") -> str:
    return f"{walk.vbs.url}/identity{path}"


def _password_auth(scope: Any = None) -> dict[str, Any]:
    user = {"name": "vbs-user", "domain": {"name": "Default"}, "password": "vbs-password"}
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": user}}}
    if scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


def _identity_create_token(walk: Walk) -> list[requests.Response]:
    url = _identity(walk, "/v3/auth/tokens")
    project = {"project": {"id": walk.vbs.project_id}}
    responses = [walk.http.post(url, json=_password_auth(scope)) for scope in
                 (project, "unscoped", {"domain": {"name": "Default"}}, None)]
    responses.append(walk.http.post(f"{url}?nocatalog", json=_password_auth(project)))
    token = responses[0].headers["X-Subject-Token"]
    by_token = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}, "scope": project}}
    responses.append(walk.http.post(url, json=by_token))
    return responses


def _subject_headers(walk: Walk) -> dict[str, str]:
    return {"X-Auth-Token": walk.vbs.issue_token(), "X-Subject-Token": walk.vbs.issue_token()}


def _identity_validate_token(walk: Walk) -> list[requests.Response]:
    return [walk.http.get(_identity(walk, "/v3/auth/tokens"), headers=_subject_headers(walk))]


def _identity_revoke_token(walk: Walk) -> list[requests.Response]:
    return [walk.http.delete(_identity(walk, "/v3/auth/tokens"), headers=_subject_headers(walk))]


OTHER_PROJECTS = ["722513ed0a324dadaabe5b2d0fe848c9", "722513ed0a324dadaabe5b2d0fe84919"]


def _sharings(walk: Walk, project_id: str | None = None) -> str:
    return f"{walk.vbs.url}/v2/{project_id or walk.vbs.project_id}/os-vendor-backup-sharing"


def _share(walk: Walk) -> list[str]:
    """Share two backups (a native one, a /cloudbackups one without snapshot) with two projects; the sharing ids."""
    native = walk.backup()
    made = walk.http.post(_cloudbackups(walk), json={"backup": {"volume_id": walk.disk(), "name": "vbs_shared"}})
    vbs_native = _job(walk, made).json()["entities"]["backup_id"]
    ids = []
    for backup in (native, vbs_native):
        body = {"shared": {"backup_id": backup, "to_project_ids": OTHER_PROJECTS}}
        shared = walk.http.post(_sharings(walk), json=body)
        assert shared.status_code == 200, shared.text
        ids += [s["id"] for s in shared.json()["shared"]]
    return ids


def _share_backup(walk: Walk) -> list[requests.Response]:
    body = {"shared": {"backup_id": walk.backup(), "to_project_ids": OTHER_PROJECTS}}
    return [walk.http.post(_sharings(walk), json=body)]


def _cancel_sharing(walk: Walk) -> list[requests.Response]:
    first, _, third, _ = _share(walk)
    backup = walk.http.get(f"{_sharings(walk)}/{third}").json()["shared"]["backup_id"]
    return [walk.http.delete(f"{_sharings(walk)}/{first}"),
            walk.http.delete(f"{_sharings(walk)}/{backup}", params={"is_backup_id": "true"})]


def _list_sharings(walk: Walk) -> list[requests.Response]:
    _share(walk)
    url = f"{_sharings(walk)}/detail"
    received = f"{_sharings(walk, OTHER_PROJECTS[0])}/detail"
    answers = [walk.http.get(url), walk.http.get(url, params={"limit": "1", "sort_key": "name", "sort_dir": "asc"}),
               walk.http.get(received, params={"share_to_me": "true"}), walk.http.get(received)]
    assert len(answers[0].json()["shared"]) == 4
    return answers


def _count_sharings(walk: Walk) -> list[requests.Response]:
    _share(walk)
    received = f"{_sharings(walk, OTHER_PROJECTS[1])}/count"
    return [walk.http.get(f"{_sharings(walk)}/count"), walk.http.get(received, params={"share_to_me": "true"})]


def _get_sharing(walk: Walk) -> list[requests.Response]:
    ids = _share(walk)
    return [*(walk.http.get(f"{_sharings(walk)}/{sharing}") for sharing in ids),
            walk.http.get(f"{_sharings(walk, OTHER_PROJECTS[0])}/{ids[0]}")]


# -- backup policies (api_description/backup_policies) --------------------------------------------------------------
def _policies_url(walk: Walk, suffix: str = "") -> str:
    return f"{walk.vbs.endpoint_v2}/backuppolicy{suffix}"


def _policy(walk: Walk, **settings: Any) -> str:
    """A seeded policy with one available volume and the given settings (``tags`` a dict)."""
    return walk.vbs.add_policy("walk_policy", volumes=[walk.disk()], **settings)


def _create_backup_policy(walk: Walk) -> list[requests.Response]:
    daily = {"start_time": "12:00", "frequency": 1, "rentention_num": 3, "status": "ON"}
    weekly = {"start_time": "22:00,00:00", "week_frequency": ["MON"], "rentention_day": 7.5, "status": "OFF",
              "remain_first_backup_of_curMonth": "Y"}
    return [
        walk.http.post(_policies_url(walk), json={"backup_policy_name": "walk_daily", "scheduled_policy": daily}),
        walk.http.post(_policies_url(walk), json={"backup_policy_name": "walk_weekly", "scheduled_policy": weekly,
                                                  "tags": [{"key": "k", "value": "v"}], "time_zone": "UTC+02:00"}),
    ]


def _list_backup_policies(walk: Walk) -> list[requests.Response]:
    _policy(walk)
    walk.vbs.add_policy("walk_weekly", week_frequency=["SUN", "WED"], rentention_day=30, time_zone="UTC-03:00")
    return [walk.http.get(_policies_url(walk))]


def _update_backup_policy(walk: Walk) -> list[requests.Response]:
    url = _policies_url(walk, f"/{_policy(walk)}")
    return [walk.http.put(url, json={"backup_policy_name": "walk_renamed", "time_zone": "UTC+08:00"}),
            walk.http.put(url, json={"scheduled_policy": {"week_frequency": ["MON"], "rentention_day": 9}})]


def _delete_backup_policy(walk: Walk) -> list[requests.Response]:
    return [walk.http.delete(_policies_url(walk, f"/{_policy(walk)}"))]


def _associate_backup_policy_resources(walk: Walk) -> list[requests.Response]:
    resources = [{"resource_id": volume, "resource_type": "volume"}
                 for volume in (walk.disk(), "no-such-volume", walk.vbs.add_volume(status="error"))]
    return [walk.http.post(f"{walk.vbs.endpoint_v2}/backuppolicyresources",
                           json={"backup_policy_id": walk.vbs.add_policy(), "resources": resources})]


def _disassociate_backup_policy_resources(walk: Walk) -> list[requests.Response]:
    policy_id = _policy(walk)
    volume = walk.vbs.policies[policy_id].volume_ids[0]
    resources = [{"resource_id": volume}, {"resource_id": "no-such-volume"}]
    return [walk.http.post(f"{walk.vbs.endpoint_v2}/backuppolicyresources/{policy_id}/deleted_resources",
                           json={"resources": resources})]


def _execute_backup_policy(walk: Walk) -> list[requests.Response]:
    return [walk.http.post(_policies_url(walk, f"/{_policy(walk)}/action"))]


def _list_backup_policy_tasks(walk: Walk) -> list[requests.Response]:
    broken = walk.disk()
    policy_id = walk.vbs.add_policy("walk_policy", volumes=[walk.disk(), broken])
    walk.vbs.state.volume(walk.vbs.project_id, broken).status = "error"  # after association: its backup fails
    walk.vbs.set_transitions("manual")
    assert walk.http.post(_policies_url(walk, f"/{policy_id}/action")).status_code == 204  # RUNNING, EXECUTE_FAIL
    running = walk.http.get(_policies_url(walk, f"/{policy_id}/backuptasks"))
    walk.vbs.advance()
    walk.vbs.set_transitions("immediate")
    finished = walk.http.get(_policies_url(walk, f"/{policy_id}/backuptasks"), params={"limit": 1, "sort_dir": "asc"})
    return [running, finished]


def _policy_tags_step(method: str, suffix: str, sent: Any = None) -> Step:
    def step(walk: Walk) -> list[requests.Response]:
        policy_id = _policy(walk, tags={"env": "prod", "team": "db"})
        return [walk.http.request(method, _policies_url(walk, f"/{policy_id}/{suffix}"), json=sent)]

    return step


def _list_all_backup_policy_tags(walk: Walk) -> list[requests.Response]:
    _policy(walk, tags={"env": "prod"})
    walk.vbs.add_policy("walk_dev", tags={"env": "dev", "app": "web"})
    return [walk.http.get(_policies_url(walk, "/tags"))]


def _query_backup_policies_by_tag(walk: Walk) -> list[requests.Response]:
    _policy(walk, tags={"env": "prod"})
    walk.vbs.add_policy("walk_untagged")
    url = _policies_url(walk, "/resource_instances/action")
    return [walk.http.post(url, json={"action": "filter", "limit": "10", "offset": "0",
                                      "tags": [{"key": "env", "values": ["prod"]}]}),
            walk.http.post(url, json={"action": "filter"}),
            walk.http.post(url, json={"action": "count"})]


#: How to drive each operation: one entry per row of the operation table (checked below).
STEPS: dict[str, Step] = {
    **{f"create_backup{s}": _create_backup(v) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"list_backups{s}": _list_backups(v, detail=False) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"list_backups_detail{s}": _list_backups(v, detail=True) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"get_backup{s}": _get_backup(v) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"delete_backup{s}": _delete_backup(v) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"restore_backup{s}": _restore_backup(v) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"create_volume{s}": _create_volume(v) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"list_volumes{s}": _list_volumes(v, detail=False) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"list_volumes_detail{s}": _list_volumes(v, detail=True) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"get_volume{s}": _get_volume(v) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"delete_volume{s}": _delete_volume(v) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"create_snapshot{s}": _create_snapshot(v) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"list_snapshots{s}": _list_snapshots(v, detail=False) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"list_snapshots_detail{s}": _list_snapshots(v, detail=True) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"get_snapshot{s}": _get_snapshot(v) for v, s in (("v3", ""), ("v2", "_v2"))},
    **{f"delete_snapshot{s}": _delete_snapshot(v) for v, s in (("v3", ""), ("v2", "_v2"))},
    "list_versions": _get("/"),
    "show_version": _get("/v3"),
    "show_version_v2": _get("/v2"),
    "control_reset": _control_reset,
    "control_requests": _control_requests,
    "control_clear_requests": _control_clear_requests,
    "control_state": _control_state,
    "control_config": _control_config,
    "control_add_volume": _control_add_volume,
    "control_add_snapshot": _control_add_snapshot,
    "control_advance": _control_advance,
    "control_add_fault": _control_add_fault,
    "control_list_faults": _control_list_faults,
    "control_clear_faults": _control_clear_faults,
    "control_openapi": _get("/__vbs__/openapi.json"),
    "control_coverage": _control_coverage,
    "create_vbs_backup": _create_vbs_backup,
    "delete_vbs_backup": _delete_vbs_backup,
    "restore_vbs_backup": _restore_vbs_backup,
    "get_job": _get_job,
    "get_quota": _get_quota,
    "identity_list_versions": _get("/identity"),
    "identity_show_version": _get("/identity/v3"),
    "identity_create_token": _identity_create_token,
    "identity_validate_token": _identity_validate_token,
    "identity_revoke_token": _identity_revoke_token,
    "share_backup": _share_backup,
    "cancel_sharing": _cancel_sharing,
    "list_sharings": _list_sharings,
    "count_sharings": _count_sharings,
    "get_sharing": _get_sharing,
    "create_backup_policy": _create_backup_policy,
    "list_backup_policies": _list_backup_policies,
    "update_backup_policy": _update_backup_policy,
    "delete_backup_policy": _delete_backup_policy,
    "associate_backup_policy_resources": _associate_backup_policy_resources,
    "disassociate_backup_policy_resources": _disassociate_backup_policy_resources,
    "execute_backup_policy": _execute_backup_policy,
    "list_backup_policy_tasks": _list_backup_policy_tasks,
    "add_backup_policy_tag": _policy_tags_step("POST", "tags", {"tag": {"key": "owner", "value": "walk"}}),
    "delete_backup_policy_tag": _policy_tags_step("DELETE", "tags/env"),
    "list_all_backup_policy_tags": _list_all_backup_policy_tags,
    "list_backup_policy_tags": _policy_tags_step("GET", "tags"),
    "batch_backup_policy_tags": _policy_tags_step("POST", "tags/action",
                                                  {"action": "delete", "tags": [{"key": "env"}]}),
    "query_backup_policies_by_tag": _query_backup_policies_by_tag,
}


def run_step(walk: Walk, name: str) -> list[Answer]:
    """Drive operation ``name`` on a clean fake; every answer the fake gave meanwhile."""
    walk.vbs.reset()
    operation = BY_NAME[name]
    responses = STEPS[name](walk)
    assert responses, f"the step of {name} sent no request"
    for response in responses:
        assert response.status_code == operation.status, f"{name}: {response.status_code} {response.text}"
    answers = [Answer(e.operation, e.status, e.response_json, e.path) for e in walk.vbs.requests]
    if not operation.journal:  # control routes are not journaled: take their HTTP answers
        answers += [Answer(name, r.status_code, body_of(r), urlsplit(r.url).path) for r in responses]
    return answers


# -- the walk ---------------------------------------------------------------------------------------------------
def test_every_operation_has_a_walk_step_and_a_response_schema() -> None:
    names = {op.name for op in OPERATIONS}
    assert sorted(STEPS) == sorted(names), "add a STEPS entry for every operation (and only for those)"
    assert schemas.schema_names("responses") == sorted(names), "add schemas/responses/<operation>.json"
    assert response_files() == sorted(f"{name}.json" for name in names)


def test_walk_covers_every_operation(vbs: FakeVBS, http: requests.Session) -> None:
    walk = Walk(vbs, http)
    answered: set[str] = set()
    for name in STEPS:
        answered |= {a.operation for a in run_step(walk, name) if a.operation in BY_NAME
                     and a.status == BY_NAME[a.operation].status}
    missing = sorted({op.name for op in OPERATIONS} - answered)
    assert not missing, f"operations never answered normally by the walk: {missing}"


@pytest.mark.parametrize("name", sorted(STEPS))
def test_every_answer_matches_its_schema(vbs: FakeVBS, http: requests.Session, name: str) -> None:
    answers = run_step(Walk(vbs, http), name)
    assert any(a.operation == name and a.status == BY_NAME[name].status for a in answers)
    problems = [problem for answer in answers for problem in problems_of(answer)]
    assert not problems, "\n".join(problems)


def test_walk_shows_the_optional_parts(vbs: FakeVBS, http: requests.Session) -> None:
    """The optional pieces of the schemas (links, count, every status, nulls) were really exercised."""
    walk = Walk(vbs, http)
    answers = run_step(walk, "list_backups_detail") + run_step(walk, "list_backups_detail_v2")
    bodies = [a.body for a in answers if a.operation.startswith("list_backups_detail") and a.status == 200]
    assert any("backups_links" in b for b in bodies)
    assert any("count" in b for b in bodies)
    backups = [backup for b in bodies for backup in b["backups"]]
    assert {b["status"] for b in backups} == ALL_BACKUP_STATUSES
    for key in ("name", "description", "fail_reason"):
        assert {b[key] is None for b in backups} == {True, False}, key
    assert {b["is_incremental"] for b in backups} == {True, False}
    assert {b["has_dependent_backups"] for b in backups} == {True, False}


# -- schemas reject what the pages do not document ------------------------------------------------------------
_DROP = object()


def _edit(*path: str | int, value: Any = _DROP) -> Callable[[Any], Any]:
    """A copy of the body with the field at ``path`` removed (or set to ``value``)."""

    def edit(body: Any) -> Any:
        body = copy.deepcopy(body)
        *parents, last = path
        node = body
        for part in parents:
            node = node[part]
        if value is _DROP:
            del node[last]
        else:
            node[last] = value
        return body

    return edit


MUTATIONS: list[tuple[str, str, Callable[[Any], Any]]] = [
    # (operation, what is wrong, how to make a real body wrong)
    ("get_backup", "missing id", _edit("backup", "id")),
    ("get_backup", "unknown status", _edit("backup", "status", value="done")),
    ("get_backup", "size as a string", _edit("backup", "size", value="10")),
    ("get_backup", "timestamp with a zone", _edit("backup", "created_at", value="2019-03-27T12:36:17Z")),
    ("get_backup", "timestamp with a newline", _edit("backup", "created_at", value="2019-03-27T12:36:17.596602\n")),
    ("get_backup", "undocumented field (Cinder 3.56's user_id)", _edit("backup", "user_id", value="u")),
    ("get_backup", "metadata value not a string", _edit("backup", "metadata", value={"k": 1})),
    ("get_backup", "v2 owner key on V3", _edit("backup", "os-bak-tenant-attr:tenant_id", value="p")),
    ("get_backup", "one link only", _edit("backup", "links", 1)),
    ("get_backup", "links swapped", _edit("backup", "links", 0, "rel", value="bookmark")),
    ("get_backup", "has_dependent_backups null", _edit("backup", "has_dependent_backups", value=None)),
    ("get_backup", "snapshot_id empty", _edit("backup", "snapshot_id", value="")),
    ("get_backup_v2", "missing service_metadata", _edit("backup", "service_metadata")),
    ("get_backup_v2", "service_metadata as an object", _edit("backup", "service_metadata", value={})),
    ("get_backup_v2", "V3 owner key on v2", _edit("backup", "os-backup-project-attr:project_id", value="p")),
    ("list_backups", "count as a string", _edit("count", value="3")),
    ("list_backups", "next link without marker", _edit("backups_links", value=[{"href": "http://h/x", "rel": "next"}])),
    ("list_backups", "detail field in the summary list", _edit("backups", 0, "status", value="available")),
    ("list_backups_v2", "count on v2", _edit("count", value=1)),
    ("create_backup", "missing links", _edit("backup", "links")),
    ("restore_backup", "missing volume_name", _edit("restore", "volume_name")),
    ("restore_backup", "volume_name not a string", _edit("restore", "volume_name", value=7)),
    ("delete_backup", "a body on delete", lambda _: {}),
    ("show_version", "unknown version status", _edit("versions", 0, "status", value="BETA")),
    ("show_version", "a single version object (not Cinder's list)", lambda body: {"version": body["versions"][0]}),
    ("control_advance", "negative count", _edit("advanced", value=-1)),
    ("create_vbs_backup", "job id not hex", _edit("job_id", value="job-1")),
    ("get_job", "unknown job status", _edit("status", value="DONE")),
    ("get_job", "finished job without end_time", _edit("end_time", value=None)),
    ("get_job", "Cinder timestamp", _edit("begin_time", value="2016-01-28T16:14:09.466000")),
    ("get_quota", "unknown quota type", _edit("quotas", "resources", 0, "type", value="backup_ gigabytes")),
    ("identity_create_token", "project without roles", _edit("token", "roles")),
    ("identity_show_version", "Cinder version status", _edit("version", "status", value="CURRENT")),
    ("share_backup", "shared as a dict", lambda body: {"shared": body["shared"][0]}),
    ("get_sharing", "links in the shared backup", _edit("shared", "backup", "links", value=[])),
    ("get_sharing", "size null", _edit("shared", "backup", "size", value=None)),
    ("count_sharings", "negative count", _edit("count", value=-1)),
]


@pytest.mark.parametrize(("name", "change", "mutate"), MUTATIONS, ids=[f"{m[0]}-{m[1]}" for m in MUTATIONS])
def test_schemas_reject_undocumented_shapes(
    vbs: FakeVBS, http: requests.Session, name: str, change: str, mutate: Callable[[Any], Any]
) -> None:
    answers = [a for a in run_step(Walk(vbs, http), name) if a.operation == name and a.status < 300]
    original = answers[-1].body
    assert schemas.violations("responses", name, original) == []
    assert schemas.violations("responses", name, mutate(original)), f"{name}: {change} was accepted"


def test_service_metadata_is_json_text_of_the_documented_keys(vbs: FakeVBS, http: requests.Session) -> None:
    answers = run_step(Walk(vbs, http), "get_backup_v2")
    metadata = [a.body["backup"]["service_metadata"] for a in answers if a.operation == "get_backup_v2"]
    content_schema = _documents()[DEFINITIONS_ID]["$defs"]["service_metadata"]["contentSchema"]
    validator = Draft202012Validator(content_schema)
    assert len(metadata) == 6
    for text in metadata:
        decoded = json.loads(text)
        assert [e.message for e in validator.iter_errors(decoded)] == []
        assert decoded["Type"] in (0, 1)


# -- error envelopes ------------------------------------------------------------------------------------------
ERRORS: list[tuple[str, str, Any, int, str, str]] = [
    # (method, path under the server with {p} for the project, JSON body, status, envelope, its key)
    ("POST", "/v3/{p}/backups", {"backup": {"volume_id": "v"}}, 400, "native_error", "badRequest"),
    ("POST", "/v2/{p}/backups", {"backup": {"volume_id": "v", "snapshot_id": "s", "name": "auto_1"}}, 400,
     "native_error", "badRequest"),
    ("GET", "/v3/{p}/backups?limit=many", None, 400, "native_error", "badRequest"),
    ("GET", "/v3/{p}/backups/no-such-backup", None, 404, "native_error", "itemNotFound"),
    ("DELETE", "/v2/{p}/backups/no-such-backup", None, 404, "native_error", "itemNotFound"),
    ("POST", "/v3/{p}/backups/no-such-backup/restore", {"restore": {"volume_id": "v"}}, 404, "native_error",
     "itemNotFound"),
    ("GET", "/v3/{p}/volumes/no-such-volume", None, 404, "native_error", "itemNotFound"),
    ("GET", "/v3/{p}/no-such-collection", None, 404, "native_error", "itemNotFound"),
    ("PUT", "/v3/{p}/backups/some-backup", {"backup": {}}, 405, "native_error", "badMethod"),
    ("DELETE", "/v2/{p}/backups", None, 405, "native_error", "badMethod"),
    ("POST", "/v2/{p}/cloudbackups/no-such-backup", None, 404, "vbs_error", "error"),
    ("GET", "/v2/{p}/cloudbackups/x/unknown", None, 404, "vbs_error", "error"),
    ("GET", "/v2/{p}/cloudbackups/x", None, 405, "vbs_error", "error"),
    ("GET", "/v1/{p}/jobs/no-such-job", None, 404, "vbs_error", "error"),
    ("POST", "/v2/{p}/cloudbackups", {"backup": {"name": "x"}}, 400, "vbs_error", "error"),
    ("GET", "/identity/v3/auth/tokens", None, 401, "identity_error", "error"),
    ("POST", "/identity/v3/auth/tokens", {"auth": {"identity": {"methods": ["password"]}}}, 400, "identity_error",
     "error"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "envelope", "key"), ERRORS,
                         ids=[f"{e[3]}-{e[0]}-{e[1]}" for e in ERRORS])
def test_error_answers_match_their_envelope(
    vbs: FakeVBS, http: requests.Session, method: str, path: str, body: Any, status: int, envelope: str, key: str
) -> None:
    url = vbs.url + path.format(p=vbs.project_id)
    response = http.request(method, url, json=body)
    assert response.status_code == status, response.text
    answer = response.json()
    assert list(answer) == [key]
    assert definition_violations(envelope, answer) == []
    for other in set(ENVELOPES.values()) - {envelope}:
        assert definition_violations(other, answer) != [], f"{envelope} answer also passes as {other}"
    if envelope != "vbs_error":
        assert answer[key]["code"] == status
    (entry,) = vbs.requests
    assert entry.status == status
    assert entry.response_json == answer
    assert problems_of(Answer(entry.operation, entry.status, entry.response_json, entry.path)) == []


@pytest.mark.parametrize(
    ("status", "key"),
    [(401, "unauthorized"), (409, "conflictingRequest"), (500, "computeFault"), (503, "serviceUnavailable"),
     (504, "computeFault")],
)
def test_injected_errors_match_the_native_envelope(
    vbs: FakeVBS, http: requests.Session, status: int, key: str
) -> None:
    backup = vbs.add_backup()
    vbs.fail("get_backup", status)
    response = http.get(f"{vbs.endpoint}/backups/{backup}")
    assert response.status_code == status
    assert list(response.json()) == [key]
    (entry,) = vbs.requests
    assert entry.operation == "get_backup"
    assert problems_of(Answer(entry.operation, entry.status, entry.response_json, entry.path)) == []


def test_count_is_documented_from_microversion_3_45(vbs: FakeVBS, http: requests.Session) -> None:
    Walk(vbs, http).backup()
    body = http.get(f"{vbs.endpoint}/backups/detail", params={"with_count": "true"}, headers=MICROVERSION_3_45).json()
    assert body["count"] == 1
    assert_valid_response("list_backups_detail", body, microversion="3.45")
    with pytest.raises(AssertionError, match=r"count: exists only from microversion 3\.45"):
        assert_valid_response("list_backups_detail", body, microversion="3.44")


@pytest.mark.parametrize(
    ("envelope", "body"),
    [
        ("native_error", {"itemNotFound": {"code": 400, "message": "m"}}),
        ("native_error", {"itemNotFound": {"code": "404", "message": "m"}}),
        ("native_error", {"badRequest": {"code": 400}}),
        ("native_error", {"badRequest": {"code": 400, "message": "m"}, "itemNotFound": {"code": 404, "message": "m"}}),
        ("native_error", {"computeFault": {"code": 404, "message": "m"}}),
        ("native_error", {"error": {"code": "VolumeBackup.0002", "message": "m"}}),
        ("vbs_error", {"error": {"code": 404, "message": "m"}}),
        ("vbs_error", {"error": {"code": "404", "message": "m"}}),
        ("vbs_error", {"itemNotFound": {"code": 404, "message": "m"}}),
        ("identity_error", {"error": {"code": 401, "message": "m"}}),
        ("identity_error", {"error": {"code": "401", "message": "m", "title": "Unauthorized"}}),
    ],
)
def test_envelopes_reject_other_shapes(envelope: str, body: Any) -> None:
    assert definition_violations(envelope, body) != []


# -- the schema files themselves --------------------------------------------------------------------------
SCHEMA_FILES = ["response_definitions.json", *(f"responses/{name}" for name in response_files())]


@pytest.mark.parametrize("relative", SCHEMA_FILES)
def test_schema_file_is_a_documented_draft_2020_12_schema(relative: str) -> None:
    document = json.loads((_schema_root() / relative).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"{schemas.BASE_URI}{relative}"
    assert document["title"].strip()
    assert document["description"].strip()
    if relative == "response_definitions.json":
        return
    operation = BY_NAME[relative.removeprefix("responses/").removesuffix(".json")]
    assert document["x-doc-page"].strip()
    assert document["x-status"] == operation.status
    if operation.documented:  # a VBS page: the schema follows the operation table's page
        assert document["x-doc-page"] == operation.doc_page
        assert re.fullmatch(r"[a-z0-9_]+", document["x-doc-page"])


def test_every_ref_resolves() -> None:
    registry = _registry()
    documents = _documents()
    checked = 0
    for uri, document in documents.items():
        resolver = registry.resolver(base_uri=uri)
        for ref in json_refs(document):
            resolver.lookup(ref)
            checked += 1
    assert checked > 50


# -- unrouted requests answer in their family's envelope ------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/identity/v3/no-such-thing", 404),
                                                         ("PUT", "/identity/v3/auth/tokens", 405)])
def test_unrouted_identity_requests_answer_like_keystone(
    vbs: FakeVBS, http: requests.Session, method: str, path: str, status: int
) -> None:
    response = http.request(method, vbs.url + path)
    assert response.status_code == status
    assert definition_violations("identity_error", response.json()) == []
