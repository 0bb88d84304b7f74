"""Many clients at once: every accepted create is there exactly once, and the journal misses nothing."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from vbs_support import Disk

from pytest_vbs import FakeVBS

THREADS = 16
CREATES = 10
SHARING_OWNERS, SHARING_READERS, SHARING_ROUNDS = 4, 6, 100


def test_parallel_creates_and_lists(vbs: FakeVBS) -> None:
    disks = []
    for _ in range(THREADS):
        volume = vbs.add_volume()
        disks.append(Disk(volume, vbs.add_snapshot(volume)))
    start = threading.Barrier(THREADS)

    def client(index: int) -> tuple[list[str], list[int]]:
        disk = disks[index]
        created: list[str] = []
        statuses: list[int] = []
        with requests.Session() as http:
            start.wait(timeout=30)
            for n in range(CREATES):
                response = http.post(f"{vbs.endpoint}/backups", json=disk.backup(name=f"t{index}-{n}"))
                statuses.append(response.status_code)
                if response.status_code == 202:
                    created.append(response.json()["backup"]["id"])
                listed = http.get(f"{vbs.endpoint}/backups/detail", params={"volume_id": disk.volume_id})
                statuses.append(listed.status_code)
                assert [b["id"] for b in listed.json()["backups"]] == created[::-1]
        return created, statuses

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(client, range(THREADS)))

    created = [backup_id for ids, _ in results for backup_id in ids]
    statuses = Counter(status for _, codes in results for status in codes)
    assert statuses == {202: THREADS * CREATES, 200: THREADS * CREATES}
    assert len(set(created)) == len(created) == THREADS * CREATES
    backups = vbs.backups
    assert set(backups) == set(created)
    assert Counter(b.volume_id for b in backups.values()) == {d.volume_id: CREATES for d in disks}
    for index, (ids, _) in enumerate(results):
        assert [backups[i].name for i in ids] == [f"t{index}-{n}" for n in range(CREATES)]
        # One full backup per volume, then incrementals, whatever the interleaving.
        assert [backups[i].is_incremental for i in ids] == [False] + [True] * (CREATES - 1)
    journal = vbs.requests
    assert len(journal) == 2 * THREADS * CREATES
    assert Counter(e.operation for e in journal) == {"create_backup": THREADS * CREATES,
                                                     "list_backups_detail": THREADS * CREATES}
    assert sorted(e.response_json["backup"]["id"] for e in journal if e.operation == "create_backup") == sorted(created)
    everything = requests.get(f"{vbs.endpoint}/backups", params={"limit": 1000}, timeout=30).json()["backups"]
    assert sorted(b["id"] for b in everything) == sorted(created)
    assert vbs.app.take_unexpected_errors() == []


def test_racing_creates_on_one_volume_admit_exactly_one(vbs: FakeVBS) -> None:
    vbs.set_transitions("manual")  # the first create stays "creating": every other one must be refused
    volume = vbs.add_volume()
    disk = Disk(volume, vbs.add_snapshot(volume))
    start = threading.Barrier(THREADS)

    def client(index: int) -> int:
        with requests.Session() as http:
            start.wait(timeout=30)
            return http.post(f"{vbs.endpoint}/backups", json=disk.backup(name=f"r{index}")).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = Counter(pool.map(client, range(THREADS)))

    assert statuses == {202: 1, 400: THREADS - 1}
    assert len(vbs.backups) == 1
    assert len(vbs.requests) == THREADS


def test_parallel_deletes_of_one_backup_accept_exactly_one(vbs: FakeVBS) -> None:
    vbs.set_transitions("manual")
    backup_id = vbs.add_backup()
    start = threading.Barrier(THREADS)

    def client(_: int) -> int:
        with requests.Session() as http:
            start.wait(timeout=30)
            return http.delete(f"{vbs.endpoint}/backups/{backup_id}").status_code

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = Counter(pool.map(client, range(THREADS)))

    # One delete is accepted; the others find the backup "deleting" already.
    assert statuses == {202: 1, 400: THREADS - 1}
    assert vbs.advance() == 1
    assert vbs.backups == {}


def test_reading_sharings_while_shared_backups_are_deleted(vbs: FakeVBS) -> None:
    """Issue 15 item 2: owners delete shared backups without cancelling the sharings first while readers list,
    count and read sharings from both sides. Every answer is a documented one (never a 500)."""
    receiver = "0" * 31 + "1"
    sharings = f"{vbs.url}/v2/{{}}/os-vendor-backup-sharing"
    stop = threading.Event()
    seen: list[str] = []  # sharing ids, for the readers' get_sharing

    def owner(index: int) -> Counter[int]:
        statuses: Counter[int] = Counter()
        with requests.Session() as http:
            for _ in range(SHARING_ROUNDS):
                backup_id = vbs.add_backup(name=f"o{index}")
                shared = http.post(sharings.format(vbs.project_id), timeout=10,
                                   json={"shared": {"backup_id": backup_id, "to_project_ids": [receiver]}})
                statuses[shared.status_code] += 1
                seen.append(shared.json()["shared"][0]["id"])
                statuses[http.delete(f"{vbs.endpoint}/backups/{backup_id}", timeout=10).status_code] += 1
        return statuses

    def reader(index: int) -> Counter[int]:
        statuses: Counter[int] = Counter()
        project, params = (vbs.project_id, {}) if index % 2 else (receiver, {"share_to_me": "true"})
        with requests.Session() as http:
            while not stop.is_set():
                for url in (f"{sharings.format(project)}/detail", f"{sharings.format(project)}/count",
                            *(f"{sharings.format(project)}/{s}" for s in seen[-2:])):
                    statuses[http.get(url, params=params, timeout=10).status_code] += 1
        return statuses

    with ThreadPoolExecutor(SHARING_OWNERS + SHARING_READERS) as pool:
        readers = [pool.submit(reader, index) for index in range(SHARING_READERS)]
        owners = [pool.submit(owner, index) for index in range(SHARING_OWNERS)]
        try:
            written = sum((future.result(timeout=60) for future in owners), Counter())
        finally:
            stop.set()
        read = sum((future.result(timeout=60) for future in readers), Counter())

    assert written == {200: SHARING_OWNERS * SHARING_ROUNDS, 202: SHARING_OWNERS * SHARING_ROUNDS}
    assert set(read) <= {200, 404}, read  # a sharing deleted with its backup is gone: 404, never 500
    assert vbs.app.take_unexpected_errors() == []
    with vbs.state.lock:
        assert not vbs.state.sharings
