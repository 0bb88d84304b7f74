"""Connections as a bounded resource, over real sockets: an idle timeout for keep-alive connections and partial
requests, a cap on open connections (503 beyond it), threads that retire when idle, a failed thread start
answered 503, delays that end the moment the fake stops, and a route cache that a reset empties."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from serve_support import serve
from vbs_support import Disk
from wire_support import TIMEOUT, converse, read_answer, read_until_closed, request

from pytest_vbs import FakeVBS
from pytest_vbs.cli import main
from pytest_vbs.wsgi.app import ROUTE_CACHE_CHARS

IDLE = 0.3


def _connection_threads(fake: FakeVBS) -> list[threading.Thread]:
    prefix = f"pytest-vbs:{fake.server.port}-connection"
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def _fake_threads(fake: FakeVBS) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"pytest-vbs:{fake.server.port}")]


def _wait_for(condition: object, what: str, limit: float = TIMEOUT) -> float:
    """Poll ``condition()`` until true; the seconds it took (a bound against a hang, not a timing assertion)."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < limit, what
        time.sleep(0.01)
    return time.monotonic() - started


@pytest.fixture
def quick() -> Iterator[FakeVBS]:
    """A fake whose idle timeout is short enough to watch."""
    with FakeVBS(idle_timeout=IDLE) as fake:
        yield fake


# -- idle timeout --------------------------------------------------------------------------------------------------
def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(quick: FakeVBS) -> None:
    with socket.create_connection(("127.0.0.1", quick.server.port), timeout=TIMEOUT) as sock:
        sock.sendall(request("GET", "/v3"))
        answered = read_answer(sock)
        started = time.monotonic()
        after = read_until_closed(sock, quiet=TIMEOUT)

    assert answered.statuses == [200]
    assert after.closed
    assert after.data == b""
    assert time.monotonic() - started < IDLE + 2


@pytest.mark.parametrize("partial", [b"GET /v3 HTT", b"GET /v3 HTTP/1.1\r\nHost: x\r\nX-Slow: 1"], ids=["line", "head"])
def test_a_partial_request_head_is_dropped_after_the_idle_timeout(quick: FakeVBS, partial: bytes) -> None:
    stream = converse(quick.server.port, partial, quiet=TIMEOUT)

    assert stream.closed
    assert stream.data == b""
    assert quick.requests == []


def test_a_body_that_stops_arriving_is_408_after_the_idle_timeout(quick: FakeVBS) -> None:
    head = request("POST", f"/v3/{quick.project_id}/backups", headers={
        "Content-Type": "application/json", "Content-Length": "1000"})

    stream = converse(quick.server.port, head + b'{"backup": {', quiet=TIMEOUT)

    assert stream.statuses == [408], stream.data
    assert b"did not arrive in time" in stream.data
    assert stream.closed
    assert quick.backups == {}


def test_a_client_sending_within_the_timeout_is_served(quick: FakeVBS, http: requests.Session) -> None:
    with socket.create_connection(("127.0.0.1", quick.server.port), timeout=TIMEOUT) as sock:
        for _ in range(3):
            time.sleep(IDLE / 4)  # well inside the timeout, even on a loaded machine
            sock.sendall(request("GET", "/v3"))
            assert read_answer(sock).statuses == [200]


def test_the_default_idle_timeout_is_60_seconds(vbs: FakeVBS) -> None:
    assert vbs.server.idle_timeout == 60.0
    assert FakeVBS().server.max_connections == 512


INVALID = [
    ({"idle_timeout": 0}, ValueError, "idle_timeout must be a positive number"),
    ({"idle_timeout": -1.5}, ValueError, "idle_timeout"),
    ({"idle_timeout": float("inf")}, ValueError, "idle_timeout"),
    ({"idle_timeout": float("nan")}, ValueError, "idle_timeout"),
    ({"idle_timeout": "60"}, TypeError, "idle_timeout must be a positive number, not '60'"),
    ({"idle_timeout": True}, TypeError, "idle_timeout"),
    ({"max_connections": 0}, ValueError, "max_connections must be a positive integer"),
    ({"max_connections": 2.5}, TypeError, "max_connections must be a positive integer"),
    ({"max_connections": False}, TypeError, "max_connections"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), INVALID, ids=[str(k) for k, _, _ in INVALID])
