"""The markers as their users write them: every argument checked at setup, the strict opt-out, the marks of a test
without the fixture, a fake left clean after a test, and ``vbs_server.isolated()`` for hypothesis (issue 16
items 2-5). Each case runs a small test file in a fresh pytest (``pytester``)."""

from __future__ import annotations

import inspect

import pytest

from pytest_vbs import FakeVBS
from pytest_vbs.markers import MARKERS, TRANSITION_MODES, MarkerError
from pytest_vbs.service.models import TransitionMode


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_marks=source)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly", "-rA", *args)


def test_the_table_knows_every_transition_mode() -> None:
    assert tuple(mode.value for mode in TransitionMode) == TRANSITION_MODES


@pytest.mark.parametrize(("mark", "expected"), [
    ('vbs(transition="manual")',
     "@pytest.mark.vbs: unknown keyword 'transition' (did you mean 'transitions'?); allowed: 'auth', 'project_id', "
     "'reads', 'seconds', 'strict', 'transitions'\n"),
    ('vbs("manual")', "@pytest.mark.vbs: takes none positional argument(s), got 1: ('manual',); use keywords "
     "(allowed: @pytest.mark.vbs(transitions, reads, seconds, project_id, auth, strict))"),
    ('vbs(transitions="slow")',
     "@pytest.mark.vbs: transitions='slow': must be one of 'immediate', 'reads', 'manual', 'timed'"),
    ("vbs(reads=0)", "@pytest.mark.vbs: reads=0: must be an integer >= 1"),
    ('vbs(transitions="timed", seconds=-1)', "@pytest.mark.vbs: seconds=-1: must be a number of seconds >= 0"),
    ('vbs(transitions="timed", seconds="0.2")', "@pytest.mark.vbs: seconds='0.2': must be a number of seconds >= 0"),
    ('vbs(auth="yes")', "@pytest.mark.vbs: auth='yes': must be True or False"),
    ("vbs(reads=2)", "@pytest.mark.vbs: reads=2 applies only to the 'reads' mode, not 'immediate'"),
    ('vbs_strict("no")', "@pytest.mark.vbs_strict: enabled='no': must be True or False"),
    ("vbs_strict(True, False)", "@pytest.mark.vbs_strict: takes at most 1 (enabled) positional argument(s)"),
    ('vbs_fault("create_backup", 503, time=2)', "@pytest.mark.vbs_fault: unknown keyword 'time'; did you mean "
     "'times'?"),
    ('vbs_fault("create_backup", 503, 2)', "@pytest.mark.vbs_fault: takes at most 2 (operation, status)"),
    ('vbs_fault("create_backup", 700)', "@pytest.mark.vbs_fault: status must be"),
    ('vbs_fault("create_backup", 503, time=2)', "(allowed: @pytest.mark.vbs_fault(operation, status, **the keywords "
     "of vbs.fail; or operation, sequence=[...]))"),
])
def test_a_bad_mark_is_a_usage_error_at_setup(pytester: pytest.Pytester, mark: str, expected: str) -> None:
    result = run(pytester, f"""
        import pytest

        @pytest.mark.{mark}
        def test_marked(vbs):
            pass

        def test_next_one_is_clean(vbs):
            assert vbs.faults.rules() == [] and vbs.state.transitions.value == "immediate"
        """)

    result.assert_outcomes(passed=1, errors=1)
    report = result.stdout.str()
    assert expected in report
    assert "ERROR at setup of test_marked" in report
    assert "markers.py" not in report  # no traceback into the plugin


def test_a_long_keyword_list_is_not_dumped() -> None:
    with pytest.raises(MarkerError) as raised:
        MARKERS["vbs_fault"].bind((), {"tmies": 1})
    assert len(raised.value.args[0].split(", ")) <= 8, raised.value


def test_the_fault_marker_takes_the_arguments_of_fail() -> None:
    parameters = inspect.signature(FakeVBS.fail).parameters
    assert MARKERS["vbs_fault"].allowed() == [*(name for name in parameters if name != "self"), "sequence"]


@pytest.mark.parametrize("mark", ['vbs(transitions="manual")', "vbs_strict", 'vbs_fault("create_backup", 503)'])
def test_a_mark_on_a_test_without_the_fixture_is_an_error(pytester: pytest.Pytester, mark: str) -> None:
    result = run(pytester, f"""
        import pytest

        @pytest.mark.{mark}
        def test_forgot_the_fixture():
            pass
        """)

    result.assert_outcomes(errors=1)
    name = mark.split("(")[0]
    result.stdout.fnmatch_lines([f"*@pytest.mark.{name} on test_forgot_the_fixture: this test uses neither the "
                                 "'vbs' fixture nor 'vbs_server'*"])


