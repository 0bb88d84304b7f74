"""Microversion negotiation of the V3 API (``OpenStack-API-Version: volume 3.x``; Cinder's
``api/openstack/api_version_request.py``): which microversion a request gets, and how it is written."""

from __future__ import annotations

import re

from pytest_vbs.errors import APIError

HEADER = "OpenStack-API-Version"
#: Microversions advertised on ``/v3``: the VBS pages name 3.31 (``~`` filters) and 3.45 (``with_count``).
MIN_MICROVERSION = (3, 0)
MAX_MICROVERSION = (3, 45)
#: The backup microversions up to the maximum (Cinder's ``api/microversions.py``; docs/fidelity-notes.md C6).
BACKUP_METADATA = (3, 43)  #: ``metadata`` on create, and on the detail views
_VERSION = re.compile(r"(\d{1,4})\.(\d{1,4})")


def version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def negotiate(url_version: str, header: str | None) -> tuple[int, int] | None:
    """The microversion of a request to a route of ``url_version`` (``None`` off V3), from its header value:
    the minimum without one, the maximum for ``latest``, 400 for a malformed one and 406 outside the range."""
    if url_version != "v3":
        return None
    if not header:
        return MIN_MICROVERSION
    for item in header.split(","):
        service, _, value = item.strip().partition(" ")
        if service.lower() != "volume":
            continue
        value = value.strip()
        if value == "latest":
            return MAX_MICROVERSION
        match = _VERSION.fullmatch(value)
        if match is None:
            raise APIError(400, f"Invalid API version request: {item.strip()!r} (expected 'volume 3.<minor>').",
                           reason="bad_microversion")
        wanted = (int(match[1]), int(match[2]))
        if not MIN_MICROVERSION <= wanted <= MAX_MICROVERSION:
            lowest, highest = (version_text(v) for v in (MIN_MICROVERSION, MAX_MICROVERSION))
            raise APIError(406, f"Version {value} is not supported by the API. Minimum is {lowest} and maximum "
                           f"is {highest}.", reason="unsupported_microversion")
        return wanted
    return MIN_MICROVERSION
