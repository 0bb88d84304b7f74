"""The fake Keystone (Identity v3): domains, users, projects, tokens, authentication and the API's token check.

Real clients (openstacksdk, keystoneauth, python-cinderclient, otcextensions) authenticate exactly as against
Keystone: ``password`` or ``token`` method, scoped to a project by id or by name and domain. Its routes, token
bodies and service catalog are in ``api/identity.py``.

Auth on the VBS API is off by default (any token, or none, is accepted, as with keystoneauth's ``noauth``
and ``admin_token``); with it on, a request to a project route needs a valid token of that project.
The identity routes themselves always behave like Keystone, whatever the setting.
"""

from __future__ import annotations

import base64
import secrets
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pytest_vbs.errors import APIError

#: The project tests act in unless they choose another (32 hex characters, like a Keystone project id).
DEFAULT_PROJECT_ID = "0d5b1e9a6c7f4b2e8a1d3c5e7f9b0a24"
DEFAULT_PROJECT_NAME = "vbs-project"
DEFAULT_DOMAIN_ID = "default"
DEFAULT_DOMAIN_NAME = "Default"
DEFAULT_USERNAME = "vbs-user"
DEFAULT_PASSWORD = "vbs-password"
DEFAULT_ROLES = ("member", "reader")
#: OTC's region; clients that name no region match any.
DEFAULT_REGION = "eu-de"
#: OTC IAM tokens are valid for 24 hours.
TOKEN_TTL = timedelta(hours=24)
#: Tokens kept at most: past it the oldest issued are forgotten (a long-lived ``serve`` whose clients log in for every
#: request). Expired tokens are kept :data:`EXPIRED_KEPT` (they answer "expired", not "not valid"), then purged; a
#: revoked token is forgotten at once.
MAX_TOKENS = 20_000
EXPIRED_KEPT = timedelta(hours=1)
_SWEEP_MIN = 1024
#: The headers that carry the caller's token and the token asked about (named in error messages).
TOKEN_HEADER = "X-Auth-Token"
SUBJECT_HEADER = "X-Subject-Token"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_UNAUTHORIZED = "The request you have made requires authentication."


def _now() -> datetime:
    return datetime.now(timezone.utc)


def stable_id(*parts: str) -> str:
    """A Keystone-like 32-hex id that is the same for the same name (ids survive a reset)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "pytest-vbs:" + ":".join(parts)).hex


@dataclass(frozen=True)
class Domain:
    id: str
    name: str


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    domain_id: str


@dataclass
class User:
    id: str
    name: str
    domain_id: str
    password: str
    roles: tuple[str, ...] = DEFAULT_ROLES
    projects: set[str] = field(default_factory=set)  #: ids of the projects the user has its roles on
    default_project_id: str | None = None
    enabled: bool = True


@dataclass
class Token:
    id: str
    user_id: str
    methods: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    audit_id: str
    project_id: str | None = None
    domain_id: str | None = None  #: a domain-scoped token

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def unauthorized(message: str, auth_url: str) -> APIError:
    """401 with Keystone's ``WWW-Authenticate`` challenge (keystonemiddleware sends it too)."""
    return APIError(401, message, reason="unauthorized", headers={"WWW-Authenticate": f'Keystone uri="{auth_url}"'})


