"""The request journal is bounded in bytes (issue 15 item 1): large bodies and headers are cut with their length
and a marker, the oldest entries are evicted past the budget, the HTTP view pages, and the budget is honest:
the memory the entries really hold stays under what the journal counts."""

from __future__ import annotations

import gc
import json
import re
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from serve_support import serve

from pytest_vbs import FakeVBS
from pytest_vbs.assertions import request_problems
from pytest_vbs.journal import (
    BODY_KEPT,
    CUT_MARK,
    HEADER_VALUE_KEPT,
    HEADERS_KEPT,
    MIB,
    MIN_JOURNAL_BYTES,
    Journal,
    RecordedRequest,
    journal_bytes,
)

TIMEOUT = 30
HEAVY_HEADERS = {f"X-Heavy-{n:02d}": "h" * 60_000 for n in range(90)}  # 5.4 MB of headers in one request


@contextmanager
def small_fake(budget: int | str = MIN_JOURNAL_BYTES) -> Iterator[FakeVBS]:
    with FakeVBS(journal_bytes=budget) as fake:
        yield fake


# -- settings -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [(4 * MIB, 4 * MIB), ("16MiB", 16 * MIB), ("16m", 16 * MIB), ("8192k", 8 * MIB), ("1g", 1024 * MIB),
     (" 5242880 ", 5 * MIB)],
)
def test_budgets_in_bytes_or_with_a_unit(value: int | str, expected: int) -> None:
    assert journal_bytes(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [(True, "integer number of bytes"), (1.5e7, "integer number of bytes"), ("64 MB!", "such as '64MiB'"),
     ("lots", "such as '64MiB'"), (MIB, "at least 4194304"), (-1, "at least"), ("1k", "at least")],
)
def test_a_bad_budget_is_refused_by_name(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        FakeVBS(journal_bytes=value)  # type: ignore[arg-type]
    assert "journal_bytes" in str(error.value)


# -- what one entry keeps ---------------------------------------------------------------------------------------
def test_a_large_body_keeps_its_head_its_length_and_a_marker(vbs: FakeVBS, http: requests.Session) -> None:
    body = json.dumps({"backup": {"volume_id": "v", "description": "d" * 300_000}}).encode()

    http.post(f"{vbs.endpoint}/backups", data=body, headers={"Content-Type": "application/json"})

    entry = vbs.requests[-1]
    assert entry.body == body[:BODY_KEPT]
    assert (entry.body_length, entry.truncated, entry.json) == (len(body), ("body",), None)
    shown = http.get(f"{vbs.url}/__vbs__/requests").json()["requests"][-1]
    assert (shown["body_length"], shown["truncated"], shown["json"]) == (len(body), ["body"], None)


def test_strict_mode_names_a_body_too_long_to_check(vbs: FakeVBS, http: requests.Session) -> None:
    http.post(f"{vbs.endpoint}/backups", json={"backup": {"volume_id": "v", "description": "d" * 100_000}})

    problems = request_problems(vbs.requests[-1])

    assert len(problems) == 1
    assert "longer than the journal keeps" in problems[0]
    assert "could not be checked" in problems[0]


def test_a_mid_sized_body_is_kept_once_and_parsed_when_read(vbs: FakeVBS, http: requests.Session) -> None:
    sent = {"backup": {"volume_id": "v", "snapshot_id": "s", "description": "d" * 40_000}}

    http.post(f"{vbs.endpoint}/backups", json=sent)

    entry = vbs.requests[-1]
    assert entry.json == sent
    assert entry.truncated == ()
    assert entry.weight < len(entry.body) + 8 * 1024  # the body once, not a parsed copy next to it


def test_heavy_headers_are_cut_with_a_marker(vbs: FakeVBS, http: requests.Session) -> None:
    http.get(f"{vbs.endpoint}/backups", headers=HEAVY_HEADERS)

    entry = vbs.requests[-1]
    assert entry.truncated == ("headers",)
    heavy = {k: v for k, v in entry.headers.items() if k.startswith("X-Heavy")}
    assert all(v == "h" * HEADER_VALUE_KEPT + CUT_MARK for v in heavy.values())
    assert sum(len(k) + len(v) for k, v in entry.headers.items()) <= HEADERS_KEPT
    assert entry.weight < 2 * HEADERS_KEPT


def test_a_large_answer_is_kept_as_bytes_and_parsed_when_read(vbs: FakeVBS, http: requests.Session) -> None:
    for _ in range(60):
        vbs.add_backup(name="n" * 200, description="d" * 250)

    listed = http.get(f"{vbs.endpoint}/backups/detail").json()

    entry = vbs.requests[-1]
    assert entry.response_json == listed
    assert entry.weight < 2 * len(json.dumps(listed)) + 8 * 1024


# -- the budget ----------------------------------------------------------------------------------------------------
def test_the_oldest_entries_are_evicted_past_the_budget() -> None:
    with small_fake() as fake, requests.Session() as http:
        for n in range(120):
            http.post(f"{fake.endpoint}/backups", data=b"x" * 200_000, params={"n": str(n)},
                      headers={"Content-Type": "application/json"}, timeout=TIMEOUT)

        kept = fake.requests
        assert fake.journal.bytes <= MIN_JOURNAL_BYTES
        assert 0 < fake.journal.evicted == 120 - len(kept)
        assert [e.query["n"] for e in kept] == [str(n) for n in range(120 - len(kept), 120)]  # the newest, in order
        assert [e.seq for e in kept] == list(range(kept[0].seq, kept[0].seq + len(kept)))


def test_the_counted_bytes_cover_the_memory_the_entries_hold() -> None:
    """What the journal counts for each kind of entry is at least what tracemalloc sees the entries keep."""
    hostile = b"[" + b"[]," * 5_000 + b"[]]"  # small text, many objects once parsed
    kinds = {
        "huge body": dict(body=b"x" * MIB, json=None),
        "hostile JSON": dict(body=hostile, json=json.loads(hostile)),
        "mid JSON": dict(body=json.dumps({"a": ["b" * 10] * 3_000}).encode(), json={"a": ["b" * 10] * 3_000}),
        "heavy headers": dict(body=b"", json=None, headers=dict(HEAVY_HEADERS)),
        "small": dict(body=b'{"backup": {"volume_id": "v"}}', json={"backup": {"volume_id": "v"}}),
    }
    for kind, fields in kinds.items():
        journal = Journal(max_bytes=MIN_JOURNAL_BYTES)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for n in range(40):
                entry = RecordedRequest("create_backup", "POST", f"/v3/p/backups/{n}", {"n": str(n)},
                                        dict(fields.get("headers", {"Host": "localhost"})),  # type: ignore[call-overload]
                                        _copy(fields["json"]), "p", body=bytes(fields["body"]))  # type: ignore[call-overload]
                entry.keep_response(b'{"backup": {"id": "%d"}}' % n, {"backup": {"id": str(n)}})
                journal.append(entry)
            del entry
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert journal.bytes <= MIN_JOURNAL_BYTES, kind
        assert held <= journal.bytes + 64 * 1024, (kind, held, journal.bytes)


def _copy(value: object) -> object:
    return json.loads(json.dumps(value))


def test_no_answered_request_is_left_in_a_reference_cycle(vbs: FakeVBS, http: requests.Session) -> None:
    """A request freed only by the cyclic collector holds its body and headers meanwhile: the server's RSS grew by
    the size of every refused body and every header-heavy request (werkzeug's request in its own environ; an
    error's traceback and context)."""
    def send_one_of_each() -> None:
        http.post(f"{vbs.endpoint}/backups", data=b"x" * 100_000, headers={"Content-Type": "application/json"})
        http.post(f"{vbs.endpoint}/backups", json={"backup": {}})
        http.get(f"{vbs.endpoint}/backups/nope", headers=HEAVY_HEADERS)
        http.get(f"{vbs.url}/nothing")
        http.post(f"{vbs.endpoint}/backups", data=b"x" * (2 * MIB), headers={"Content-Type": "application/json"})
        http.delete(f"{vbs.endpoint}/backups")
        http.get(f"{vbs.endpoint}/backups", headers={"OpenStack-API-Version": "volume 9.9"})
        http.post(f"{vbs.auth_url}/auth/tokens", json={"auth": {}})

    send_one_of_each()  # imports and caches first
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        send_one_of_each()
        gc.collect()
        ours = [o for o in gc.garbage if type(o).__module__.startswith(("pytest_vbs", "werkzeug"))
                or (type(o).__name__ == "frame" and "pytest_vbs" in o.f_code.co_filename)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == []


# -- the HTTP view --------------------------------------------------------------------------------------------------
def test_the_journal_pages_by_marker(vbs: FakeVBS, http: requests.Session) -> None:
    for n in range(7):
        http.get(f"{vbs.endpoint}/backups", params={"n": str(n)})
    url = f"{vbs.url}/__vbs__/requests"

    pages, marker = [], 0
    while marker is not None:
        page = http.get(url, params={"limit": 3, "marker": marker}).json()
        pages.append([r["query"]["n"] for r in page["requests"]])
        marker = page["next_marker"]

    assert pages == [["0", "1", "2"], ["3", "4", "5"], ["6"]]
    everything = http.get(url).json()
    assert [r["query"]["n"] for r in everything["requests"]] == [str(n) for n in range(7)]
    assert (everything["next_marker"], everything["evicted"]) == (None, 0)
    assert http.get(url, params={"marker": 10**12}).json()["requests"] == []


@pytest.mark.parametrize(
    ("params", "words"),
    [({"limit": "0"}, ["limit", ">= 1"]), ({"limit": "1001"}, ["limit", "<= 1000"]),
     ({"limit": "ten"}, ["limit", "integer"]), ({"marker": "-1"}, ["marker"]), ({"marker": "abc"}, ["marker"]),
     ({"page": "2"}, ["page", "not a supported"])],
)
def test_a_bad_page_request_is_400_naming_the_parameter(
    vbs: FakeVBS, http: requests.Session, params: dict[str, str], words: list[str]
) -> None:
    response = http.get(f"{vbs.url}/__vbs__/requests", params=params)

    assert response.status_code == 400, response.text
    message = json.dumps(response.json())
    assert all(word in message for word in words), message


# -- the standalone server's memory ---------------------------------------------------------------------------------
def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


@pytest.mark.soak
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's RSS from /proc")
def test_server_memory_stays_within_the_budget_under_large_bodies_and_heavy_headers() -> None:
    """``serve --journal-bytes 16MiB``, four rounds of 100 requests with 1 MiB bodies, 30 with 5.4 MB of headers
    and 500 small ones: its RSS grows by less than the budget plus a fixed overhead (the largest request's
    transient copies and the allocator's slack), and stops growing once the journal is full (second round)."""
    budget, overhead = 16 * MIB, 96 * MIB
    with serve("--journal-bytes", "16MiB") as server, requests.Session() as http:
        endpoint = f"{server.url}/v3/{'0' * 32}"
        for _ in range(50):  # warm up: imports, thread pool, caches
            http.get(f"{endpoint}/backups", timeout=TIMEOUT)
        baseline = _rss(server.process.pid)
        started = time.monotonic()
        after_round = [_round(http, endpoint, server.process.pid) for _ in range(4)]
        page = http.get(f"{server.url}/__vbs__/requests", timeout=TIMEOUT)
        elapsed = time.monotonic() - started
    peaks = ", ".join(f"{peak / MIB:.0f}" for peak in after_round)
    print(f"\njournal soak: RSS {baseline / MIB:.0f} MiB at start, peaks by round {peaks} MiB; first page "
          f"{len(page.content) / MIB:.1f} MB ({len(page.json()['requests'])} entries), evicted "
          f"{page.json()['evicted']}; {elapsed:.0f} s")
    assert max(after_round) - baseline < budget + overhead
    assert after_round[-1] <= after_round[1] + 8 * MIB
    assert page.json()["evicted"] > 0
    assert len(page.content) < 2 * budget


def _round(http: requests.Session, endpoint: str, pid: int) -> int:
    """One round of the soak's requests; the highest RSS seen."""
    peak = 0
    for n in range(100):
        http.post(f"{endpoint}/backups", data=b"x" * MIB, headers={"Content-Type": "application/json"},
                  timeout=TIMEOUT)
        if n % 25 == 0:
            peak = max(peak, _rss(pid))
    for _ in range(30):
        http.get(f"{endpoint}/backups", headers=HEAVY_HEADERS, timeout=TIMEOUT)
    peak = max(peak, _rss(pid))
    for n in range(500):
        http.get(f"{endpoint}/backups", params={"n": str(n)}, timeout=TIMEOUT)
    return max(peak, _rss(pid))
