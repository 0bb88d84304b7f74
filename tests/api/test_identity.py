"""The fake Keystone v3 (``/identity``): version documents, token issue/validate/revoke and their errors, and
token checks on the API (off by default: any token or none; on: 401 with ``WWW-Authenticate``, 403 across
projects). Everything over real sockets with ``requests``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from vbs_support import REQUEST_ID, assert_error, assert_vbs_error

from pytest_vbs import FakeVBS
from pytest_vbs.service.identity import DEFAULT_DOMAIN_NAME, DEFAULT_PASSWORD, DEFAULT_PROJECT_NAME, DEFAULT_USERNAME

OTHER_PROJECT = "5a1d3c5e7f9b0a240d5b1e9a6c7f4b2e"
CATALOG_TYPES = {"block-storage", "volumev3", "volumev2", "vbs", "identity"}


def password_auth(
    user: dict[str, Any] | None = None, password: str = DEFAULT_PASSWORD, scope: Any = None
) -> dict[str, Any]:
    """A password-method token request (user by name in the default domain unless given)."""
    spec = {**(user or {"name": DEFAULT_USERNAME, "domain": {"name": DEFAULT_DOMAIN_NAME}}), "password": password}
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": spec}}}
    if scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


def assert_identity_error(response: requests.Response, status: int, title: str, *fragments: str) -> str:
    """Keystone's envelope ``{"error": {"code": <int>, "message": ..., "title": ...}}``; returns the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"], body
    assert set(body["error"]) == {"code", "message", "title"}
    assert body["error"]["code"] == status
    assert body["error"]["title"] == title
    message = str(body["error"]["message"])
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


@pytest.fixture
def tokens(vbs: FakeVBS) -> str:
    return f"{vbs.auth_url}/auth/tokens"


def login(http: requests.Session, vbs: FakeVBS, project_id: str | None = None) -> str:
    scope = {"project": {"id": project_id or vbs.project_id}}
    response = http.post(f"{vbs.auth_url}/auth/tokens", json=password_auth(scope=scope))
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


