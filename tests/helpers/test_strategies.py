"""The hypothesis strategies: their draws agree with the schemas, and the fake agrees with their labels."""

from __future__ import annotations

import json
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_vbs import FakeVBS, schemas
from pytest_vbs.hypothesis_setup import BackupName
from pytest_vbs.strategies import (
    Invalid,
    backup_names,
    backup_tags,
    create_backup_requests,
    descriptions,
    invalid_backup_names,
    invalid_backup_tags,
    invalid_create_backup_requests,
    invalid_descriptions,
    invalid_policy_names,
    invalid_restore_requests,
    json_values,
    policy_names,
    restore_requests,
)

# The vbs fixture is reset once per test, not per example: every example makes its own volume.
over_http = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)


def _wrap(field: str, value: Any) -> dict[str, Any]:
    return {"backup": {"volume_id": "v", "snapshot_id": "s", field: value}}


def _only_violation(body: Any, request: str = "create_backup") -> schemas.Violation:
    found = schemas.violations("requests", request, body)
    assert len(found) == 1, found
    return found[0]


@given(backup_names())
def test_valid_names_pass_the_schema(name: str) -> None:
    assert schemas.violations("requests", "create_backup", _wrap("name", name)) == []


@given(st.from_type(BackupName))
def test_backup_name_type_is_registered_with_hypothesis(name: str) -> None:
    assert schemas.violations("requests", "create_backup", _wrap("name", name)) == []


@given(invalid_backup_names())
def test_invalid_names_fail_for_the_labelled_reason(invalid: Invalid) -> None:
    violation = _only_violation(_wrap("name", invalid.value))
    assert (violation.reason, violation.path) == (invalid.reason, invalid.field)


@given(descriptions())
def test_valid_descriptions_pass_the_schema(description: str | None) -> None:
    assert schemas.violations("requests", "create_backup", _wrap("description", description)) == []


@given(invalid_descriptions())
def test_invalid_descriptions_fail_for_the_labelled_reason(invalid: Invalid) -> None:
    violation = _only_violation(_wrap("description", invalid.value))
    assert (violation.reason, violation.path) == (invalid.reason, invalid.field)


@given(create_backup_requests())
def test_valid_create_bodies_pass_the_schema(body: dict[str, Any]) -> None:
    assert schemas.violations("requests", "create_backup", body) == []


@given(invalid_create_backup_requests())
def test_invalid_create_bodies_break_exactly_the_labelled_rule(invalid: Invalid) -> None:
    violation = _only_violation(invalid.value)
    assert (violation.reason, violation.path) == (invalid.reason, invalid.field)


@given(restore_requests())
def test_valid_restore_bodies_pass_the_schema(body: dict[str, Any]) -> None:
    assert schemas.violations("requests", "restore_backup", body) == []


@given(invalid_restore_requests())
def test_invalid_restore_bodies_break_exactly_the_labelled_rule(invalid: Invalid) -> None:
    violation = _only_violation(invalid.value, "restore_backup")
    assert (violation.reason, violation.path) == (invalid.reason, invalid.field)


def test_every_name_reason_is_generated() -> None:
    """The invalid-name strategy covers every reason the schema annotates for names."""
    reasons = {entry["reason"] for entry in schemas.definitions()["$defs"]["backup_name"]["x-errors"].values()}
    seen: set[str] = set()

    @settings(max_examples=300, database=None)
    @given(invalid_backup_names())
    def collect(invalid: Invalid) -> None:
        seen.add(invalid.reason)

    collect()
    assert reasons <= seen


# -- against the fake, over real sockets ---------------------------------------------------------------
@over_http
@given(data=st.data())
def test_every_valid_body_is_accepted_and_the_backup_appears(
    vbs: FakeVBS, http: requests.Session, data: st.DataObject
) -> None:
    volume = vbs.add_volume()
    body = data.draw(create_backup_requests(volume_id=volume,
                                            snapshot_id=vbs.add_snapshot(volume)))
    response = http.post(f"{vbs.endpoint}/backups", json=body)
    assert response.status_code == 202, response.text
    backup_id = response.json()["backup"]["id"]
    assert vbs.backups[backup_id].name == body["backup"].get("name")


@over_http
@given(data=st.data())
def test_every_invalid_body_is_rejected_with_its_reason_and_changes_nothing(
    vbs: FakeVBS, http: requests.Session, data: st.DataObject
) -> None:
    volume = vbs.add_volume()
    invalid = data.draw(invalid_create_backup_requests(volume_id=volume, snapshot_id=vbs.add_snapshot(volume)))
    before = vbs.backups
    response = http.post(f"{vbs.endpoint}/backups", data=json.dumps(invalid.value),
                         headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    violation = _only_violation(invalid.value)
    assert (violation.reason, violation.path) == (invalid.reason, invalid.field)
    assert response.json() == {"badRequest": {"code": 400, "message": violation.describe()}}
    assert vbs.backups == before


@over_http
@given(body=json_values())
def test_arbitrary_json_never_gets_a_500(vbs: FakeVBS, http: requests.Session, body: Any) -> None:
    for path in ("/backups", "/backups/some-id/restore"):
        response = http.post(f"{vbs.endpoint}{path}", data=json.dumps(body),
                             headers={"Content-Type": "application/json"})
        assert response.status_code in (400, 404), response.text
        assert set(response.json()) in ({"badRequest"}, {"itemNotFound"})


# -- VBS-native fields: policy names and backup tags -----------------------------------------------------
POLICY = {"scheduled_policy": {"start_time": "12:00", "frequency": 1, "rentention_num": 3, "status": "ON"}}
VBS_BACKUP = {"volume_id": "6f1e2b3c-1111-2222-3333-444455556666", "name": "b"}


@given(policy_names())
def test_valid_policy_names_pass_the_schema(name: str) -> None:
    assert schemas.violations("requests", "create_backup_policy", {**POLICY, "backup_policy_name": name}) == []


@given(invalid_policy_names())
def test_invalid_policy_names_fail_for_the_labelled_reason(invalid: Invalid) -> None:
    violation = _only_violation({**POLICY, "backup_policy_name": invalid.value}, "create_backup_policy")
    assert (violation.reason, violation.path) == (invalid.reason, invalid.field)


@given(backup_tags())
def test_valid_backup_tags_pass_the_schema(tags: list[dict[str, str]]) -> None:
    assert schemas.violations("requests", "create_vbs_backup", {"backup": {**VBS_BACKUP, "tags": tags}}) == []


@given(invalid_backup_tags())
def test_invalid_backup_tags_fail_for_the_labelled_reason(invalid: Invalid) -> None:
    violation = _only_violation({"backup": {**VBS_BACKUP, "tags": invalid.value}}, "create_vbs_backup")
    assert (violation.reason, violation.path) == (invalid.reason, invalid.field)


@over_http
@given(invalid=invalid_policy_names())
def test_the_fake_refuses_every_invalid_policy_name(vbs: FakeVBS, http: requests.Session, invalid: Invalid) -> None:
    body = {**POLICY, "backup_policy_name": invalid.value}
    response = http.post(f"{vbs.endpoint_v2}/backuppolicy", data=json.dumps(body),
                         headers={"Content-Type": "application/json"})
    violation = _only_violation(body, "create_backup_policy")
    assert response.status_code == 400
    assert response.json() == {"error": {"code": violation.code, "message": violation.describe()}}
