"""pytest glue: options, ini keys, markers, hooks and the ``vbs`` / ``vbs_server`` fixtures.

Importing this module must stay cheap: it is loaded by every pytest run once pytest-vbs is installed.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_vbs.errors import ERROR_STATUSES
from pytest_vbs.markers import TRANSITION_MODES, MarkerError, Settings, ini_lines, misplaced, own_marks

pytest.register_assert_rewrite("pytest_vbs.assertions")

if TYPE_CHECKING:
    import pluggy

    from pytest_vbs.fake import FakeVBS

#: The modes of ``--vbs-report-requests`` (``pytest_vbs.report.MODES``, without importing it).
REPORT_MODES = ("on-failure", "always", "never")
#: How long the ``vbs`` fixture's teardown waits for requests its test began and left running, in seconds.
LEFTOVER_GRACE = 1.0


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer from {low} to {high}")
        return value

    return convert


def _choice(*values: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if text not in values:
            import difflib  # deferred for import cost: only for a wrong value

            near = difflib.get_close_matches(text, values, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(values)}{hint}")
        return text

    return convert


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def _journal_bytes(text: str) -> int:
    from pytest_vbs.journal import journal_bytes  # deferred for import cost

    try:
        return journal_bytes(text, name="--vbs-journal-bytes (ini: vbs_journal_bytes)")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


_OPTIONS: tuple[tuple[str, str, str, Callable[[str], Any]], ...] = (
    # (name, help, default, converter: the command-line option's type and the ini value's check)
    ("host", "address the fake VBS server binds to", "127.0.0.1", str),
    ("port", "port of the fake VBS server (0: a free port; with pytest-xdist, worker gwN binds port + N)", "0",
     _int_in(0, 65535)),
    ("project_id", "project id the vbs fixture acts in", "", str),
    ("transitions", "when asynchronous status changes happen: " + ", ".join(TRANSITION_MODES), "immediate",
     _choice(*TRANSITION_MODES)),
    ("reads", "with transitions=reads: how many reads see the transient status (>= 1)", "1", _int_in(1, 1_000_000)),
    ("seconds", "with transitions=timed: seconds of wall-clock time before a pending change completes", "1.0",
     _seconds),
    ("journal_bytes", "memory budget of the request journal, e.g. 16MiB (at least 4MiB; oldest entries evicted)",
     "64MiB", _journal_bytes),
    ("report_requests", "add the requests a test sent to its report (section 'fake VBS requests'): on-failure, "
     "always or never", "on-failure", _choice(*REPORT_MODES)),
    ("live", "run against the real cloud CLOUD of clouds.yaml / OS_* through a recording proxy (docs/live.md)", "",
     str),
    ("record", "live mode: merge the shapes of the cloud's answers into directory DIR", "", str),
)
_FLAGS = ("strict", "auth", "control", "compare_strict")
_REQUESTS = pytest.StashKey[list[Any]]()  #: a test's requests, kept from its fake's reset for its teardown report
#: The markers that choose the mode a test runs in (any test, with or without the fixtures; no arguments).
_MODE_MARKERS = {
    "vbs_fake_only": "skip this test in live mode (--vbs-live)",
    "vbs_live_only": "run this test only in live mode (--vbs-live CLOUD)",
}
#: Command-line settings of the fake that a live cloud cannot honour.
_FAKE_SETTINGS = ("project_id", "transitions", "reads", "seconds", "auth", "control")
_SETTINGS = pytest.StashKey[dict[str, Any]]()  #: the checked settings of the run (pytest_configure)
_MARKS = pytest.StashKey[Settings]()  #: the checked marks of a test (pytest_runtest_setup)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vbs", "fake Volume Backup Service (pytest-vbs)")
    for name, help_text, default, convert in _OPTIONS:
        flag = "--vbs-" + name.replace("_", "-")
        group.addoption(flag, dest=f"vbs_{name}", default=None, type=convert, help=f"{help_text} (ini: vbs_{name})")
        parser.addini(f"vbs_{name}", help_text, default=default)
    group.addoption("--vbs-strict", action="store_true", dest="vbs_strict", default=None,
                    help="fail a test at teardown when it sent a request that breaks the documented schema "
                         "(ini: vbs_strict)")
    parser.addini("vbs_strict", "strict mode: fail tests that sent undocumented requests", type="bool", default=False)
    group.addoption("--vbs-auth", action="store_true", dest="vbs_auth", default=None,
                    help="check X-Auth-Token on the API: 401 without a valid token of the fake identity service, "
                         "403 for another project's (default: off, any token works; ini: vbs_auth)")
    parser.addini("vbs_auth", "check tokens on the API (401/403); off: any token works", type="bool", default=False)
    group.addoption("--vbs-no-control", action="store_false", dest="vbs_control", default=None,
                    help="turn the /__vbs__ control API off: its routes answer 404 like unknown routes "
                         "(ini: vbs_control = false)")
    parser.addini("vbs_control", "serve the /__vbs__ control API", type="bool", default=True)
    group.addoption("--vbs-compare", dest="vbs_compare", nargs="?", const="docs", default=None, metavar="DIR",
                    help="compare the fake's answers with the shapes recorded in DIR (default: the documentation's "
                         "examples) and report the differences (ini: vbs_compare)")
    parser.addini("vbs_compare", "compare the fake's answers with the shapes recorded in this directory", default="")
    group.addoption("--vbs-compare-strict", action="store_true", dest="vbs_compare_strict", default=None,
                    help="with --vbs-compare: fail the session on any difference (ini: vbs_compare_strict)")
    parser.addini("vbs_compare_strict", "fail the session on any parity difference", type="bool", default=False)
    _add_insight_options(group)


# -- what the suite tested, and what a failing test sent (docs/insight.md) ------------------------------------------
def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be a percentage between 0 and 100, not {text!r}")
    return value


def _add_insight_options(group: pytest.OptionGroup) -> None:
    group.addoption("--vbs-coverage", action="store_true", dest="vbs_coverage", default=False,
                    help="print, at the end of the session, which documented outcomes of each VBS operation the "
                         "suite exercised (statuses, error reasons and codes, wire faults, end states)")
    group.addoption("--vbs-coverage-json", dest="vbs_coverage_json", default=None, metavar="PATH",
                    help="write the API coverage report as JSON to PATH")
    group.addoption("--vbs-coverage-fail-under", dest="vbs_coverage_fail_under", default=None, type=_percent,
                    metavar="PERCENT", help="fail the session when fewer than PERCENT %% of the documented outcomes "
                                            "were exercised")
    group.addoption("--vbs-har", dest="vbs_har", default=None, metavar="DIR",
                    help="write the requests of each failed test that used vbs to DIR/<test id>.har (HAR 1.2)")


def _configure_insight(config: pytest.Config) -> None:
    json_path, fail_under = config.getoption("vbs_coverage_json"), config.getoption("vbs_coverage_fail_under")
    if config.getoption("vbs_coverage") or json_path or fail_under is not None:
        from pytest_vbs import coverage_session  # deferred for import cost: only with a coverage option

        coverage_session.install(config, show=config.getoption("vbs_coverage"), json_path=json_path,
                                 fail_under=fail_under)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """The section "fake VBS requests" (and ``--vbs-har``'s file) for a test that used ``vbs``."""
    report: pytest.TestReport = yield
    fake = getattr(item, "funcargs", {}).get("vbs")
    if fake is not None:
        mode, har_dir = item.config.stash[_SETTINGS]["report_requests"], item.config.getoption("vbs_har")
        listing = (mode == "always" and report.when == "call") or (mode == "on-failure" and report.failed)
        if listing or (har_dir and report.failed):
            from pytest_vbs import report as requests_report  # deferred for import cost: only when reporting

            entries = item.stash.get(_REQUESTS, None)  # kept when the teardown reset the fake
            if entries is None:
                entries = fake.requests
            requests_report.attach(item, report, entries, listing=listing,
                                   har_dir=har_dir if report.failed else None)
    return report


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_vbs import hookspecs  # deferred for import cost, as every import below: see the module docstring

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    for line in ini_lines():
        config.addinivalue_line("markers", line)
    for name, help_text in _MODE_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")
    config.stash[_SETTINGS] = _settings(config)
    _configure_insight(config)
    _configure_live(config)


def _configure_live(config: pytest.Config) -> None:
    """Live mode and record/compare: checked here, served by ``live_session`` (imported only when asked for)."""
    settings = config.stash[_SETTINGS]
    live, record, strict = settings["live"], settings["record"], settings["compare_strict"]
    compare = config.getoption("vbs_compare") or config.getini("vbs_compare")
    if config.getoption("vbs_live") == "":
        raise pytest.UsageError("--vbs-live needs an explicit cloud name: live mode never picks a cloud on its own")
    if record and not live:
        raise pytest.UsageError("--vbs-record DIR records the real cloud's answers: it needs --vbs-live CLOUD")
    if compare and live:
        raise pytest.UsageError("--vbs-compare compares the fake's answers: it cannot run with --vbs-live")
    if strict and not compare:
        raise pytest.UsageError("--vbs-compare-strict needs --vbs-compare [DIR]")
    fake_only = [name for name in _FAKE_SETTINGS if config.getoption(f"vbs_{name}") is not None]
    if live and fake_only:
        flags = ", ".join("--vbs-" + name.replace("_", "-") for name in fake_only)
        raise pytest.UsageError(f"{flags}: the fake's settings have no effect in live mode (--vbs-live)")
    if live or compare:
        from pytest_vbs.live_session import PLUGIN_NAME, LiveSession  # deferred for import cost: live mode only

        session = LiveSession(config, live=live, record=record, compare=compare, strict=strict)
        config.pluginmanager.register(session, PLUGIN_NAME)


def _check_mode(item: pytest.Item) -> None:
    """``vbs_fake_only`` / ``vbs_live_only``: skip the test in the other mode (they take no argument)."""
    live = bool(item.config.stash[_SETTINGS]["live"])
    for name in _MODE_MARKERS:
        mark = item.get_closest_marker(name)
        if mark is not None and (mark.args or mark.kwargs):
            pytest.fail(f"@pytest.mark.{name} takes no arguments, got {mark.args!r} {mark.kwargs!r}", pytrace=False)
    if live and item.get_closest_marker("vbs_fake_only") is not None:
        pytest.skip("marked vbs_fake_only: not run in live mode (--vbs-live)")
    if not live and item.get_closest_marker("vbs_live_only") is not None:
        pytest.skip("marked vbs_live_only: runs only in live mode (--vbs-live CLOUD)")


def _settings(config: pytest.Config) -> dict[str, Any]:
    """Every setting, the command line winning over the ini file; a bad ini value is a usage error now."""
    settings: dict[str, Any] = {}
    for name, _help, _default, convert in _OPTIONS:
        value = config.getoption(f"vbs_{name}")
        try:
            settings[name] = value if value is not None else convert(str(config.getini(f"vbs_{name}")))
        except (argparse.ArgumentTypeError, ValueError) as error:
            raise pytest.UsageError(f"ini vbs_{name}: {error}") from None
    for name in _FLAGS:
        option = config.getoption(f"vbs_{name}")
        try:
            settings[name] = bool(option) if option is not None else bool(config.getini(f"vbs_{name}"))
        except (ValueError, pytest.UsageError) as error:  # pytest >= 9 raises UsageError, without the key's name
            raise pytest.UsageError(f"ini vbs_{name}: {error} (true or false)") from None
    worker = getattr(config, "workerinput", {}).get("workerid", "")
    if settings["port"] and worker.startswith("gw"):  # pytest-xdist: one server per worker, each on its own port
        settings["port"] += int(worker[2:])
        if settings["port"] > 65535:
            raise pytest.UsageError(f"--vbs-port: worker {worker} would bind {settings['port']} (> 65535)")
    return settings


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Check the test's vbs marks before its fixtures run: a usage error names the marker and what it allows."""
    _check_mode(item)
    problem = misplaced(item, getattr(item, "fixturenames", ()))
    if problem is None:
        try:
            item.stash[_MARKS] = Settings.of(item)
        except MarkerError as error:
            problem = str(error)
    if problem is not None:
        pytest.fail(problem, pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, pluggy.Result[None], None]:
    """While the test runs, ``vbs_server.isolated()`` knows its marks and strict mode; a test that has marks and
    only ``vbs_server`` must use it, or its marks did nothing."""
    server = getattr(item, "funcargs", {}).get("vbs_server")
    if server is None:
        yield
        return
    used: list[bool] = []

    def scope(fake: FakeVBS) -> contextlib.AbstractContextManager[FakeVBS]:
        used.append(True)
        return _scope(fake, item)

    server.test_scope = scope
    try:
        outcome = yield
    finally:
        server.test_scope = None
    marks = own_marks(item)
    if marks and not used and "vbs" not in getattr(item, "fixturenames", ()) and outcome.excinfo is None:
        outcome.force_exception(pytest.fail.Exception(
            f"{marks} on {item.name}: this test uses vbs_server but neither the 'vbs' fixture nor "
            "vbs_server.isolated(), so the mark did nothing", pytrace=False))


@pytest.fixture(scope="session")
def vbs_server(pytestconfig: pytest.Config) -> Iterator[FakeVBS]:
    """The fake VBS server of this session (of this xdist worker), started once.

    For session-wide needs only (its URL, a client built once, ``isolated()`` in hypothesis tests): it is not reset
    for a test, and the marks apply only through ``vbs`` and ``vbs_server.isolated()``."""
    live = pytestconfig.pluginmanager.get_plugin("vbs-live-session")
    if live is not None and live.cloud_name:  # live mode: the cloud behind its recording proxy
        handle = live.start()
        try:
            yield handle
        finally:
            handle.stop()
        return
    from pytest_vbs.fake import DEFAULT_PROJECT_ID, FakeVBS  # deferred for import cost: only when a test needs it

    settings = pytestconfig.stash[_SETTINGS]
    fake = FakeVBS(
        settings["host"],
        settings["port"],
        project_id=settings["project_id"] or DEFAULT_PROJECT_ID,
        transitions=settings["transitions"],
        reads=settings["reads"],
        seconds=settings["seconds"],
        plugin_manager=pytestconfig.pluginmanager,
        auth=settings["auth"],
        control=settings["control"],
        journal_bytes=settings["journal_bytes"],
        coverage=getattr(pytestconfig.pluginmanager.get_plugin("vbs-coverage"), "recorder", None),
    )
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def vbs(vbs_server: FakeVBS, request: pytest.FixtureRequest) -> Iterator[FakeVBS]:
    """The fake VBS, clean for this test (no volumes, backups, journal entries or faults), configured by its marks;
    clean again after it, so nothing a test did is visible to a later one. In live mode (``--vbs-live``): the live
    handle, and what the test created on the cloud deleted after it."""
    if vbs_server.live:
        live: Any = request.config.pluginmanager.get_plugin("vbs-live-session")
        live.check_marks(request.node)
        with _scope(vbs_server, request.node) as handle:
            yield from live.run_test(handle, request)
        return
    with _scope(vbs_server, request.node) as fake:
        yield fake


@contextlib.contextmanager
def _scope(server: FakeVBS, item: pytest.Item) -> Iterator[FakeVBS]:
    """A clean fake configured by the test's marks; after it, the fake's own crashes and strict mode, then reset."""
    server.reset()
    generation = server.app.flights.generation  # requests begun from now on are this test's
    try:
        marks = item.stash[_MARKS] if _MARKS in item.stash else Settings.of(item)
        fake = marks.apply(server)
    except MarkerError as error:
        server.reset()
        pytest.fail(str(error), pytrace=False)
    try:
        yield fake
        strict = marks.strict if marks.strict is not None else _flag(item.config, "strict")
        problems = _problems(server, fake, generation, strict)
    finally:
        settings = item.config.stash[_SETTINGS]
        if settings["report_requests"] != "never" or item.config.getoption("vbs_har"):
            item.stash[_REQUESTS] = fake.requests  # for the teardown report (pytest_runtest_makereport)
        server.reset()
    if problems:
        pytest.fail(problems, pytrace=False)


def _problems(server: FakeVBS, fake: FakeVBS, generation: int, strict: bool) -> str:
    """What fails the test after it ran: requests it left running and the fake's own crashes, then (strict mode)
    undocumented requests."""
    failures = _leftover_requests(server, generation)
    errors = server.app.take_unexpected_errors()
    if errors:
        failures.append("The fake VBS server raised unexpectedly while serving this test:\n" + "\n".join(errors))
    if failures:
        return "\n\n".join(failures)
    if strict:
        from pytest_vbs.assertions import assert_all_requests_valid  # deferred for import cost

        try:
            assert_all_requests_valid(fake.requests)
        except AssertionError as error:
            return f"vbs strict mode: {error}"
    return ""


def _leftover_requests(server: FakeVBS, generation: int) -> list[str]:
    """The requests the test began that are still being served after :data:`LEFTOVER_GRACE` (as a problem)."""
    left = server.app.flights.wait(generation, LEFTOVER_GRACE)
    if not left:
        return []
    shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
    return [f"{len(left)} request(s) this test sent to the fake VBS were still being served {LEFTOVER_GRACE:g} s "
            f"after it ended: {shown}. They will not be recorded in the next test's journal; wait for them (join "
            "the threads the test started) before the test ends."]


def _flag(config: pytest.Config, name: str) -> bool:
    """A boolean setting: the command-line flag if given, else the ini key."""
    return bool(config.stash[_SETTINGS][name])


@pytest.fixture(params=ERROR_STATUSES, ids=[str(s) for s in ERROR_STATUSES])
def vbs_error_status(request: pytest.FixtureRequest) -> int:
    """Each documented error status in turn (400 ... 504): a test using it runs once per status."""
    return int(request.param)
