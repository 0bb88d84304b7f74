"""The assertion helpers: schema checks of bodies, and the journal verbs of the ``vbs`` fixture.

Bodies come from real answers of the fake and every request goes over a real socket with ``requests``: the
server's 400 and the helpers' verdict must agree because both read the same schemas.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from pytest_vbs import FakeVBS, assert_valid_request, assert_valid_response, schemas
from pytest_vbs.api import BY_NAME
from pytest_vbs.assertions import request_problems

CREATE_PAGE = "creating_a_vbs_backup_native_openstack_v3_api"
CREATE_PAGE_V2 = "creating_a_vbs_backup_native_openstack_api_deprecated"
JSON_HEADERS = {"Content-Type": "application/json"}

Ids = tuple[str, str]  # (volume_id, snapshot_id)


# -- fixtures and small helpers ------------------------------------------------------------------------------
@pytest.fixture
def ids(vbs: FakeVBS) -> Ids:
    """A named 10 GB volume and an available snapshot of it."""
    volume_id = vbs.add_volume(size=10, name="disk")
    return volume_id, vbs.add_snapshot(volume_id)


@pytest.fixture(params=["v3", "v2"])
def api(request: pytest.FixtureRequest) -> str:
    """Each native API family: ``v3`` and the deprecated ``v2``."""
    return str(request.param)


def suffix(api: str) -> str:
    return "" if api == "v3" else "_v2"


def root(vbs: FakeVBS, api: str) -> str:
    return vbs.endpoint if api == "v3" else vbs.endpoint_v2


def post(http: requests.Session, url: str, body: Any) -> requests.Response:
    """POST ``body`` as JSON text (``json=None`` would send no body at all)."""
    return http.post(url, data=json.dumps(body), headers=JSON_HEADERS)


def create(http: requests.Session, vbs: FakeVBS, ids: Ids, api: str = "v3", **fields: Any) -> requests.Response:
    body = {"backup": {"volume_id": ids[0], "snapshot_id": ids[1], **fields}}
    response = post(http, f"{root(vbs, api)}/backups", body)
    assert response.status_code == 202, response.text
    return response


def failure(operation: str, body: Any, kind: str = "request", microversion: str | None = None) -> str:
    """The message of the ``AssertionError`` the helper raises (the test fails if it raises nothing)."""
    helper = assert_valid_request if kind == "request" else assert_valid_response
    with pytest.raises(AssertionError) as info:
        helper(operation, body, microversion=microversion)
    return str(info.value)


# -- assert_valid_request: pass paths ----------------------------------------------------------------------------
VALID_CREATE_FIELDS = [
    pytest.param({}, id="minimal"),
    pytest.param({"name": "backup1", "description": "Backup_Demo"}, id="doc-example"),
    pytest.param({"name": "a" * 64, "description": "d" * 255}, id="longest"),
    pytest.param({"name": "a", "description": ""}, id="shortest"),
    pytest.param({"name": "backup_auto", "description": None}, id="auto-not-at-start"),
    pytest.param({"name": "x-Auto_9"}, id="letters-digits-dash-underscore"),
    pytest.param({"name": None}, id="name-null"),
    pytest.param({"container": "c", "incremental": True, "force": False, "project_id": "p"}, id="all-optional"),
    pytest.param({"incremental": None, "force": None, "container": None}, id="optional-null"),
]


@pytest.mark.parametrize("fields", VALID_CREATE_FIELDS)
def test_valid_create_passes_helper_and_server(
    vbs: FakeVBS, http: requests.Session, ids: Ids, api: str, fields: dict[str, Any]
) -> None:
    body = {"backup": {"volume_id": ids[0], "snapshot_id": ids[1], **fields}}
    assert_valid_request("create_backup" + suffix(api), body)
    assert_valid_request("create_backup" + suffix(api), body, microversion="3.45")
    response = post(http, f"{root(vbs, api)}/backups", body)
    assert response.status_code == 202, response.text


def test_valid_restore_passes_helper_and_server(vbs: FakeVBS, http: requests.Session, ids: Ids, api: str) -> None:
    backup_id = vbs.add_backup(ids[0])
    body = {"restore": {"volume_id": ids[0]}}
    assert_valid_request("restore_backup" + suffix(api), body)
    response = post(http, f"{root(vbs, api)}/backups/{backup_id}/restore", body)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("operation", ["get_backup", "list_backups_detail", "delete_backup_v2", "list_backups_v2"])
def test_operation_without_body_passes_with_none(operation: str) -> None:
    assert_valid_request(operation, None)


# -- assert_valid_request: every documented rule, server and helper agreeing ----------------------------------
@dataclass(frozen=True)
class Rule:
    """One broken rule: the body (from the volume and snapshot ids), where it breaks, and the expected verdict."""

    make: Callable[[str, str], Any]
    path: str
    reason: str
    rule: str
    value: Any = None


def fields(**extra: Any) -> Callable[[str, str], Any]:
    return lambda volume, snapshot: {"backup": {"volume_id": volume, "snapshot_id": snapshot, **extra}}


NAME = "backup.name"
DESCRIPTION = "backup.description"
CREATE_RULES = [
    pytest.param(Rule(fields(name=""), NAME, "empty", "must not be empty", ""), id="name-empty"),
    pytest.param(Rule(fields(name="a" * 65), NAME, "too_long", "must be at most 64 characters", "a" * 65),
                 id="name-too-long"),
    pytest.param(Rule(fields(name="my backup"), NAME, "bad_character",
                      "may contain only letters, digits, '_' and '-'", "my backup"), id="name-space"),
    pytest.param(Rule(fields(name="b.1"), NAME, "bad_character", "may contain only letters", "b.1"), id="name-dot"),
    pytest.param(Rule(fields(name="bäckup"), NAME, "bad_character", "may contain only letters", "bäckup"),
                 id="name-non-ascii"),
    pytest.param(Rule(fields(name="autobk_1"), NAME, "auto_prefix", "must not start with 'auto'", "autobk_1"),
                 id="name-auto"),
    pytest.param(Rule(fields(name="auto"), NAME, "auto_prefix", "must not start with 'auto'", "auto"),
                 id="name-auto-alone"),
    pytest.param(Rule(fields(name="Auto1"), NAME, "auto_prefix", "must not start with 'auto'", "Auto1"),
                 id="name-Auto"),
    pytest.param(Rule(fields(name="AUTO-x"), NAME, "auto_prefix", "must not start with 'auto'", "AUTO-x"),
                 id="name-AUTO"),
    pytest.param(Rule(fields(name=5), NAME, "not_a_string", "must be a string or null", 5), id="name-int"),
    pytest.param(Rule(fields(name=["b"]), NAME, "not_a_string", "must be a string or null", ["b"]),
                 id="name-list"),
    pytest.param(Rule(fields(description="d" * 256), DESCRIPTION, "too_long", "must be at most 255 characters",
                      "d" * 256), id="description-too-long"),
    pytest.param(Rule(fields(description="a<b"), DESCRIPTION, "bad_character", "must not contain '<' or '>'",
                      "a<b"), id="description-lt"),
    pytest.param(Rule(fields(description="a>b"), DESCRIPTION, "bad_character", "must not contain '<' or '>'",
                      "a>b"), id="description-gt"),
    pytest.param(Rule(fields(description=7), DESCRIPTION, "not_a_string", "must be a string or null", 7),
                 id="description-int"),
    pytest.param(Rule(lambda v, s: {"backup": {"snapshot_id": s}}, "backup.volume_id", "missing_field",
                      "is mandatory"), id="volume_id-missing"),
    pytest.param(Rule(lambda v, s: {"backup": {"volume_id": v}}, "backup.snapshot_id", "missing_field",
                      "is mandatory"), id="snapshot_id-missing"),
    pytest.param(Rule(lambda v, s: {"backup": {"volume_id": 5, "snapshot_id": s}}, "backup.volume_id",
                      "not_a_string", "must be a string", 5), id="volume_id-int"),
    pytest.param(Rule(lambda v, s: {"backup": {"volume_id": v, "snapshot_id": None}}, "backup.snapshot_id",
                      "not_a_string", "must be a string", None), id="snapshot_id-null"),
    pytest.param(Rule(lambda v, s: {"backup": {"volume_id": v, "snapshot_id": [s]}}, "backup.snapshot_id",
                      "not_a_string", "must be a string", ["?"]), id="snapshot_id-list"),
    pytest.param(Rule(fields(force="yes"), "backup.force", "not_a_boolean", "must be true, false or null", "yes"),
                 id="force-string"),
    pytest.param(Rule(fields(force=1), "backup.force", "not_a_boolean", "must be true, false or null", 1),
                 id="force-int"),
    pytest.param(Rule(fields(incremental="true"), "backup.incremental", "not_a_boolean",
                      "must be true, false or null", "true"), id="incremental-string"),
    pytest.param(Rule(fields(size=10), "backup.size", "unknown_field", "is not a documented field", 10),
                 id="unknown-field"),
    pytest.param(Rule(lambda v, s: {"backup": {"volume_id": v, "snapshot_id": s}, "extra": 1}, "extra",
                      "unknown_field", "is not a documented field (allowed: backup)", 1), id="unknown-top-level"),
    pytest.param(Rule(lambda v, s: {}, "backup", "missing_field", "is mandatory"), id="backup-missing"),
    pytest.param(Rule(lambda v, s: {"backup": [v, s]}, "backup", "not_an_object", "must be an object", ["?"]),
                 id="backup-not-object"),
    pytest.param(Rule(lambda v, s: [v, s], "", "not_an_object", "must be an object", ["?"]), id="body-list"),
    pytest.param(Rule(lambda v, s: "backup", "", "not_an_object", "must be an object", "backup"), id="body-string"),
    pytest.param(Rule(lambda v, s: None, "", "not_an_object", "must be an object", None), id="body-null"),
]


def shown(rule: Rule, body: Any) -> str | None:
    """The ``got ...`` part the helper prints (``None`` when the rule shows no value)."""
    if rule.reason == "missing_field":
        return None
    value = rule.value
    if value == ["?"]:  # placeholders for values built from the ids
        value = body if rule.path == "" else body["backup"] if rule.path == "backup" else body["backup"]["snapshot_id"]
    return f"got {value!r}"[:100]  # long values are shortened


@pytest.mark.parametrize("rule", CREATE_RULES)
def test_create_rule_server_rejects_and_helper_flags_same_reason(
    vbs: FakeVBS, http: requests.Session, ids: Ids, api: str, rule: Rule
) -> None:
    operation = "create_backup" + suffix(api)
    body = rule.make(*ids)

    response = post(http, f"{root(vbs, api)}/backups", body)
    assert response.status_code == 400, response.text
    server_message = response.json()["badRequest"]["message"]
    assert vbs.backups == {}

    found = schemas.violations("requests", operation, body)
    assert [(v.path, v.reason) for v in found] == [(rule.path, rule.reason)]
    assert server_message == found[0].describe()  # the server's 400 is the schema's verdict, word for word
    assert rule.rule in server_message
    assert (f"field '{rule.path}'" if rule.path else "the body") in server_message

    message = failure(operation, body)
    assert message.startswith(f"{operation} request body does not match the documented schema")
    assert f"{rule.path or '<body>'}: {rule.rule}" in message
    assert f"[{rule.reason}]" in message
    got = shown(rule, body)
    if got is not None:
        assert got in message
    assert found[0].doc_page in message  # the page that states the rule ...
    assert BY_NAME[operation].doc_page in message  # ... and the page of the operation that was called

    # The journal keeps the request, and strict mode reports it with the server's words and the same reason.
    entry = vbs.last_request(operation)
    assert entry.status == 400
    assert request_problems(entry) == [f"{server_message} [{rule.reason}]"]


RESTORE_RULES = [
    pytest.param(lambda v: {"restore": {}}, "restore.volume_id", "missing_field", id="volume_id-missing"),
    pytest.param(lambda v: {"restore": {"volume_id": 5}}, "restore.volume_id", "not_a_string", id="volume_id-int"),
    pytest.param(lambda v: {"restore": {"volume_id": v, "name": "x"}}, "restore.name", "unknown_field",
                 id="unknown-field"),
    pytest.param(lambda v: {}, "restore", "missing_field", id="restore-missing"),
    pytest.param(lambda v: {"restore": []}, "restore", "not_an_object", id="restore-not-object"),
    pytest.param(lambda v: [v], "", "not_an_object", id="body-list"),
]


@pytest.mark.parametrize(("make", "path", "reason"), RESTORE_RULES)
def test_restore_rule_server_rejects_and_helper_flags_same_reason(
    vbs: FakeVBS, http: requests.Session, ids: Ids, api: str, make: Callable[[str], Any], path: str, reason: str
) -> None:
    operation = "restore_backup" + suffix(api)
    body = make(ids[0])
    backup_id = vbs.add_backup(ids[0])
    response = post(http, f"{root(vbs, api)}/backups/{backup_id}/restore", body)
    assert response.status_code == 400, response.text
    found = schemas.violations("requests", operation, body)
    assert [(v.path, v.reason) for v in found] == [(path, reason)]
    assert response.json()["badRequest"]["message"] == found[0].describe()
    message = failure(operation, body)
    assert f"{path or '<body>'}: " in message
    assert f"[{reason}]" in message
    assert BY_NAME[operation].doc_page in message


def test_several_violations_are_all_listed(ids: Ids) -> None:
    body = {"backup": {"volume_id": ids[0], "snapshot_id": ids[1], "name": "auto x", "force": "no", "size": 1}}
    message = failure("create_backup", body)
    lines = message.splitlines()[1:]
    found = sorted(line.split(":", 1)[0].strip() + " " + line.split(" [", 1)[1].split("]")[0] for line in lines)
    assert found == ["backup.force not_a_boolean", "backup.name auto_prefix", "backup.name bad_character",
                     "backup.size unknown_field"], message


# -- assert_valid_request: misuse ----------------------------------------------------------------------------------
#: A misspelt operation name, and the start of what the error says after ``unknown operation '<name>'``.
UNKNOWN_OPERATIONS = [
    pytest.param("create_backups", "; did you mean 'create_backup' or 'create_backup_v2'?", id="plural"),
    pytest.param("CREATE_BACKUP", "; did you mean 'create_backup'?", id="upper-case"),
    pytest.param("CreateBackup", "; did you mean 'create_backup'?", id="camel-case"),
    pytest.param("create_backup_v3", "; did you mean 'create_backup_v2' or 'create_backup'?", id="v3-suffix"),
    pytest.param("create", "; did you mean 'create_backup' or 'create_volume'?", id="prefix"),
    pytest.param("backup_create", f" (none of the {len(BY_NAME)} known is close; see the README's API coverage "
                 "table", id="far"),
    pytest.param("", f" (none of the {len(BY_NAME)} known is close; see the README's API coverage table", id="empty"),
]


def short_enough(message: str) -> bool:
    """No error message lists more than a handful of names."""
    return message.count("'") <= 2 * 4 and len(message) < 200


@pytest.mark.parametrize("helper", [assert_valid_request, assert_valid_response])
@pytest.mark.parametrize(("operation", "said"), UNKNOWN_OPERATIONS)
def test_unknown_operation_is_a_value_error(helper: Callable[..., None], operation: str, said: str) -> None:
    with pytest.raises(ValueError) as info:  # noqa: PT011 - the message is checked below
        helper(operation, {})
    assert str(info.value).startswith(f"unknown operation {operation!r}{said}")
    assert short_enough(str(info.value))


@pytest.mark.parametrize("operation", ["get_backup", "list_backups", "delete_backup", "get_backup_v2"])
@pytest.mark.parametrize("body", [{}, {"backup": {}}, "x"])
def test_operation_without_request_body_given_a_body_fails(operation: str, body: Any) -> None:
    message = failure(operation, body)
    assert f"{operation} takes no request body" in message
    assert BY_NAME[operation].doc_page in message
    assert repr(body) in message


@pytest.mark.parametrize("microversion", ["3.x", "volume 3.45", "3.45.1", ""])
def test_malformed_microversion_is_a_value_error_that_says_so(ids: Ids, microversion: str) -> None:
    body = {"backup": {"volume_id": ids[0], "snapshot_id": ids[1]}}
    with pytest.raises(ValueError, match="microversion"):
        assert_valid_request("create_backup", body, microversion=microversion)


def test_metadata_needs_microversion_343_and_v3(ids: Ids) -> None:
    body = {"backup": {"volume_id": ids[0], "snapshot_id": ids[1], "metadata": {"owner": "a"}}}

    assert_valid_request("create_backup", body, microversion="3.43")
    assert "exists only from microversion 3.43" in failure("create_backup", body, microversion="3.42")
    assert "exists only from microversion 3.43" in failure("create_backup_v2", body)  # v2 has no microversions


# -- assert_valid_response -----------------------------------------------------------------------------------------
@pytest.fixture
def answers(vbs: FakeVBS, http: requests.Session, ids: Ids, api: str) -> dict[str, Any]:
    """Real answers of the fake for ``api``, keyed by operation name (without the ``_v2`` suffix)."""
    base = root(vbs, api)
    created = create(http, vbs, ids, api, name="b1").json()
    backup_id = created["backup"]["id"]
    create(http, vbs, ids, api, name="b2")
    restored = post(http, f"{base}/backups/{backup_id}/restore", {"restore": {"volume_id": ids[0]}})
    assert restored.status_code == 202, restored.text
    vbs.advance()
    got = {
        "create_backup": created,
        "restore_backup": restored.json(),
        "get_backup": http.get(f"{base}/backups/{backup_id}").json(),
        "list_backups": http.get(f"{base}/backups").json(),
        "list_backups_detail": http.get(f"{base}/backups/detail").json(),
        "paged_list_backups": http.get(f"{base}/backups", params={"limit": 1}).json(),
        "paged_list_backups_detail": http.get(f"{base}/backups/detail", params={"limit": 1}).json(),
    }
    deleted = http.delete(f"{base}/backups/{backup_id}")
    assert deleted.status_code == 202, deleted.text
    got["delete_backup"] = None if not deleted.content else deleted.json()
    return got


@pytest.mark.parametrize("name", ["create_backup", "restore_backup", "get_backup", "list_backups",
                                  "list_backups_detail", "paged_list_backups", "paged_list_backups_detail",
                                  "delete_backup"])
def test_real_answers_pass(answers: dict[str, Any], api: str, name: str) -> None:
    assert_valid_response(name.removeprefix("paged_") + suffix(api), answers[name])
    if name.startswith("paged_"):
        assert "backups_links" in answers[name]  # the paged case really has a next link


def test_restore_answer_of_an_unnamed_volume_passes(vbs: FakeVBS, http: requests.Session, api: str) -> None:
    volume_id = vbs.add_volume(size=10)  # no name: the fake answers volume_name null
    backup_id = vbs.add_backup(volume_id)
    response = post(http, f"{root(vbs, api)}/backups/{backup_id}/restore", {"restore": {"volume_id": volume_id}})
    assert response.status_code == 202, response.text
    assert_valid_response("restore_backup" + suffix(api), response.json())


def test_v2_backup_does_not_pass_as_v3(answers: dict[str, Any], api: str) -> None:
    other = "get_backup" if api == "v2" else "get_backup_v2"
    missing = "os-backup-project-attr:project_id" if api == "v2" else "os-bak-tenant-attr:tenant_id"
    message = failure(other, answers["get_backup"], kind="response")
    assert f"backup.{missing}: is mandatory [missing_field]" in message


def _set(path: str, value: Any) -> Callable[[Any], None]:
    def change(body: Any) -> None:
        *parents, last = path.split(".")
        for part in parents:
            body = body[int(part)] if part.isdigit() else body[part]
        body[last] = value

    return change


def _drop(path: str) -> Callable[[Any], None]:
    def change(body: Any) -> None:
        *parents, last = path.split(".")
        for part in parents:
            body = body[int(part)] if part.isdigit() else body[part]
        del body[last]

    return change


RESPONSE_BREAKS = [
    pytest.param("get_backup", _set("backup.status", "bogus"), "backup.status", "not_allowed", "must be one of",
                 "'bogus'", id="get-status"),
    pytest.param("get_backup", _set("backup.size", "10"), "backup.size", "wrong_type", "must be an integer", "'10'",
                 id="get-size-string"),
    pytest.param("get_backup", _set("backup.created_at", "2020-01-01 00:00:00.000000"), "backup.created_at",
                 "bad_character", "must match", "'2020-01-01 00:00:00.000000'", id="get-created_at-format"),
    pytest.param("get_backup", _set("backup.is_incremental", "no"), "backup.is_incremental", "wrong_type",
                 "must be a boolean", "'no'", id="get-is_incremental"),
    pytest.param("get_backup", _drop("backup.volume_id"), "backup.volume_id", "missing_field", "is mandatory", None,
                 id="get-volume_id-missing"),
    pytest.param("get_backup", _set("backup.extra", 1), "backup.extra", "unknown_field", "is not a documented field",
                 "1", id="get-unknown-field"),
    pytest.param("list_backups_detail", _set("backups.0.status", "bogus"), "backups.0.status", "not_allowed",
                 "must be one of", "'bogus'", id="detail-status"),
    pytest.param("list_backups_detail", _drop("backups.1.links"), "backups.1.links", "missing_field", "is mandatory",
                 None, id="detail-links-missing"),
    pytest.param("list_backups_detail", _set("backups", {}), "backups", "wrong_type", "must be an array", "{}",
                 id="detail-backups-not-list"),
    pytest.param("list_backups_detail", _set("next", None), "next", "unknown_field", "is not a documented field",
                 "None", id="detail-unknown-top-level"),
]


@pytest.mark.parametrize(("name", "change", "path", "reason", "rule", "value"), RESPONSE_BREAKS)
def test_broken_real_answer_fails_naming_path_rule_reason_value_page(
    answers: dict[str, Any], api: str, name: str, change: Callable[[Any], None], path: str, reason: str, rule: str,
    value: str | None,
) -> None:
    operation = name + suffix(api)
    body = copy.deepcopy(answers[name])
    assert_valid_response(operation, body)
    change(body)
    message = failure(operation, body, kind="response")
    lines = message.splitlines()
    assert lines[0] == (f"{operation} response body does not match the documented schema "
                        f"(page: {BY_NAME[operation].doc_page}):")
    assert len(lines) == 2, message  # exactly the one rule broken, no echo of it
    assert lines[1].startswith(f"  {path}: {rule}")
    assert f"[{reason}]" in lines[1]
    if value is not None:
        assert f"got {value}" in lines[1]


# -- microversions ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("operation", ["list_backups", "list_backups_detail"])
def test_count_needs_microversion_345(vbs: FakeVBS, http: requests.Session, ids: Ids, operation: str) -> None:
    create(http, vbs, ids)
    path = "/backups" if operation == "list_backups" else "/backups/detail"
    response = http.get(f"{vbs.endpoint}{path}", params={"with_count": "true"},
                        headers={"OpenStack-API-Version": "volume 3.45"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 1
    assert_valid_response(operation, body)  # no microversion given: not checked
    assert_valid_response(operation, body, microversion="3.45")
    assert_valid_response(operation, body, microversion="3.60")
    message = failure(operation, body, kind="response", microversion="3.44")
    assert "count: exists only from microversion 3.45 [needs_microversion]" in message
    assert "got 1" in message
    assert BY_NAME[operation].doc_page in message
    # Without count the same answer is fine at any microversion.
    del body["count"]
    assert_valid_response(operation, body, microversion="3.0")


# -- the journal verbs of the vbs fixture -------------------------------------------------------------------------
def test_assert_called_pass_paths(vbs: FakeVBS, http: requests.Session, ids: Ids) -> None:
    vbs.assert_called("create_backup", times=0)
    first = create(http, vbs, ids, name="b1", description="nightly").json()["backup"]["id"]
    create(http, vbs, ids, name="b2")
    http.get(f"{vbs.endpoint}/backups/{first}")

    assert len(vbs.assert_called("create_backup")) == 2
    assert len(vbs.assert_called("create_backup", times=2)) == 2
    assert vbs.assert_called("get_backup", times=1)[0].path.endswith(f"/backups/{first}")
    matched = vbs.assert_called("create_backup", times=1, json={"backup": {"name": "b1"}})
    assert matched[0].json["backup"]["description"] == "nightly"
    assert vbs.assert_called("create_backup", json={"backup": {"volume_id": ids[0]}}, times=2)
    assert vbs.assert_called("create_backup", json={}, times=2)  # the empty subset matches any body
    vbs.assert_called("create_backup", times=0, json={"backup": {"name": "b3"}})
    vbs.assert_called("delete_backup", times=0)


def test_assert_called_times_mismatch(vbs: FakeVBS, http: requests.Session, ids: Ids) -> None:
    create(http, vbs, ids, name="b1")
    create(http, vbs, ids, name="b2")
    with pytest.raises(AssertionError) as info:
        vbs.assert_called("create_backup", times=1)
    assert str(info.value) == "expected create_backup to be called 1 time(s); it was called 2 time(s)."


@pytest.mark.parametrize(
    ("expected", "differences"),
    [
        pytest.param({"backup": {"name": "b2"}}, ["backup.name: expected 'b2', got 'b1'"], id="value"),
        pytest.param({"backup": {"name": "b1", "force": True}}, ["backup.force: missing (expected True)"],
                     id="missing-key"),
        pytest.param({"backup": {"description": "x", "name": "B1"}},
                     ["backup.description: expected 'x', got 'nightly'", "backup.name: expected 'B1', got 'b1'"],
                     id="two-fields"),
        pytest.param({"backup": {"name": None}}, ["backup.name: expected None, got 'b1'"], id="null"),
        pytest.param({"backup": "b1"}, ["backup: expected 'b1', got {"], id="not-an-object"),
        pytest.param({"backup": {"incremental": 1}}, ["backup.incremental: expected 1, got True"], id="bool-not-int"),
    ],
)
def test_assert_called_subset_mismatch_shows_nearest_requests(
    vbs: FakeVBS, http: requests.Session, ids: Ids, expected: Any, differences: list[str]
) -> None:
    create(http, vbs, ids, name="b1", description="nightly", incremental=True)
    with pytest.raises(AssertionError) as info:
        vbs.assert_called("create_backup", json=expected)
    message = str(info.value)
    lines = message.splitlines()
    assert lines[0] == (f"expected create_backup to be called at least once with a body containing {expected!r}; "
                        "it was called 0 time(s).")
    assert lines[1] == "Nearest requests:"
    assert lines[2] == f"  POST /v3/{vbs.project_id}/backups -> 202"
    for difference, line in zip(differences, lines[3:], strict=True):
        assert line.strip().startswith(difference)


def test_nearest_requests_are_the_closest_three(vbs: FakeVBS, http: requests.Session, ids: Ids) -> None:
    create(http, vbs, ids, name="far", description="far")  # two differences
    create(http, vbs, ids, name="near", description="good")  # one
    create(http, vbs, ids, name="far2", description="far")  # two
    create(http, vbs, ids, name="far3", description="far")  # two: fourth, left out
    with pytest.raises(AssertionError) as info:
        vbs.assert_called("create_backup", json={"backup": {"name": "want", "description": "good"}})
    message = str(info.value)
    assert message.count("-> 202") == 3
    nearest = message.split("Nearest requests:\n", 1)[1].splitlines()
    assert nearest[1].strip() == "backup.name: expected 'want', got 'near'"
    assert "'far3'" not in message


def test_assert_called_never_called_lists_recorded_operations(
    vbs: FakeVBS, http: requests.Session, ids: Ids
) -> None:
    backup_id = create(http, vbs, ids).json()["backup"]["id"]
    http.get(f"{vbs.endpoint}/backups/{backup_id}")
    with pytest.raises(AssertionError) as info:
        vbs.assert_called("restore_backup", json={"restore": {"volume_id": ids[0]}})
    message = str(info.value)
    assert "expected restore_backup to be called at least once" in message
    assert "Requests recorded: create_backup, get_backup." in message


def test_assert_called_with_empty_journal(vbs: FakeVBS) -> None:
    with pytest.raises(AssertionError, match=r"called 0 time\(s\)\.\nRequests recorded: none\."):
        vbs.assert_called("create_backup")


def test_assert_not_called(vbs: FakeVBS, http: requests.Session, ids: Ids) -> None:
    vbs.assert_not_called("delete_backup")
    backup_id = create(http, vbs, ids).json()["backup"]["id"]
    vbs.assert_not_called("delete_backup")
    vbs.assert_not_called("create_backup_v2")  # the v2 family is another operation
    http.delete(f"{vbs.endpoint}/backups/{backup_id}")
    with pytest.raises(AssertionError) as info:
        vbs.assert_not_called("delete_backup")
    assert str(info.value) == (f"expected delete_backup not to be called; it was called 1 time(s): "
                               f"DELETE /v3/{vbs.project_id}/backups/{backup_id} -> 202")


def test_last_request(vbs: FakeVBS, http: requests.Session, ids: Ids) -> None:
    create(http, vbs, ids, name="b1")
    post(http, f"{vbs.endpoint}/backups", {"backup": {"volume_id": ids[0], "snapshot_id": ids[1], "name": ""}})
    create(http, vbs, ids, api="v2", name="b3")
    last = vbs.last_request("create_backup")
    assert last.json == {"backup": {"volume_id": ids[0], "snapshot_id": ids[1], "name": ""}}
    assert last.status == 400
    assert last.method == "POST"
    assert vbs.last_request("create_backup_v2").json["backup"]["name"] == "b3"
    with pytest.raises(AssertionError) as info:
        vbs.last_request("delete_backup")
    assert str(info.value) == ("delete_backup was never called; requests recorded: "
                               "create_backup, create_backup, create_backup_v2.")


@pytest.mark.parametrize("verb", ["assert_called", "assert_not_called", "last_request", "fail"])
@pytest.mark.parametrize(("operation", "said"), UNKNOWN_OPERATIONS)
def test_journal_verbs_reject_unknown_operations(vbs: FakeVBS, verb: str, operation: str, said: str) -> None:
    with pytest.raises(ValueError) as info:  # noqa: PT011 - the message is checked below
        getattr(vbs, verb)(operation)
    assert str(info.value).startswith(f"unknown operation {operation!r}{said}")
    assert short_enough(str(info.value))


# -- assert_all_requests_valid --------------------------------------------------------------------------------------
def test_all_requests_valid_passes_for_documented_traffic(vbs: FakeVBS, http: requests.Session, ids: Ids) -> None:
    vbs.assert_all_requests_valid()  # nothing sent
    backup_id = create(http, vbs, ids, name="b1").json()["backup"]["id"]
    create(http, vbs, ids, api="v2")
    assert http.get(f"{vbs.endpoint}/backups/unknown-id").status_code == 404  # valid request, failed answer
    http.get(f"{vbs.endpoint}/backups/detail", params={"limit": "5", "status": "available"})
    http.get(f"{vbs.endpoint}/backups", params={"with_count": "true", "name~": "b"},
             headers={"OpenStack-API-Version": "volume 3.45"})
    post(http, f"{vbs.endpoint_v2}/backups/{backup_id}/restore", {"restore": {"volume_id": ids[0]}})
    vbs.assert_all_requests_valid()


def test_all_requests_valid_lists_every_offending_request(vbs: FakeVBS, http: requests.Session, ids: Ids) -> None:
    backups = f"/v3/{vbs.project_id}/backups"
    create(http, vbs, ids, name="ok")  # 1: valid
    post(http, f"{vbs.endpoint}/backups", {"backup": {"volume_id": ids[0], "snapshot_id": ids[1], "name": "auto1"}})
    http.get(f"{vbs.endpoint}/backups", params={"limit": "abc"})  # 3
    http.get(f"{vbs.endpoint}/backups/detail", params={"with_count": "true"})  # 4: needs 3.45
    http.post(f"{vbs.endpoint}/backups", data=b"{not json", headers=JSON_HEADERS)  # 5
    http.post(f"{vbs.endpoint_v2}/backups", data=b"x=1", headers={"Content-Type": "text/plain"})  # 6
    http.get(f"{vbs.endpoint}/nothing-here")  # 7
    http.get(f"{vbs.endpoint}/backups")  # 8: valid
    with pytest.raises(AssertionError) as info:
        vbs.assert_all_requests_valid()
    message = str(info.value)
    lines = message.splitlines()
    assert lines[0] == "6 request(s) sent to the fake VBS break the documented API:"
    assert f"  #2 POST {backups} (create_backup, page: {CREATE_PAGE}) -> 400" in lines
    assert ("      Invalid input for field 'backup.name': must not start with 'auto' (got 'auto1'). [auto_prefix]"
            in lines)
    assert (f"  #3 GET {backups} (list_backups, page: "
            "querying_summary_information_about_vbs_backups_native_openstack_v3_api) -> 400") in lines
    assert "      Invalid query parameter 'limit': must be an integer (got 'abc')." in lines
    assert f"  #4 GET {backups}/detail (list_backups_detail, page: " in message
    assert "Query parameter 'with_count' needs microversion 3.45" in message
    assert f"  #5 POST {backups} (create_backup, page: {CREATE_PAGE}) -> 400" in lines
    assert "Malformed request body" in message
    assert f"  #6 POST /v2/{vbs.project_id}/backups (create_backup_v2, page: {CREATE_PAGE_V2}) -> 415" in lines
    assert "Unsupported Content-Type 'text/plain'" in message
    assert f"  #7 GET {backups.removesuffix('/backups')}/nothing-here (unknown, page: -) -> 404" in lines
    assert "matches no documented operation" in message
    assert "#1 " not in message
    assert "#8 " not in message


def test_all_requests_valid_lists_every_problem_of_one_request(
    vbs: FakeVBS, http: requests.Session, ids: Ids
) -> None:
    post(http, f"{vbs.endpoint}/backups",
         {"backup": {"volume_id": ids[0], "snapshot_id": ids[1], "name": "", "description": "<b>", "size": 1}})
    with pytest.raises(AssertionError) as info:
        vbs.assert_all_requests_valid()
    problems = [line.strip() for line in str(info.value).splitlines()[2:]]
    assert sorted(problem.rsplit(" [", 1)[1] for problem in problems) == ["bad_character]", "empty]", "unknown_field]"]
