"""``--vbs-coverage``: the API coverage report of a small suite with known calls (pytester), its JSON, the xdist
merge, the threshold, the standalone server's ``GET /__vbs__/coverage``, and what the report documents."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest
import requests
from serve_support import serve

from pytest_vbs import FakeVBS
from pytest_vbs.api import BY_NAME
from pytest_vbs.coverage import END_STATES, CoverageRecorder, documented_outcomes, report
from pytest_vbs.errors import ERROR_STATUSES
from pytest_vbs.faults import WIRE_FAULTS

#: Four tests with known calls: create_backup 202 and 400 (auto_prefix), get_backup 200 and 404 in two tests
#: (the fixture resets between them, and the second test resets through the control API too), list_backups
#: 503 injected then a reset connection.
SUITE = """
import pytest
import requests

def test_create_and_get(vbs):
    volume = vbs.add_volume()
    body = {"backup": {"volume_id": volume, "snapshot_id": vbs.add_snapshot(volume), "name": "b1"}}
    created = requests.post(vbs.endpoint + "/backups", json=body)
    assert created.status_code == 202
    assert requests.get(vbs.endpoint + "/backups/" + created.json()["backup"]["id"]).status_code == 200

def test_not_found(vbs):
    requests.post(vbs.url + "/__vbs__/reset")
    assert requests.get(vbs.endpoint + "/backups/nope").status_code == 404

