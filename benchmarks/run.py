#!/usr/bin/env python
"""pytest-vbs against its peers, side by side: ``python benchmarks/run.py [--quick] [--output RESULTS.md]``.

Needs ``pip install -e '.[bench]'`` (pytest-httpserver, requests). Five measurements, each interleaving the
contenders round by round (medians of rounds; ratios taken within the same run):

1. server start + first response + stop: pytest-vbs, pytest-httpserver, a bare werkzeug server (10 ms poll);
2. per-test cost in real pytest runs (subprocesses over generated test files), baseline subtracted;
3. keep-alive round trip and 8-thread throughput over ``requests.Session``, and the in-process mode;
4. what loading the plugin costs every pytest run;
5. scale: pages and get-one at 100 / 10 000 / 100 000 stored backups, memory per backup, journal bound;
6. the start-up of a one-test pytest run, with and without pytest-vbs and hypothesis (``startup.py``).

Writes ``benchmarks/RESULTS.md`` (or ``--output``): machine, versions, medians, ratios and each target of
issue 9 with met/missed. ``--quick`` runs tiny sizes (seconds) to check that the script works.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import importlib.metadata
import json
import logging
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import startup
from floor import BareServer, CeilingServer, canned_app
from pytest_httpserver import HTTPServer
from werkzeug.test import Client

from pytest_vbs import FakeVBS
from pytest_vbs import api as operations
from pytest_vbs.inprocess import InProcessAdapter, mount_inprocess
from pytest_vbs.journal import DEFAULT_MAX_ENTRIES
from pytest_vbs.wsgi.serving import VBSServer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: How long a server sits idle between its last answer and stop() (a session ends after the last test's
#: teardown, not in the instant the last response arrives; see section 1).
IDLE_BEFORE_STOP = 0.05
LIST_PATH = "/v3/0d5b1e9a6c7f4b2e8a1d3c5e7f9b0a24/backups"
GET_PATH = "/v3/0d5b1e9a6c7f4b2e8a1d3c5e7f9b0a24/backups/a2a77c91-87e1-4304-99d6-131dd8d1589d"


# -- configuration ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    quick: bool
    lifecycle_rounds: int
    cold_rounds: int
    pytest_tests: int
    pytest_rounds: int
    pytest_fresh_connection: bool
    rt_requests: int
    rt_rounds: int
    tp_per_thread: int
    tp_rounds: int
    load_rounds: int
    scale_sizes: tuple[int, ...]
    scale_calls: int
    scale_rounds: int
    memory_backups: int
    sustained_requests: int
    threads: int = 8


FULL = Config(
    quick=False, lifecycle_rounds=15, cold_rounds=5, pytest_tests=200, pytest_rounds=6,
    pytest_fresh_connection=True, rt_requests=300, rt_rounds=7, tp_per_thread=50, tp_rounds=5, load_rounds=12,
    scale_sizes=(100, 10_000, 100_000), scale_calls=20, scale_rounds=5, memory_backups=10_000,
    sustained_requests=int(DEFAULT_MAX_ENTRIES * 2.5),
)
QUICK = Config(
    quick=True, lifecycle_rounds=1, cold_rounds=1, pytest_tests=10, pytest_rounds=1,
    pytest_fresh_connection=False, rt_requests=20, rt_rounds=1, tp_per_thread=5, tp_rounds=1, load_rounds=1,
    scale_sizes=(100, 1_000), scale_calls=3, scale_rounds=1, memory_backups=500, sustained_requests=300,
)


# -- small helpers ---------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def interleave(rounds: int, contenders: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run every contender once per round, rotating the order each round; returns the samples by name."""
    names = list(contenders)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(contenders[name]())
    return samples


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f} x" if reference > 0 else "n/a"


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


#: Subprocesses cache bytecode here (set by main): users' installs have bytecode, even where this shell sets
#: PYTHONDONTWRITEBYTECODE, and the repository's own __pycache__ stays untouched.
PYCACHE: list[str] = []


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "COV_")) and k != "PYTHONDONTWRITEBYTECODE"}
    if PYCACHE:
        env["PYTHONPYCACHEPREFIX"] = PYCACHE[0]
    if "PYTHONPATH" in extra and env.get("PYTHONPATH"):
        extra = {**extra, "PYTHONPATH": extra["PYTHONPATH"] + os.pathsep + env["PYTHONPATH"]}
    env.update(extra)
    return env


@dataclass
class Target:
    text: str
    measured: str
    met: bool | None  # None: not measured in this mode


@dataclass
class Report:
    config: Config
    sections: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: list[str] = field(default_factory=list)

    def section(self, title: str, intro: str, header: Sequence[str], rows: Sequence[Sequence[str]],
                after: str = "") -> None:
        lines = [f"## {title}", "", textwrap.fill(intro, 110), ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" for _ in header) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        if after:
            lines += ["", after]
        self.sections.append("\n".join(lines))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def target(self, text: str, measured: str, met: bool | None) -> None:
        self.targets.append(Target(text, measured, met))
        print(f"  target: {text}: {measured} -> {'met' if met else 'MISSED' if met is False else 'n/a'}", flush=True)


# -- 1. start + first response + stop --------------------------------------------------------------------
def first_response(host: str, port: int, path: str) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
    finally:
        connection.close()


def _lifecycle(start: Callable[[], tuple[int, Callable[[], None]]]) -> tuple[float, float]:
    """Start a server (``start`` returns its port and its stop), time the first answer, idle, time the stop."""
    started = time.perf_counter()
    port, stop = start()
    first_response("127.0.0.1", port, LIST_PATH)
    answered = time.perf_counter()
    time.sleep(IDLE_BEFORE_STOP)
    stopping = time.perf_counter()
    stop()
    return answered - started, time.perf_counter() - stopping


def _start_vbs() -> tuple[int, Callable[[], None]]:
    fake = FakeVBS().start()
    return fake.server.port, fake.stop


def _start_httpserver() -> tuple[int, Callable[[], None]]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request(LIST_PATH).respond_with_json({"backups": []})
    server.start()
    return server.port, server.stop


def _start_bare() -> tuple[int, Callable[[], None]]:
    server = BareServer().start()
    return server.port, server.stop


_COLD = {
    "pytest-vbs": "from pytest_vbs import FakeVBS\nserver = FakeVBS().start()\nport = server.server.port\n",
    "pytest-httpserver": (
        "from pytest_httpserver import HTTPServer\nserver = HTTPServer(host='127.0.0.1', port=0)\n"
        "server.expect_request(PATH).respond_with_json({'backups': []})\nserver.start()\nport = server.port\n"
    ),
    "bare werkzeug (floor)": "from floor import BareServer\nserver = BareServer().start()\nport = server.port\n",
}
_COLD_TEMPLATE = """\
import time
started = time.perf_counter()
import http.client
PATH = {path!r}
{setup}
connection = http.client.HTTPConnection('127.0.0.1', port)
connection.request('GET', PATH)
assert connection.getresponse().read()
connection.close()
answered = time.perf_counter()
time.sleep({idle})
stopping = time.perf_counter()
server.stop()
print(answered - started, time.perf_counter() - stopping)
"""


def cold_lifecycle(name: str) -> tuple[float, float]:
    code = _COLD_TEMPLATE.format(path=LIST_PATH, setup=_COLD[name], idle=IDLE_BEFORE_STOP)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env=subprocess_env(PYTHONPATH=str(HERE)))
    first, stop = result.stdout.split()
    return float(first), float(stop)


