"""With auth on, the control API wants a token too; its journal never shows tokens or passwords (issue 15 item 10)."""

from __future__ import annotations

import re

import pytest
import requests
from vbs_support import assert_error

from pytest_vbs import FakeVBS
from pytest_vbs.api.control import ROUTES
from pytest_vbs.journal import REDACTED
from pytest_vbs.service.identity import DEFAULT_DOMAIN_NAME, DEFAULT_PASSWORD, DEFAULT_USERNAME

OTHER_PROJECT = "5a1d3c5e7f9b0a240d5b1e9a6c7f4b2e"


def _path(rule: str) -> str:
    return re.sub(r"<[^>]+>", "x", rule)


@pytest.mark.vbs(auth=True)
@pytest.mark.parametrize("operation", ROUTES, ids=[op.name for op in ROUTES])
def test_every_control_route_wants_a_valid_token(vbs: FakeVBS, http: requests.Session, operation: object) -> None:
    method, path = operation.method, _path(operation.rule)  # type: ignore[attr-defined]
    before = http.get(f"{vbs.url}/__vbs__/state", headers={"X-Auth-Token": vbs.issue_token()}).json()
    for headers in ({}, {"X-Auth-Token": "not-a-token"}):
        response = http.request(method, vbs.url + path, headers=headers, json={})

        assert_error(response, 401, "unauthorized", "requires authentication")
        assert response.headers["WWW-Authenticate"] == f'Keystone uri="{vbs.auth_url}"'
    assert http.get(f"{vbs.url}/__vbs__/state", headers={"X-Auth-Token": vbs.issue_token()}).json() == before


@pytest.mark.vbs(auth=True)
def test_a_token_of_any_scope_drives_the_control_api(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.identity.ensure_project(OTHER_PROJECT)
    tokens = [vbs.issue_token(), vbs.for_project(OTHER_PROJECT).issue_token(), vbs.identity.issue_token()]
    for token in tokens:
        response = http.post(f"{vbs.url}/__vbs__/volumes", headers={"X-Auth-Token": token},
                             json={"project_id": vbs.project_id, "size": 1})
        assert response.status_code == 201, response.text
    assert len(vbs.volumes) == len(tokens)


def test_with_auth_off_the_control_api_needs_no_token(vbs: FakeVBS, http: requests.Session) -> None:
    assert http.get(f"{vbs.url}/__vbs__/state").status_code == 200


def test_a_fake_built_with_auth_wants_a_token_for_control_and_the_verbs_still_work() -> None:
    with FakeVBS(auth=True) as fake, requests.Session() as http:
        assert http.post(f"{fake.url}/__vbs__/reset").status_code == 401
        fake.reset()  # the Python verbs need no token
        volume = fake.add_volume()
        token = {"X-Auth-Token": fake.issue_token()}
        assert http.post(f"{fake.url}/__vbs__/reset", headers=token).json() == {"reset": True}
        assert fake.auth is True  # a reset brings back the fake's own setting
        assert volume not in fake.volumes


def test_the_http_journal_redacts_tokens_and_passwords(vbs: FakeVBS, http: requests.Session) -> None:
    token = vbs.issue_token()
    password_login = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": DEFAULT_USERNAME, "domain": {"name": DEFAULT_DOMAIN_NAME}, "password": DEFAULT_PASSWORD}}}}}
    token_login = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    http.post(f"{vbs.auth_url}/auth/tokens", json=password_login)
    http.post(f"{vbs.auth_url}/auth/tokens", json=token_login)
    http.get(f"{vbs.auth_url}/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token})
    http.get(f"{vbs.endpoint}/backups", headers={"x-auth-token": token})

    shown = http.get(f"{vbs.url}/__vbs__/requests").text

    assert token not in shown
    assert DEFAULT_PASSWORD not in shown
    entries = http.get(f"{vbs.url}/__vbs__/requests").json()["requests"]
    assert entries[0]["json"]["auth"]["identity"]["password"]["user"]["password"] == REDACTED
    assert entries[0]["json"]["auth"]["identity"]["password"]["user"]["name"] == DEFAULT_USERNAME
    assert entries[1]["json"]["auth"]["identity"]["token"] == {"id": REDACTED}
    assert {entries[2]["headers"]["X-Auth-Token"], entries[2]["headers"]["X-Subject-Token"]} == {REDACTED}
    assert {v for k, v in entries[3]["headers"].items() if k.lower() == "x-auth-token"} == {REDACTED}
    # The test's own process sees what was sent.
    assert vbs.requests[0].json == password_login
    assert vbs.requests[3].headers["X-Auth-Token"] == token