def test_injected(vbs):
    vbs.fail("list_backups", 503, times=1)
    assert requests.get(vbs.endpoint + "/backups").status_code == 503
    vbs.fail("list_backups", fault="connection_reset", times=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(vbs.endpoint + "/backups")

def test_name_rule(vbs):
    body = {"backup": {"volume_id": "v", "snapshot_id": "s", "name": "auto_x"}}
    assert requests.post(vbs.endpoint + "/backups", json=body).status_code == 400
"""


def run_suite(pytester: pytest.Pytester, *args: str, subprocess: bool = False) -> tuple[pytest.RunResult, Any]:
    pytester.makepyfile(test_suite=SUITE)
    output = pytester.path / "coverage.json"
    run = pytester.runpytest_subprocess if subprocess else pytester.runpytest_inprocess
    result = run("-p", "no:cacheprovider", "--vbs-coverage-json", str(output), *args)
    data = json.loads(output.read_text()) if output.exists() else None
    return result, data


def check_known_calls(data: Any) -> None:
    ops = data["operations"]
    create, get, listing = ops["create_backup"], ops["get_backup"], ops["list_backups"]
    assert (create["calls"], create["statuses"], create["reasons"]) == (2, {"202": 1, "400": 1}, {"auto_prefix": 1})
    assert (get["calls"], get["statuses"]) == (2, {"200": 1, "404": 1})  # across the resets
    assert (listing["calls"], listing["statuses"], listing["faults"]) == (
        2, {"503": 1, "0": 1}, {"503": 1, "connection_reset": 1})
    assert "202" not in create["untested"]["status"]
    assert "409" in create["untested"]["status"]
    assert "auto_prefix" not in create["untested"]["reason"]
    assert "too_long" in create["untested"]["reason"]
    assert create["untested"]["state"] == ["backup error"]
    assert "connection_reset" not in listing["untested"]["fault"]
    assert "hang" in listing["untested"]["fault"]
    assert ops["delete_backup"]["calls"] == 0
    assert ops["delete_backup"]["exercised"] == 0
    # statuses 202 and 400, reason auto_prefix; 200 and 404; 503 and fault connection_reset (status 0 is none)
    exercised = {name: op["exercised"] for name, op in ops.items() if op["exercised"]}
    assert exercised == {"create_backup": 3, "get_backup": 2, "list_backups": 2}
    summary = data["summary"]
    assert (summary["operations_used"], summary["outcomes_exercised"]) == (3, 7)
    assert summary["operations_documented"] == sum(1 for op in BY_NAME.values() if op.documented)
    assert summary["percent"] == round(100 * 7 / summary["outcomes_documented"], 2)


def test_the_table_and_the_json_of_a_small_suite(pytester: pytest.Pytester) -> None:
    result, data = run_suite(pytester, "--vbs-coverage")
    result.assert_outcomes(passed=4)
    check_known_calls(data)
    text = result.stdout.str()
    assert "fake VBS API coverage" in text
    assert re.search(r"^create_backup +2 +3/\d+ +202x1 400x1$", text, re.MULTILINE), text
    assert re.search(r"^list_backups +2 +2/\d+ +0x1 503x1 / faults 503x1 connection_resetx1$", text, re.MULTILINE)
    assert re.search(r"^delete_backup +0 +0/\d+ +never called$", text, re.MULTILINE)
    assert re.search(r"untested: status 401 403 404 405", text)
    summary = data["summary"]
    assert (f"vbs coverage: 3 of {summary['operations_documented']} documented operations used, 7 of "
            f"{summary['outcomes_documented']} documented outcomes exercised") in text


def test_the_json_alone_prints_only_the_summary_line(pytester: pytest.Pytester) -> None:
    result, data = run_suite(pytester)
    check_known_calls(data)
    assert "fake VBS API coverage" not in result.stdout.str()
    result.stdout.fnmatch_lines(["vbs coverage: 3 of * documented operations used, 7 of *", "vbs coverage JSON *"])


def test_xdist_workers_counts_are_merged(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result, data = run_suite(pytester, "-n", "2", "--vbs-coverage", "--vbs-coverage-fail-under", "50",
                             subprocess=True)
    result.assert_outcomes(passed=4)
    check_known_calls(data)
    result.stdout.fnmatch_lines(["*fake VBS API coverage*", "vbs coverage: 3 of * 7 of *",
                                 "FAIL Required vbs coverage of 50 % not reached*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the controller applies the threshold to the merged counts


@pytest.mark.parametrize(("threshold", "status"), [("0.1", 0), ("99", 1)])
def test_fail_under(pytester: pytest.Pytester, threshold: str, status: int) -> None:
    result, _ = run_suite(pytester, "--vbs-coverage-fail-under", threshold)
    result.assert_outcomes(passed=4)
    assert result.ret == status
    failed = f"FAIL Required vbs coverage of {threshold} % not reached" in result.stdout.str()
    assert failed is bool(status)


def test_fail_under_keeps_a_failing_run_failing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_fails(vbs):\n    assert False\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--vbs-coverage-fail-under", "0")
    assert result.ret == 1


@pytest.mark.parametrize("value", ["abc", "101", "-1"])
def test_fail_under_rejects_what_is_not_a_percentage(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest_inprocess("--vbs-coverage-fail-under", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--vbs-coverage-fail-under*must be a percentage between 0 and 100, not '{value}'*"])


def test_without_the_options_nothing_is_recorded_or_imported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import sys
        import requests

        def test_off(vbs, pytestconfig):
            requests.get(vbs.endpoint + "/backups")
            assert pytestconfig.pluginmanager.get_plugin("vbs-coverage") is None
            assert requests.get(vbs.url + "/__vbs__/coverage").status_code == 404
            assert "pytest_vbs.coverage" not in sys.modules and "pytest_vbs.report" not in sys.modules
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "vbs coverage" not in result.stdout.str()


def test_the_fixture_fake_serves_the_session_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import requests

        def test_one(vbs):
            requests.get(vbs.endpoint + "/backups")

        def test_two(vbs):
            requests.get(vbs.endpoint + "/backups")
            report = requests.get(vbs.url + "/__vbs__/coverage").json()
            assert report["operations"]["list_backups"]["calls"] == 2
    """)
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "--vbs-coverage").assert_outcomes(passed=2)


def test_the_standalone_server_reports_coverage(http: requests.Session) -> None:
    with serve("--coverage") as server:
        http.post(f"{server.url}/__vbs__/reset")
        http.get(f"{server.url}/v3/p1/backups/missing")
        http.post(f"{server.url}/__vbs__/reset")  # counts are per server run, not per reset
        http.get(f"{server.url}/v3/p1/backups/missing")
        answer = http.get(f"{server.url}/__vbs__/coverage", timeout=10)
        status, _ = server.stop(signal.SIGINT)
    assert answer.status_code == 200
    assert answer.json()["operations"]["get_backup"]["statuses"] == {"404": 2}
    assert status == 0


def test_the_standalone_server_without_coverage_answers_404(http: requests.Session) -> None:
    with serve() as server:
        answer = http.get(f"{server.url}/__vbs__/coverage", timeout=10)
        server.stop(signal.SIGINT)
    assert answer.status_code == 404
    assert "--coverage" in answer.json()["itemNotFound"]["message"]


