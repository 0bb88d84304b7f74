"""The fake Keystone's HTTP face (Identity v3 under ``/identity``): version documents and tokens, the token body
and the service catalog. Users, projects, tokens and the checks are in ``service/identity.py``.

``POST /identity/v3/auth/tokens`` answers ``201`` with ``X-Subject-Token`` and a token whose catalog points every
block-storage service type (and the ``vbs`` type otcextensions uses) at the fake. The identity routes behave like
Keystone whatever the auth setting.
"""

from __future__ import annotations

from typing import Any

from pytest_vbs.api.call import Call, Operation
from pytest_vbs.errors import Family
from pytest_vbs.service.identity import SUBJECT_HEADER, TOKEN_HEADER, Identity, Token, keystone_time, stable_id

#: Where the identity service lives on the fake's host.
PREFIX = "/identity"
#: The identity v3 URL, after the fake's base URL (clients' ``auth_url``).
AUTH_PATH = PREFIX + "/v3"
#: The catalog: service type, service name, path on the fake (``{project_id}`` filled in per token).
CATALOG: tuple[tuple[str, str, str], ...] = (
    ("block-storage", "block-storage", "/v3/{project_id}"),
    ("volumev3", "cinderv3", "/v3/{project_id}"),
    ("volumev2", "cinderv2", "/v2/{project_id}"),
    # otcextensions' volume_backup service: endpoint type ``vbs``, project id appended (sdk/__init__.py).
    ("vbs", "vbs", "/v2/{project_id}"),
    ("identity", "keystone", AUTH_PATH),
)
_INTERFACES = ("public", "internal", "admin")


# -- views ----------------------------------------------------------------------------------------------------
def token_body(identity: Identity, token: Token, base_url: str, *, catalog: bool = True) -> dict[str, Any]:
    """The Keystone v3 token body."""
    with identity.lock:
        user = identity.users[token.user_id]
        body: dict[str, Any] = {
            "methods": list(token.methods),
            "user": {"id": user.id, "name": user.name, "domain": identity.domain_view(user.domain_id),
                     "password_expires_at": None},
            "audit_ids": [token.audit_id],
            "expires_at": keystone_time(token.expires_at),
            "issued_at": keystone_time(token.issued_at),
        }
        if token.project_id is not None:
            project = identity.projects[token.project_id]
            body["project"] = {"id": project.id, "name": project.name,
                               "domain": identity.domain_view(project.domain_id)}
            body["is_domain"] = False
        if token.domain_id is not None:
            body["domain"] = identity.domain_view(token.domain_id)
        if token.project_id is not None or token.domain_id is not None:
            body["roles"] = [{"id": stable_id("role", r), "name": r} for r in user.roles]
            if catalog:
                body["catalog"] = service_catalog(identity.region, base_url, token.project_id)
        return {"token": body}


def service_catalog(region: str, base_url: str, project_id: str | None) -> list[dict[str, Any]]:
    """Service catalog entries pointing at the fake (project-bound services only with a project)."""
    entries = []
    for service_type, name, path in CATALOG:
        if "{project_id}" in path and project_id is None:
            continue
        url = base_url + path.format(project_id=project_id)
        entries.append({
            "id": stable_id("service", service_type),
            "type": service_type,
            "name": name,
            "endpoints": [
                {"id": stable_id("endpoint", service_type, interface), "interface": interface,
                 "region": region, "region_id": region, "url": url}
                for interface in _INTERFACES
            ],
        })
    return entries


def _version(call: Call) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{call.base_url}{AUTH_PATH}/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }


# -- handlers -------------------------------------------------------------------------------------------------
def identity_list_versions(call: Call) -> dict[str, Any]:
    """``GET /identity``: 300 Multiple Choices with the one version, as Keystone answers its root."""
    return {"versions": {"values": [_version(call)]}}


def identity_show_version(call: Call) -> dict[str, Any]:
    return {"version": _version(call)}


def identity_create_token(call: Call) -> dict[str, Any]:
    token = call.identity.authenticate(call.body, call.base_url + AUTH_PATH)
    call.response_headers[SUBJECT_HEADER] = token.id
    return token_body(call.identity, token, call.base_url, catalog="nocatalog" not in call.raw_query)


def identity_validate_token(call: Call) -> dict[str, Any]:
    token = _subject(call)
    call.response_headers[SUBJECT_HEADER] = token.id
    return token_body(call.identity, token, call.base_url, catalog="nocatalog" not in call.raw_query)


def identity_revoke_token(call: Call) -> None:
    call.identity.revoke(_subject(call).id)


def _subject(call: Call) -> Token:
    """The token ``X-Subject-Token`` names, asked about with a valid ``X-Auth-Token``."""
    return call.identity.subject(call.headers.get(TOKEN_HEADER), call.headers.get(SUBJECT_HEADER),
                                 call.base_url + AUTH_PATH)


# -- rows ------------------------------------------------------------------------------------------------------
def _routes() -> list[Operation]:
    common: dict[str, Any] = {"family": Family.IDENTITY, "tags": ("identity",), "public": True,
                              "doc_page": "keystone: api-ref/source/v3/authenticate-v3.inc"}
    return [
        Operation("identity_list_versions", "GET", PREFIX, identity_list_versions, 300, **common),
        Operation("identity_show_version", "GET", AUTH_PATH, identity_show_version, **common),
        Operation("identity_create_token", "POST", f"{AUTH_PATH}/auth/tokens", identity_create_token, 201,
                  request_schema="identity_create_token", **common),
        Operation("identity_validate_token", "GET", f"{AUTH_PATH}/auth/tokens", identity_validate_token, **common),
        Operation("identity_revoke_token", "DELETE", f"{AUTH_PATH}/auth/tokens", identity_revoke_token, 204,
                  **common),
    ]


ROUTES: tuple[Operation, ...] = tuple(_routes())