def test_a_module_mark_applies_to_the_tests_that_use_the_fixture(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
        import pytest

        pytestmark = pytest.mark.vbs(transitions="manual")

        def test_pure_helper():
            assert 1 + 1 == 2

        def test_with_the_fake(vbs):
            assert vbs.state.transitions.value == "manual"
        """)

    result.assert_outcomes(passed=2)


STRICT = """
import pytest
import requests

{mark}
def test_sends_an_undocumented_request(vbs):
    requests.get(f"{{vbs.endpoint}}/backups", params={{"limit": "abc"}})
"""


@pytest.mark.parametrize(("mark", "ini", "errors"), [
    ("@pytest.mark.vbs_strict(False)", "true", 0),
    ("@pytest.mark.vbs_strict(enabled=False)", "true", 0),
    ("@pytest.mark.vbs(strict=False)", "true", 0),
    ("@pytest.mark.vbs_strict(True)", "false", 1),
    ("@pytest.mark.vbs(strict=True)", "false", 1),
    ("@pytest.mark.vbs_strict", "false", 1),
    ("", "true", 1),
])
def test_strict_mode_per_test(pytester: pytest.Pytester, mark: str, ini: str, errors: int) -> None:
    pytester.makeini(f"[pytest]\nvbs_strict = {ini}\n")

    result = run(pytester, STRICT.format(mark=mark))

    result.assert_outcomes(passed=1, errors=errors)


def test_the_marker_wins_over_the_command_line(pytester: pytest.Pytester) -> None:
    result = run(pytester, STRICT.format(mark="@pytest.mark.vbs_strict(False)"), "--vbs-strict")

    result.assert_outcomes(passed=1)


def test_nothing_a_vbs_test_did_is_visible_to_a_later_vbs_server_test(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
        import pytest
        import requests

        @pytest.mark.vbs(transitions="manual")
        def test_leaves_everything_behind(vbs):
            vbs.fail("list_backups", 503)
            vbs.fail("*", delay=0.01)
            vbs.add_backup(vbs.add_volume())
            vbs.set_quota(backups=3)
            requests.get(f"{vbs.endpoint}/backups")

        def test_only_the_server(vbs_server):
            assert vbs_server.faults.rules() == []
            assert vbs_server.state.transitions.value == "immediate"
            assert vbs_server.backups == {} and vbs_server.volumes == {}
            assert vbs_server.requests == []
            assert requests.get(f"{vbs_server.endpoint}/backups").json() == {"backups": []}
        """)

    result.assert_outcomes(passed=2)


ISOLATED = """
import pytest
import requests
from hypothesis import HealthCheck, given, settings, strategies as st

seen = []

{mark}
@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=1, max_value=3))
def test_each_example_gets_a_clean_fake(vbs_server, count):
    with vbs_server.isolated() as fake:
        assert fake.backups == {{}} and fake.requests == [] and len(fake.faults.rules()) == {rules}
        seen.append(fake.state.transitions.value)
        volume = fake.add_volume()
        for _ in range(count):
            fake.add_backup(volume)
        {body}
    assert vbs_server.backups == {{}} and vbs_server.faults.rules() == []

def test_modes_seen():
    assert set(seen) == {{{modes}}}
"""


def test_isolated_gives_each_hypothesis_example_a_clean_fake_with_the_marks(pytester: pytest.Pytester) -> None:
    result = run(pytester, ISOLATED.format(
        mark='@pytest.mark.vbs(transitions="manual")\n@pytest.mark.vbs_fault("get_quota", 503)',
        rules=1, modes="'manual'",
        body='assert requests.get(f"{fake.endpoint_v2}/cloudbackups/quota").status_code == 503'))

    result.assert_outcomes(passed=2)


def test_isolated_applies_strict_mode_to_each_example(pytester: pytest.Pytester) -> None:
    result = run(pytester, ISOLATED.format(
        mark="@pytest.mark.vbs_strict", rules=0, modes="'immediate'",
        body='requests.get(f"{fake.endpoint}/backups", params={"limit": "abc"})'))

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*vbs strict mode: 1 request(s) sent to the fake VBS break the documented API*"])


def test_isolated_outside_pytest_only_resets() -> None:
    from pytest_vbs import FakeVBS

    with FakeVBS() as fake:
        fake.add_volume()
        with fake.isolated() as clean:
            assert clean is fake
            assert fake.volumes == {}
            fake.add_volume()
        assert fake.volumes == {}


def test_marks_on_a_vbs_server_test_need_isolated(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
        import pytest

        @pytest.mark.vbs_fault("create_backup", 503)
        def test_marks_without_isolated(vbs_server):
            pass

        @pytest.mark.vbs_fault("create_backup", 503)
        def test_marks_with_isolated(vbs_server):
            with vbs_server.isolated() as fake:
                assert len(fake.faults.rules()) == 1
        """)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.vbs_fault on test_marks_without_isolated: this test uses vbs_server "
                                 "but neither the 'vbs' fixture nor vbs_server.isolated(), so the mark did nothing*"])
