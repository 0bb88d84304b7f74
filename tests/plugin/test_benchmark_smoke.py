"""The benchmark script runs end to end with tiny sizes and writes its results (no timing assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytest_httpserver", reason="the benchmark compares against pytest-httpserver (.[bench])")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"
SECTIONS = (
    "## Targets (issue 9)",
    "## 1. Server start + first response + stop",
    "## 2. Per-test cost in a real pytest run",
    "## 3. Keep-alive round trip and throughput",
    "## 3b. In-process mode",
    "## 4. What loading the plugin costs every pytest run",
    "## 5. Scale",
    "## 5b. Memory",
    "## 6. Start-up of a one-test pytest run",
)


def test_quick_benchmark_writes_every_section(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(output)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    text = output.read_text()
    for heading in SECTIONS:
        assert heading in text
    assert "quick mode" in text
    assert "| target | measured | result |" in text
    # Every target row carries a verdict.
    rows = [line for line in text.split("## Targets", 1)[1].split("\n## ", 1)[0].splitlines() if line.startswith("| ")]
    assert len(rows) > 5
    assert all(row.rstrip(" |").endswith(("met", "**missed**", "n/a")) for row in rows[1:])


def test_quick_fault_rule_benchmark_prints_every_case(tmp_path: Path) -> None:
    script = SCRIPT.with_name("fault_rules.py")
    result = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 5  # the header and four cases
