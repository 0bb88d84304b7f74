"""The API coverage report in a pytest session: ``--vbs-coverage``, ``--vbs-coverage-json``,
``--vbs-coverage-fail-under``.

:class:`CoverageSession` is registered by the plugin only when one of those options is given. It holds the
session's :class:`~pytest_vbs.coverage.CoverageRecorder` (the ``vbs_server`` fixture's fake reports to it, and
serves it at ``GET /__vbs__/coverage``); under pytest-xdist each worker sends its counts to the controller
(``workeroutput``), which merges them and alone writes the JSON, prints the table and applies the threshold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_vbs.coverage import CoverageRecorder, CoverageReport

#: The key of a worker's counts in xdist's ``workeroutput``.
WORKER_KEY = "vbs_coverage"
PLUGIN_NAME = "vbs-coverage"


class CoverageSession:
    """The pytest side of the coverage report (one per session; a pytest plugin object)."""

    def __init__(self, config: pytest.Config, *, show: bool, json_path: str | None, fail_under: float | None) -> None:
        self.config = config
        self.recorder = CoverageRecorder()
        self.show = show
        self.json_path = Path(json_path) if json_path else None
        self.fail_under = fail_under
        self.result: CoverageReport | None = None
        self.write_error: str | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist's controller: a worker finished; add its counts."""
        raw = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if raw:
            self.recorder.merge(raw)

    def pytest_vbs_answered(self, app: object, request: Any) -> None:
        self.recorder.record(request)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller reports
            workeroutput[WORKER_KEY] = self.recorder.snapshot()
            return
        self.result = self.recorder.report()
        if self.json_path is not None:
            try:
                self.json_path.parent.mkdir(parents=True, exist_ok=True)
                self.json_path.write_text(json.dumps(self.result.as_json(), indent=2) + "\n", encoding="utf-8")
            except OSError as error:
                self.write_error = f"vbs coverage: the JSON could not be written to {self.json_path}: {error}"
        failed = self.below_threshold or self.write_error is not None
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @property
    def below_threshold(self) -> bool:
        return self.fail_under is not None and self.result is not None and self.result.percent < self.fail_under

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.result is None:
            return
        if self.show:
            terminalreporter.write_sep("-", "fake VBS API coverage")
            for line in self.result.lines(self.config.get_terminal_writer().fullwidth):
                terminalreporter.write_line(line)
        else:
            terminalreporter.write_line(self.result.summary())
        if self.write_error is not None:
            terminalreporter.write_line(self.write_error, red=True, bold=True)
        elif self.json_path is not None:
            terminalreporter.write_line(f"vbs coverage JSON written to {self.json_path}")
        if self.below_threshold:
            terminalreporter.write_line(
                f"FAIL Required vbs coverage of {self.fail_under:g} % not reached: "
                f"{self.result.percent:.1f} % of documented outcomes exercised.", red=True, bold=True)


def install(config: pytest.Config, *, show: bool, json_path: str | None, fail_under: float | None) -> CoverageSession:
    """Register the session's coverage plugin (it also receives ``pytest_vbs_answered``)."""
    plugin = CoverageSession(config, show=show, json_path=json_path, fail_under=fail_under)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    return plugin
