"""Nothing left behind: every resource created through the proxy (seen in the create answers) or by the live
handle, deleted at teardown in dependency order, each wait bounded; what could not be deleted is listed.

Order: sharings, policy tags, policies, the backups of VBS jobs, backups, snapshots, volumes (a backup blocks its
volume's deletion, a sharing its backup's). A resource already gone (404) counts as deleted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pytest_vbs.journal import RecordedRequest
from pytest_vbs.live.proxy import Forwarded

#: Deletion order: what depends on another resource goes first.
ORDER = ("sharing", "tag", "policy", "job", "backup", "snapshot", "volume")
#: Kinds whose resources have a status to wait on (before deleting, and until gone).
WITH_STATUS = {"backup": "backup", "snapshot": "snapshot", "volume": "volume"}
#: Statuses in which a resource cannot be deleted yet (it settles by itself).
TRANSIENT = frozenset({"creating", "deleting", "restoring", "backing-up", "backing_up", "attaching", "detaching",
                       "downloading", "uploading", "extending", "retyping", "reserved", "maintenance"})
#: Most resources remembered per test (memory stays bounded; more than this is reported as not tracked).
MAX_TRACKED = 10_000
DEFAULT_TIMEOUT = 300.0
POLL_INTERVAL = 1.0


@dataclass(frozen=True)
class Resource:
    kind: str  #: one of :data:`ORDER`
    id: str
    url: str  #: its real URL (the DELETE target)

    def describe(self) -> str:
        return f"{self.kind} {self.id}"


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data


def _base(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/")


def _created(kind: str, *keys: str) -> Callable[[RecordedRequest, Forwarded], list[Resource]]:
    def found(entry: RecordedRequest, answer: Forwarded) -> list[Resource]:
        value = _dig(answer.json, *keys)
        return [Resource(kind, value, f"{_base(answer.url)}/{value}")] if isinstance(value, str) else []
    return found


def _shared(entry: RecordedRequest, answer: Forwarded) -> list[Resource]:
    shared = _dig(answer.json, "shared")
    ids = [item.get("id") for item in shared if isinstance(item, Mapping)] if isinstance(shared, list) else []
    return [Resource("sharing", i, f"{_base(answer.url)}/{i}") for i in ids if isinstance(i, str)]


def _restored(entry: RecordedRequest, answer: Forwarded) -> list[Resource]:
    """Cinder's restore without a target volume makes one: it is the test's to delete."""
    volume_id = _dig(answer.json, "restore", "volume_id")
    if _dig(entry.json, "restore", "volume_id") or not isinstance(volume_id, str):
        return []
    return [Resource("volume", volume_id, f"{_base(answer.url).rsplit('/backups/', 1)[0]}/volumes/{volume_id}")]


def _tag(entry: RecordedRequest, answer: Forwarded) -> list[Resource]:
    key = _dig(entry.json, "tag", "key")
    return [Resource("tag", key, f"{_base(answer.url)}/{quote(key, safe='')}")] if isinstance(key, str) else []


def _job(entry: RecordedRequest, answer: Forwarded) -> list[Resource]:
    job_id = _dig(answer.json, "job_id")
    if not isinstance(job_id, str) or "/v2/" not in answer.url:
        return []
    root, _, rest = _base(answer.url).partition("/v2/")
    project = rest.split("/", 1)[0]
    return [Resource("job", job_id, f"{root}/v1/{project}/jobs/{job_id}")]


#: How each create operation's answer names what it created.
CREATED: dict[str, Callable[[RecordedRequest, Forwarded], list[Resource]]] = {
    "create_volume": _created("volume", "volume", "id"),
    "create_snapshot": _created("snapshot", "snapshot", "id"),
    "create_backup": _created("backup", "backup", "id"),
    "create_backup_v2": _created("backup", "backup", "id"),
    "create_backup_policy": _created("policy", "backup_policy_id"),
    "share_backup": _shared,
    "restore_backup": _restored,
    "restore_backup_v2": _restored,
    "add_backup_policy_tag": _tag,
    "create_vbs_backup": _job,
}


class Tracker:
    """What was created during one test, to delete at its teardown (thread-safe, bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resources: list[Resource] = []
        self.untracked = 0  #: resources seen beyond :data:`MAX_TRACKED`

    def add(self, resource: Resource) -> None:
        with self._lock:
            if resource in self._resources:
                return
            if len(self._resources) >= MAX_TRACKED:
                self.untracked += 1
                return
            self._resources.append(resource)

    def observe(self, entry: RecordedRequest, answer: Forwarded | None) -> None:
        """The proxy's observer: a create answer of the cloud (even one a fault rule hid from the client)."""
        find = CREATED.get(entry.operation)
        if answer is None or find is None or not 200 <= answer.status < 300:
            return
        for resource in find(entry, answer):
            self.add(resource)

    def take(self) -> list[Resource]:
        """Everything tracked, in deletion order (newest first within a kind); the tracker is emptied."""
        with self._lock:
            resources, self._resources = self._resources, []
        rank = {kind: n for n, kind in enumerate(ORDER)}
        indexed = sorted(enumerate(resources), key=lambda pair: (rank[pair[1].kind], -pair[0]))
        return [resource for _, resource in indexed]


class Cleaner:
    """Deletes resources through the real API with ``request(method, url) -> (status, json)`` (the live session,
    which adds the token), waiting at most ``timeout`` seconds per resource."""

    def __init__(self, request: Callable[[str, str], tuple[int, Any]], *, timeout: float = DEFAULT_TIMEOUT,
                 interval: float = POLL_INTERVAL) -> None:
        self.request = request
        self.timeout = timeout
        self.interval = interval

    def delete_all(self, resources: list[Resource]) -> list[str]:
        """Delete each resource in the order given; the descriptions of those left behind."""
        left = []
        for resource in resources:
            try:
                problem = self.delete(resource)
            except Exception as error:  # a broken connection, an unexpected answer: listed, the next one goes on
                problem = f"{type(error).__name__}"
            if problem:
                left.append(f"{resource.describe()}: {problem}")
        return left

    def delete(self, resource: Resource) -> str | None:
        """Delete one resource; ``None`` once it is gone, else why it is not."""
        deadline = time.monotonic() + self.timeout
        if resource.kind == "job":
            return self._delete_job_backup(resource, deadline)
        key = WITH_STATUS.get(resource.kind)
        if key is not None:
            status = self._settled(resource, key, deadline)
            if status is None:
                return None
            if status in TRANSIENT:
                return f"still {status!r} after {self.timeout:.0f} s"
        code, body = self.request("DELETE", resource.url)
        if code == 404:
            return None
        if not 200 <= code < 300:
            return f"DELETE answered {code} {_message(body)}".rstrip()
        if key is None:
            return None
        while time.monotonic() < deadline:
            code, body = self.request("GET", resource.url)
            if code == 404:
                return None
            status = _dig(body, key, "status")
            if status not in TRANSIENT and status is not None:
                return f"{status!r} after DELETE"
            time.sleep(self.interval)
        return f"not gone {self.timeout:.0f} s after DELETE"

    def _settled(self, resource: Resource, key: str, deadline: float) -> str | None:
        """Its status once not transient (or the deadline passed); ``None`` when it is gone."""
        while True:
            code, body = self.request("GET", resource.url)
            if code == 404:
                return None
            status = str(_dig(body, key, "status") or "")
            if status not in TRANSIENT or time.monotonic() >= deadline:
                return status
            time.sleep(self.interval)

    def _delete_job_backup(self, job: Resource, deadline: float) -> str | None:
        """A VBS job's backup: known once the job has finished (``entities.backup_id``)."""
        while True:
            code, body = self.request("GET", job.url)
            status = str(_dig(body, "status") or "").upper()
            if code == 404 or status in ("SUCCESS", "FAIL"):
                break
            if time.monotonic() >= deadline:
                return f"job still {status or code!r} after {self.timeout:.0f} s"
            time.sleep(self.interval)
        backup_id = _dig(body, "entities", "backup_id")
        if not isinstance(backup_id, str) or code == 404:
            return None
        root, _, rest = job.url.partition("/v1/")
        project = rest.split("/", 1)[0]
        remaining = max(0.0, deadline - time.monotonic())
        backup = Resource("backup", backup_id, f"{root}/v2/{project}/backups/{backup_id}")
        return Cleaner(self.request, timeout=remaining, interval=self.interval).delete(backup)


def _message(body: Any) -> str:
    """The error message of an error envelope (short), for the leftover listing."""
    if isinstance(body, Mapping):
        for value in body.values():
            message = _dig(value, "message") if isinstance(value, Mapping) else None
            if isinstance(message, str):
                return f"({message[:120]})"
    return ""