# -- version documents ------------------------------------------------------------------------------------------
def test_identity_root_lists_v3_with_300(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.get(f"{vbs.url}/identity")

    assert response.status_code == 300
    (version,) = response.json()["versions"]["values"]
    assert version["id"].startswith("v3.")
    assert version["status"] == "stable"
    assert version["links"] == [{"rel": "self", "href": f"{vbs.auth_url}/"}]


def test_identity_v3_shows_its_version(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.get(vbs.auth_url)

    assert response.status_code == 200
    assert response.json()["version"]["links"][0]["href"] == f"{vbs.auth_url}/"
    assert REQUEST_ID.match(response.headers["X-OpenStack-Request-Id"])


# -- issuing tokens --------------------------------------------------------------------------------------------------
def test_password_token_scoped_to_project_by_id(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    response = http.post(tokens, json=password_auth(scope={"project": {"id": vbs.project_id}}))

    assert response.status_code == 201, response.text
    assert response.headers["X-Subject-Token"]
    token = response.json()["token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == DEFAULT_USERNAME
    assert token["user"]["domain"] == {"id": "default", "name": DEFAULT_DOMAIN_NAME}
    assert token["project"]["id"] == vbs.project_id
    assert token["project"]["name"] == DEFAULT_PROJECT_NAME
    assert {role["name"] for role in token["roles"]} == {"member", "reader"}
    assert token["expires_at"].endswith("Z")
    assert token["issued_at"] < token["expires_at"]
    services = {entry["type"]: entry for entry in token["catalog"]}
    assert set(services) == CATALOG_TYPES
    urls = {t: {e["url"] for e in entry["endpoints"]} for t, entry in services.items()}
    assert urls["block-storage"] == urls["volumev3"] == {vbs.endpoint}
    assert urls["volumev2"] == urls["vbs"] == {vbs.endpoint_v2}
    assert urls["identity"] == {vbs.auth_url}
    assert {e["interface"] for e in services["volumev3"]["endpoints"]} == {"public", "internal", "admin"}


def test_password_by_user_id_and_project_by_name_and_domain(
    vbs: FakeVBS, http: requests.Session, tokens: str
) -> None:
    validated = http.get(tokens, headers={"X-Auth-Token": login(http, vbs), "X-Subject-Token": login(http, vbs)})
    user_id = validated.json()["token"]["user"]["id"]
    scope = {"project": {"name": DEFAULT_PROJECT_NAME, "domain": {"id": "default"}}}

    response = http.post(tokens, json=password_auth({"id": user_id}, scope=scope))

    assert response.status_code == 201, response.text
    assert response.json()["token"]["project"]["id"] == vbs.project_id


def test_no_scope_gives_the_default_project_and_unscoped_gives_none(
    vbs: FakeVBS, http: requests.Session, tokens: str
) -> None:
    default = http.post(tokens, json=password_auth()).json()["token"]
    unscoped = http.post(tokens, json=password_auth(scope="unscoped")).json()["token"]

    assert default["project"]["id"] == vbs.project_id
    assert "project" not in unscoped
    assert "catalog" not in unscoped


def test_domain_scope_has_no_project_endpoints(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    response = http.post(tokens, json=password_auth(scope={"domain": {"name": DEFAULT_DOMAIN_NAME}}))

    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert token["domain"]["id"] == "default"
    assert [entry["type"] for entry in token["catalog"]] == ["identity"]


def test_token_method_rescopes_to_another_project(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    vbs.identity.add_project("second", project_id=OTHER_PROJECT)
    vbs.identity.grant(DEFAULT_USERNAME, OTHER_PROJECT)
    first = login(http, vbs)

    response = http.post(tokens, json={"auth": {"identity": {"methods": ["token"], "token": {"id": first}},
                                                "scope": {"project": {"id": OTHER_PROJECT}}}})

    assert response.status_code == 201, response.text
    assert response.headers["X-Subject-Token"] != first
    token = response.json()["token"]
    assert token["methods"] == ["token"]
    assert token["project"]["id"] == OTHER_PROJECT
    assert {e["url"] for e in token["catalog"][0]["endpoints"]} == {f"{vbs.url}/v3/{OTHER_PROJECT}"}


def test_seeded_user_logs_in(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    vbs.identity.add_user("alice", "wonderland", projects=[vbs.project_id])

    good = http.post(tokens, json=password_auth({"name": "alice", "domain": {"id": "default"}}, "wonderland",
                                                {"project": {"id": vbs.project_id}}))
    bad = http.post(tokens, json=password_auth({"name": "alice", "domain": {"id": "default"}}, DEFAULT_PASSWORD))

    assert good.status_code == 201
    assert good.json()["token"]["user"]["name"] == "alice"
    assert_identity_error(bad, 401, "Unauthorized", "requires authentication")


def test_a_user_in_a_domain_of_its_own(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    """Same user name in two domains: the domain in the request picks which one logs in."""
    domain = vbs.identity.add_domain("Partners")
    vbs.identity.add_user("alice", "partner-secret", domain="Partners", projects=[vbs.project_id])
    vbs.identity.add_user("alice", "wonderland", projects=[vbs.project_id])
    scope = {"project": {"id": vbs.project_id}}

    partner = http.post(tokens, json=password_auth({"name": "alice", "domain": {"name": "Partners"}},
                                                   "partner-secret", scope))
    wrong = http.post(tokens, json=password_auth({"name": "alice", "domain": {"id": domain.id}}, "wonderland"))

    assert partner.status_code == 201, partner.text
    assert partner.json()["token"]["user"]["domain"] == {"id": domain.id, "name": "Partners"}
    assert_identity_error(wrong, 401, "Unauthorized", "requires authentication")


# -- authentication errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (password_auth(password="wrong"), ["requires authentication", "invalid username or password"]),
        (password_auth({"name": "nobody", "domain": {"name": DEFAULT_DOMAIN_NAME}}), ["requires authentication"]),
        (password_auth({"name": DEFAULT_USERNAME, "domain": {"name": "Elsewhere"}}), ["requires authentication"]),
        (password_auth(scope={"project": {"name": "nowhere", "domain": {"name": DEFAULT_DOMAIN_NAME}}}),
         ["Could not find project", "nowhere"]),
        ({"auth": {"identity": {"methods": ["token"], "token": {"id": "not-a-token"}}}}, ["not valid"]),
        ({"auth": {"identity": {"methods": ["totp"], "totp": {}}}}, ["unsupported method: totp"]),
    ],
    ids=["wrong-password", "unknown-user", "unknown-domain", "unknown-project", "unknown-token", "totp"],
)
def test_failed_authentication_is_401_with_a_challenge(
    vbs: FakeVBS, http: requests.Session, tokens: str, body: dict[str, Any], fragments: list[str]
) -> None:
    response = http.post(tokens, json=body)

    assert_identity_error(response, 401, "Unauthorized", *fragments)
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{vbs.auth_url}"'
    assert "X-Subject-Token" not in response.headers


# -- open mode: identity agrees with the API, which serves any project id ----------------------------------------------
def test_a_project_scoped_by_id_is_made_on_first_use(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.auth = True
    unknown = "c" * 32

    token = login(http, vbs, unknown)

    assert vbs.identity.projects[unknown].name == f"project-{unknown}"
    assert http.get(f"{vbs.url}/v3/{unknown}/backups", headers={"X-Auth-Token": token}).status_code == 200


def test_for_project_is_known_to_identity(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    other = vbs.for_project("d" * 32)
    scope = {"project": {"name": f"project-{other.project_id}", "domain": {"name": DEFAULT_DOMAIN_NAME}}}

    response = http.post(tokens, json=password_auth(scope=scope))

    assert response.status_code == 201, response.text
    assert response.json()["token"]["project"]["id"] == other.project_id


@pytest.fixture
def restricted() -> Iterator[FakeVBS]:
    """A fake serving two projects only (``serve --only-project``), neither of them the default one."""
    with FakeVBS(projects=["e" * 32, "f" * 32], auth=True) as fake:
        yield fake


@pytest.mark.parametrize("served", ["e" * 32, "f" * 32])
def test_only_the_served_projects_exist_when_restricted(restricted: FakeVBS, http: requests.Session,
                                                        served: str) -> None:
    token = login(http, restricted, served)
    assert http.get(f"{restricted.url}/v3/{served}/backups", headers={"X-Auth-Token": token}).status_code == 200

    response = http.post(f"{restricted.auth_url}/auth/tokens", json=password_auth(scope={"project": {"id": "c" * 32}}))

    assert_identity_error(response, 401, "Unauthorized", "Could not find project", "c" * 32)
    assert set(restricted.identity.projects) == {"e" * 32, "f" * 32}  # the default project is not served
    with pytest.raises(ValueError, match="is not served by this fake"):
        restricted.for_project("c" * 32)


def test_project_without_a_role_is_401(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    vbs.identity.add_project("not-mine", project_id=OTHER_PROJECT)

    response = http.post(tokens, json=password_auth(scope={"project": {"id": OTHER_PROJECT}}))

    assert_identity_error(response, 401, "Unauthorized", "has no access to project", OTHER_PROJECT)


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({}, ["'auth'", "mandatory"]),
        ({"auth": {}}, ["auth.identity", "mandatory"]),
        ({"auth": {"identity": {"methods": []}}}, ["auth.identity.methods", "at least 1"]),
        ({"auth": {"identity": {"methods": ["password"]}}}, ["password"]),
        ({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "x"}}}}},
         ["user.password", "mandatory"]),
        (password_auth({"name": DEFAULT_USERNAME}), ["domain"]),
        (password_auth(scope={"project": {"name": DEFAULT_PROJECT_NAME}}), ["domain"]),
        (password_auth(scope={"project": {"id": "x"}, "domain": {"id": "default"}}), ["not several"]),
        (password_auth(scope=7), ["auth.scope"]),
        ([], ["body", "object"]),
    ],
    ids=["empty", "no-identity", "no-methods", "no-password", "no-password-field", "user-name-without-domain",
         "project-name-without-domain", "two-scopes", "scope-number", "array"],
)
def test_malformed_token_requests_are_400(
    http: requests.Session, tokens: str, body: Any, fragments: list[str]
) -> None:
    response = http.post(tokens, json=body)

    assert_identity_error(response, 400, "Bad Request", *fragments)


def test_token_request_that_is_not_json_is_400(http: requests.Session, tokens: str) -> None:
    response = http.post(tokens, data=b"{nope", headers={"Content-Type": "application/json"})

    assert_identity_error(response, 400, "Bad Request", "Malformed request body")


# -- validating and revoking ----------------------------------------------------------------------------------------
def test_validate_answers_the_subject_token(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    caller, subject = login(http, vbs), login(http, vbs)

    response = http.get(tokens, headers={"X-Auth-Token": caller, "X-Subject-Token": subject})
    without_catalog = http.get(f"{tokens}?nocatalog", headers={"X-Auth-Token": caller, "X-Subject-Token": subject})

    assert response.status_code == 200, response.text
    assert response.headers["X-Subject-Token"] == subject
    assert response.json()["token"]["project"]["id"] == vbs.project_id
    assert "catalog" in response.json()["token"]
    assert "catalog" not in without_catalog.json()["token"]


def test_validate_errors(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    caller = login(http, vbs)

    no_caller = http.get(tokens, headers={"X-Subject-Token": caller})
    no_subject = http.get(tokens, headers={"X-Auth-Token": caller})
    unknown = http.get(tokens, headers={"X-Auth-Token": caller, "X-Subject-Token": "gAAAAAunknown"})

    assert_identity_error(no_caller, 401, "Unauthorized", "no X-Auth-Token header")
    assert no_caller.headers["WWW-Authenticate"] == f'Keystone uri="{vbs.auth_url}"'
    assert_identity_error(no_subject, 400, "Bad Request", "X-Subject-Token")
    assert_identity_error(unknown, 404, "Not Found", "Could not find token: gAAAAAunknown")


def test_revoke_then_the_token_is_gone(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    caller, subject = login(http, vbs), login(http, vbs)

    revoked = http.delete(tokens, headers={"X-Auth-Token": caller, "X-Subject-Token": subject})
    validated = http.get(tokens, headers={"X-Auth-Token": caller, "X-Subject-Token": subject})
    again = http.delete(tokens, headers={"X-Auth-Token": caller, "X-Subject-Token": subject})

    assert revoked.status_code == 204
    assert revoked.content == b""
    assert_identity_error(validated, 404, "Not Found", subject)
    assert_identity_error(again, 404, "Not Found", subject)
    assert vbs.identity.token(subject) is None


def test_expired_token_is_not_found_when_validated(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    caller = login(http, vbs)
    expired = vbs.issue_token(ttl=timedelta(seconds=-1))

    response = http.get(tokens, headers={"X-Auth-Token": caller, "X-Subject-Token": expired})

    assert_identity_error(response, 404, "Not Found", expired)


# -- auth on the API ------------------------------------------------------------------------------------------------
def test_auth_is_off_by_default_and_any_token_or_none_works(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.add_backup(name="seen")

    assert vbs.auth is False
    for headers in ({}, {"X-Auth-Token": "anything"}, {"X-Auth-Token": "admin:admin"}):
        response = http.get(f"{vbs.endpoint}/backups", headers=headers)
        assert response.status_code == 200, response.text
        assert [b["name"] for b in response.json()["backups"]] == ["seen"]


@pytest.mark.vbs(auth=True)
@pytest.mark.parametrize(
    ("headers", "fragment"),
    [({}, "no X-Auth-Token header"), ({"X-Auth-Token": "gAAAAAunknown"}, "token is not valid")],
    ids=["missing", "unknown"],
)
def test_auth_on_missing_or_unknown_token_is_401(
    vbs: FakeVBS, http: requests.Session, headers: dict[str, str], fragment: str
) -> None:
    response = http.get(f"{vbs.endpoint}/backups", headers=headers)

    assert_error(response, 401, "unauthorized", "requires authentication", fragment)
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{vbs.auth_url}"'
    assert vbs.last_request("list_backups").status == 401


@pytest.mark.vbs(auth=True)
def test_auth_on_expired_token_is_401(vbs: FakeVBS, http: requests.Session) -> None:
    token = vbs.issue_token()
    vbs.identity.expire(token)

    response = http.get(f"{vbs.endpoint}/backups", headers={"X-Auth-Token": token})

    assert_error(response, 401, "unauthorized", "expired at")


@pytest.mark.vbs(auth=True)
def test_auth_on_revoked_token_is_401(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    token = login(http, vbs)
    assert http.delete(tokens, headers={"X-Auth-Token": token, "X-Subject-Token": token}).status_code == 204

    response = http.get(f"{vbs.endpoint}/backups", headers={"X-Auth-Token": token})

    assert_error(response, 401, "unauthorized", "not valid")


@pytest.mark.vbs(auth=True)
def test_auth_on_valid_token_of_the_project_works(vbs: FakeVBS, http: requests.Session) -> None:
    volume_id = vbs.add_volume()
    snapshot_id = vbs.add_snapshot(volume_id)
    headers = {"X-Auth-Token": login(http, vbs)}

    created = http.post(f"{vbs.endpoint}/backups", headers=headers,
                        json={"backup": {"volume_id": volume_id, "snapshot_id": snapshot_id}})
    listed = http.get(f"{vbs.endpoint}/backups/detail", headers=headers)

    assert created.status_code == 202, created.text
    assert [b["id"] for b in listed.json()["backups"]] == [created.json()["backup"]["id"]]


@pytest.mark.vbs(auth=True)
def test_auth_on_token_of_another_project_is_403(vbs: FakeVBS, http: requests.Session) -> None:
    volume_id = vbs.add_volume()
    other = vbs.for_project(OTHER_PROJECT)
    token = other.issue_token()

    listed = http.get(f"{vbs.endpoint}/backups", headers={"X-Auth-Token": token})
    created = http.post(f"{vbs.endpoint}/backups", headers={"X-Auth-Token": token},
                        json={"backup": {"volume_id": volume_id, "snapshot_id": vbs.add_snapshot(volume_id)}})
    own = http.get(f"{other.endpoint}/backups", headers={"X-Auth-Token": token})

    assert_error(listed, 403, "forbidden", f"project {OTHER_PROJECT}", vbs.project_id)
    assert_error(created, 403, "forbidden")
    assert vbs.backups == {}
    assert own.status_code == 200


@pytest.mark.vbs(auth=True)
def test_auth_on_unscoped_token_is_403(vbs: FakeVBS, http: requests.Session) -> None:
    token = vbs.identity.issue_token()

    response = http.get(f"{vbs.endpoint}/backups", headers={"X-Auth-Token": token})

    assert_error(response, 403, "forbidden", "no project")


@pytest.mark.vbs(auth=True)
def test_auth_on_v2_and_volume_routes_are_checked_too(vbs: FakeVBS, http: requests.Session) -> None:
    for url in (f"{vbs.endpoint_v2}/backups/detail", f"{vbs.endpoint}/volumes/detail", f"{vbs.endpoint}/snapshots"):
        assert_error(http.get(url), 401, "unauthorized")


@pytest.mark.vbs(auth=True)
def test_auth_on_vbs_native_routes_use_their_envelope(vbs: FakeVBS, http: requests.Session) -> None:
    path = f"/v2/{vbs.project_id}/cloudbackups"
    if "POST" not in vbs.app.allowed_methods(path):
        pytest.skip("the VBS-native cloudbackups routes are not served yet (another issue)")

    response = http.post(f"{vbs.url}{path}", json={"backup": {"volume_id": "x", "name": "b"}})

    assert_vbs_error(response, 401, "requires authentication")
    assert response.json()["error"]["code"] == "VolumeBackup.0044"
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{vbs.auth_url}"'


@pytest.mark.vbs(auth=True)
def test_auth_on_discovery_and_identity_need_no_token(vbs: FakeVBS, http: requests.Session) -> None:
    assert http.get(f"{vbs.url}/").status_code == 300
    assert http.get(f"{vbs.url}/v3").status_code == 200
    assert http.get(f"{vbs.url}/identity").status_code == 300
    assert http.get(vbs.auth_url).status_code == 200
    assert http.get(f"{vbs.url}/__vbs__/state").status_code == 401  # the control API does (test_control_auth.py)


def test_faults_answer_before_the_token_check(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.auth = True
    vbs.fail("list_backups", 503, message="maintenance")

    response = http.get(f"{vbs.endpoint}/backups")

    assert_error(response, 503, "serviceUnavailable", "maintenance")


# -- reset and configuration ----------------------------------------------------------------------------------------
def test_reset_restores_defaults_and_keeps_default_user_tokens(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.auth = True
    kept = login(http, vbs)
    vbs.identity.add_user("bob", "pw", projects=[vbs.project_id])
    dropped = vbs.identity.issue_token("bob", vbs.project_id)

    vbs.reset()

    assert vbs.auth is False
    assert "bob" not in {u.name for u in vbs.identity.users.values()}
    assert vbs.identity.token(kept) is not None
    assert vbs.identity.token(dropped) is None


def test_auth_marker_lasts_for_one_test_only(vbs: FakeVBS) -> None:
    # test_auth_on_* above ran with the marker; this test got a fresh, auth-off fake.
    assert vbs.auth is False


@pytest.fixture
def inner_test(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(
        """
        import requests

        def test_no_token(vbs):
            status = requests.get(vbs.endpoint + "/backups").status_code
            print("STATUS", status, vbs.auth)
        """
    )
    return pytester


def test_vbs_auth_option_turns_checks_on(inner_test: pytest.Pytester) -> None:
    result = inner_test.runpytest_inprocess("-s", "--vbs-auth", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*STATUS 401 True*"])


def test_vbs_auth_ini_turns_checks_on(inner_test: pytest.Pytester) -> None:
    inner_test.makeini("[pytest]\nvbs_auth = true\n")

    result = inner_test.runpytest_inprocess("-s", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*STATUS 401 True*"])


def test_without_the_option_auth_is_off(inner_test: pytest.Pytester) -> None:
    result = inner_test.runpytest_inprocess("-s", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*STATUS 200 False*"])


@pytest.fixture
def served() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``python -m pytest_vbs serve --port 0 --auth`` in a subprocess; its base URL."""
    with subprocess.Popen(
        [sys.executable, "-m", "pytest_vbs", "serve", "--port", "0", "--auth"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:  # closes stdout and waits on the way out
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert "serving at" in first, first
            yield first.rsplit(" ", 1)[-1].strip(), process
        finally:
            process.terminate()


def test_standalone_server_serves_identity_and_checks_tokens(
    served: tuple[str, subprocess.Popen[str]], http: requests.Session
) -> None:
    url, process = served
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(2)]
    assert "identity" in lines[1]
    assert "token checks on" in lines[1]
    endpoint = lines[0].split(": ", 1)[1].strip()
    project_id = endpoint.rsplit("/", 1)[-1]

    without = http.get(f"{endpoint}/backups")
    login_response = http.post(f"{url}/identity/v3/auth/tokens",
                               json=password_auth(scope={"project": {"id": project_id}}))
    with_token = http.get(f"{endpoint}/backups", headers={"X-Auth-Token": login_response.headers["X-Subject-Token"]})

    assert_error(without, 401, "unauthorized")
    assert login_response.status_code == 201
    assert with_token.status_code == 200


# -- passwords beyond ASCII (issue 15, item 4) ----------------------------------------------------------------------
@pytest.mark.parametrize("password", ["pässwörd", "пароль", "🔑🔑", "vbs-password\u00e9"])
def test_a_wrong_non_ascii_password_is_401_not_500(
    vbs: FakeVBS, http: requests.Session, tokens: str, password: str
) -> None:
    response = http.post(tokens, json=password_auth(password=password))

    assert_identity_error(response, 401, "Unauthorized", "invalid username or password")
    assert vbs.app.take_unexpected_errors() == []


def test_a_user_with_a_non_ascii_password_logs_in(vbs: FakeVBS, http: requests.Session, tokens: str) -> None:
    vbs.identity.add_user("zoë", "mot-de-passe-été-🔑", projects=[vbs.project_id])
    user = {"name": "zoë", "domain": {"id": "default"}}

    good = http.post(tokens, json=password_auth(user, "mot-de-passe-été-🔑"))
    bad = http.post(tokens, json=password_auth(user, "mot-de-passe-ete-🔑"))

    assert good.status_code == 201, good.text
    assert good.json()["token"]["user"]["name"] == "zoë"
    assert_identity_error(bad, 401, "Unauthorized", "invalid username or password")
