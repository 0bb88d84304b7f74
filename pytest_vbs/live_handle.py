"""``LiveVBS``: the ``vbs`` fixture in live mode (``--vbs-live CLOUD``): the surface of :class:`FakeVBS` that a real
cloud can serve, in front of a local recording proxy (``pytest_vbs.live``). What only a fake can do skips the test
with a reason naming the call. docs/live.md tells the whole story.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import pluggy

from pytest_vbs import assertions
from pytest_vbs.faults import FaultRule, sequence_rules
from pytest_vbs.hookspecs import standalone_plugin_manager
from pytest_vbs.journal import DEFAULT_JOURNAL_BYTES, Journal, RecordedRequest
from pytest_vbs.journal import journal_bytes as journal_budget
from pytest_vbs.live.cleanup import DEFAULT_TIMEOUT, POLL_INTERVAL, Cleaner, Resource, Tracker
from pytest_vbs.live.config import VBS_TYPES, VOLUME_TYPES, LiveCloud, LiveConfigError
from pytest_vbs.live.conformance import Conformance
from pytest_vbs.live.mounts import Mounts
from pytest_vbs.live.proxy import ProxyApp
from pytest_vbs.live.shapes import Shapes
from pytest_vbs.service.identity import TOKEN_HEADER
from pytest_vbs.wsgi.serving import VBSServer

if TYPE_CHECKING:
    from openstack.connection import Connection

__all__ = ["FAKE_ONLY", "LiveError", "LiveVBS"]

#: What only the fake can do: calling it on the live handle skips the test, naming the call.
FAKE_ONLY = ("add_policy", "advance", "advance_clock", "backups", "for_project", "identity",
             "issue_token", "policies", "set_backup_error", "set_clock", "set_quota", "set_transitions", "snapshots",
             "state", "volumes")
_SETTLED = frozenset({"available"})


class LiveError(AssertionError):
    """A resource the live handle created did not become usable (an error status, or not within the timeout)."""


def skip_fake_only(call: str) -> NoReturn:
    import pytest  # third-party: the handle is also usable outside pytest until a fake-only call

    pytest.skip(f"vbs.{call} is fake-only: the live cloud (--vbs-live) cannot do it")


class LiveVBS:
    """A real cloud behind a local recording proxy, with the verbs of :class:`pytest_vbs.FakeVBS` it can serve."""

    live = True

    def __init__(self, cloud: LiveCloud, host: str = "127.0.0.1", port: int = 0, *,
                 plugin_manager: pluggy.PluginManager | None = None, timeout: float = DEFAULT_TIMEOUT,
                 interval: float = POLL_INTERVAL, journal_bytes: int | str = DEFAULT_JOURNAL_BYTES) -> None:
        self.cloud = cloud
        self.timeout = timeout  #: seconds a created resource may take to become available (or to go, at cleanup)
        self.interval = interval
        self.journal = Journal(max_bytes=journal_budget(journal_bytes))  # bounded as the fake's
        self.plugin_manager = plugin_manager or standalone_plugin_manager()
        self.hook = self.plugin_manager.hook
        session = cloud.session
        self.app = ProxyApp(cloud.token, journal=self.journal, hook=self.hook, verify=session.verify,
                            cert=session.cert, redact=cloud.redact)
        self.faults = self.app.faults
        self.server = VBSServer(self.app, host, port)
        self.tracker = Tracker()
        self.conformance = Conformance()
        self.recorded = Shapes()  #: the real answers' shapes (written by ``--vbs-record``)
        self.app.observers += [self.tracker.observe, self.conformance.observe, self._shape]
        self.project_id = cloud.project_id
        self._volume_endpoint = cloud.endpoint(VOLUME_TYPES)
        self._vbs_endpoint = cloud.endpoint(VBS_TYPES)
        primary = self._volume_endpoint or self._vbs_endpoint
        if primary is None:
            raise LiveConfigError(f"cloud {cloud.name!r}: the catalog names no VBS endpoint (service types "
                                  f"{', '.join(VOLUME_TYPES + VBS_TYPES)})")
        self._primary = primary

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> LiveVBS:
        self.server.start()
        self.app.mounts = Mounts(self.server.url, self._primary, self.cloud.auth_url, self.cloud.catalog_urls())
        self.plugin_manager.register(self.faults)
        return self

    def stop(self) -> None:
        self.server.stop()
        self.app.close()
        self.cloud.close()
        if self.plugin_manager.is_registered(self.faults):
            self.plugin_manager.unregister(self.faults)

    def __enter__(self) -> LiveVBS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """A clean journal and no fault rules (the cloud's state is the cloud's: see :meth:`cleanup`)."""
        self.app.flights.new_generation()  # requests still in flight are not recorded in the new journal
        self.journal.clear()
        self.faults.clear()
        self.app.control_calls(clear=True)

    def cleanup(self) -> list[str]:
        """Delete everything created since the last cleanup, in dependency order; what was left behind."""
        left = Cleaner(self._request, timeout=self.timeout, interval=self.interval).delete_all(self.tracker.take())
        if self.tracker.untracked:
            left.append(f"{self.tracker.untracked} more resources were created than could be tracked")
            self.tracker.untracked = 0
        return [self.cloud.redact(line) for line in left]

    # -- where it is ---------------------------------------------------------------------------------
    @property
    def mounts(self) -> Mounts:
        assert self.app.mounts is not None, "start the live handle first"
        return self.app.mounts

    @property
    def url(self) -> str:
        """The proxy's base URL, ``http://127.0.0.1:<port>``."""
        return self.server.url

    @property
    def endpoint(self) -> str:
        """The catalog's native V3 (block-storage) endpoint, as the proxy serves it."""
        return self.mounts.to_proxy(self._volume_endpoint or f"{self._primary}")

    @property
    def endpoint_v2(self) -> str:
        """The catalog's VBS v2 endpoint, as the proxy serves it."""
        return self.mounts.to_proxy(self._vbs_endpoint or self._primary)

    @property
    def auth_url(self) -> str:
        """The cloud's identity service, as the proxy serves it (``{url}/identity/v3``)."""
        return self.mounts.to_proxy(self.cloud.auth_url)

    @property
    def auth(self) -> bool:
        """A real cloud always checks tokens (the proxy adds the session's to requests that carry none)."""
        return True

    @auth.setter
    def auth(self, enabled: bool) -> None:
        skip_fake_only("auth")

    def __getattr__(self, name: str) -> Any:
        if name in FAKE_ONLY:
            skip_fake_only(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- clients through the proxy ---------------------------------------------------------------------
    def cloud_config(self, *, auth_type: str = "password") -> dict[str, Any]:
        """The settings of a cloud that talks through the proxy: ``password`` (or ``token``) authenticates with
        the live session's token (the cloud's password is never handed out); ``none`` sends no token (the proxy
        adds one)."""
        common: dict[str, Any] = {"region_name": self.cloud.region_name, "interface": "public",
                                  "identity_api_version": "3", "volume_api_version": "3",
                                  "block_storage_api_version": "3"}
        if auth_type in ("password", "token"):
            return {"auth_type": "v3token", "auth": {"auth_url": self.auth_url, "token": self.cloud.token(),
                                                     "project_id": self.project_id}, **common}
        if auth_type == "none":
            return {"auth_type": "none", "auth": {"endpoint": self.endpoint},
                    "block_storage_endpoint_override": self.endpoint, "vbs_endpoint_override": self.endpoint_v2,
                    **common}
        raise ValueError(f"auth_type must be one of password, token, none in live mode, not {auth_type!r}")

    def clouds_yaml(self, *, auth_type: str = "password") -> dict[str, Any]:
        """clouds.yaml content with one cloud, ``vbs``, talking through the proxy."""
        return {"clouds": {"vbs": self.cloud_config(auth_type=auth_type)}}

    def os_environ(self, *, auth_type: str = "password") -> dict[str, str]:
        """``OS_*`` variables for clients that read the environment, through the proxy."""
        common = {"OS_REGION_NAME": self.cloud.region_name, "OS_INTERFACE": "public",
                  "OS_IDENTITY_API_VERSION": "3", "OS_VOLUME_API_VERSION": "3", "OS_PROJECT_ID": self.project_id}
        config = self.cloud_config(auth_type=auth_type)
        if config["auth_type"] == "v3token":
            return {"OS_AUTH_TYPE": "v3token", "OS_AUTH_URL": self.auth_url, "OS_TOKEN": config["auth"]["token"],
                    **common}
        return {"OS_AUTH_TYPE": "none", "OS_ENDPOINT": self.endpoint,
                "OS_BLOCK_STORAGE_ENDPOINT_OVERRIDE": self.endpoint, "OS_VBS_ENDPOINT_OVERRIDE": self.endpoint_v2,
                **common}

    def openstack_connection(self, **kwargs: Any) -> Connection:
        """An openstacksdk ``Connection`` through the proxy; ``kwargs`` override the settings."""
        import openstack.connection  # third-party, the live extra

        config = self.cloud_config(auth_type=kwargs.pop("auth_type", "password"))
        config["auth"] = {**config["auth"], **kwargs.pop("auth", {})}
        config.update(kwargs)
        return openstack.connection.Connection(**config)

    # -- seeding through the real API ----------------------------------------------------------------------
    def add_volume(self, size: int = 10, status: str = "available", *, name: str | None = None) -> str:
        """Create a volume through the cloud's block-storage API and wait until it is available; its id."""
        if status != "available":
            skip_fake_only(f"add_volume(status={status!r})")
        body = {"volume": {"size": size, **({"name": name} if name is not None else {})}}
        return self._create("volume", "volumes", body)

    def add_snapshot(self, volume_id: str, *, status: str = "available", name: str | None = None) -> str:
        """Snapshot ``volume_id`` through the cloud's block-storage API and wait until it is available; its id."""
        if status != "available":
            skip_fake_only(f"add_snapshot(status={status!r})")
        body = {"snapshot": {"volume_id": volume_id, **({"name": name} if name is not None else {})}}
        return self._create("snapshot", "snapshots", body)

    def add_backup(self, volume_id: str | None = None, *, name: str | None = None, description: str | None = None,
                   status: str = "available", **fake_only: Any) -> str:
        """Back up ``volume_id`` (a new 1 GB volume when none is given) through the native V3 API, from a new
        snapshot, and wait until the backup is available; its id. A chosen status, size, time or failure is the
        fake's alone (the test skips)."""
        chosen = sorted(key for key, value in fake_only.items() if value is not None)
        if status != "available" or chosen:
            skip_fake_only(f"add_backup({', '.join(chosen or ['status'])}=...)")
        volume_id = volume_id or self.add_volume(size=1)
        snapshot_id = self.add_snapshot(volume_id)
        extra = {key: value for key, value in (("name", name), ("description", description)) if value is not None}
        return self._create("backup", "backups", {"backup": {"volume_id": volume_id, "snapshot_id": snapshot_id,
                                                             **extra}})

    def _create(self, kind: str, collection: str, body: dict[str, Any]) -> str:
        if self._volume_endpoint is None:
            raise LiveConfigError(f"cloud {self.cloud.name!r}: the catalog names no block-storage endpoint")
        url = f"{self._volume_endpoint}/{collection}"
        status, answer = self._request("POST", url, body)
        resource_id = (answer or {}).get(kind, {}).get("id") if isinstance(answer, dict) else None
        if not 200 <= status < 300 or not isinstance(resource_id, str):
            raise LiveError(f"creating a {kind} on cloud {self.cloud.name!r} answered {status}")
        self.tracker.add(Resource(kind, resource_id, f"{url}/{resource_id}"))
        self._wait_available(kind, f"{url}/{resource_id}", resource_id)
        return resource_id

    def _wait_available(self, kind: str, url: str, resource_id: str) -> None:
        deadline = time.monotonic() + self.timeout
        status = "?"
        while time.monotonic() < deadline:
            code, answer = self._request("GET", url)
            status = str(((answer or {}).get(kind) or {}).get("status", code)) if isinstance(answer, dict) else "?"
            if status in _SETTLED:
                return
            if status.startswith("error"):
                raise LiveError(f"{kind} {resource_id} went to {status!r} instead of 'available'")
            time.sleep(self.interval)
        raise LiveError(f"{kind} {resource_id} was not available within {self.timeout:.0f} s (last status "
                        f"{status!r})")

    def _request(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        """A request straight to the cloud with the live session (its token; not journaled, not faulted)."""
        headers = {TOKEN_HEADER: self.cloud.token(), "Accept": "application/json"}
        answer = self.cloud.session.request(url, method, json=body, headers=headers, raise_exc=False,
                                            authenticated=False, timeout=60)
        try:
            data = answer.json() if answer.content else None
        except ValueError:
            data = None
        return int(answer.status_code), data

    # -- failure injection (at the proxy) ---------------------------------------------------------------
    def fail(self, operation: str = "*", status: int | None = None, **options: Any) -> FaultRule:
        """As :meth:`pytest_vbs.FakeVBS.fail`, performed by the proxy: a status answers without forwarding (or
        after it, with ``after_commit=True``); wire faults, delays and sequences as on the fake."""
        return self.faults.add(FaultRule(operation=operation, status=status, **options))

    def fail_sequence(self, operation: str, outcomes: Sequence[int | str | dict[str, Any] | None],
                      **narrowing: str | None) -> list[FaultRule]:
        """As :meth:`pytest_vbs.FakeVBS.fail_sequence`, at the proxy: the n-th matching request gets the n-th
        outcome (``None``: forwarded)."""
        return self.faults.add_all(sequence_rules(operation, outcomes, **narrowing))

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- journal ---------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request the proxy answered since the last reset, oldest first."""
        return self.journal.entries()

    def assert_called(self, operation: str, times: int | None = None, json: Any = None) -> list[RecordedRequest]:
        return assertions.assert_called(self.requests, operation, times, json)

    def assert_not_called(self, operation: str) -> None:
        assertions.assert_not_called(self.requests, operation)

    def last_request(self, operation: str) -> RecordedRequest:
        return assertions.last_request(self.requests, operation)

    def assert_all_requests_valid(self) -> None:
        assertions.assert_all_requests_valid(self.requests)

    # -- recording -----------------------------------------------------------------------------------------
    def _shape(self, entry: RecordedRequest, answer: Any) -> None:
        if answer is not None:
            self.recorded.add(entry.operation, answer.status, answer.json, [k for k, _ in answer.headers])