def test_invalid_limits_are_refused(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        FakeVBS(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("argv", "message"), [
    (["--idle-timeout", "0"], "argument --idle-timeout: must be above 0: '0'"),
    (["--idle-timeout", "soon"], "argument --idle-timeout: not a number: 'soon'"),
    (["--idle-timeout", "inf"], "argument --idle-timeout: must be above 0"),
    (["--max-connections", "0"], "argument --max-connections: must be above 0"),
    (["--max-connections", "2.5"], "argument --max-connections: not a number: '2.5'"),
])
def test_serve_refuses_invalid_limits(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", *argv])

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_serve_applies_its_limits() -> None:
    with serve("--idle-timeout", "0.3", "--max-connections", "1") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
            sock.sendall(request("GET", "/v3"))
            assert read_answer(sock).statuses == [200]
            refused = converse(server.port, request("GET", "/v3"))
            idle = read_until_closed(sock, quiet=TIMEOUT)
        status, output = server.stop(signal.SIGTERM)

    assert refused.statuses == [503]
    assert idle.closed
    assert status == 0, output


# -- the connection cap --------------------------------------------------------------------------------------------
def test_connections_beyond_the_cap_are_answered_503_and_closed(http: requests.Session) -> None:
    with FakeVBS(max_connections=2) as fake:
        held = [socket.create_connection(("127.0.0.1", fake.server.port), timeout=TIMEOUT) for _ in range(2)]
        try:
            for sock in held:
                sock.sendall(request("GET", "/v3"))
                assert read_answer(sock).statuses == [200]

            refused = converse(fake.server.port, request("GET", "/v3"))
            held.pop().close()
            _wait_for(lambda: len(fake.server._httpd._connections) < 2, "the closed connection is released")  # type: ignore[union-attr]
            served = converse(fake.server.port, request("GET", "/v3", headers={"Connection": "close"}))
        finally:
            for sock in held:
                sock.close()

    assert refused.statuses == [503], refused.data
    assert refused.header("Retry-After") == "1"
    assert refused.header("Connection") == "close"
    body = json.loads(refused.data.split(b"\r\n\r\n", 1)[1])
    assert body == {"serviceUnavailable": {"code": 503, "message": "The fake serves at most 2 connections at once."}}
    assert refused.closed
    assert served.statuses == [200]


# -- threads -------------------------------------------------------------------------------------------------------
def test_threads_of_connections_gone_idle_retire(quick: FakeVBS) -> None:
    held = [socket.create_connection(("127.0.0.1", quick.server.port), timeout=TIMEOUT) for _ in range(4)]
    for sock in held:
        sock.sendall(request("GET", "/v3"))
        assert read_answer(sock).statuses == [200]
    assert len(_connection_threads(quick)) == 4
    for sock in held:
        sock.close()

    _wait_for(lambda: not _connection_threads(quick), "idle connection threads retire")
    assert requests.get(f"{quick.url}/v3", timeout=TIMEOUT).status_code == 200  # a new thread serves again


# -- delays end at stop (issue 15 item 9, issue 16 item 17) ------------------------------------------------------------
DELAYS = {
    "latency-only": {"operation": "create_backup", "delay": 30.0},
    "with-a-status": {"operation": "create_backup", "status": 503, "delay": 30.0},
    "after-commit": {"operation": "create_backup", "status": 500, "after_commit": True, "delay": 30.0},
}


@pytest.mark.parametrize("rule", list(DELAYS.values()), ids=list(DELAYS))
def test_stop_ends_a_delay_at_once_and_no_thread_outlives_it(rule: dict[str, object]) -> None:
    fake = FakeVBS().start()
    disk = Disk(volume_id := fake.add_volume(), fake.add_snapshot(volume_id))
    fake.fail(**rule)  # type: ignore[arg-type]
    body = json.dumps(disk.backup(name="late")).encode()
    sock = socket.create_connection(("127.0.0.1", fake.server.port), timeout=TIMEOUT)
    try:
        sock.sendall(request("POST", f"/v3/{fake.project_id}/backups", body,
                             headers={"Content-Type": "application/json"}))
        _wait_for(lambda: fake.faults.rules()[0].matched == 1, "the request reached its delay")
        started = time.monotonic()
        fake.stop()
        stopped = time.monotonic() - started
        dropped = read_until_closed(sock)
    finally:
        sock.close()

    assert stopped < 0.5, stopped
    assert not _fake_threads(fake)
    assert dropped.statuses == []  # abandoned: no answer, and nothing recorded
    assert fake.requests == []
    expected = ["late"] if rule.get("after_commit") else []
    assert [b.name for b in fake.backups.values()] == expected


SESSION_WITH_AN_ABANDONED_DELAY = """
import pathlib, threading, time, requests

def send(url):
    try:
        requests.get(url, timeout=60)
    except requests.ConnectionError:
        pass  # the fake stopped at the end of the session

def test_leaves_a_delayed_request_behind(vbs_server):  # not vbs: its teardown would wait for the request
    vbs_server.fail("list_backups", delay=30)
    threading.Thread(target=send, args=(vbs_server.endpoint + "/backups",), daemon=True).start()
    while vbs_server.faults.rules()[0].matched == 0:
        time.sleep(0.01)
    pathlib.Path({ended!r}).write_text(repr(time.monotonic()))
"""


def test_an_abandoned_delay_does_not_hold_the_end_of_the_session(pytester: pytest.Pytester) -> None:
    ended = pytester.path / "ended"
    pytester.makepyfile(SESSION_WITH_AN_ABANDONED_DELAY.format(ended=str(ended)))

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    finished = time.monotonic()

    result.assert_outcomes(passed=1)
    assert finished - float(ended.read_text()) < 2.0  # was 5 s: stop waited for the sleeping thread


# -- the route cache -----------------------------------------------------------------------------------------------
def test_a_reset_empties_the_route_cache(vbs: FakeVBS, http: requests.Session) -> None:
    for index in range(20):
        http.get(f"{vbs.endpoint}/backups/{index:032x}")
    assert len(vbs.app._routes) >= 20

    http.post(f"{vbs.url}/__vbs__/reset")

    assert len(vbs.app._routes) <= 1  # at most the reset's own route


def test_long_paths_cannot_grow_the_route_cache_past_its_bound(vbs: FakeVBS) -> None:
    long_id = "a" * 60_000
    with socket.create_connection(("127.0.0.1", vbs.server.port), timeout=TIMEOUT) as sock:
        for index in range(40):
            sock.sendall(request("GET", f"/v3/{vbs.project_id}/backups/{index}{long_id}"))
            assert read_answer(sock).statuses == [404]

    assert sum(len(path) for path, _ in vbs.app._routes) <= ROUTE_CACHE_CHARS