def bench_lifecycle(cfg: Config, report: Report) -> None:
    print("1. start + first response + stop", flush=True)
    runners = {"pytest-vbs": lambda: _lifecycle(_start_vbs), "pytest-httpserver": lambda: _lifecycle(_start_httpserver),
               "bare werkzeug (floor)": lambda: _lifecycle(_start_bare)}
    for runner in runners.values():  # warm-up: imports, schema loading, first-time code paths
        runner()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    cold: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    names = list(runners)
    for index in range(cfg.lifecycle_rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(runners[name]())
    for name in names:  # bytecode caches of the subprocesses
        cold_lifecycle(name)
    for index in range(cfg.cold_rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            cold[name].append(cold_lifecycle(name))
    first = {name: median([s[0] for s in samples]) for name, samples in results.items()}
    stop = {name: median([s[1] for s in samples]) for name, samples in results.items()}
    cold_first = {name: median([s[0] for s in samples]) for name, samples in cold.items()}
    cold_stop = {name: median([s[1] for s in samples]) for name, samples in cold.items()}
    floor = "bare werkzeug (floor)"
    rows = [
        [name, ms(first[name]), ratio(first[name], first[floor]), ms(stop[name]), ratio(stop[name], stop[floor]),
         ms(cold_first[name]), ms(cold_stop[name])]
        for name in names
    ]
    report.section(
        "1. Server start + first response + stop",
        f"Construct and start a server, GET one list over a fresh connection (http.client), wait "
        f"{IDLE_BEFORE_STOP * 1e3:.0f} ms, stop it. Medians of {cfg.lifecycle_rounds} interleaved rounds in one warm "
        f"process (after one warm-up round each); the cold columns run the same in a new process each time "
        f"({cfg.cold_rounds} rounds), imports included. The idle wait is what a session teardown sees: stopping in "
        f"the very instant of the last answer races werkzeug's loop (pytest-httpserver's stop then takes either "
        f"~0.1 ms, when its thread is still finishing the request, or ~500 ms), which makes its median arbitrary.",
        ["server", "start → first response", "vs floor", "stop", "vs floor", "cold: import + start → first",
         "cold: stop"],
        rows,
    )
    constructions = []
    for _ in range(cfg.lifecycle_rounds):
        started = time.perf_counter()
        FakeVBS()
        constructions.append(time.perf_counter() - started)
    construct = median(constructions)
    url_maps = []
    for _ in range(cfg.lifecycle_rounds):
        started = time.perf_counter()
        operations.url_map()
        url_maps.append(time.perf_counter() - started)
    url_map = median(url_maps)
    report.sections[-1] += (f"\n\nFakeVBS() construction alone (no start, no request): {ms(construct)}; "
                            f"operations.url_map() (the werkzeug routing map): {ms(url_map)} (medians of "
                            f"{cfg.lifecycle_rounds}).")
    vbs_stop, peer_stop = stop["pytest-vbs"], stop["pytest-httpserver"]
    report.target("stop ≤ 10 ms median", ms(vbs_stop), vbs_stop <= 0.010)
    report.target("stop ≥ 50 x faster than pytest-httpserver", f"{peer_stop / vbs_stop:.0f} x faster",
                  peer_stop / vbs_stop >= 50)
    report.target("start-to-first-response ≤ 1.5 x the floor", ratio(first["pytest-vbs"], first[floor]),
                  first["pytest-vbs"] <= 1.5 * first[floor])
    if first["pytest-vbs"] > 1.5 * first[floor]:
        report.note(f"start-to-first-response: constructing FakeVBS alone takes {ms(construct)}, "
                    f"{construct / first[floor]:.1f} x the floor's whole start-to-first-response "
                    f"({ms(first[floor])}); building the routing map alone (operations.url_map(), which every "
                    f"VBSApp calls) takes {ms(url_map)}.")


# -- 2. per-test cost in real pytest runs ------------------------------------------------------------------
_TIMER_PLUGIN = '''\
import json
import os
import time

import pytest

_wall = []
_cpu = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started, cpu = time.perf_counter(), time.process_time()
    try:
        return (yield)
    finally:
        _wall.append(time.perf_counter() - started)
        _cpu.append(time.process_time() - cpu)


def pytest_sessionfinish(session):
    with open(os.environ["BENCH_TIMES"], "w") as stream:
        json.dump({"wall": _wall, "cpu": _cpu}, stream)
'''

_BARE_CONFTEST = '''\
import pytest
from floor import BareServer


@pytest.fixture(scope="session")
def bare_url():
    server = BareServer().start()
    yield server.url
    server.stop()
'''

# (fixture argument, statement(s) of one test), formatted with the request expression {get}.
_VARIANTS: dict[str, tuple[str, str]] = {
    "no fixture (baseline)": ("", "pass"),
    "pytest-vbs `vbs`": ("vbs", "assert {get}(vbs.endpoint + '/backups').status_code == 200"),
    "pytest-httpserver `httpserver`": (
        "httpserver",
        "httpserver.expect_request(PATH).respond_with_json({{'backups': []}})\n"
        "    assert {get}(httpserver.url_for(PATH)).status_code == 200",
    ),
    "bare session server (floor)": ("bare_url", "assert {get}(bare_url + PATH).status_code == 200"),
    "pytest-vbs `vbs` with --vbs-coverage": ("vbs", "assert {get}(vbs.endpoint + '/backups').status_code == 200"),
}
#: Options a variant's project runs with (its pytest.ini's addopts).
_ADDOPTS: dict[str, str] = {"pytest-vbs `vbs` with --vbs-coverage": "--vbs-coverage"}
#: Issue 18: what --vbs-coverage may add to the vbs test's per-test cost.
COVERAGE_OVERHEAD = 0.05


def write_pytest_project(directory: Path, variant: str, tests: int, fresh_connection: bool) -> None:
    directory.mkdir(parents=True)
    addopts = _ADDOPTS.get(variant)
    (directory / "pytest.ini").write_text("[pytest]\n" + (f"addopts = {addopts}\n" if addopts else ""))
    (directory / "_bench_timer.py").write_text(_TIMER_PLUGIN)
    argument, body = _VARIANTS[variant]
    get = "requests.get" if fresh_connection else "SESSION.get"
    if argument == "bare_url":
        (directory / "conftest.py").write_text(_BARE_CONFTEST)
    lines = ["import requests", "", f"PATH = {LIST_PATH!r}", "SESSION = requests.Session()", ""]
    for index in range(tests):
        lines += [f"def test_{index}({argument}):", "    " + body.format(get=get), ""]
    (directory / "test_many.py").write_text("\n".join(lines))


def run_pytest_project(directory: Path) -> tuple[float, float, float]:
    """Mean per-test protocol time (wall, process CPU) excluding the first and last test; wall of the run."""
    times = directory / "times.json"
    env = subprocess_env(BENCH_TIMES=str(times), PYTHONPATH=f"{HERE}{os.pathsep}{directory}",
                         PYTEST_HTTPSERVER_HOST="127.0.0.1")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "_bench_timer", "-p", "no:cacheprovider", "test_many.py"],
        cwd=directory, env=env, capture_output=True, text=True,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"pytest run in {directory} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    durations = json.loads(times.read_text())

    def inner(values: list[float]) -> list[float]:
        return values[1:-1] if len(values) > 2 else values  # first/last carry session setup/teardown

    return statistics.fmean(inner(durations["wall"])), statistics.fmean(inner(durations["cpu"])), wall


def coverage_hook_cost(cfg: Config, calls: int = 20_000) -> float:
    """What --vbs-coverage adds to each answered request: the ``pytest_vbs_answered`` call with the coverage
    recorder registered minus without it (process CPU, median of interleaved rounds). The end-to-end difference
    of the two pytest variants is shown beside it, but two ~1 ms figures measured apart cannot resolve a few µs
    on a shared machine."""
    from pytest_vbs.coverage import CoverageRecorder
    from pytest_vbs.hookspecs import standalone_plugin_manager
    from pytest_vbs.journal import RecordedRequest

    entry = RecordedRequest("list_backups", "GET", LIST_PATH, {}, {}, None, "p", status=200,
                            response_json={"backups": []})

    def per_call(manager: Any) -> Callable[[], float]:
        def run() -> float:
            hook, started = manager.hook.pytest_vbs_answered, time.process_time()
            for _ in range(calls):
                hook(app=None, request=entry)
            return (time.process_time() - started) / calls
        return run

    rounds = max(3, cfg.pytest_rounds)
    samples = interleave(rounds, {"off": per_call(standalone_plugin_manager()),
                                  "on": per_call(standalone_plugin_manager(CoverageRecorder()))})
    return max(0.0, median(samples["on"]) - median(samples["off"]))


def bench_pytest_runs(cfg: Config, report: Report, workdir: Path) -> None:
    print("2. per-test cost in pytest runs", flush=True)
    modes = [False, True] if cfg.pytest_fresh_connection else [False]
    for fresh in modes:
        label = "requests.get per test (new connection)" if fresh else "one module-level requests.Session"
        projects = {}
        for number, variant in enumerate(_VARIANTS):
            directory = workdir / f"pytest-{'fresh' if fresh else 'session'}-{number}"
            write_pytest_project(directory, variant, cfg.pytest_tests, fresh)
            projects[variant] = directory
        if not fresh:
            for directory in projects.values():  # warm-up: bytecode caches, first-run costs
                run_pytest_project(directory)
        walls: dict[str, list[float]] = {name: [] for name in projects}
        cpus: dict[str, list[float]] = {name: [] for name in projects}

        def runner(directory: Path, wall_samples: list[float], cpu_samples: list[float]) -> Callable[[], float]:
            def run() -> float:
                per_test, cpu, wall = run_pytest_project(directory)
                wall_samples.append(wall)
                cpu_samples.append(cpu)
                return per_test
            return run

        rounds = cfg.pytest_rounds if not fresh else max(1, cfg.pytest_rounds - 2)
        samples = interleave(rounds, {name: runner(projects[name], walls[name], cpus[name]) for name in projects})
        per_test = {name: median(values) for name, values in samples.items()}
        baseline = per_test["no fixture (baseline)"]
        cost = {name: value - baseline for name, value in per_test.items()}
        cpu = {name: median(values) for name, values in cpus.items()}
        cpu_cost = {name: value - cpu["no fixture (baseline)"] for name, value in cpu.items()}
        vbs, peer, floor = (cost["pytest-vbs `vbs`"], cost["pytest-httpserver `httpserver`"],
                            cost["bare session server (floor)"])
        rows = []
        for name in projects:
            baseline_row = name == "no fixture (baseline)"
            rows.append([
                name, us(per_test[name]), "—" if baseline_row else us(cost[name]),
                "—" if baseline_row else ratio(cost[name], peer), "—" if baseline_row else ratio(cost[name], floor),
                "—" if baseline_row else us(cpu_cost[name]),
                "—" if baseline_row else ratio(cpu_cost[name], cpu_cost["pytest-httpserver `httpserver`"]),
                f"{median(walls[name]):.2f} s",
            ])
        report.section(
            f"2{'b' if fresh else ''}. Per-test cost in a real pytest run ({label})",
            f"{cfg.pytest_tests} generated tests, each doing one GET of the backup list through the fixture (the "
            f"httpserver tests register their canned answer, as each test must after its per-test clear). Per test "
            f"= mean duration of pytest_runtest_protocol (setup + call + teardown + reporting) over all tests but "
            f"the first and last (which carry session fixture start/stop), median of {rounds} "
            f"interleaved subprocess runs; cost = per test - the no-fixture baseline. CPU = process CPU time (all "
            f"threads, client and server) per test minus the baseline's: less sensitive to other load on the "
            f"machine than wall time. Wall of run = the whole pytest process.",
            ["variant", "per test", "cost (- baseline)", "vs pytest-httpserver", "vs floor", "CPU cost",
             "CPU vs pytest-httpserver", "wall of run"],
            rows,
        )
        suffix = " (new connection per test)" if fresh else ""
        report.target(f"per-test cost ≤ 1.0 x pytest-httpserver's{suffix}", f"{us(vbs)} vs {us(peer)} = "
                      f"{ratio(vbs, peer)}", vbs <= peer)
        report.target(f"per-test cost ≤ 1.2 x the bare session-server floor{suffix}",
                      f"{us(vbs)} vs {us(floor)} = {ratio(vbs, floor)}", vbs <= 1.2 * floor)
        coverage_name = "pytest-vbs `vbs` with --vbs-coverage"
        hook = coverage_hook_cost(cfg)
        report.target(f"--vbs-coverage adds ≤ {COVERAGE_OVERHEAD:.0%} to the vbs per-test cost{suffix}",
                      f"{us(hook)} CPU per request = {hook / cpu_cost['pytest-vbs `vbs`']:.1%} of the vbs test's "
                      f"{us(cpu_cost['pytest-vbs `vbs`'])} CPU (end to end: {us(cost[coverage_name])} vs {us(vbs)} "
                      f"wall, {us(cpu_cost[coverage_name])} vs {us(cpu_cost['pytest-vbs `vbs`'])} CPU)",
                      hook <= COVERAGE_OVERHEAD * cpu_cost["pytest-vbs `vbs`"])
        if vbs > peer or vbs > 1.2 * floor:
            report.note(f"per-test cost{suffix}: in CPU time (less sensitive to other load) the vbs test costs "
                        f"{us(cpu_cost['pytest-vbs `vbs`'])} vs pytest-httpserver's "
                        f"{us(cpu_cost['pytest-httpserver `httpserver`'])} and the floor's "
                        f"{us(cpu_cost['bare session server (floor)'])}."
                        + (" A connection per request is what pytest-httpserver pays in every variant (it closes "
                           "each connection after one answer, on its one thread); pytest-vbs keeps connections "
                           "alive, so a new one costs it a hand-off to a connection thread and that thread's "
                           "wake-up when the client closes. With connections kept (section 2) it is the cheaper "
                           "of the two." if fresh else ""))


# -- 3. keep-alive round trip and throughput ---------------------------------------------------------------
class Contender:
    """A target of round-trip requests: ``prepare(n)`` seeds what ``n`` requests need and returns the
    request callables, ``cleanup()`` forgets it again (outside the timing)."""

    def __init__(self, name: str, prepare: Callable[[requests.Session, int], list[Callable[[], Any]]],
                 cleanup: Callable[[], None] = lambda: None, session: Callable[[], Any] = requests.Session) -> None:
        self.name = name
        self.prepare = prepare
        self.cleanup = cleanup
        self.make_session = session


def _get(session: Any, url: str) -> Callable[[], Any]:
    def call() -> Any:
        response = session.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:200]}")
        return response
    return call


