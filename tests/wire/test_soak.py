"""Concurrency soak: 32 threads drive every native and VBS-native operation at once, then invariants.

Each thread runs :data:`CYCLES` cycles; a cycle calls every operation of the table except the control and
identity routes (:data:`SOAKED` proves the coverage), on volumes the thread creates: one cycle in the
project all threads share, one in the thread's own project (backup policies always in the thread's own
project: a tenant has at most 10). Faults are injected into a few read operations. Bounded in count
(``THREADS x CYCLES`` cycles of :data:`PER_CYCLE` requests) and in time (:data:`DEADLINE` seconds).

Afterwards: every accepted create is present exactly once (and every accepted delete gone), every id is
unique, every status is a documented one, the journal holds exactly the requests sent, and every request got
its operation's normal status except the ones a fault rule answered.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from pytest_vbs import FakeVBS, schemas
from pytest_vbs import api as operations
from pytest_vbs.errors import Family

THREADS = 32
CYCLES = 2
DEADLINE = 45.0  #: seconds for the whole soak; far above what it takes (a few seconds)
SHARED_PROJECT_SUFFIX = "shared"

#: Every operation the soak drives: all of the table but the control routes and the fake Keystone.
SOAKED = sorted(op.name for op in operations.OPERATIONS
                if "control" not in op.tags and op.family is not Family.IDENTITY)
_definitions = schemas._all_documents()[f"{schemas.BASE_URI}response_definitions.json"]["$defs"]
BACKUP_STATUSES = set(_definitions["backup_status"]["enum"])
VOLUME_STATUSES = set(_definitions["volume_status"]["enum"])


@dataclass
class Record:
    """What one thread did: requests sent, answers by operation, ids it created and deleted."""

    sent: int = 0
    answers: list[tuple[str, int]] = field(default_factory=list)
    created: list[tuple[str, str, str]] = field(default_factory=list)  #: (kind, project, id)
    deleted: set[str] = field(default_factory=set)
    operations: set[str] = field(default_factory=set)


class Worker:
    """One soak thread: its own keep-alive session, its own volumes, its record."""

    def __init__(self, vbs: FakeVBS, index: int, shared: str, deadline: float) -> None:
        self.vbs, self.index, self.shared, self.deadline = vbs, index, shared, deadline
        self.own = f"soak-project-{index:02d}"
        self.record = Record()

    # -- sending -----------------------------------------------------------------------------------------------
    def call(self, session: requests.Session, operation: str, path: str, *, json: Any = None,
             params: dict[str, str] | None = None) -> requests.Response:
        if time.monotonic() > self.deadline:
            raise TimeoutError(f"soak worker {self.index} passed the deadline")
        op = operations.BY_NAME[operation]
        response = session.request(op.method, self.vbs.url + path, json=json, params=params, timeout=10)
        self.record.sent += 1
        self.record.answers.append((operation, response.status_code))
        self.record.operations.add(operation)
        return response

    def ok(self, session: requests.Session, operation: str, path: str, **kwargs: Any) -> Any:
        """Call and return the JSON answer; a fault-injected answer is retried (bounded), anything else fails."""
        for _ in range(20):
            response = self.call(session, operation, path, **kwargs)
            if response.status_code == operations.BY_NAME[operation].status:
                return response.json() if response.content else None
            assert response.status_code in (500, 503), f"{operation} {path}: {response.status_code} {response.text}"
        raise AssertionError(f"{operation} {path}: injected faults never let it through")

    def created(self, kind: str, project: str, ident: str) -> str:
        self.record.created.append((kind, project, ident))
        return ident

    # -- the cycle ---------------------------------------------------------------------------------------------
    def run(self) -> Record:
        with requests.Session() as session:
            for cycle in range(CYCLES):
                self.cycle(session, self.shared if (self.index + cycle) % 2 == 0 else self.own, cycle)
                self.policies(session, cycle)
        return self.record

    def cycle(self, s: requests.Session, project: str, cycle: int) -> None:
        tag = f"t{self.index:02d}c{cycle}"
        v3, v2 = f"/v3/{project}", f"/v2/{project}"
        self.ok(s, "list_versions", "/")
        self.ok(s, "show_version", "/v3")
        self.ok(s, "show_version_v2", "/v2")

        made = self.ok(s, "create_volume", f"{v3}/volumes", json={"volume": {"size": 1, "name": f"vol_{tag}"}})
        volume = self.created("volume", project, made["volume"]["id"])
        self.ok(s, "get_volume", f"{v3}/volumes/{volume}")
        self.ok(s, "list_volumes", f"{v3}/volumes")
        self.ok(s, "list_volumes_detail", f"{v3}/volumes/detail")
        snapshot = self.created("snapshot", project, self.ok(s, "create_snapshot", f"{v3}/snapshots", json={
            "snapshot": {"volume_id": volume, "name": f"snap_{tag}"}})["snapshot"]["id"])
        self.ok(s, "get_snapshot", f"{v3}/snapshots/{snapshot}")
        self.ok(s, "list_snapshots", f"{v3}/snapshots")
        self.ok(s, "list_snapshots_detail", f"{v3}/snapshots/detail")

        kept = self.created("backup", project, self.ok(s, "create_backup", f"{v3}/backups", json={
            "backup": {"volume_id": volume, "snapshot_id": snapshot, "name": f"kept_{tag}"}})["backup"]["id"])
        self.ok(s, "get_backup", f"{v3}/backups/{kept}")
        self.ok(s, "list_backups", f"{v3}/backups", params={"limit": "5"})
        self.ok(s, "list_backups_detail", f"{v3}/backups/detail", params={"name": f"kept_{tag}"})
        self.ok(s, "restore_backup", f"{v3}/backups/{kept}/restore", json={"restore": {"volume_id": volume}})

        second = self.created("backup", project, self.ok(s, "create_backup_v2", f"{v2}/backups", json={
            "backup": {"volume_id": volume, "snapshot_id": snapshot, "name": f"v2_{tag}"}})["backup"]["id"])
        self.ok(s, "get_backup_v2", f"{v2}/backups/{second}")
        self.ok(s, "list_backups_v2", f"{v2}/backups")
        self.ok(s, "list_backups_detail_v2", f"{v2}/backups/detail", params={"status": "available"})
        self.ok(s, "restore_backup_v2", f"{v2}/backups/{second}/restore", json={"restore": {"volume_id": volume}})

        job = self.ok(s, "create_vbs_backup", f"{v2}/cloudbackups",
                      json={"backup": {"volume_id": volume, "name": f"vbs_{tag}"}})["job_id"]
        entities = self.ok(s, "get_job", f"/v1/{project}/jobs/{job}")["entities"]
        third = self.created("backup", project, entities["backup_id"])
        self.ok(s, "restore_vbs_backup", f"{v2}/cloudbackups/{third}/restore", json={"restore": {"volume_id": volume}})
        self.ok(s, "get_quota", f"{v2}/cloudbackups/quota")

        other = self.own if project == self.shared else self.shared
        sharings = f"{v2}/os-vendor-backup-sharing"
        shared = self.ok(s, "share_backup", sharings, json={"shared": {"backup_id": kept, "to_project_ids": [other]}})
        sharing = self.created("sharing", project, shared["shared"][0]["id"])
        self.ok(s, "get_sharing", f"{sharings}/{sharing}")
        self.ok(s, "list_sharings", f"{sharings}/detail", params={"backup_id": kept})
        self.ok(s, "count_sharings", f"{sharings}/count")
        self.ok(s, "cancel_sharing", f"{sharings}/{sharing}")
        self.record.deleted.add(sharing)
        # Shared again and deleted below without a cancel: the sharing goes with its backup, while other threads
        # list the same project's sharings (issue 15: their lookups raced the delete).
        again = self.ok(s, "share_backup", sharings, json={"shared": {"backup_id": second, "to_project_ids": [other]}})
        self.created("sharing", project, again["shared"][0]["id"])

        # Newest first: an incremental backup's parent cannot go while it has dependents.
        self.ok(s, "delete_vbs_backup", f"{v2}/cloudbackups/{third}")
        self.ok(s, "delete_backup_v2", f"{v2}/backups/{second}")
        self.record.deleted |= {third, second}
        spare = self.created("snapshot", project, self.ok(s, "create_snapshot", f"{v3}/snapshots", json={
            "snapshot": {"volume_id": volume}})["snapshot"]["id"])
        self.ok(s, "delete_snapshot", f"{v3}/snapshots/{spare}")
        doomed = self.created("volume", project, self.ok(s, "create_volume", f"{v3}/volumes",
                                                         json={"volume": {"size": 1}})["volume"]["id"])
        self.ok(s, "delete_volume", f"{v3}/volumes/{doomed}")
        self.record.deleted |= {spare, doomed}
        self.v2_helpers(s, project)
        self.ok(s, "delete_backup", f"{v3}/backups/{kept}")  # the kept one is recreated: create, delete, create
        self.record.deleted.add(kept)
        self.created("backup", project, self.ok(s, "create_backup", f"{v3}/backups", json={
            "backup": {"volume_id": volume, "snapshot_id": snapshot, "name": f"final_{tag}"}})["backup"]["id"])

    def v2_helpers(self, s: requests.Session, project: str) -> None:
        """The volume and snapshot helpers under ``/v2`` (the catalog's ``volumev2``), made and removed."""
        v2 = f"/v2/{project}"
        volume = self.created("volume", project, self.ok(s, "create_volume_v2", f"{v2}/volumes",
                                                         json={"volume": {"size": 1}})["volume"]["id"])
        self.ok(s, "get_volume_v2", f"{v2}/volumes/{volume}")
        self.ok(s, "list_volumes_v2", f"{v2}/volumes")
        self.ok(s, "list_volumes_detail_v2", f"{v2}/volumes/detail")
        snapshot = self.created("snapshot", project, self.ok(s, "create_snapshot_v2", f"{v2}/snapshots", json={
            "snapshot": {"volume_id": volume}})["snapshot"]["id"])
        self.ok(s, "get_snapshot_v2", f"{v2}/snapshots/{snapshot}")
        self.ok(s, "list_snapshots_v2", f"{v2}/snapshots")
        self.ok(s, "list_snapshots_detail_v2", f"{v2}/snapshots/detail")
        self.ok(s, "delete_snapshot_v2", f"{v2}/snapshots/{snapshot}")
        self.ok(s, "delete_volume_v2", f"{v2}/volumes/{volume}")
        self.record.deleted |= {snapshot, volume}

    def policies(self, s: requests.Session, cycle: int) -> None:
        tag = f"t{self.index:02d}c{cycle}"
        v2 = f"/v2/{self.own}"
        policies = f"{v2}/backuppolicy"
        volume = self.created("volume", self.own, self.ok(s, "create_volume", f"/v3/{self.own}/volumes",
                                                          json={"volume": {"size": 1}})["volume"]["id"])
        schedule = {"start_time": "12:00", "frequency": 1, "rentention_num": 3, "status": "ON"}
        policy = self.ok(s, "create_backup_policy", policies,
                         json={"backup_policy_name": f"policy_{tag}", "scheduled_policy": schedule})["backup_policy_id"]
        self.created("policy", self.own, policy)
        self.ok(s, "list_backup_policies", policies)
        self.ok(s, "update_backup_policy", f"{policies}/{policy}", json={"backup_policy_name": f"renamed_{tag}"})
        self.ok(s, "associate_backup_policy_resources", f"{v2}/backuppolicyresources", json={
            "backup_policy_id": policy, "resources": [{"resource_id": volume, "resource_type": "volume"}]})
        self.ok(s, "execute_backup_policy", f"{policies}/{policy}/action")
        self.ok(s, "list_backup_policy_tasks", f"{policies}/{policy}/backuptasks")
        self.ok(s, "add_backup_policy_tag", f"{policies}/{policy}/tags", json={"tag": {"key": "soak", "value": tag}})
        self.ok(s, "list_backup_policy_tags", f"{policies}/{policy}/tags")
        self.ok(s, "list_all_backup_policy_tags", f"{policies}/tags")
        self.ok(s, "batch_backup_policy_tags", f"{policies}/{policy}/tags/action",
                json={"action": "create", "tags": [{"key": "cycle", "value": str(cycle)}]})
        self.ok(s, "delete_backup_policy_tag", f"{policies}/{policy}/tags/soak")
        found = self.ok(s, "query_backup_policies_by_tag", f"{policies}/resource_instances/action",
                        json={"action": "filter", "tags": [{"key": "cycle", "values": [str(cycle)]}]})
        assert policy in str(found)
        self.ok(s, "disassociate_backup_policy_resources", f"{v2}/backuppolicyresources/{policy}/deleted_resources",
                json={"resources": [{"resource_id": volume}]})
        self.ok(s, "delete_backup_policy", f"{policies}/{policy}")
        self.record.deleted.add(policy)


def _listed(vbs: FakeVBS, http: requests.Session, project: str) -> dict[str, list[dict[str, Any]]]:
    """Every backup, volume and snapshot of ``project``, through the API's detail lists."""
    v3 = f"{vbs.url}/v3/{project}"
    return {
        "backup": http.get(f"{v3}/backups/detail", params={"limit": "1000"}).json()["backups"],
        "volume": http.get(f"{v3}/volumes/detail").json()["volumes"],
        "snapshot": http.get(f"{v3}/snapshots/detail").json()["snapshots"],
    }


def test_32_threads_mixing_every_operation_keep_every_invariant(vbs: FakeVBS, http: requests.Session) -> None:
    shared = vbs.project_id
    injected = [vbs.fail(name, status, probability=0.25, seed=index)
                for index, (name, status) in enumerate([("get_quota", 503), ("list_backups_v2", 500),
                                                        ("show_version", 503), ("count_sharings", 500)])]
    deadline = time.monotonic() + DEADLINE
    workers = [Worker(vbs, index, shared, deadline) for index in range(THREADS)]
    started = time.monotonic()
    start_line = threading.Barrier(THREADS)

    def run(worker: Worker) -> Record:
        start_line.wait(timeout=10)  # all 32 start together
        return worker.run()

    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="soak") as pool:
        futures = [pool.submit(run, worker) for worker in workers]
        records = [future.result(timeout=DEADLINE + 15) for future in futures]
    elapsed = time.monotonic() - started
    vbs.clear_faults()

    sent = sum(r.sent for r in records)
    answers = [answer for r in records for answer in r.answers]
    journal = vbs.requests
    # Every operation was driven, by every thread.
    assert sorted(set.union(*(r.operations for r in records))) == SOAKED
    assert all(r.operations == set(SOAKED) for r in records)
    # The journal holds exactly the requests sent, with the same statuses.
    assert len(journal) == sent
    assert Counter((e.operation, e.status) for e in journal) == Counter(answers)
    # No request failed but those a fault rule answered.
    failed = [e for e in journal if e.status != operations.BY_NAME[e.operation].status]
    assert failed, "the fault rules should have fired"
    assert all(e.fault is not None for e in failed), [(e.operation, e.status, e.fault) for e in failed if not e.fault]
    assert len(failed) == sum(rule.served for rule in injected)
    # Ids are unique; every accepted create is present exactly once, every accepted delete is gone.
    created = [(kind, project, ident) for r in records for kind, project, ident in r.created]
    assert len({ident for _, _, ident in created}) == len(created)
    deleted = set.union(*(r.deleted for r in records))
    projects = {shared, *(w.own for w in workers)}
    listed = {project: _listed(vbs, http, project) for project in projects}
    for kind, project, ident in created:
        if kind in ("sharing", "policy"):
            continue
        occurrences = [item for item in listed[project][kind] if item["id"] == ident]
        assert len(occurrences) == (0 if ident in deleted else 1), (kind, project, ident, occurrences)
    for project, resources in listed.items():
        for kind, items in resources.items():
            ids = [item["id"] for item in items]
            assert len(ids) == len(set(ids)), f"{kind}s listed twice in {project}"
        assert {b["status"] for b in resources["backup"]} <= BACKUP_STATUSES
        assert {b["status"] for b in resources["backup"]} <= {"available"}  # immediate transitions, nothing failed
        assert {v["status"] for v in resources["volume"]} <= VOLUME_STATUSES
    assert not [w.own for w in workers if vbs.for_project(w.own).policies]
    with vbs.state.lock:
        assert not vbs.state.sharings
    # Backups the soak kept: one per cycle, each in the project of its cycle.
    final = [ident for kind, _, ident in created if kind == "backup" and ident not in deleted]
    assert len(final) == THREADS * CYCLES
    print(f"\nsoak: {THREADS} threads, {sent} requests, {len(failed)} injected failures, {elapsed:.1f} s")
    assert elapsed < DEADLINE

