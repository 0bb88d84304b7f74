"""The server out of resources, each in a subprocess of its own so that the limits stay there: descriptors
(the accept loop backs off instead of spinning), threads (a connection without one is answered 503, and stop
still works), and memory held by clients that announce a body and trickle it. The figures are in
``docs/reliability.md``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from serve_support import DEADLINE, serve
from wire_support import TIMEOUT, request

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_out_of_descriptors_the_accept_loop_backs_off_and_recovers() -> None:
    held: list[socket.socket] = []
    with serve(nofile=64) as server:  # the connection cap (512) is above the descriptors
        pid = server.process.pid
        try:
            for _ in range(80):  # more than the 64 descriptors the server may open: accept() fails with EMFILE
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
                sock.sendall(request("GET", "/v3"))
                held.append(sock)
            time.sleep(0.5)
            cpu, started = _cpu_seconds(pid), time.monotonic()
            time.sleep(1.5)
            share = (_cpu_seconds(pid) - cpu) / (time.monotonic() - started)
            for sock in held[:70]:
                sock.close()
            served = requests.get(f"{server.url}/v3", timeout=DEADLINE)
        finally:
            for sock in held:
                sock.close()
        status, output = server.stop(signal.SIGTERM)

    assert share < 0.15, f"the accept loop used {share:.0%} of a CPU while out of descriptors"  # was 33-99 %
    assert served.status_code == 200
    assert status == 0, output
    assert "Traceback" not in output


THREAD_START_FAILS = """
import json, resource, socket, threading, time
from pytest_vbs import FakeVBS

def exchange(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        while piece := sock.recv(65536):
            answer += piece
    return answer.decode()

def address_space():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024

fake = FakeVBS().start()
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
threading.stack_size(1024 ** 3)  # a new thread needs 1 GiB of address space; 256 MiB are left
resource.setrlimit(resource.RLIMIT_AS, (address_space() + 256 * 1024 ** 2, hard))
try:
    refused = exchange(fake.server.port, b"GET /v3 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
finally:
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    threading.stack_size(0)
again = exchange(fake.server.port, b"GET /v3 HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
started = time.monotonic()
fake.stop()
print(json.dumps({"refused": refused, "again": again.split("\\r\\n")[0], "stop": time.monotonic() - started,
                  "threads": [t.name for t in threading.enumerate() if t.name.startswith("pytest-vbs")]}))
"""


def test_a_connection_without_a_thread_is_answered_503_and_stop_still_works() -> None:
    ran = subprocess.run([sys.executable, "-c", THREAD_START_FAILS], capture_output=True, text=True,
                         timeout=DEADLINE * 2, check=False)

    assert ran.returncode == 0, ran.stderr  # was: RuntimeError "cannot join thread before it is started" in stop
    result = json.loads(ran.stdout)
    head, body = result["refused"].split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 503 Service Unavailable")
    assert "Connection: close" in head
    assert json.loads(body)["serviceUnavailable"]["message"] == "The fake could not start a thread for this connection."
    assert result["again"] == "HTTP/1.1 200 OK"  # threads can start again: served
    assert result["stop"] < 1.0
    assert result["threads"] == []


def test_a_client_trickling_a_large_body_holds_little_memory() -> None:
    head = request("POST", "/v3/p/backups", headers={"Content-Type": "application/json", "Content-Length": "1000000"})
    held: list[socket.socket] = []
    with serve() as server:
        pid = server.process.pid

        def trickle(count: int) -> None:
            for _ in range(count):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
                sock.sendall(head + b'{"backup"')  # and nothing more: the server waits for the rest
                held.append(sock)
            time.sleep(1.0)  # every connection is read and waiting

        try:
            trickle(5)  # the first threads, buffers and code paths
            before = _rss_kib(pid)
            trickle(100)
            per_connection = (_rss_kib(pid) - before) / 100
        finally:
            for sock in held:
                sock.close()
        server.stop(signal.SIGTERM)

    assert per_connection < 256, f"{per_connection:.0f} KiB per trickling connection"  # was 1,020 KiB