def _create_calls(fake: FakeVBS, session: Any, endpoint: str, count: int) -> list[Callable[[], Any]]:
    calls: list[Callable[[], Any]] = []
    for _ in range(count):
        volume = fake.add_volume()
        body = {"backup": {"volume_id": volume, "snapshot_id": fake.add_snapshot(volume), "name": "bench"}}

        def call(body: dict[str, Any] = body) -> Any:
            response = session.post(f"{endpoint}/backups", json=body)
            if response.status_code != 202:
                raise RuntimeError(f"create_backup: {response.status_code} {response.text[:200]}")
            return response
        calls.append(call)
    return calls


def make_contenders(fake: FakeVBS, inproc_fake: FakeVBS, hs: HTTPServer, bare: BareServer,
                    vbs_canned: VBSServer, ceiling: CeilingServer) -> list[Contender]:
    backup_id = fake.add_backup()
    inproc_base = "http://vbs.inprocess"
    inproc_backup = inproc_fake.add_backup()
    app_client = Client(inproc_fake.app)

    def reset_fake() -> None:
        fake.reset()
        nonlocal backup_id
        backup_id = fake.add_backup()

    def reset_inproc() -> None:
        inproc_fake.reset()
        nonlocal inproc_backup
        inproc_backup = inproc_fake.add_backup()

    def inproc_session(trust_env: bool = True) -> requests.Session:
        session = requests.Session()
        session.trust_env = trust_env
        mount_inprocess(session, inproc_fake, base_url=inproc_base)
        return session

    def floor_requests_session(trust_env: bool = True) -> requests.Session:
        session = requests.Session()
        session.trust_env = trust_env
        session.mount(inproc_base + "/", InProcessAdapter(canned_app, inproc_base))
        return session

    def wsgi_call(client: Client, path: str) -> Callable[[], Any]:
        def call() -> Any:
            response = client.get(path)
            response.get_data()
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code}")
            return response
        return call

    canned_client = Client(canned_app)
    return [
        Contender("pytest-vbs get_backup", lambda s, n: [_get(s, f"{fake.endpoint}/backups/{backup_id}")] * n,
                  reset_fake),
        Contender("pytest-vbs create_backup", lambda s, n: _create_calls(fake, s, fake.endpoint, n), reset_fake),
        Contender("pytest-httpserver canned JSON", lambda s, n: [_get(s, hs.url_for(GET_PATH))] * n),
        Contender("bare werkzeug (floor)", lambda s, n: [_get(s, bare.url + GET_PATH)] * n),
        Contender(DIAGNOSTIC, lambda s, n: [_get(s, vbs_canned.url + GET_PATH)] * n),
        Contender(CEILING, lambda s, n: [_get(s, ceiling.url + GET_PATH)] * n),
        Contender(INPROC,
                  lambda s, n: [_get(s, f"{inproc_base}/v3/{inproc_fake.project_id}/backups/{inproc_backup}")] * n,
                  reset_inproc, inproc_session),
        Contender("in-process: pytest-vbs create_backup via requests adapter",
                  lambda s, n: _create_calls(inproc_fake, s, f"{inproc_base}/v3/{inproc_fake.project_id}", n),
                  reset_inproc, inproc_session),
        Contender(INPROC_NO_ENV,
                  lambda s, n: [_get(s, f"{inproc_base}/v3/{inproc_fake.project_id}/backups/{inproc_backup}")] * n,
                  reset_inproc, functools.partial(inproc_session, trust_env=False)),
        Contender(INPROC_WSGI,
                  lambda s, n: [wsgi_call(app_client, f"/v3/{inproc_fake.project_id}/backups/{inproc_backup}")] * n,
                  reset_inproc, lambda: None),
        Contender(REQUESTS_FLOOR, lambda s, n: [_get(s, inproc_base + GET_PATH)] * n, session=floor_requests_session),
        Contender(REQUESTS_NO_ENV_FLOOR, lambda s, n: [_get(s, inproc_base + GET_PATH)] * n,
                  session=functools.partial(floor_requests_session, trust_env=False)),
        Contender(WSGI_FLOOR, lambda s, n: [wsgi_call(canned_client, GET_PATH)] * n, session=lambda: None),
    ]


