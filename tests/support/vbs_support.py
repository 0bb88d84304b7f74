"""Assertion helpers and small builders shared by pytest-vbs's own tests (imported as ``vbs_support``)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

#: ``2019-03-27T12:36:17.596602``: microseconds, no zone (section 1.4 of the API digest).
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")
REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
JSON = {"Content-Type": "application/json"}


def assert_error(response: requests.Response, status: int, fault: str, *fragments: str) -> str:
    """``response`` is the native (Cinder) error envelope ``{fault: {"code": status, "message": ...}}`` and its
    message contains every fragment (the field and the rule). Returns the message."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert REQUEST_ID.match(response.headers.get("X-OpenStack-Request-Id", "")), response.headers
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == [fault], body
    assert set(body[fault]) == {"code", "message"}, body
    code = body[fault]["code"]
    assert isinstance(code, int)
    assert not isinstance(code, bool)
    assert code == status
    message = body[fault]["message"]
    assert isinstance(message, str)
    assert message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return str(message)


def assert_vbs_error(response: requests.Response, status: int, *fragments: str) -> str:
    """``response`` is the VBS-native envelope ``{"error": {"code": "<string>", "message": ...}}``."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert REQUEST_ID.match(response.headers.get("X-OpenStack-Request-Id", ""))
    body = response.json()
    assert list(body) == ["error"], body
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["code"], str)
    assert body["error"]["code"]
    message = body["error"]["message"]
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return str(message)


@dataclass(frozen=True)
class Disk:
    """A volume and an available snapshot of it, the two ids every native create needs."""

    volume_id: str
    snapshot_id: str

    def backup(self, **fields: Any) -> dict[str, Any]:
        """A create body for this disk, with extra ``backup`` fields."""
        return {"backup": {"volume_id": self.volume_id, "snapshot_id": self.snapshot_id, **fields}}


_MISSING = object()


@contextlib.contextmanager
def otc_patches_undone() -> Iterator[None]:
    """``register_otc_extensions`` monkeypatches openstacksdk for the whole process: put it back afterwards so
    other client tests see openstacksdk unmodified (error parsing, proxy stats, server tags)."""
    import openstack.compute.v2.server
    import openstack.exceptions
    import openstack.network.v2.service_provider
    import openstack.proxy

    targets: list[tuple[Any, str]] = [
        (openstack.exceptions, "raise_from_response"),
        (openstack.proxy.Proxy, "_report_stats_statsd"),
        (openstack.proxy.Proxy, "_report_stats_influxdb"),
        *((openstack.compute.v2.server.Server, name)
          for name in ("_get_tag_struct", "_prepare_override_url", "add_tag", "remove_tag")),
        (openstack.network.v2.service_provider.ServiceProvider, "list"),
    ]
    saved = [(owner, name, vars(owner).get(name, _MISSING)) for owner, name in targets]
    try:
        yield
    finally:
        for owner, name, value in saved:
            if value is _MISSING:
                if name in vars(owner):
                    delattr(owner, name)
            else:
                setattr(owner, name, value)


def json_refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from json_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from json_refs(item)
