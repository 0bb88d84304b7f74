"""Strict mode: a test that sent an undocumented request fails at teardown, even if it swallowed the 400.

Each case runs a small test file in a fresh pytest (``pytester``) that drives the fake over a real socket.
"""

from __future__ import annotations

import sys

import pytest
from _pytest.assertion.rewrite import AssertionRewritingHook

import pytest_vbs.assertions
from pytest_vbs import DEFAULT_PROJECT_ID

CREATE_PAGE = "creating_a_vbs_backup_native_openstack_v3_api"
PROJECT = DEFAULT_PROJECT_ID
LIST_PAGE = "querying_summary_information_about_vbs_backups_native_openstack_v3_api"

TESTS = '''
import pytest
import requests

{marker}
def test_swallows_400(vbs):
    volume = vbs.add_volume(size=10)
    body = {{"backup": {{"volume_id": volume, "snapshot_id": vbs.add_snapshot(volume), "name": "autobk_1"}}}}
    response = requests.post(f"{{vbs.endpoint}}/backups", json=body)
    assert response.status_code == 400  # the code under test "handles" the error


{marker}
def test_two_bad_requests(vbs):
    volume = vbs.add_volume(size=10)
    snapshot = vbs.add_snapshot(volume)
    requests.post(f"{{vbs.endpoint}}/backups", json={{"backup": {{"volume_id": volume, "snapshot_id": snapshot,
                                                                "description": "<b>"}}}})
    requests.post(f"{{vbs.endpoint}}/backups", json={{"backup": {{"volume_id": volume, "snapshot_id": snapshot}}}})
    requests.get(f"{{vbs.endpoint}}/backups", params={{"limit": "abc"}})


{marker}
def test_valid(vbs):
    volume = vbs.add_volume(size=10)
    body = {{"backup": {{"volume_id": volume, "snapshot_id": vbs.add_snapshot(volume), "name": "nightly"}}}}
    created = requests.post(f"{{vbs.endpoint}}/backups", json=body)
    assert created.status_code == 202
    assert requests.get(f"{{vbs.endpoint}}/backups/missing").status_code == 404  # valid request, 404 answer
    assert requests.get(f"{{vbs.endpoint}}/backups", params={{"limit": 1}}).status_code == 200


def test_unmarked_swallows_400(vbs):
    requests.get(f"{{vbs.endpoint}}/backups", params={{"limit": "abc"}})
'''

#: How strict mode is switched on: (command-line arguments, ini text, marker line).
MODES = {
    "option": (["--vbs-strict"], None, ""),
    "ini": ([], "[pytest]\nvbs_strict = true\n", ""),
    "marker": ([], None, "@pytest.mark.vbs_strict"),
}


def teardown_error(result: pytest.RunResult, test: str) -> list[str]:
    """The non-blank lines of the report of ``test``'s teardown error (up to the next report header, or the
    section "fake VBS requests" that follows it)."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if f" ERROR at teardown of {test} " in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(("____", "====", "----")))
    report = [line for line in lines[start + 1 : end] if line.strip()]
    last = max(i for i, line in enumerate(report) if line.startswith("vbs strict mode: "))
    return report[last:]


def run(pytester: pytest.Pytester, mode: str | None) -> pytest.RunResult:
    args, ini, marker = MODES[mode] if mode else ([], None, "")
    if ini:
        pytester.makeini(ini)
    pytester.makepyfile(test_app=TESTS.format(marker=marker))
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "-rA", *args)


def test_without_strict_mode_everything_passes(pytester: pytest.Pytester) -> None:
    result = run(pytester, None)
    result.assert_outcomes(passed=4)
    assert "vbs strict mode" not in result.stdout.str()


@pytest.mark.parametrize("mode", list(MODES))
def test_strict_mode_errors_at_teardown_listing_every_offending_request(
    pytester: pytest.Pytester, mode: str
) -> None:
    result = run(pytester, mode)
    unmarked_strict = mode != "marker"
    result.assert_outcomes(passed=4, errors=3 if unmarked_strict else 2)  # the calls pass; teardowns error
    output = result.stdout.str()
    first = teardown_error(result, "test_swallows_400")
    assert first == [
        "vbs strict mode: 1 request(s) sent to the fake VBS break the documented API:",
        f"  #1 POST /v3/{PROJECT}/backups (create_backup, page: {CREATE_PAGE}) -> 400",
        "      Invalid input for field 'backup.name': must not start with 'auto' (got 'autobk_1'). [auto_prefix]",
    ]
    second = teardown_error(result, "test_two_bad_requests")
    assert second == [
        "vbs strict mode: 2 request(s) sent to the fake VBS break the documented API:",
        f"  #1 POST /v3/{PROJECT}/backups (create_backup, page: {CREATE_PAGE}) -> 400",
        "      Invalid input for field 'backup.description': must not contain '<' or '>' (got '<b>'). [bad_character]",
        f"  #3 GET /v3/{PROJECT}/backups (list_backups, page: {LIST_PAGE}) -> 400",
        "      Invalid query parameter 'limit': must be an integer (got 'abc').",
    ]
    assert "#2 POST" not in output  # the valid create in between is not listed
    assert "ERROR at teardown of test_valid" not in output
    assert ("ERROR at teardown of test_unmarked_swallows_400" in output) is unmarked_strict
    errored = sorted(line.split(" - ")[0] for line in result.outlines if line.startswith("ERROR test_app.py"))
    assert errored == ["ERROR test_app.py::test_swallows_400", "ERROR test_app.py::test_two_bad_requests"] + (
        ["ERROR test_app.py::test_unmarked_swallows_400"] if unmarked_strict else []
    )


def test_ini_false_is_not_strict_and_the_option_overrides_it(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nvbs_strict = false\n")
    pytester.makepyfile(test_app=TESTS.format(marker=""))
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)
    pytester.runpytest("-p", "no:randomly", "--vbs-strict").assert_outcomes(passed=4, errors=3)


def test_strict_mode_option_and_marker_are_registered(pytester: pytest.Pytester) -> None:
    help_text = pytester.runpytest("--help").stdout.str()
    assert "--vbs-strict" in help_text
    assert "vbs_strict" in help_text
    markers = pytester.runpytest("--markers").stdout.str()
    assert "@pytest.mark.vbs_strict(enabled): strict mode for this test" in markers


def test_strict_failure_is_reported_once_without_a_traceback_into_the_plugin(pytester: pytest.Pytester) -> None:
    result = run(pytester, "option")
    output = result.stdout.str()
    assert "During handling of the above exception" not in output
    report = [line for line in result.outlines if line.strip()]
    start = next(i for i, line in enumerate(report) if " ERROR at teardown of test_swallows_400 " in line)
    assert report[start + 1].startswith("vbs strict mode: 1 request(s)")  # the listing comes first, and once
    # Once in the report (the short summary repeats it in full where CI is set: pytest does not truncate there).
    # (The section "fake VBS requests" repeats it on the request's own line, "POST /v3/{project}/... -> 400 ...".)
    details = output.split("short test summary info")[0]
    details = "\n".join(line for line in details.splitlines() if not line.startswith("POST /v3/{project}/"))
    assert details.count("must not start with 'auto' (got 'autobk_1')") == 1
    assert "pytest_vbs/plugin.py" not in output
    assert "pytest_vbs/assertions.py" not in output


def test_assertions_module_is_registered_for_rewriting() -> None:
    module = sys.modules[pytest_vbs.assertions.__name__]
    assert isinstance(module.__loader__, AssertionRewritingHook)
