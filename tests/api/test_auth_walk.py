"""With auth on, no route of the VBS API answers without a valid token of its project: a walk over the table."""

from __future__ import annotations

import re

import pytest
import requests

from pytest_vbs import FakeVBS
from pytest_vbs.api import OPERATIONS, Operation
from pytest_vbs.errors import Family

OTHER_PROJECT = "5a1d3c5e7f9b0a240d5b1e9a6c7f4b2e"
PROJECT_ROUTES = [op for op in OPERATIONS if "<project_id>" in op.rule]


def _path(operation: Operation, project_id: str) -> str:
    path = operation.rule.replace("<project_id>", project_id)
    return re.sub(r"<[^>]+>", "6f1e2b3c-1111-2222-3333-444455556666", path)


def _envelope_key(operation: Operation, status: int) -> str:
    if operation.family is Family.VBS:
        return "error"
    return {401: "unauthorized", 403: "forbidden"}[status]


def test_every_api_family_is_walked() -> None:
    assert {op.family for op in PROJECT_ROUTES} == {Family.NATIVE, Family.VBS}
    assert len(PROJECT_ROUTES) >= 46  # 12 native backups, 10 volume/snapshot, 5 cloudbackups, 5 sharing, 14 policy


@pytest.mark.vbs(auth=True)
@pytest.mark.parametrize("operation", PROJECT_ROUTES, ids=[op.name for op in PROJECT_ROUTES])
def test_no_token_no_answer(vbs: FakeVBS, http: requests.Session, operation: Operation) -> None:
    before = vbs.backups
    for headers, status in (({}, 401), ({"X-Auth-Token": "not-a-token"}, 401),
                            ({"X-Auth-Token": vbs.for_project(OTHER_PROJECT).issue_token()}, 403)):
        response = http.request(operation.method, vbs.url + _path(operation, vbs.project_id), headers=headers,
                                json={} if operation.method in ("POST", "PUT") else None)
        assert response.status_code == status, (headers, response.text)
        assert list(response.json()) == [_envelope_key(operation, status)]
    assert vbs.backups == before


@pytest.mark.vbs(auth=True)
def test_the_projects_own_token_gets_through(vbs: FakeVBS, http: requests.Session) -> None:
    token = vbs.issue_token()
    assert http.get(f"{vbs.endpoint}/backups", headers={"X-Auth-Token": token}).status_code == 200
    assert http.get(f"{vbs.endpoint_v2}/cloudbackups/quota", headers={"X-Auth-Token": token}).status_code == 200
