"""The pytest side of live mode and of record/compare: the session's live handle, the per-test setup and cleanup,
and the reports at the end (schema disagreements, leftovers, recorded shapes, the parity report).

``plugin.py`` registers :class:`LiveSession` only when ``--vbs-live``, ``--vbs-record`` or ``--vbs-compare`` is
given, so an ordinary run never imports this module.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from pytest_vbs.hookspecs import hookimpl
from pytest_vbs.journal import RecordedRequest
from pytest_vbs.live.config import LiveCloud, LiveConfigError
from pytest_vbs.live.conformance import Conformance
from pytest_vbs.live.shapes import Shapes, compare, describe
from pytest_vbs.live_handle import LiveVBS, skip_fake_only

#: ``--vbs-compare`` without a directory: the shapes of the documentation's examples, shipped with the package.
BUILTIN_BASELINE = "docs"
#: Where the parity report is written (in the directory pytest was started from).
REPORT_FILE = "vbs-parity-report.json"
PLUGIN_NAME = "vbs-live-session"
#: The key of an xdist worker's results in ``workeroutput``.
WORKER_OUTPUT = "pytest_vbs_live"


def baseline_directory() -> Path:
    return Path(str(resources.files("pytest_vbs.live") / "baseline"))


class LiveSession:
    """One pytest session's live mode and record/compare state (registered as a plugin)."""

    def __init__(self, config: pytest.Config, *, live: str, record: str, compare: str, strict: bool) -> None:
        self.config = config
        self.cloud_name = live
        self.record = Path(record) if record else None
        if compare == BUILTIN_BASELINE:
            self.compare: Path | None = baseline_directory()
        else:
            self.compare = Path(compare) if compare else None
        self.compare_strict = strict
        self.handle: LiveVBS | None = None
        self.leftovers: list[str] = []
        self.fake_shapes = Shapes()  #: the fake's answers (compare)
        self.recorded = Shapes()  #: the cloud's answers (record), this process's and its xdist workers'
        self.conformance = Conformance()
        self.worker = hasattr(config, "workerinput")  #: an xdist worker: results go to the controller
        self.parity: dict[str, Any] | None = None
        self.written: list[Path] = []

    # -- the session's handle ---------------------------------------------------------------------------
    def start(self) -> LiveVBS:
        try:
            cloud = LiveCloud.load(self.cloud_name)
            host, port = (self.config.getoption(f"vbs_{n}") or self.config.getini(f"vbs_{n}") for n in ("host", "port"))
            budget = self.config.getoption("vbs_journal_bytes") or self.config.getini("vbs_journal_bytes")
            handle = LiveVBS(cloud, str(host), int(port), plugin_manager=self.config.pluginmanager,
                             journal_bytes=str(budget))
        except LiveConfigError as error:
            raise pytest.UsageError(f"--vbs-live: {error}") from None
        self.handle = handle.start()
        return handle

    @staticmethod
    def check_marks(item: pytest.Item) -> None:
        """``@pytest.mark.vbs(...)`` settings other than ``strict`` are the fake's: the test skips, naming them."""
        marker = item.get_closest_marker("vbs")
        fake_only = sorted(set(marker.kwargs) - {"strict"}) if marker is not None else []
        if fake_only:
            skip_fake_only(f"@pytest.mark.vbs({', '.join(fake_only)}=...)")

    def run_test(self, handle: LiveVBS, request: pytest.FixtureRequest) -> Iterator[LiveVBS]:
        """The ``vbs`` fixture in live mode (reset, its marks' faults added): cleanup at teardown."""
        try:
            yield handle
        finally:
            left = handle.cleanup()
            if left:
                self.leftovers += [f"{request.node.nodeid}: {line}" for line in left]
                request.node.add_report_section("teardown", "vbs live: left behind on the cloud", "\n".join(left))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """A test that failed after using the control API (the fake's alone) is skipped, naming the call."""
        report = yield
        if self.handle is None or call.when != "call" or not report.failed:
            return report
        calls = self.handle.app.control_calls()
        if calls:
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0,
                               f"Skipped: the control API is fake-only: live mode did not send {calls[0]}")
        return report

    # -- compare: every answer of the fake ------------------------------------------------------------------
    @hookimpl
    def pytest_vbs_answered(self, app: object, request: RecordedRequest) -> None:
        if self.compare is not None and not self.cloud_name and "response" not in request.truncated:
            self.fake_shapes.add(request.operation, request.status, request.response_json,
                                 request.response_headers)

    # -- the end ------------------------------------------------------------------------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """pytest-xdist: a worker's results, merged into the controller's."""
        data = json.loads(getattr(node, "workeroutput", {}).get(WORKER_OUTPUT, "{}"))
        self._merge(data)

    def _merge(self, data: dict[str, Any]) -> None:
        self.leftovers += data.get("leftovers", [])
        self.fake_shapes.merge_data(data.get("fake_shapes", []))
        self.recorded.merge_data(data.get("recorded", []))
        self.conformance.merge_data(data.get("conformance", {}))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.handle is not None:
            self.recorded.merge_data(self.handle.recorded.as_data())
            self.conformance.merge_data(self.handle.conformance.as_data())
        if self.worker:
            data = {"leftovers": self.leftovers, "fake_shapes": self.fake_shapes.as_data(),
                    "recorded": self.recorded.as_data(), "conformance": self.conformance.as_data()}
            self.config.workeroutput[WORKER_OUTPUT] = json.dumps(data)  # type: ignore[attr-defined]
            return
        if self.cloud_name and self.record is not None:
            self.written = self.recorded.save(self.record)
        if self.compare is not None:
            self.parity = compare(Shapes.load(self.compare), self.fake_shapes)
            self.parity["baseline"] = str(self.compare)
            Path(REPORT_FILE).write_text(json.dumps(self.parity, indent=1) + "\n", encoding="utf-8")
        failed = bool(self.leftovers) or bool(self.compare_strict and self.parity and self.parity["differences"])
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.worker:
            return
        write = terminalreporter.write_line
        if self.cloud_name:
            disagreements = self.conformance.report()
            terminalreporter.section("vbs live: where the cloud disagrees with the documented schemas")
            write(f"{self.conformance.checked} answers checked, {len(disagreements)} disagreements")
            for line in disagreements:
                write("  " + line)  # operation, field and rule: never a value
        if self.leftovers:
            terminalreporter.section("vbs live: left behind on the cloud (the session fails)")
            for line in self.leftovers:
                write("  " + line)
        if self.record is not None and self.cloud_name:
            write(f"vbs record: {len(self.written)} answer shapes in {self.record}")
        if self.parity is not None:
            differences = self.parity["differences"]
            terminalreporter.section("vbs parity: the fake's answers against the recorded shapes")
            write(f"baseline {self.parity['baseline']}; {len(self.parity['compared'])} operations compared, "
                  f"{len(differences)} differences (JSON: {REPORT_FILE})")
            for difference in differences:
                write("  " + describe(difference))
            if self.parity["not_recorded"]:
                write("  not recorded: " + ", ".join(self.parity["not_recorded"]))
