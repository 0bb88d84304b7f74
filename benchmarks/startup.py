#!/usr/bin/env python
"""What pytest-vbs adds to the start-up of every pytest run: ``python benchmarks/startup.py [--rounds N]``.

One test that does nothing, run in a fresh ``python -m pytest`` process, with plugin autoloading off so that only
the plugins named are loaded (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``, then ``-p``): bare pytest, pytest with
pytest-vbs, with hypothesis's own pytest plugin (what any environment with hypothesis installed pays), and with
both; then the environment as installed, with and without ``-p no:vbs``. Each configuration runs with bytecode
written (a warm ``PYTHONPYCACHEPREFIX``) and without (an empty cache and ``PYTHONDONTWRITEBYTECODE``: every module
compiled again). Medians of interleaved rounds, wall and CPU time (user + system, steadier on a shared
machine). ``run.py`` renders this as section 6 of RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

BARE = ("bare pytest", ())
VBS = ("pytest + pytest-vbs", ("-p", "pytest_vbs.plugin"))
HYPOTHESIS = ("pytest + hypothesis's plugin", ("-p", "_hypothesis_pytestplugin"))
BOTH = ("pytest + pytest-vbs + hypothesis's plugin", ("-p", "pytest_vbs.plugin", "-p", "_hypothesis_pytestplugin"))
INSTALLED = ("this environment, every plugin installed", None)
INSTALLED_NO_VBS = ("this environment, -p no:vbs", ("-p", "no:vbs"))
#: The largest start-up pytest-vbs may add (issue 16 item 18), with bytecode written.
TARGET = 0.100


def configurations() -> list[tuple[str, tuple[str, ...] | None, bool]]:
    """(name, extra arguments, autoload) of each configuration measured here."""
    isolated = [BARE, VBS]
    if importlib.util.find_spec("_hypothesis_pytestplugin") is not None:
        isolated += [HYPOTHESIS, BOTH]
    return [(name, args, False) for name, args in isolated] + [
        (INSTALLED[0], (), True), (INSTALLED_NO_VBS[0], INSTALLED_NO_VBS[1], True)]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(directory: Path, args: Sequence[str], autoload: bool, pycache: Path, *, bytecode: bool
             ) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, "test_nothing.py"]
    cpu, started = children_cpu(), time.perf_counter()
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True, env=env, timeout=120)
    elapsed, cpu = time.perf_counter() - started, children_cpu() - cpu
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed, cpu


Medians = dict[tuple[str, bool], tuple[float, float]]


def measure(rounds: int, workdir: Path, *, quick: bool = False) -> Medians:
    """Median (wall, CPU) time of each (configuration, bytecode written) pair, rounds interleaved; ``quick`` only
    checks that it works: bare pytest and pytest-vbs, bytecode written."""
    project = workdir / "startup"
    project.mkdir(parents=True, exist_ok=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    warm = workdir / "warm-pycache"
    samples: dict[tuple[str, bool], list[tuple[float, float]]] = {}
    configs = configurations()[:2] if quick else configurations()
    for _name, args, autoload in configs:  # warm the bytecode cache and the file system
        run_once(project, args or (), autoload, warm, bytecode=True)
    for round_number in range(rounds):
        for name, args, autoload in configs:
            samples.setdefault((name, True), []).append(run_once(project, args or (), autoload, warm, bytecode=True))
            if not quick:
                empty = workdir / f"cold-{round_number}-{len(samples)}"
                samples.setdefault((name, False), []).append(
                    run_once(project, args or (), autoload, empty, bytecode=False))
    return {key: (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
            for key, values in samples.items()}


def rows(medians: Medians) -> list[list[str]]:
    table = []
    for name, _args, autoload in configurations():
        if (name, True) not in medians:
            continue
        reference = INSTALLED_NO_VBS[0] if autoload else BARE[0]
        cells = [name]
        for written in (True, False):
            if (name, written) not in medians:
                cells += ["not measured"] * 3
                continue
            (wall, cpu), (_, reference_cpu) = medians[(name, written)], medians[(reference, written)]
            cells += [f"{wall * 1000:.0f} ms", f"{cpu * 1000:.0f} ms", f"{(cpu - reference_cpu) * 1000:+.0f} ms"]
        table.append(cells)
    return table


HEADER = ["configuration", "bytecode written: wall", "CPU", "added (CPU)", "no bytecode: wall", "CPU", "added (CPU)"]
INTRO = ("One test that does nothing, a fresh `python -m pytest -q` process per run. The first rows load only the "
         "plugins named (`PYTEST_DISABLE_PLUGIN_AUTOLOAD=1` plus `-p`), each compared with bare pytest; the last two "
         "rows are this environment with every installed plugin, compared with `-p no:vbs`. 'added' is CPU time "
         "(user + system of the pytest process), steadier than wall time on a shared machine. 'no bytecode': an empty "
         "`PYTHONPYCACHEPREFIX` and `PYTHONDONTWRITEBYTECODE=1`, so every module is compiled again.")
AFTER = ("pytest-vbs itself loads `pytest_vbs.plugin`, `markers` and `errors` (standard library only) and imports "
         "werkzeug, jsonschema and the fake only when a test asks for `vbs`. hypothesis is an optional extra "
         "(`pytest-vbs[hypothesis]`): hypothesis's own pytest plugin imports all of hypothesis at the terminal "
         "summary of every run, whatever the run does, so an environment where hypothesis is installed pays the "
         "'hypothesis's plugin' row with or without pytest-vbs; `-p no:hypothesispytest` skips it in runs that "
         "need no hypothesis.")


def added_by_vbs(medians: Medians) -> tuple[float, float]:
    """Wall and CPU time pytest-vbs adds to bare pytest, bytecode written."""
    (wall, cpu), (bare_wall, bare_cpu) = medians[(VBS[0], True)], medians[(BARE[0], True)]
    return wall - bare_wall, cpu - bare_cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pytest-vbs-startup-") as tmp:
        medians = measure(args.rounds, Path(tmp))
    print("| " + " | ".join(HEADER) + " |")
    for row in rows(medians):
        print("| " + " | ".join(row) + " |")
    wall, cpu = added_by_vbs(medians)
    print(f"pytest-vbs adds {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU (target <= {TARGET * 1000:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
