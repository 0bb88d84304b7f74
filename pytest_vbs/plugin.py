"""pytest glue: options, ini keys, markers, hooks and the ``vbs`` / ``vbs_server`` fixtures.

Importing this module must stay cheap: it is loaded by every pytest run once pytest-vbs is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_vbs.errors import ERROR_STATUSES

pytest.register_assert_rewrite("pytest_vbs.assertions")

if TYPE_CHECKING:
    from pytest_vbs.fake import FakeVBS

#: How long the ``vbs`` fixture's teardown waits for requests its test began and left running, in seconds.
LEFTOVER_GRACE = 1.0

_OPTIONS = (
    # (name, help, default)
    ("host", "address the fake VBS server binds to", "127.0.0.1"),
    ("port", "port of the fake VBS server (0: a free port)", "0"),
    ("project_id", "project id the vbs fixture acts in", ""),
    ("transitions", "when asynchronous status changes happen: immediate, reads or manual", "immediate"),
    ("reads", "with transitions=reads: how many reads see the transient status", "1"),
    ("journal_bytes", "memory budget of the request journal, e.g. 16MiB (at least 4MiB; oldest entries evicted)",
     "64MiB"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vbs", "fake Volume Backup Service (pytest-vbs)")
    for name, help_text, default in _OPTIONS:
        flag = "--vbs-" + name.replace("_", "-")
        group.addoption(flag, dest=f"vbs_{name}", default=None, help=f"{help_text} (ini: vbs_{name})")
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


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_vbs import hookspecs  # deferred for import cost, as every import below: see the module docstring

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    from pytest_vbs.journal import journal_bytes  # deferred for import cost

    try:
        journal_bytes(_setting(config, "journal_bytes"), name="--vbs-journal-bytes (ini: vbs_journal_bytes)")
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    config.addinivalue_line(
        "markers",
        "vbs(transitions=None, reads=None, project_id=None, auth=None): configure the fake VBS for this test",
    )
    config.addinivalue_line(
        "markers",
        "vbs_strict: fail this test at teardown if it sent a request that breaks the documented VBS schema",
    )
    config.addinivalue_line(
        "markers",
        "vbs_fault(operation='*', status=None, **options): inject a fault into the fake VBS for this test "
        "(same arguments as vbs.fail, or operation and sequence=[...] as vbs.fail_sequence; repeatable)",
    )


def _setting(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"vbs_{name}")
    return str(value if value is not None else config.getini(f"vbs_{name}"))


@pytest.fixture(scope="session")
def vbs_server(pytestconfig: pytest.Config) -> Iterator[FakeVBS]:
    """The fake VBS server of this session (of this xdist worker), started once."""
    from pytest_vbs.fake import DEFAULT_PROJECT_ID, FakeVBS  # deferred for import cost: only when a test needs it

    fake = FakeVBS(
        _setting(pytestconfig, "host"),
        int(_setting(pytestconfig, "port")),
        project_id=_setting(pytestconfig, "project_id") or DEFAULT_PROJECT_ID,
        transitions=_setting(pytestconfig, "transitions"),
        reads=int(_setting(pytestconfig, "reads")),
        plugin_manager=pytestconfig.pluginmanager,
        auth=_flag(pytestconfig, "auth"),
        control=_flag(pytestconfig, "control"),
        journal_bytes=_setting(pytestconfig, "journal_bytes"),
    )
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def vbs(vbs_server: FakeVBS, request: pytest.FixtureRequest) -> Iterator[FakeVBS]:
    """The fake VBS, clean for this test: no volumes, backups, journal entries or faults."""
    vbs_server.reset()
    generation = vbs_server.app.flights.generation  # requests begun from now on are this test's
    fake = vbs_server
    marker = request.node.get_closest_marker("vbs")
    if marker is not None:
        options = dict(marker.kwargs)
        if "project_id" in options:
            fake = vbs_server.for_project(options.pop("project_id"))
        if "auth" in options:
            fake.auth = bool(options.pop("auth"))
        if options:
            fake.set_transitions(options.get("transitions", fake.state.transitions), options.get("reads"))
    for fault in reversed(list(request.node.iter_markers("vbs_fault"))):  # outermost (module/class) first
        _install_fault(fake, fault)
    yield fake
    failures = _leftover_requests(vbs_server, generation)
    errors = vbs_server.app.take_unexpected_errors()
    if errors:
        failures.append("The fake VBS server raised unexpectedly while serving this test:\n" + "\n".join(errors))
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
    if _strict(request):
        from pytest_vbs.assertions import assert_all_requests_valid  # deferred for import cost

        problems = None
        try:
            assert_all_requests_valid(fake.requests)
        except AssertionError as error:
            problems = str(error)
        if problems is not None:  # outside the except block: pytest shows the listing once
            pytest.fail(f"vbs strict mode: {problems}", pytrace=False)


def _leftover_requests(server: FakeVBS, generation: int) -> list[str]:
    """The requests the test began that are still being served after :data:`LEFTOVER_GRACE` (as a problem)."""
    left = server.app.flights.wait(generation, LEFTOVER_GRACE)
    if not left:
        return []
    shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
    return [f"{len(left)} request(s) this test sent to the fake VBS were still being served {LEFTOVER_GRACE:g} s "
            f"after it ended: {shown}. They will not be recorded in the next test's journal; wait for them (join "
            "the threads the test started) before the test ends."]


def _install_fault(fake: FakeVBS, marker: pytest.Mark) -> None:
    """A ``vbs_fault`` marker: ``vbs.fail``'s arguments, or an operation and ``sequence=[...]`` (``fail_sequence``)."""
    if "sequence" not in marker.kwargs:
        fake.fail(*marker.args, **marker.kwargs)
        return
    from pytest_vbs.faults import rules_from  # deferred for import cost

    if len(marker.args) > 1:
        raise TypeError("vbs_fault with sequence= takes one positional argument, the operation")
    operation = {"operation": marker.args[0]} if marker.args else {}
    fake.faults.add_all(rules_from({**operation, **marker.kwargs}))


def _strict(request: pytest.FixtureRequest) -> bool:
    if request.node.get_closest_marker("vbs_strict") is not None:
        return True
    return _flag(request.config, "strict")


def _flag(config: pytest.Config, name: str) -> bool:
    """A boolean setting: the command-line flag if given, else the ini key."""
    option = config.getoption(f"vbs_{name}")
    return bool(option) if option is not None else bool(config.getini(f"vbs_{name}"))


@pytest.fixture(params=ERROR_STATUSES, ids=[str(s) for s in ERROR_STATUSES])
def vbs_error_status(request: pytest.FixtureRequest) -> int:
    """Each documented error status in turn (400 ... 504): a test using it runs once per status."""
    return int(request.param)
