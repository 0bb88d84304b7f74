"""The live cloud: read from ``clouds.yaml`` / ``OS_*`` with openstacksdk's loader, authenticated with keystoneauth.

Nothing here hard-codes a host: the VBS endpoints come from the token's service catalog, the identity service from
the cloud's ``auth_url``. The keystoneauth plugin renews the token before it expires (``get_token`` re-authenticates
when the token has less than two minutes left).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: Catalog service types of the native (Cinder-compatible) V3 endpoint and of the VBS v2 endpoint, in preference.
VOLUME_TYPES = ("block-storage", "volumev3")
VBS_TYPES = ("vbs", "volumev2")
#: Auth settings whose values are secrets: never shown in a report, a recording or the journal's HTTP view.
SECRET_KEYS = ("password", "token", "application_credential_secret", "secret", "passcode", "totp")


class LiveConfigError(Exception):
    """The live cloud cannot be used: no explicit name, unknown cloud, failed authentication, missing endpoint."""


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (lowercase scheme and host)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


@dataclass
class LiveCloud:
    """One authenticated cloud: its keystoneauth session, project, identity URL and catalog endpoints."""

    name: str
    region_name: str
    session: Any  #: keystoneauth1.session.Session with the cloud's auth plugin
    auth_url: str
    interface: str = "public"
    secrets: list[str] = field(default_factory=list, repr=False)  #: the configured credentials
    tokens: deque[str] = field(default_factory=lambda: deque(maxlen=20), repr=False)  #: the latest tokens seen
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, name: str) -> LiveCloud:
        """The cloud ``name`` of the user's ``clouds.yaml`` / ``OS_*`` environment, authenticated once."""
        if not name or not name.strip():
            raise LiveConfigError("live mode needs an explicit cloud name (--vbs-live CLOUD or ini vbs_live): "
                                  "it never picks a cloud on its own")
        try:
            import keystoneauth1.exceptions  # third-party, only in live mode
            import openstack.config
            import openstack.exceptions
        except ImportError as error:  # pragma: no cover - the extra is installed in CI
            raise LiveConfigError(f"live mode needs the 'live' extra: pip install 'pytest-vbs[live]' ({error})"
                                  ) from None
        try:
            region = openstack.config.OpenStackConfig().get_one(cloud=name)
        except openstack.exceptions.ConfigException as error:
            raise LiveConfigError(f"cloud {name!r}: {error}") from None
        auth = dict(region.config.get("auth") or {})
        secrets = [str(v) for k, v in auth.items() if k in SECRET_KEYS and v]
        cloud = cls(name=name, region_name=region.get_region_name() or "", session=region.get_session(),
                    auth_url=str(auth.get("auth_url") or "").rstrip("/"),
                    interface=str(region.get_interface() or "public"), secrets=secrets)
        if not cloud.auth_url:
            raise LiveConfigError(f"cloud {name!r} has no auth_url: live mode authenticates with Keystone")
        try:
            cloud.token()
        except keystoneauth1.exceptions.ClientException as error:
            raise LiveConfigError(f"cloud {name!r}: authentication failed: {type(error).__name__}") from None
        return cloud

    def close(self) -> None:
        """Close the session's connections."""
        inner = getattr(self.session, "session", None)  # keystoneauth's requests.Session
        if inner is not None:
            inner.close()

    def token(self) -> str:
        """The session's token, renewed by keystoneauth before it expires; remembered as a secret."""
        token = str(self.session.get_token())
        with self._lock:
            if token not in self.tokens:
                self.tokens.append(token)
        return token

    @property
    def project_id(self) -> str:
        return str(self.session.get_project_id())

    def endpoint(self, service_types: tuple[str, ...]) -> str | None:
        """The first catalog endpoint of ``service_types`` for this region and interface, or ``None``."""
        for service_type in service_types:
            url = self.session.get_endpoint(service_type=service_type, interface=self.interface,
                                            region_name=self.region_name or None)
            if url:
                return str(url).rstrip("/")
        return None

    def catalog_urls(self) -> list[str]:
        """Every endpoint URL the catalog names (any service, region and interface)."""
        access = self.session.auth.get_access(self.session)
        urls = []
        for service in access.service_catalog.catalog or []:
            for endpoint in service.get("endpoints") or []:
                url = endpoint.get("url")
                if url:
                    urls.append(str(url).rstrip("/"))
        return urls

    def redact(self, text: str) -> str:
        """``text`` with every known secret (configured credentials, tokens seen) replaced by ``***``."""
        with self._lock:
            known = [*self.secrets, *self.tokens]
        for secret in sorted(known, key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text