#: pytest-vbs's keep-alive server around the canned app: what the server alone costs (not a target).
DIAGNOSTIC = "diagnostic: pytest-vbs server + canned app"
INPROC = "in-process: pytest-vbs get_backup via requests adapter"
INPROC_NO_ENV = "in-process: pytest-vbs get_backup via requests adapter, trust_env = False"
INPROC_WSGI = "in-process: pytest-vbs get_backup via werkzeug test client (no requests)"
REQUESTS_FLOOR = "in-process floor: requests adapter → canned WSGI app"
REQUESTS_NO_ENV_FLOOR = "in-process floor: requests adapter, trust_env = False → canned WSGI app"
WSGI_FLOOR = "in-process floor: werkzeug test client → canned WSGI app"
#: A responder that parses nothing (floor.CeilingServer): the most any server in this process can reach.
CEILING = "diagnostic: ceiling (canned bytes, no parsing, one thread)"


def round_trip(contender: Contender, session: Any, count: int, cpu_samples: list[float]) -> float:
    """Wall time per request; the process CPU time per request (client and server) goes to ``cpu_samples``."""
    calls = contender.prepare(session, count)
    started, cpu = time.perf_counter(), time.process_time()
    for call in calls:
        call()
    elapsed = time.perf_counter() - started
    cpu_samples.append((time.process_time() - cpu) / count)
    contender.cleanup()
    return elapsed / count


