"""Record the cloud's answer shapes in live mode, compare the fake's with them: the same suite gives an empty parity
report, an altered recorded shape a non-empty one (and a failed session with ``--vbs-compare-strict``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from live_support import CLOUD

from pytest_vbs.live.shapes import Shapes, compare, fields, mask

SUITE = '''
import requests
from conftest import TIMEOUT

def test_backups(vbs, backup):
    assert requests.get(f"{vbs.endpoint}/backups/{backup}", timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{vbs.endpoint}/backups/detail", timeout=TIMEOUT).status_code == 200
    missing = "6f1e2b3c-1111-2222-3333-444455556666"
    assert requests.get(f"{vbs.endpoint}/backups/{missing}", timeout=TIMEOUT).status_code == 404
'''


@pytest.fixture
def suite(suite: pytest.Pytester) -> pytest.Pytester:
    """The live suite's pytester with the inner test module of this file."""
    suite.makepyfile(test_suite=SUITE)
    return suite


def report(pytester: pytest.Pytester) -> dict[str, object]:
    data = json.loads((pytester.path / "vbs-parity-report.json").read_text())
    assert isinstance(data, dict)
    return data


def test_record_then_compare_is_empty_and_an_altered_shape_is_reported(suite: pytest.Pytester) -> None:
    shapes = suite.path / "shapes"
    recorded = suite.runpytest("--vbs-live", CLOUD, "--vbs-record", str(shapes), "-p", "no:cacheprovider")
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines(["*vbs record: * answer shapes in*"])
    assert (shapes / "get_backup.200.json").exists()
    assert (shapes / "get_backup.404.json").exists()
    example = json.loads((shapes / "get_backup.200.json").read_text())["example"]
    assert example["backup"]["id"] == "<id>"
    assert example["backup"]["created_at"] == "<time>"

    result = suite.runpytest("--vbs-compare", str(shapes), "--vbs-compare-strict", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*vbs parity*", "*operations compared, 0 differences*"])
    assert report(suite)["differences"] == []

    path = shapes / "get_backup.200.json"
    shape = json.loads(path.read_text())
    shape["fields"]["backup.encryption_key_id"] = ["null", "string"]
    shape["fields"]["backup.size"] = ["string"]
    shape["headers"].append("retry-after")
    path.write_text(json.dumps(shape))
    result = suite.runpytest("--vbs-compare", str(shapes), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK  # reported, not failed, without --vbs-compare-strict
    result.stdout.fnmatch_lines_random([
        "*get_backup 200: field backup.encryption_key_id sent by the real service, never by the fake*",
        "*get_backup 200: field backup.size is string on the real service, integer on the fake*",
        "*get_backup 200: header retry-after sent by the real service, never by the fake*",
    ])
    kinds = {(d.get("field") or d["header"], d["kind"]) for d in report(suite)["differences"]}  # type: ignore[attr-defined]
    assert kinds == {("backup.encryption_key_id", "only_real"), ("backup.size", "type"),
                     ("retry-after", "header_only_real")}
    strict = suite.runpytest("--vbs-compare", str(shapes), "--vbs-compare-strict", "-p", "no:cacheprovider")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED


def test_record_and_compare_gather_the_results_of_xdist_workers(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_more=SUITE.replace("def test_backups", "def test_more_backups"))
    shapes = suite.path / "shapes"
    recorded = suite.runpytest("--vbs-live", CLOUD, "--vbs-record", str(shapes), "-n", "2", "-p", "no:cacheprovider")
    recorded.assert_outcomes(passed=2)
    recorded.stdout.fnmatch_lines(["*vbs live: where the cloud disagrees*", "*answers checked, 0 disagreements*"])
    assert json.loads((shapes / "get_backup.200.json").read_text())["count"] == 2
    result = suite.runpytest("--vbs-compare", str(shapes), "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert report(suite)["compared"] == ["create_backup", "get_backup", "list_backups_detail"]
    assert report(suite)["differences"] == []


def test_recordings_merge_across_runs(suite: pytest.Pytester) -> None:
    shapes = suite.path / "shapes"
    for _ in range(2):
        suite.runpytest("--vbs-live", CLOUD, "--vbs-record", str(shapes), "-p", "no:cacheprovider")
    assert json.loads((shapes / "get_backup.200.json").read_text())["count"] == 2


def test_the_documentation_baseline_is_shipped_and_used_by_default(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--vbs-compare", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*vbs parity*", "*baseline *baseline*operations compared*"])
    assert "get_backup" in report(suite)["compared"]  # type: ignore[operator]


@pytest.mark.parametrize(("args", "message"), [
    (["--vbs-record", "x"], "*--vbs-record DIR records the real cloud's answers: it needs --vbs-live CLOUD*"),
    (["--vbs-compare-strict"], "*--vbs-compare-strict needs --vbs-compare*"),
    (["--vbs-compare", "x", "--vbs-live", CLOUD], "*cannot run with --vbs-live*"),
])
def test_options_that_need_another_are_refused(suite: pytest.Pytester, args: list[str], message: str) -> None:
    result = suite.runpytest(*args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_shapes_mask_values_and_compare_by_types() -> None:
    body = {"backup": {"id": "58af8d1e-1cd8-4483-802b-b4748b788c41", "name": "mine", "size": 1, "fail_reason": None,
                       "created_at": "2026-12-03T13:52:09", "metadata": {"anything": "x"},
                       "links": [{"href": "http://host/x", "rel": "self"}]}}
    assert mask(body)["backup"] == {"id": "<id>", "name": "<name>", "size": 1, "fail_reason": None,
                                    "created_at": "<time>", "metadata": {"anything": "x"},
                                    "links": [{"href": "<url>", "rel": "self"}]}
    assert fields(body)["backup.fail_reason"] == {"null"}
    assert "backup.metadata.*" in fields(body)  # free-form keys are not fields
    real, fake = Shapes(), Shapes()
    real.add("get_backup", 200, body)
    fake.add("get_backup", 200, {"backup": {**body["backup"], "fail_reason": "broken"}})
    assert compare(real, fake)["differences"] == []  # null or a string: not a type difference


def test_the_baseline_files_load(tmp_path: Path) -> None:
    from pytest_vbs.live_session import baseline_directory

    shapes = Shapes.load(baseline_directory())
    assert ("get_backup", 200) in shapes.shapes
    assert ("create_backup_policy", 200) in shapes.shapes