class Identity:
    """Users, projects, domains and tokens of the fake Keystone, behind one lock.

    Out of the box: domain ``Default``, project ``vbs-project`` with id ``project_id``, and user ``vbs-user`` /
    ``vbs-password`` with the roles ``member`` and ``reader`` on it. With ``projects``, exactly those projects
    (that one among them only if listed), that user granted on each; else any project scoped by id is made on
    first use with that user granted. ``auth``
    switches token checks on the VBS API. :meth:`reset` brings the defaults back (tokens of the default user stay
    valid).
    """

    def __init__(
        self,
        *,
        project_id: str = DEFAULT_PROJECT_ID,
        auth: bool = False,
        region: str = DEFAULT_REGION,
        token_ttl: timedelta = TOKEN_TTL,
        projects: Iterable[str] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        #: The only projects (made at start), or ``None``: open mode, a project scoped by id is made on first use.
        self.only_projects = frozenset(projects) if projects is not None else None
        self.region = region
        self.token_ttl = token_ttl
        self.default_project_id = project_id
        self._default_auth = auth
        self.auth = auth
        self.domains: dict[str, Domain] = {}
        self.projects: dict[str, Project] = {}
        self.users: dict[str, User] = {}
        self._tokens: dict[str, Token] = {}
        self._sweep_at = _SWEEP_MIN  # the next purge of expired tokens, when this many are kept (amortized O(1))
        self._seed()

    # -- seeding -----------------------------------------------------------------------------------------
    def _seed(self) -> None:
        self.domains = {DEFAULT_DOMAIN_ID: Domain(DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME)}
        self.projects = {}
        self.users = {}
        served = self.only_projects
        home = self.default_project_id if served is None or self.default_project_id in served else None
        if home is not None:
            self.add_project(DEFAULT_PROJECT_NAME, project_id=home)
        for project_id in sorted((served or frozenset()) - {home}):
            self.add_project(f"project-{project_id}", project_id=project_id)
        self.add_user(DEFAULT_USERNAME, DEFAULT_PASSWORD, projects=list(self.projects), default_project=home)

    def reset(self) -> None:
        """The default domain, project and user again, auth back to its configured default; tokens of users
        and projects that no longer exist are dropped."""
        with self.lock:
            self.auth = self._default_auth
            self._seed()
            cutoff = _now() - EXPIRED_KEPT
            self._tokens = {
                k: t for k, t in self._tokens.items()
                if t.user_id in self.users and (t.project_id is None or t.project_id in self.projects)
                and (t.domain_id is None or t.domain_id in self.domains) and t.expires_at > cutoff
            }

    def add_domain(self, name: str, *, domain_id: str | None = None) -> Domain:
        """A domain, for users and projects outside ``Default`` (``add_user(..., domain=name)``); returns it."""
        with self.lock:
            domain = Domain(domain_id or stable_id("domain", name), name)
            self.domains[domain.id] = domain
            return domain

    def add_project(self, name: str, *, project_id: str | None = None, domain: str = DEFAULT_DOMAIN_ID) -> Project:
        """A project (``domain``: a domain id or name); returns it."""
        with self.lock:
            domain_ref = self._domain(domain)
            project = Project(project_id or stable_id("project", domain_ref.id, name), name, domain_ref.id)
            self.projects[project.id] = project
            return project

    def add_user(
        self,
        name: str,
        password: str,
        *,
        user_id: str | None = None,
        domain: str = DEFAULT_DOMAIN_ID,
        projects: Iterable[str] = (),
        roles: Iterable[str] = DEFAULT_ROLES,
        default_project: str | None = None,
        enabled: bool = True,
    ) -> User:
        """A user with ``roles`` on each of ``projects`` (ids); ``default_project`` scopes its unscoped logins."""
        with self.lock:
            domain_ref = self._domain(domain)
            user = User(
                id=user_id or stable_id("user", domain_ref.id, name),
                name=name,
                domain_id=domain_ref.id,
                password=password,
                roles=tuple(roles),
                default_project_id=default_project,
                enabled=enabled,
            )
            for project_id in projects:
                self._project_by_id(project_id)
                user.projects.add(project_id)
            self.users[user.id] = user
            return user

    def grant(self, user: str, project_id: str) -> None:
        """Give ``user`` (an id or a name in the default domain) its roles on ``project_id``."""
        with self.lock:
            self._project_by_id(project_id)
            self._user(user).projects.add(project_id)

    def ensure_project(self, project_id: str) -> Project:
        """The project with this id, made (named ``project-<id>``, default user granted) when unknown."""
        with self.lock:
            project = self.projects.get(project_id)
            if project is None:
                project = self.add_project(f"project-{project_id}", project_id=project_id)
                self.grant(DEFAULT_USERNAME, project_id)
            return project

    # -- tokens -------------------------------------------------------------------------------------------
    def issue_token(
        self,
        user: str = DEFAULT_USERNAME,
        project_id: str | None = None,
        *,
        ttl: timedelta | None = None,
        methods: Iterable[str] = ("password",),
    ) -> str:
        """A token for ``user`` (an id or a name in the default domain) scoped to ``project_id`` (unscoped with
        ``None``), valid for ``ttl`` (default 24 h; a negative ``ttl`` gives an expired token). Returns its id."""
        with self.lock:
            user_ref = self._user(user)
            if project_id is not None:
                self._project_by_id(project_id)
            return self._issue(user_ref, tuple(methods), project_id=project_id, ttl=ttl).id

    def revoke(self, token_id: str) -> None:
        with self.lock:
            self._tokens.pop(token_id, None)

    def expire(self, token_id: str) -> None:
        """Make a token expired now (it then fails like any expired token)."""
        with self.lock:
            token = self._tokens[token_id]
            token.expires_at = _now() - timedelta(microseconds=1)

    def token(self, token_id: str) -> Token | None:
        with self.lock:
            return self._tokens.get(token_id)

    def _issue(
        self,
        user: User,
        methods: tuple[str, ...],
        *,
        project_id: str | None = None,
        domain_id: str | None = None,
        ttl: timedelta | None = None,
        expires_at: datetime | None = None,
    ) -> Token:
        now = _now()
        token = Token(
            id="gAAAAA" + secrets.token_urlsafe(32),  # a Fernet-looking opaque string
            user_id=user.id,
            methods=methods,
            issued_at=now,
            expires_at=expires_at or now + (ttl if ttl is not None else self.token_ttl),
            audit_id=base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
            project_id=project_id,
            domain_id=domain_id,
        )
        self._tokens[token.id] = token
        self._bound_tokens()
        return token

    def _bound_tokens(self) -> None:
        if len(self._tokens) >= self._sweep_at:
            cutoff = _now() - EXPIRED_KEPT
            self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > cutoff}
            self._sweep_at = max(_SWEEP_MIN, 2 * len(self._tokens))
        while len(self._tokens) > MAX_TOKENS:
            del self._tokens[next(iter(self._tokens))]  # the oldest issued

    @property
    def token_count(self) -> int:
        """Tokens kept (live ones, and expired ones not purged yet)."""
        with self.lock:
            return len(self._tokens)

    # -- authentication (POST /auth/tokens) ------------------------------------------------------------------
    def authenticate(self, body: Mapping[str, Any], auth_url: str) -> Token:
        """A new token for a validated ``{"auth": ...}`` body, or the 400/401 Keystone gives."""
        auth = body["auth"]
        identity = auth["identity"]
        methods = tuple(dict.fromkeys(identity["methods"]))
        with self.lock:
            user: User | None = None
            previous: Token | None = None
            for method in methods:
                if method == "password":
                    if "password" not in identity:
                        raise APIError(400, "Expecting to find password in identity.", reason="missing_field")
                    found = self._password_user(identity["password"]["user"], auth_url)
                elif method == "token":
                    if "token" not in identity:
                        raise APIError(400, "Expecting to find token in identity.", reason="missing_field")
                    previous = self._live_token(identity["token"]["id"], auth_url)
                    found = self.users[previous.user_id]
                else:
                    raise unauthorized(f"Attempted to authenticate with an unsupported method: {method}.", auth_url)
                if user is not None and found.id != user.id:
                    raise unauthorized("The authentication methods identify different users.", auth_url)
                user = found
            assert user is not None  # the schema requires at least one method
            project_id, domain_id = self._scope(user, auth.get("scope"), token_method=previous is not None,
                                                auth_url=auth_url)
            # A token obtained with the token method never outlives the one it came from (Keystone).
            expires_at = previous.expires_at if previous is not None else None
            return self._issue(user, methods, project_id=project_id, domain_id=domain_id, expires_at=expires_at)

    def _password_user(self, spec: Mapping[str, Any], auth_url: str) -> User:
        if "id" in spec:
            user = self.users.get(spec["id"])
        elif "name" in spec:
            if "domain" not in spec:
                raise APIError(400, "Expecting to find domain in user: a user name needs its domain (id or name).",
                               reason="missing_field")
            domain = self._find_domain(spec["domain"])
            user = next((u for u in self.users.values()
                         if domain is not None and u.name == spec["name"] and u.domain_id == domain.id), None)
        else:
            raise APIError(400, "Expecting to find id or name in user.", reason="missing_field")
        if user is None or not secrets.compare_digest(_utf8(user.password), _utf8(spec["password"])):
            raise unauthorized(_UNAUTHORIZED + " (invalid username or password)", auth_url)
        if not user.enabled:
            raise unauthorized(f"User {user.id} is disabled.", auth_url)
        return user

    def _scope(
        self, user: User, scope: Any, *, token_method: bool, auth_url: str
    ) -> tuple[str | None, str | None]:
        """``(project_id, domain_id)`` of the requested scope (both ``None``: unscoped)."""
        if scope is None or scope == "unscoped":
            if not token_method and scope is None and user.default_project_id in user.projects:
                return user.default_project_id, None
            return None, None
        if len(scope) != 1:
            raise APIError(400, "Specify one of project, domain or system as the scope, not several.",
                           reason="ambiguous_scope")
        if "system" in scope:
            raise unauthorized("The fake identity service issues project- and domain-scoped tokens only.", auth_url)
        if "domain" in scope:
            domain = self._find_domain(scope["domain"])
            if domain is None:
                raise unauthorized(f"Could not find domain: {_ref(scope['domain'])}.", auth_url)
            if domain.id != user.domain_id:
                raise unauthorized(f"User {user.id} has no access to domain {domain.id}.", auth_url)
            return None, domain.id
        spec = scope["project"]
        if "id" in spec:
            project = self.projects.get(spec["id"])
            if project is None and self.only_projects is None:  # open mode: the API serves any project id
                project = self.ensure_project(spec["id"])
        elif "name" in spec:
            if "domain" not in spec:
                raise APIError(400, "Expecting to find domain in project: a project name needs its domain.",
                               reason="missing_field")
            domain = self._find_domain(spec["domain"])
            project = next((p for p in self.projects.values()
                            if domain is not None and p.name == spec["name"] and p.domain_id == domain.id), None)
        else:
            raise APIError(400, "Expecting to find id or name in project.", reason="missing_field")
        if project is None:
            raise unauthorized(f"Could not find project: {_ref(spec)}.", auth_url)
        if project.id not in user.projects:
            raise unauthorized(f"User {user.id} has no access to project {project.id}.", auth_url)
        return project.id, None

    # -- validation (GET / DELETE /auth/tokens and the API) -----------------------------------------------------
    def _live_token(self, token_id: str, auth_url: str) -> Token:
        """The caller's token, or 401."""
        token = self._tokens.get(token_id)
        if token is None:
            raise unauthorized(_UNAUTHORIZED + " (the token is not valid)", auth_url)
        if token.expired(_now()):
            raise unauthorized(_UNAUTHORIZED + f" (the token expired at {keystone_time(token.expires_at)})", auth_url)
        return token

    def subject(self, token_id: str | None, subject_id: str | None, auth_url: str) -> Token:
        """The caller's token ``token_id`` must be valid (401); the token ``subject_id`` it asks about (400 missing,
        404 not valid)."""
        with self.lock:
            self._live_token(_required(token_id, TOKEN_HEADER, auth_url), auth_url)
            if not subject_id:
                raise APIError(400, f"Expecting to find {SUBJECT_HEADER} in the request headers.",
                               reason="missing_subject")
            token = self._tokens.get(subject_id)
            if token is None or token.expired(_now()):
                raise APIError(404, f"Could not find token: {subject_id}.", reason="token_not_found")
            return token

    def check(self, project_id: str | None, token_id: str | None, auth_url: str) -> None:
        """The API's token check for a request to ``project_id`` (a no-op with auth off): 401 without a valid
        token, 403 for a token of another scope."""
        if not self.auth:
            return
        with self.lock:
            token = self._live_token(_required(token_id, TOKEN_HEADER, auth_url), auth_url)
            if project_id is not None and token.project_id != project_id:
                scope = f"project {token.project_id}" if token.project_id else "no project (unscoped or domain scope)"
                raise APIError(403, f"Token is scoped to {scope}, not to project {project_id} of this request.",
                               reason="forbidden")

    # -- views' lookups ----------------------------------------------------------------------------------------
    def domain_view(self, domain_id: str) -> dict[str, str]:
        domain = self.domains[domain_id]
        return {"id": domain.id, "name": domain.name}

    # -- lookups ----------------------------------------------------------------------------------------------
    def _domain(self, ref: str) -> Domain:
        domain = self.domains.get(ref) or next((d for d in self.domains.values() if d.name == ref), None)
        if domain is None:
            raise KeyError(f"unknown domain {ref!r}")
        return domain

    def _find_domain(self, spec: Mapping[str, Any]) -> Domain | None:
        if "id" in spec:
            return self.domains.get(spec["id"])
        return next((d for d in self.domains.values() if d.name == spec.get("name")), None)

    def _project_by_id(self, project_id: str) -> Project:
        project = self.projects.get(project_id)
        if project is None:
            raise KeyError(f"unknown project {project_id!r}")
        return project

    def _user(self, ref: str) -> User:
        user = self.users.get(ref) or next(
            (u for u in self.users.values() if u.name == ref and u.domain_id == DEFAULT_DOMAIN_ID), None)
        if user is None:
            raise KeyError(f"unknown user {ref!r}")
        return user


def _required(value: str | None, name: str, auth_url: str) -> str:
    if not value:
        raise unauthorized(_UNAUTHORIZED + f" (no {name} header was sent)", auth_url)
    return value


def _utf8(text: str) -> bytes:
    """``compare_digest`` takes ASCII-only ``str``: passwords are compared as bytes (a lone surrogate too)."""
    return text.encode("utf-8", "surrogatepass")


def _ref(spec: Mapping[str, Any]) -> str:
    if "id" in spec:
        return str(spec["id"])
    domain = spec.get("domain", {})
    return f"{spec.get('name')} (domain {domain.get('id') or domain.get('name')})"


def keystone_time(value: datetime) -> str:
    """``2026-01-01T00:00:00.000000Z``, as Keystone writes times."""
    return value.strftime(_TIME_FORMAT)
