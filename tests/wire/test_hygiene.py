"""Hygiene of a test session with the plugin: nothing is left behind, and parallel workers get their own server.

An inner pytest session (pytester) uses the ``vbs`` fixture the way users do, including a client that leaves
its keep-alive connection open and a request still in flight (a ``hang`` fault) when the session ends.
Afterwards no thread of the fake is alive, no socket of the process is left open, the port is free again and
no warning was raised. The suite's own settings (``pyproject.toml``) turn ResourceWarning, unraisable and
thread exceptions into errors, so every other test checks the same for itself.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from pytest_vbs import FakeVBS

INNER_SESSION = """
import json
import socket
import threading
from pathlib import Path

import requests

OUT = Path({out!r})
kept = []


def test_a_backup(vbs):
    volume = vbs.add_volume()
    snapshot = vbs.add_snapshot(volume)
    with requests.Session() as http:
        body = {{"backup": {{"volume_id": volume, "snapshot_id": snapshot}}}}
        created = http.post(vbs.endpoint + "/backups", json=body)
    assert created.status_code == 202
    OUT.write_text(json.dumps({{"port": vbs.server.port}}))


def test_a_client_that_keeps_its_connection_open(vbs):
    sock = socket.create_connection(("127.0.0.1", vbs.server.port))
    sock.sendall(b"GET /v3 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    assert b"200 OK" in sock.recv(65536)
    kept.append(sock)  # still open when the session ends: the server must not wait for it


def test_a_request_still_hanging_at_the_end(vbs):
    vbs.fail("list_versions", fault="hang")
    sock = socket.create_connection(("127.0.0.1", vbs.server.port))
    sock.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    kept.append(sock)


def teardown_module():
    for sock in kept:
        sock.close()
"""


def _fake_threads() -> list[threading.Thread]:
    """Threads of a fake: the accept loop (``pytest-vbs:<port>``) and connection handlers (werkzeug's)."""
    return [t for t in threading.enumerate()
            if t.name.startswith("pytest-vbs:") or "process_request_thread" in t.name]


def _open_sockets() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts sockets through /proc")
def test_a_session_leaves_no_thread_socket_or_port_behind(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "inner.json"
    pytester.makepyfile(test_inner=INNER_SESSION.format(out=str(out)))
    threads_before = _fake_threads()
    sockets_before = _open_sockets()

    started = time.monotonic()
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-W", "error::ResourceWarning",
        "-W", "error::pytest.PytestUnraisableExceptionWarning",
        "-W", "error::pytest.PytestUnhandledThreadExceptionWarning",
    )
    elapsed = time.monotonic() - started

    result.assert_outcomes(passed=3)
    for kind in ("ResourceWarning", "PytestUnraisableExceptionWarning", "PytestUnhandledThreadExceptionWarning"):
        assert kind not in result.stdout.str(), result.stdout.str()  # (they are errors in there anyway)
    assert elapsed < 15  # the hanging request did not hold the session's end
    port = json.loads(out.read_text())["port"]
    left = set(_fake_threads()) - set(threads_before)  # the outer session's own server may close idle ones
    assert not left, left
    assert not _open_sockets() - sockets_before, _open_sockets() - sockets_before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with FakeVBS(port=port) as again:  # the port can be bound again at once
        assert again.server.port == port


def test_a_stopped_fake_joins_its_threads_and_closes_its_sockets() -> None:
    sockets_before = _open_sockets()
    threads_before = set(threading.enumerate())

    for _ in range(5):
        fake = FakeVBS().start()
        connections = [socket.create_connection(("127.0.0.1", fake.server.port)) for _ in range(4)]
        for connection in connections:
            connection.sendall(b"GET /v3 HTTP/1.1\r\nHost: x\r\n\r\n")
            connection.recv(65536)
        fake.stop()
        for connection in connections:
            connection.close()

    assert set(threading.enumerate()) <= threads_before
    assert _open_sockets() <= sockets_before



def test_one_connection_after_another_reuses_the_same_server_thread() -> None:
    """``requests.get`` opens (and closes) a connection per call: the server hands each to an idle thread
    instead of starting one per connection, and starts more only for connections open at the same time."""
    with FakeVBS() as fake:
        seen: set[threading.Thread] = set()
        for _ in range(20):
            assert requests.get(f"{fake.endpoint}/backups", timeout=5).status_code == 200
            seen.update(_connection_threads(fake))
            deadline = time.monotonic() + 5  # the server sees the close and its thread goes idle (bounded wait:
            while not fake.server._httpd._threads.idle() and time.monotonic() < deadline:  # a fixed sleep was
                time.sleep(0.001)  # flaky under load)
        assert len(seen) == 1

        held = [socket.create_connection(("127.0.0.1", fake.server.port)) for _ in range(3)]
        for connection in held:  # three connections open at once: three threads
            connection.sendall(b"GET /v3 HTTP/1.1\r\nHost: x\r\n\r\n")
            connection.recv(65536)
        assert len(_connection_threads(fake)) == 3
        for connection in held:
            connection.close()
    assert not _connection_threads(fake)



def test_a_port_already_taken_raises_oserror() -> None:
    """werkzeug's own server prints a message and exits the process; the fake raises, so a test can react."""
    with FakeVBS() as fake:
        with pytest.raises(OSError, match="in use"):
            FakeVBS(port=fake.server.port).start()
        assert requests.get(f"{fake.endpoint}/backups", timeout=5).status_code == 200

def _connection_threads(fake: FakeVBS) -> list[threading.Thread]:
    """The threads of this fake's server (the session's fake, and others, may have their own)."""
    return [t for t in threading.enumerate() if t.name.startswith(f"pytest-vbs:{fake.server.port}-connection-")]


XDIST_SESSION = """
import json
import os
from pathlib import Path

import pytest

OUT = Path({out!r})


@pytest.mark.parametrize("index", range(8))
def test_record_the_server(vbs, vbs_server, index):
    assert not vbs.backups  # each test starts clean on its worker's own server
    vbs.add_backup(name=f"b{{index}}")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    record = {{"worker": worker, "url": vbs_server.url, "pid": os.getpid()}}
    (OUT / f"{{worker}}-{{index}}.json").write_text(json.dumps(record))
"""


def test_two_xdist_workers_get_two_servers(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    out = tmp_path / "records"
    out.mkdir()
    pytester.makepyfile(test_inner=XDIST_SESSION.format(out=str(out)))

    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--dist", "load", timeout=120)

    result.assert_outcomes(passed=8)
    records = [json.loads(path.read_text()) for path in out.iterdir()]
    servers = {record["worker"]: record["url"] for record in records}
    assert sorted(servers) == ["gw0", "gw1"]
    assert len(set(servers.values())) == 2  # one server per worker, on different ports
    assert all(url.startswith("http://127.0.0.1:") for url in servers.values())
    assert len({record["pid"] for record in records}) == 2