def throughput(contender: Contender, sessions: list[Any], per_thread: int, cpu_samples: list[float]) -> float:
    """Requests per second with one thread per session; process CPU per request goes to ``cpu_samples``."""
    calls = [contender.prepare(session, per_thread) for session in sessions]
    barrier = threading.Barrier(len(sessions) + 1)
    errors: list[BaseException] = []

    def work(mine: list[Callable[[], Any]]) -> None:
        barrier.wait()
        try:
            for call in mine:
                call()
        except BaseException as error:  # reported after the run
            errors.append(error)

    threads = [threading.Thread(target=work, args=(mine,)) for mine in calls]
    for thread in threads:
        thread.start()
    barrier.wait()
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu_samples.append((time.process_time() - cpu) / (len(sessions) * per_thread))
    contender.cleanup()
    if errors:
        raise errors[0]
    return len(sessions) * per_thread / elapsed


def bench_round_trip(cfg: Config, report: Report) -> None:
    print("3. keep-alive round trip and throughput", flush=True)
    with FakeVBS() as fake:
        hs = HTTPServer(host="127.0.0.1", port=0)
        hs.expect_request(GET_PATH).respond_with_json(_canned_backup())
        hs.start()
        bare = BareServer().start()
        vbs_canned = VBSServer(canned_app).start()  # type: ignore[arg-type]
        ceiling = CeilingServer().start()
        inproc_fake = FakeVBS()  # never started: the in-process mode needs no server
        try:
            contenders = make_contenders(fake, inproc_fake, hs, bare, vbs_canned, ceiling)
            sessions = {c.name: c.make_session() for c in contenders}
            for contender in contenders:  # warm-up: connections, first-time code paths
                round_trip(contender, sessions[contender.name], 10, [])
            cpu_samples: dict[str, list[float]] = {c.name: [] for c in contenders}
            single = interleave(cfg.rt_rounds, {
                c.name: functools.partial(round_trip, c, sessions[c.name], cfg.rt_requests, cpu_samples[c.name])
                for c in contenders
            })
            socket_contenders = [c for c in contenders if not c.name.startswith("in-process")]
            thread_sessions = {c.name: [c.make_session() for _ in range(cfg.threads)] for c in socket_contenders}
            for contender in socket_contenders:
                throughput(contender, thread_sessions[contender.name], 2, [])
            tp_cpu_samples: dict[str, list[float]] = {c.name: [] for c in socket_contenders}
            multi = interleave(cfg.tp_rounds, {
                c.name: functools.partial(throughput, c, thread_sessions[c.name], cfg.tp_per_thread,
                                          tp_cpu_samples[c.name])
                for c in socket_contenders
            })
            for session_list in thread_sessions.values():
                for session in session_list:
                    session.close()
        finally:
            ceiling.stop()
            vbs_canned.stop()
            bare.stop()
            hs.stop()
    rt = {name: median(values) for name, values in single.items()}
    rt_cpu = {name: median(values) for name, values in cpu_samples.items()}
    tp = {name: median(values) for name, values in multi.items()}
    tp_cpu = {name: median(values) for name, values in tp_cpu_samples.items()}
    floor, peer = "bare werkzeug (floor)", "pytest-httpserver canned JSON"
    rows = []
    for contender in socket_contenders:
        name = contender.name
        rows.append([name, us(rt[name]), ratio(rt[name], rt[floor]), ratio(rt[name], rt[peer]), us(rt_cpu[name]),
                     f"{tp[name]:.0f} req/s", ratio(tp[name], tp[floor]), ratio(tp[name], tp[peer]),
                     us(tp_cpu[name])])
    report.section(
        "3. Keep-alive round trip and throughput (requests.Session over loopback)",
        f"One keep-alive requests.Session per client; {cfg.rt_requests} sequential requests per sample, median of "
        f"{cfg.rt_rounds} interleaved rounds; throughput: {cfg.threads} client threads x {cfg.tp_per_thread} "
        f"requests, each thread its own Session, median of {cfg.tp_rounds} rounds. create_backup posts to a fresh "
        f"volume each time (seeded outside the timing). pytest-httpserver runs as its fixture does (not threaded) "
        f"and answers with respond_with_json; the floor is a threaded werkzeug server answering canned bytes of "
        f"the same size. Clients and servers share this process (and its GIL), as a pytest run and its fake do, "
        f"so throughput is bounded by the CPU per request of client and server together (CPU columns: process "
        f"CPU time per request, all threads). Diagnostic rows: pytest-vbs's server around the canned app (the "
        f"server's share without any VBS logic), and a ceiling: one thread that writes the canned answer for "
        f"every request head it sees, parsing nothing, which no real server in this process can beat.",
        ["server", "round trip", "vs floor", "vs pytest-httpserver", "CPU per request (client + server)",
         f"{cfg.threads}-thread throughput", "vs floor", "vs pytest-httpserver", "CPU per request"],
        rows,
    )
    inproc_rows = [[c.name, us(rt[c.name]), ratio(rt[c.name], rt[WSGI_FLOOR]), ratio(rt[c.name], rt[REQUESTS_FLOOR])]
                   for c in contenders if c.name.startswith("in-process")]
    report.section(
        "3b. In-process mode (no socket)",
        "The same fake app called without a socket: through pytest_vbs.inprocess's requests adapter (what a "
        "client library using requests sees), with requests' defaults and with session.trust_env = False (which "
        "skips requests' scan of os.environ for proxy settings on every request), and directly through "
        "werkzeug's test client. Floors: the canned app through the same paths.",
        ["path", "per request", "vs werkzeug-client floor", "vs requests-adapter floor"],
        inproc_rows,
    )
    for op in ("get_backup", "create_backup"):
        name = f"pytest-vbs {op}"
        report.target(f"keep-alive round trip ≤ 1.0 x the bare floor ({op})",
                      f"{us(rt[name])} vs {us(rt[floor])} = {ratio(rt[name], rt[floor])}", rt[name] <= rt[floor])
    for op in ("get_backup", "create_backup"):
        name = f"pytest-vbs {op}"
        report.target(f"{cfg.threads}-thread throughput ≥ 1.0 x the floor ({op})",
                      f"{tp[name]:.0f} vs {tp[floor]:.0f} req/s = {ratio(tp[name], tp[floor])}", tp[name] >= tp[floor])
        report.target(f"{cfg.threads}-thread throughput ≥ 1.6 x pytest-httpserver ({op})",
                      f"{tp[name]:.0f} vs {tp[peer]:.0f} req/s = {ratio(tp[name], tp[peer])}",
                      tp[name] >= 1.6 * tp[peer])
    if any(tp[f"pytest-vbs {op}"] < 1.6 * tp[peer] for op in ("get_backup", "create_backup")):
        report.note(
            f"{cfg.threads}-thread throughput vs pytest-httpserver: the ceiling server, which answers without "
            f"parsing anything, reaches {tp[CEILING]:.0f} req/s = {ratio(tp[CEILING], tp[peer])} pytest-httpserver "
            f"at {us(tp_cpu[CEILING])} CPU per request: that CPU is almost all the {cfg.threads} requests clients', "
            f"which share this process and its GIL with the server (as a pytest run and its fake do). "
            f"{_headroom(1.6 * tp[peer], tp[CEILING])}; pytest-vbs's own server "
            f"around the canned app (no VBS logic) reaches {tp[DIAGNOSTIC]:.0f} req/s = "
            f"{ratio(tp[DIAGNOSTIC], tp[peer])}. pytest-httpserver is not threaded, so it pays no GIL hand-offs; "
            f"here it runs at {ratio(tp[peer], tp[floor])} the threaded floor (the issue's 1.6 x assumed 0.61 x), "
            f"so 1.6 x pytest-httpserver is {1.6 * tp[peer] / tp[floor]:.1f} x the floor.")
    for path, mode, same_floor in (("requests adapter", INPROC, REQUESTS_FLOOR),
                                   ("requests adapter, trust_env = False", INPROC_NO_ENV, REQUESTS_NO_ENV_FLOOR),
                                   ("werkzeug test client", INPROC_WSGI, WSGI_FLOOR)):
        report.target(f"in-process mode ≤ 3 x the in-process floor per request (get_backup, {path}, vs the canned "
                      f"app through the same path)",
                      f"{us(rt[mode])} vs {us(rt[same_floor])} = {ratio(rt[mode], rt[same_floor])}",
                      rt[mode] <= 3 * rt[same_floor])
    report.target("in-process mode ≤ 3 x the in-process floor per request (get_backup, requests adapter vs the "
                  "werkzeug-client floor)",
                  f"{us(rt[INPROC])} vs {us(rt[WSGI_FLOOR])} = {ratio(rt[INPROC], rt[WSGI_FLOOR])}",
                  rt[INPROC] <= 3 * rt[WSGI_FLOOR])
    if rt[INPROC] > 3 * rt[WSGI_FLOOR]:
        report.note(
            f"in-process mode through requests vs the werkzeug-client floor: requests alone (its Session.request "
            f"path into the canned app, no socket) costs {us(rt[REQUESTS_FLOOR])} = "
            f"{ratio(rt[REQUESTS_FLOOR], rt[WSGI_FLOOR])} that floor, {us(rt[REQUESTS_NO_ENV_FLOOR])} = "
            f"{ratio(rt[REQUESTS_NO_ENV_FLOOR], rt[WSGI_FLOOR])} with trust_env = False; a requests transport "
            f"cannot get under 3 x a floor that requests itself (nearly) exceeds. The mode costs "
            f"{ratio(rt[INPROC], rt[REQUESTS_FLOOR])} the same requests path, and the app through werkzeug's "
            f"client costs {ratio(rt[INPROC_WSGI], rt[WSGI_FLOOR])} that client's floor.")