# -- what is documented, and what is seen --------------------------------------------------------------------------
def test_documented_outcomes_come_from_the_table_and_the_schemas() -> None:
    vbs_create = documented_outcomes("create_vbs_backup")
    assert vbs_create["status"] == ("200", *(str(status) for status in ERROR_STATUSES))
    assert vbs_create["fault"] == WIRE_FAULTS
    assert {"volume_not_found", "snapshot_status", "auto_prefix", "missing_field"} <= set(vbs_create["reason"])
    assert {"VolumeBackup.0021", "VolumeBackup.0005"} <= set(vbs_create["code"])  # the row's and the schema's
    assert vbs_create["state"] == ("backup error", "job FAIL")
    assert documented_outcomes("create_backup")["code"] == ()  # the native envelope carries no VBS code
    assert documented_outcomes("execute_backup_policy")["state"] == ("task EXECUTE_FAIL",)
    producers = {name for state in END_STATES for name in state.producers}
    assert producers <= {name for name, op in BY_NAME.items() if op.documented}


def test_end_states_and_vbs_codes_are_seen_in_the_answers(http: requests.Session) -> None:
    recorder = CoverageRecorder()
    with FakeVBS(transitions="manual") as fake:
        fake.plugin_manager.register(recorder)
        disk = fake.add_volume()
        cloud = f"{fake.endpoint_v2}/cloudbackups"
        job = http.post(cloud, json={"backup": {"volume_id": disk, "name": "nightly"}}).json()["job_id"]
        fake.advance(fail_reason="swift down")
        assert http.get(f"{fake.url}/v1/{fake.project_id}/jobs/{job}").json()["status"] == "FAIL"
        http.get(f"{fake.endpoint}/backups/detail")
        missing = "00000000-0000-4000-8000-000000000000"
        http.post(cloud, json={"backup": {"volume_id": missing, "name": "x"}})
    result = report(recorder.snapshot()).as_json()["operations"]
    create = result["create_vbs_backup"]
    assert create["codes"] == {"VolumeBackup.0021": 1}
    assert create["untested"]["state"] == []  # both the job FAIL and the backup error were seen
    assert "VolumeBackup.0021" not in create["untested"]["code"]
    assert result["restore_vbs_backup"]["untested"]["state"] == ["restore error_restoring", "job FAIL"]  # never called


def test_merge_adds_counts() -> None:
    one, two = CoverageRecorder(), CoverageRecorder()
    raw = {"operations": {"get_backup": {"calls": 2, "statuses": {"200": 1, "404": 1}, "faults": {},
                                         "reasons": {"backup_not_found": 1}, "codes": {}}}, "states": ["job FAIL"]}
    one.merge(raw)
    two.merge(raw)
    one.merge(two.snapshot())
    merged = one.snapshot()
    assert merged["operations"]["get_backup"] == {"calls": 4, "statuses": {"200": 2, "404": 2}, "faults": {},
                                                  "reasons": {"backup_not_found": 2}, "codes": {}}
    assert merged["states"] == ["job FAIL"]


def test_the_json_schema_of_the_report_holds(tmp_path: Path) -> None:
    from pytest_vbs.assertions import assert_valid_response

    recorder = CoverageRecorder()
    assert_valid_response("control_coverage", recorder.report().as_json())


def test_the_readme_shows_this_suites_table(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's sample table is the output of SUITE above at 100 columns (its "..." leaves rows out)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    sample = readme.split("```text\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("COLUMNS", "100")
    result, _ = run_suite(pytester, "--vbs-coverage")
    printed = result.stdout.lines
    for line in sample.splitlines():
        if line != "...":
            assert line in printed, line


def test_fault_kinds_are_counted_by_label(http: requests.Session) -> None:
    recorder = CoverageRecorder()
    with FakeVBS() as fake:
        fake.plugin_manager.register(recorder)
        fake.fail("list_backups", delay=(0.001, 0.002), times=2)
        fake.fail("create_volume", 500, after_commit=True)
        for _ in range(2):
            http.get(f"{fake.endpoint}/backups")
        http.post(f"{fake.endpoint}/volumes", json={"volume": {"size": 1}})  # a Cinder helper: not documented
        fake.fail("get_backup", 409, after_commit=True)
        http.get(f"{fake.endpoint}/backups/{fake.add_backup()}")
    operations = recorder.snapshot()["operations"]
    assert operations["list_backups"]["faults"] == {"delay": 2}
    assert operations["get_backup"]["faults"] == {"409 after_commit": 1}
    assert "create_volume" not in operations


def test_a_json_path_that_cannot_be_written_fails_the_run_with_a_message(pytester: pytest.Pytester) -> None:
    (pytester.path / "taken").write_text("a file, not a directory")
    pytester.makepyfile("def test_ok(vbs):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--vbs-coverage-json", "taken/coverage.json")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["vbs coverage: the JSON could not be written to taken/coverage.json: *"])
