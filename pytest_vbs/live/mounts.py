"""Where each real endpoint appears on the proxy, both ways: requests go from a proxy path to the real URL, and
answers have every real endpoint URL (links, catalogs, ``Location``) rewritten to its proxy URL.

The origin of the VBS endpoint is mounted at the proxy's root, paths unchanged (``{proxy}/v3/{project_id}/...``, as
on the fake); the identity service at ``/identity`` (``{proxy}/identity/v3``, as on the fake); every other origin
the catalog names under ``/__vbs_live__/<n>``. Nothing else is reachable: a target whose origin the catalog (or the
cloud's ``auth_url``) did not name is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from pytest_vbs.api.identity import PREFIX as IDENTITY_PREFIX
from pytest_vbs.live.config import origin

#: The proxy path prefix of the catalog's other origins.
OTHER_PREFIX = "/__vbs_live__/"


class UnknownTarget(Exception):
    """A request would leave for an address the catalog did not name."""


@dataclass(frozen=True)
class Mount:
    proxy_prefix: str  #: path on the proxy ("" for the root)
    real_prefix: str  #: URL of the real service it stands for
    identity: bool = False  #: the identity service: no token is added to its requests


class Mounts:
    """The mount table of one proxy at ``proxy_url``."""

    def __init__(self, proxy_url: str, primary: str, auth_url: str, catalog_urls: Iterable[str]) -> None:
        self.proxy_url = proxy_url.rstrip("/")
        auth_url = auth_url.rstrip("/")
        identity_prefix = IDENTITY_PREFIX + ("/v3" if auth_url.endswith("/v3") else "")
        mounts = [Mount(identity_prefix, auth_url, identity=True), Mount("", origin(primary))]
        others = sorted({origin(url) for url in catalog_urls} - {origin(primary)})
        mounts += [Mount(f"{OTHER_PREFIX}{n}", real) for n, real in enumerate(others, 1)]
        self.mounts = mounts
        self.origins = frozenset({origin(auth_url), origin(primary), *others})
        by_length = sorted(mounts, key=lambda m: len(m.real_prefix), reverse=True)
        self._to_proxy = {m.real_prefix: self.proxy_url + m.proxy_prefix for m in by_length}
        # A real prefix is replaced only where a URL's path goes on (or ends) after it: not inside a longer host.
        alternatives = "|".join(re.escape(m.real_prefix) for m in by_length)
        self._pattern = re.compile(f"({alternatives})(?=[/?#\"'\\s<>]|$)", re.IGNORECASE)
        self._pattern_bytes = re.compile(self._pattern.pattern.encode(), re.IGNORECASE)

    def target(self, path: str) -> tuple[Mount, str]:
        """The mount serving proxy ``path`` and the path the journal and routing see (the mount prefix removed,
        except for the identity service, which keeps the fake's ``/identity`` paths)."""
        for mount in self.mounts:
            prefix = mount.proxy_prefix
            if prefix and (path == prefix or path.startswith(prefix + "/")):
                return mount, path if mount.identity else path[len(prefix):] or "/"
        return self.mounts[1], path

    def real_url(self, mount: Mount, path: str, query: str) -> str:
        """The real URL of a request for ``path`` (as :meth:`target` gave it) on ``mount``; refused unless its
        origin is one the catalog named."""
        rest = path[len(mount.proxy_prefix):] if mount.identity else path
        url = mount.real_prefix + rest + (f"?{query}" if query else "")
        parts = urlsplit(url)
        if origin(url) not in self.origins or parts.username or parts.password:
            raise UnknownTarget(f"refused: {origin(url)} is not an address the cloud's catalog names")
        return url

    def to_proxy(self, url: str) -> str:
        """A real URL as the proxy serves it."""
        return self._pattern.sub(lambda m: self._replacement(m.group(1)), url)

    def rewrite(self, body: bytes) -> bytes:
        """A body with every real endpoint URL replaced by its proxy URL."""
        return self._pattern_bytes.sub(lambda m: self._replacement(m.group(1).decode()).encode(), body)

    def _replacement(self, found: str) -> str:
        for real, proxy in self._to_proxy.items():
            if real.lower() == found.lower():
                return proxy
        return found  # pragma: no cover - the pattern matches only known prefixes