def _headroom(target: float, ceiling: float) -> str:
    """What a throughput target leaves a real server beyond the ceiling's own cost per request."""
    if target >= ceiling:
        return "1.6 x pytest-httpserver is beyond even the ceiling: no server in this process reaches it"
    return (f"1.6 x pytest-httpserver leaves a real server {us(1 / target - 1 / ceiling)} per request of wall time "
            f"beyond the ceiling's for parsing, routing and the VBS logic")


def _canned_backup() -> dict[str, Any]:
    from floor import CANNED_BACKUP

    return CANNED_BACKUP


# -- 4. plugin load cost -------------------------------------------------------------------------------------
def import_time(statement: str) -> tuple[float, list[tuple[str, float]]]:
    """Cumulative import time (seconds) of the ``pytest_vbs`` modules ``statement`` imports at top level,
    and their direct imports' cumulative times, from ``python -X importtime``."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], capture_output=True,
                            text=True, check=True, env=subprocess_env())
    entries: list[tuple[int, str, float]] = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.split(":", 1)[1].split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        entries.append((depth, name.strip(), int(cumulative) / 1e6))
    total, children = 0.0, []
    for index, (depth, name, cumulative_time) in enumerate(entries):
        if depth == 0 and name.split(".")[0] == "pytest_vbs":
            total += cumulative_time
            for before in reversed(entries[:index]):
                if before[0] == 0:
                    break
                if before[0] == 1:
                    children.append((before[1], before[2]))
    return total, sorted(children, key=lambda item: -item[1])


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def collect_only(directory: Path, disable_vbs: bool, cpu_samples: list[float] | None = None) -> float:
    """Wall time of ``pytest --co -q`` in ``directory``; its CPU time (user + system) goes to ``cpu_samples``."""
    command = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:pytest_httpserver", "-p", "no:cacheprovider"]
    if disable_vbs:
        command += ["-p", "no:vbs"]
    cpu = children_cpu()
    started = time.perf_counter()
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True, env=subprocess_env())
    elapsed = time.perf_counter() - started
    if cpu_samples is not None:
        cpu_samples.append(children_cpu() - cpu)
    if result.returncode not in (0, 5):  # 5: no tests collected
        raise RuntimeError(f"pytest --co failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def bench_plugin_load(cfg: Config, report: Report, workdir: Path) -> None:
    print("4. plugin load cost", flush=True)
    empty = workdir / "empty"
    empty.mkdir()
    (empty / "pytest.ini").write_text("[pytest]\n")
    collect_only(empty, False)
    collect_only(empty, True)
    runs = max(3, cfg.load_rounds // 3)
    imports = [import_time("import pytest_vbs") for _ in range(runs)]
    total = median([entry[0] for entry in imports])
    children = imports[-1][1][:6]
    plugin_imports = [import_time("import pytest; import pytest_vbs.plugin") for _ in range(runs)]
    plugin_total = median([entry[0] for entry in plugin_imports])
    plugin_children = plugin_imports[-1][1][:6]
    cpu_with: list[float] = []
    cpu_without: list[float] = []
    samples = interleave(cfg.load_rounds, {
        "with pytest-vbs": lambda: collect_only(empty, False, cpu_with),
        "without (-p no:vbs)": lambda: collect_only(empty, True, cpu_without),
    })
    with_vbs, without = median(samples["with pytest-vbs"]), median(samples["without (-p no:vbs)"])
    added = with_vbs - without
    added_cpu = median(cpu_with) - median(cpu_without)
    rows = [
        ["python -X importtime -c 'import pytest_vbs' (cumulative)", ms(total)],
        *[[f"  of which `{name}`", ms(value)] for name, value in children],
        ["python -X importtime -c 'import pytest; import pytest_vbs.plugin': pytest_vbs modules", ms(plugin_total)],
        *[[f"  of which `{name}`", ms(value)] for name, value in plugin_children],
        ["pytest --co -q, empty dir, with pytest-vbs", ms(with_vbs)],
        ["pytest --co -q, empty dir, -p no:vbs", ms(without)],
        ["added by the plugin (wall)", ms(added)],
        ["added by the plugin (CPU time of the pytest process, user + system)", ms(added_cpu)],
    ]
    report.section(
        "4. What loading the plugin costs every pytest run",
        f"Import time from -X importtime (median of {runs} processes; the largest direct imports from the "
        f"last; the second row is what a pytest run pays, pytest being imported already); pytest --co wall "
        f"times are medians of {cfg.load_rounds} interleaved runs, both with "
        f"-p no:pytest_httpserver so werkzeug is not already imported by the peer.",
        ["measurement", "median"],
        rows,
    )
    report.target("importing the plugin adds ≤ 30 ms to pytest --co", f"{ms(added)} (CPU: {ms(added_cpu)})",
                  added <= 0.030)
    if added > 0.030 and plugin_children:
        name, value = plugin_children[0]
        report.note(f"plugin load: importing pytest_vbs.plugin (pytest already imported) costs {ms(plugin_total)}, "
                    f"{ms(value)} of it in `{name}` and what it imports (see section 4).")


def bench_startup(cfg: Config, report: Report, workdir: Path) -> None:
    print("6. start-up of a pytest run", flush=True)
    medians = startup.measure(1 if cfg.quick else 7, workdir, quick=cfg.quick)
    report.section("6. Start-up of a one-test pytest run", startup.INTRO, startup.HEADER, startup.rows(medians),
                   after=startup.AFTER)
    wall, cpu = startup.added_by_vbs(medians)
    report.target("pytest-vbs adds ≤ 100 ms to a one-test pytest run (bytecode written; issue 16)",
                  f"{ms(cpu)} CPU ({ms(wall)} wall)", cpu <= startup.TARGET)


# -- 5. scale ------------------------------------------------------------------------------------------------
def seed(fake: FakeVBS, count: int, per_volume: int = 20) -> list[str]:
    state, project = fake.state, fake.project_id
    ids = []
    volume_id = ""
    for index in range(count):
        if index % per_volume == 0:
            volume_id = state.add_volume(project).id
        ids.append(state.add_backup(project, volume_id=volume_id).id)
    return ids


def timed_calls(client: Client, paths: list[str], calls: int) -> float:
    started = time.perf_counter()
    for index in range(calls):
        response = client.get(paths[index % len(paths)])
        response.get_data()
        if response.status_code != 200:
            raise RuntimeError(f"{paths[index % len(paths)]}: {response.status_code}")
    return (time.perf_counter() - started) / calls


def bench_scale(cfg: Config, report: Report) -> None:
    print("5. scale", flush=True)
    rng = random.Random(9)
    fakes: dict[int, tuple[FakeVBS, list[str]]] = {}
    seed_rows = []
    for size in cfg.scale_sizes:
        fake = FakeVBS()
        started = time.perf_counter()
        ids = seed(fake, size)
        seed_rows.append(f"{size:,}: {time.perf_counter() - started:.2f} s")
        fakes[size] = (fake, ids)
    ops: dict[str, Callable[[FakeVBS, list[str]], list[str]]] = {
        "list (limit=100)": lambda f, ids: [f"/v3/{f.project_id}/backups?limit=100"],
        "detail (limit=100)": lambda f, ids: [f"/v3/{f.project_id}/backups/detail?limit=100"],
        "detail, page of 20 from the middle (marker)": lambda f, ids: [
            f"/v3/{f.project_id}/backups/detail?limit=20&marker={ids[len(ids) // 2]}"],
        "get one": lambda f, ids: [f"/v3/{f.project_id}/backups/{rng.choice(ids)}" for _ in range(10)],
    }
    contenders: dict[str, Callable[[], float]] = {}
    for size, (fake, ids) in fakes.items():
        client = Client(fake.app)
        for op, paths in ops.items():
            path_list = paths(fake, ids)

            def run(client: Client = client, path_list: list[str] = path_list, fake: FakeVBS = fake) -> float:
                value = timed_calls(client, path_list, cfg.scale_calls)
                fake.journal.clear()
                return value
            run()  # warm-up
            contenders[f"{op}@{size}"] = run
    samples = interleave(cfg.scale_rounds, contenders)
    medians = {name: median(values) for name, values in samples.items()}
    smallest, largest = cfg.scale_sizes[0], cfg.scale_sizes[-1]
    rows = []
    for op in ops:
        row = [op] + [us(medians[f"{op}@{size}"]) for size in cfg.scale_sizes]
        row.append(ratio(medians[f"{op}@{largest}"], medians[f"{op}@{smallest}"]))
        rows.append(row)
    del fakes, contenders, samples

    # Memory per stored backup.
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    memory_fake = FakeVBS()
    seed(memory_fake, cfg.memory_backups)
    per_backup = (tracemalloc.get_traced_memory()[0] - before) / cfg.memory_backups
    tracemalloc.stop()
    del memory_fake

    # Sustained load: memory and journal length while requests keep coming, without a reset.
    load_fake = FakeVBS()
    backup = seed(load_fake, 1)[0]
    client = Client(load_fake.app)
    path = f"/v3/{load_fake.project_id}/backups/{backup}"
    points = []
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step = max(1, cfg.sustained_requests // 10)
    for index in range(1, cfg.sustained_requests + 1):
        client.get(path).get_data()
        if index % step == 0:
            points.append((index, len(load_fake.journal), tracemalloc.get_traced_memory()[0] - base))
    tracemalloc.stop()
    # What one journal entry of a detail page weighs (the journal keeps the parsed response of every request).
    page_fake = FakeVBS()
    seed(page_fake, 100)
    page_client = Client(page_fake.app)
    page_path = f"/v3/{page_fake.project_id}/backups/detail?limit=100"
    page_client.get(page_path).get_data()
    page_requests = 20 if cfg.quick else 200
    tracemalloc.start()
    page_base = tracemalloc.get_traced_memory()[0]
    for _ in range(page_requests):
        page_client.get(page_path).get_data()
    per_page_entry = (tracemalloc.get_traced_memory()[0] - page_base) / page_requests
    tracemalloc.stop()
    del page_fake, page_client

    cap = DEFAULT_MAX_ENTRIES
    after_cap = [p for p in points if p[0] >= cap + step]
    flat = (after_cap[-1][2] <= 1.05 * after_cap[0][2]) if len(after_cap) >= 2 else None
    bounded = max(p[1] for p in points) <= cap
    memory_rows = [
        [f"memory per stored backup ({cfg.memory_backups:,} seeded, 20 per volume; tracemalloc)",
         f"{per_backup:,.0f} bytes"],
        *[[f"after {index:,} get_backup requests without reset", f"journal {entries:,} entries, "
           f"{memory / 1e6:.1f} MB above start"] for index, entries, memory in points],
        ["journal memory per entry of a detail page (limit=100)", f"{per_page_entry / 1e3:,.0f} kB (a full journal "
         f"of such entries: {per_page_entry * cap / 1e6:,.0f} MB)"],
    ]
    report.section(
        "5. Scale",
        f"The app called in-process through werkzeug's test client (the app's own cost, no socket or client "
        f"overhead), {cfg.scale_calls} calls per sample, median of {cfg.scale_rounds} interleaved rounds across "
        f"sizes. Backups seeded with state.add_backup, 20 per volume (seeding: {'; '.join(seed_rows)}).",
        ["operation", *[f"{size:,} backups" for size in cfg.scale_sizes], f"{largest:,} vs {smallest:,}"],
        rows,
    )
    report.section(
        "5b. Memory",
        f"Journal cap: {cap:,} entries (pytest_vbs.journal.DEFAULT_MAX_ENTRIES; the vbs fixture also clears it "
        f"before every test).",
        ["measurement", "value"],
        memory_rows,
    )
    for op in ("list (limit=100)", "detail (limit=100)"):
        big, small = medians[f"{op}@{largest}"], medians[f"{op}@{smallest}"]
        report.target(f"a page of 100 at {largest:,} backups ≤ 2 x the page at {smallest:,}: {op}",
                      ratio(big, small), big <= 2 * small)
    report.target("journal bounded under sustained load", f"max {max(p[1] for p in points):,} entries (cap {cap:,})",
                  bounded)
    if flat is not None:
        report.target("memory flat under sustained load once the journal is full",
                      f"{after_cap[0][2] / 1e6:.1f} MB → {after_cap[-1][2] / 1e6:.1f} MB", flat)
    else:
        report.target("memory flat under sustained load once the journal is full",
                      "journal cap not reached in this mode", None)


# -- the report ------------------------------------------------------------------------------------------------
def machine() -> list[str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "pytest_vbs"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        commit += " (pytest_vbs/ has uncommitted changes)" if dirty else ""
    except OSError:
        commit = "unknown"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return [
        f"- machine: {platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} at start",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- pytest-vbs {version('pytest-vbs')} at commit {commit}; pytest {version('pytest')}, werkzeug "
        f"{version('werkzeug')}, requests {version('requests')}, urllib3 {version('urllib3')}, pytest-httpserver "
        f"{version('pytest-httpserver')}",
    ]


def render(report: Report, elapsed: float) -> str:
    cfg = report.config
    met = sum(1 for t in report.targets if t.met)
    judged = sum(1 for t in report.targets if t.met is not None)
    lines = [
        "# pytest-vbs benchmark results",
        "",
        f"Written by `python benchmarks/run.py{' --quick' if cfg.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')} in {elapsed:.0f} s ({', '.join(report.timings)})"
        + (" — **quick mode: tiny sizes, numbers are not meaningful**." if cfg.quick else "."),
        "",
        *machine(),
        "",
        "Every number is a median of interleaved rounds; ratios compare contenders measured in the same run.",
        "",
        f"## Targets (issue 9): {met} of {judged} met",
        "",
        "| target | measured | result |",
        "|---|---|---|",
        *[f"| {t.text} | {t.measured} | {'met' if t.met else '**missed**' if t.met is False else 'n/a'} |"
          for t in report.targets],
        "",
    ]
    if report.notes:
        lines += ["Why targets were missed, from measurements of this run:", "",
                  *[f"- {note}" for note in report.notes], ""]
    lines += [section + "\n" for section in report.sections]
    return "\n".join(lines)


@contextmanager
def quiet_werkzeug() -> Iterator[None]:
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.ERROR)  # pytest-httpserver's server would log every request to stderr
    try:
        yield
    finally:
        logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the script runs (seconds)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md", help="where to write the results")
    parser.add_argument("--only", action="append", choices=["1", "2", "3", "4", "5", "6"],
                        help="run only these sections (repeatable; for profiling)")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    report = Report(cfg)
    started = time.perf_counter()
    selected = set(args.only or ["1", "2", "3", "4", "5", "6"])
    with tempfile.TemporaryDirectory(prefix="pytest-vbs-bench-") as tmp, quiet_werkzeug():
        workdir = Path(tmp)
        PYCACHE[:] = [str(workdir / "pycache")]
        sections: list[tuple[str, Callable[[], None]]] = [
            ("1", lambda: bench_lifecycle(cfg, report)),
            ("2", lambda: bench_pytest_runs(cfg, report, workdir)),
            ("3", lambda: bench_round_trip(cfg, report)),
            ("4", lambda: bench_plugin_load(cfg, report, workdir)),
            ("5", lambda: bench_scale(cfg, report)),
            ("6", lambda: bench_startup(cfg, report, workdir)),
        ]
        for number, run in sections:
            if number in selected:
                section_started = time.perf_counter()
                run()
                report.timings.append(f"section {number}: {time.perf_counter() - section_started:.0f} s")
                print(f"  ({report.timings[-1]})", flush=True)
    elapsed = time.perf_counter() - started
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(report, elapsed))
    missed = [t.text for t in report.targets if t.met is False]
    print(f"wrote {args.output} in {elapsed:.0f} s; {len(missed)} target(s) missed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
