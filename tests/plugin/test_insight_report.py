"""The section "fake VBS requests" of a failing test's report: shown like captured output, in JUnit XML, switchable
with ``--vbs-report-requests`` / ini ``vbs_report_requests``, and absent on success by default."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pytest_vbs import plugin
from pytest_vbs.journal import RecordedRequest
from pytest_vbs.report import LAST, MODES, line, section

SUITE = """
import requests

def test_fails(vbs):
    volume = vbs.add_volume()
    body = {"backup": {"volume_id": volume, "snapshot_id": vbs.add_snapshot(volume), "name": "b1"}}
    requests.post(vbs.endpoint + "/backups", json=body)
    requests.get(vbs.endpoint + "/backups/missing")
    vbs.fail("list_backups", 503, message="try later")
    requests.get(vbs.endpoint + "/backups")
    assert False, "the test's own failure"

def test_passes(vbs):
    requests.get(vbs.endpoint + "/backups/passing")
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_suite=SUITE)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rN", *args)


def test_a_failing_test_lists_its_requests_and_a_passing_one_does_not(pytester: pytest.Pytester) -> None:
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*- fake VBS requests -*",
        'POST /v3/{project}/backups {"backup":{"volume_id":"*","snapshot_id":"*","n... -> 202 create_backup',
        "GET /v3/{project}/backups/missing -> 404 get_backup: Backup missing could not be found.",
        "GET /v3/{project}/backups -> 503 list_backups [[]fault: 503[]]: try later",
    ])
    assert result.stdout.str().count("fake VBS requests") == 1
    assert "backups/passing" not in result.stdout.str()


def test_the_listing_goes_to_junit_xml(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--junitxml=report.xml")
    result.assert_outcomes(passed=1, failed=1)
    cases = {case.get("name"): case for case in ET.parse(pytester.path / "report.xml").iter("testcase")}
    properties = {p.get("name"): p.get("value") for p in cases["test_fails"].iter("property")}
    assert "GET /v3/{project}/backups/missing -> 404 get_backup" in properties["fake VBS requests"]
    assert not list(cases["test_passes"].iter("property"))


@pytest.mark.parametrize(("how", "shown"), [
    (("--vbs-report-requests=always",), {"failing", "passing"}),
    (("--vbs-report-requests=never",), set()),
    (("-o", "vbs_report_requests=always"), {"failing", "passing"}),
    (("-o", "vbs_report_requests=never"), set()),
    (("-o", "vbs_report_requests=never", "--vbs-report-requests=on-failure"), {"failing"}),
])
def test_the_mode_switches_the_listing(pytester: pytest.Pytester, how: tuple[str, ...], shown: set[str]) -> None:
    result = run(pytester, "--junitxml=report.xml", *how)
    cases = {case.get("name"): case for case in ET.parse(pytester.path / "report.xml").iter("testcase")}
    listed = {name.split("_")[1].replace("fails", "failing").replace("passes", "passing")
              for name, case in cases.items() if list(case.iter("property"))}
    assert listed == shown
    assert ("backups/passing -> 404" in result.stdout.str()) is False  # passing tests' sections are not printed


def test_a_wrong_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--vbs-report-requests=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--vbs-report-requests: 'sometimes' is not one of on-failure, always, never*"])


def test_a_wrong_ini_mode_names_the_nearest(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nvbs_report_requests = on_failure\n")
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini vbs_report_requests: 'on_failure' is not one of on-failure, always, never "
                                 "(did you mean 'on-failure'?)*"])


def test_a_teardown_failure_gets_the_listing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import requests
        import pytest

        @pytest.mark.vbs_strict
        def test_undocumented_body(vbs):
            requests.post(vbs.endpoint + "/backups", json={"nope": 1})
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--junitxml=report.xml")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*- fake VBS requests -*", 'POST /v3/{project}/backups {"nope":1} -> 400 *'])
    (case,) = ET.parse(pytester.path / "report.xml").iter("testcase")
    assert [p.get("name") for p in case.iter("property")] == ["fake VBS requests"]


# -- the lines -------------------------------------------------------------------------------------------------------
def entry(**fields: object) -> RecordedRequest:
    values: dict[str, object] = {"operation": "get_backup", "method": "GET", "path": "/v3/p/backups/b", "query": {},
                                 "headers": {}, "json": None, "project_id": "p", "status": 200}
    values.update(fields)
    return RecordedRequest(**values)  # type: ignore[arg-type]


def test_lines_shorten_bodies_and_mark_faults_and_errors() -> None:
    assert line(entry(json={"text": "x" * 500}, method="POST")).startswith('POST /v3/{project}/backups/b {"text":"xxx')
    assert len(line(entry(json={"text": "x" * 500}))) < 200
    assert line(entry(status=0, fault="connection_reset")) == \
        "GET /v3/{project}/backups/b -> no answer get_backup [fault: connection_reset]"
    assert line(entry(status=500, error="Traceback...\nKeyError: 'x'")).endswith("[the fake failed: KeyError: 'x']")
    assert line(entry(query={"limit": "1"}, operation="unknown", project_id=None, path="/nowhere")) == \
        "GET /nowhere?limit=1 -> 200 unknown"


def test_the_section_keeps_the_last_requests() -> None:
    text = section([entry(path=f"/v3/p/backups/{n}") for n in range(LAST + 7)])
    lines = text.splitlines()
    assert lines[0] == "(7 earlier requests not shown)"
    assert len(lines) == LAST + 1
    assert lines[-1].startswith(f"GET /v3/{{project}}/backups/{LAST + 6} ")
    assert section([]) == "(no requests)"


def test_the_plugin_knows_the_modes_without_importing_them() -> None:
    assert plugin.REPORT_MODES == MODES


def test_lines_redact_passwords() -> None:
    shown = line(entry(method="POST", json={"auth": {"password": {"user": {"password": "s3cret"}}}}))
    assert "s3cret" not in shown
    assert "[redacted]" in shown
