"""Each schema violation names the field it is about (issue 16, item 1): every missing field (``required``,
``dependentRequired``) and every unknown field once, in the assertion helpers, ``assert_all_requests_valid``
and strict mode alike."""

from __future__ import annotations

import pytest
import requests

from pytest_vbs import FakeVBS, assert_valid_request, assert_valid_response, schemas


def failure_lines(helper: object, operation: str, body: object) -> list[str]:
    with pytest.raises(AssertionError) as info:
        helper(operation, body)  # type: ignore[operator]
    return str(info.value).splitlines()[1:]


def fields_of(lines: list[str]) -> list[str]:
    return [line.split(":", 1)[0].strip() for line in lines]


def test_each_missing_request_field_is_named_once() -> None:
    lines = failure_lines(assert_valid_request, "create_backup", {"backup": {"name": "auto1"}})

    assert fields_of(lines) == ["backup.volume_id", "backup.snapshot_id", "backup.name"]
    assert lines[0] == "  backup.volume_id: is mandatory [missing_field]"
    assert lines[1] == "  backup.snapshot_id: is mandatory [missing_field]"


def test_each_missing_response_field_is_named_once() -> None:
    lines = failure_lines(assert_valid_response, "get_backup", {"backup": {}})

    named = fields_of(lines)
    assert len(named) == len(set(named)) > 10
    assert {"backup.status", "backup.id", "backup.volume_id", "backup.links"} <= set(named)
    assert all(line.endswith("is mandatory [missing_field]") for line in lines)


def test_two_unknown_fields_are_both_reported() -> None:
    body = {"backup": {"volume_id": "v", "snapshot_id": "s", "size": 1, "colour": "red"}}

    lines = failure_lines(assert_valid_request, "create_backup", body)

    assert fields_of(lines) == ["backup.colour", "backup.size"]
    assert all("[unknown_field]" in line for line in lines)
    assert "got 'red'" in lines[0]


def test_dependent_required_names_the_missing_field() -> None:
    [violation] = schemas.violations("requests", "control_advance", {"backup_id": "b"})

    assert (violation.path, violation.rule, violation.reason) == (
        "project_id", "is mandatory when 'backup_id' is given", "missing_field")


def test_each_missing_field_keeps_its_own_vbs_code() -> None:
    found = schemas.violations("requests", "create_vbs_backup", {"backup": {}})

    assert [(v.path, v.code) for v in found] == [
        ("backup.volume_id", "VolumeBackup.0010"), ("backup.name", "VolumeBackup.0007")]


def test_all_requests_valid_names_each_field(vbs: FakeVBS) -> None:
    body = {"backup": {"name": "nightly", "colour": "red", "size": 1}}
    requests.post(f"{vbs.endpoint}/backups", json=body, timeout=5)

    with pytest.raises(AssertionError) as info:
        vbs.assert_all_requests_valid()

    problems = [line.strip() for line in str(info.value).splitlines()[2:]]
    assert problems == [
        "Invalid input for field 'backup.volume_id': is mandatory. [missing_field]",
        "Invalid input for field 'backup.snapshot_id': is mandatory. [missing_field]",
        *[line for line in problems if "colour" in line],
        *[line for line in problems if "size" in line],
    ]
    assert len(problems) == 4


def test_strict_mode_names_each_field(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        import requests

        @pytest.mark.vbs_strict
        def test_sends_an_incomplete_body(vbs):
            requests.post(f"{vbs.endpoint}/backups", json={"backup": {"name": "auto1"}}, timeout=5)
        """
    )
    # Without the section "fake VBS requests", which repeats the answer's message on the request's line, and
    # without the short summary, which repeats the whole message when CI is set (pytest does not shorten it there).
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--vbs-report-requests=never", "-rN")

    result.assert_outcomes(passed=1, errors=1)
    output = result.stdout.str()
    assert output.count("'backup.volume_id': is mandatory") == 1
    assert output.count("'backup.snapshot_id': is mandatory") == 1


def test_an_unknown_field_among_many_names_the_nearest_only() -> None:
    [misspelt, far] = schemas.violations("requests", "control_add_fault", {"stauts": 503, "zzz": 1})

    assert misspelt.rule == "is not a documented field (did you mean 'status'?)"
    assert far.rule == "is not a documented field"


def test_an_unknown_field_among_a_handful_lists_them() -> None:
    [violation] = schemas.violations("requests", "restore_backup", {"restore": {"volume_id": "v", "nmae": "x"}})

    assert violation.rule.startswith("is not a documented field (allowed: ")
    assert "name" in violation.rule
