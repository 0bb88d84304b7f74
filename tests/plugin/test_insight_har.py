"""``vbs.har()`` and ``--vbs-har DIR``: the journal as a HAR 1.2 document that validates against the spec's
required structure, with timings, headers, bodies and injected faults as comments."""

from __future__ import annotations

import json

import pytest
import requests
from har_support import har_problems

from pytest_vbs import FakeVBS
from pytest_vbs.har import MAX_NAME, file_name


def test_vbs_har_is_a_valid_har_of_the_journal(vbs: FakeVBS, http: requests.Session) -> None:
    volume = vbs.add_volume()
    body = {"backup": {"volume_id": volume, "snapshot_id": vbs.add_snapshot(volume), "name": "b1"}}
    assert http.post(f"{vbs.endpoint}/backups", json=body).status_code == 202
    assert http.get(f"{vbs.endpoint}/backups", params={"limit": "1"}).status_code == 200
    vbs.fail("get_backup", 503, times=1)
    assert http.get(f"{vbs.endpoint}/backups/x").status_code == 503
    vbs.fail("get_backup", fault="connection_reset", times=1)
    with pytest.raises(requests.ConnectionError):
        http.get(f"{vbs.endpoint}/backups/x")
    document = vbs.har()
    assert har_problems(document) == []
    json.dumps(document)  # plain JSON
    created, listed, injected, reset = document["log"]["entries"]
    assert created["request"]["method"] == "POST"
    assert created["response"]["status"] == 202
    assert json.loads(created["request"]["postData"]["text"]) == body
    assert json.loads(created["response"]["content"]["text"])["backup"]["name"] == "b1"
    assert "X-OpenStack-Request-Id" in {header["name"] for header in created["response"]["headers"]}
    assert {"name": "Content-Type", "value": "application/json"} in created["request"]["headers"]
    assert listed["request"]["queryString"] == [{"name": "limit", "value": "1"}]
    assert listed["request"]["url"].endswith("/backups?limit=1")
    assert "injected fault: 503" in injected["comment"]
    assert reset["response"]["status"] == 0
    assert "injected fault: connection_reset" in reset["comment"]
    assert all(entry["time"] >= 0 for entry in document["log"]["entries"])


def test_an_empty_journal_is_an_empty_har(vbs: FakeVBS) -> None:
    document = vbs.har()
    assert document["log"]["entries"] == []
    assert har_problems(document) == []


def test_the_validator_catches_a_broken_har() -> None:
    assert har_problems({"log": {"version": "1.1", "creator": {}, "entries": [{}]}})


@pytest.mark.parametrize(("test_id", "expected"), [
    ("tests/test_a.py::test_b[x/y-1]", "tests_test_a.py_test_b_x_y-1.har"),
    ("::", "test.har"),
])
def test_file_names_are_safe(test_id: str, expected: str) -> None:
    assert file_name(test_id) == expected


def test_long_test_ids_are_cut_and_stay_apart() -> None:
    one, two = file_name("t" * 1000 + "[1]"), file_name("t" * 1000 + "[2]")
    assert len(one) == len(two) == MAX_NAME + len(".har")
    assert one != two


def test_vbs_har_writes_one_file_per_failed_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_har="""
        import pytest
        import requests

        def test_passes(vbs):
            requests.get(vbs.endpoint + "/backups")

        @pytest.mark.parametrize("n", [1])
        def test_fails(vbs, n):
            vbs.fail("list_backups", 500, message="boom")
            requests.get(vbs.endpoint + "/backups")
            assert False

        def test_fails_without_vbs():
            assert False
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--vbs-har", "hars")
    result.assert_outcomes(passed=1, failed=2)
    written = sorted(path.name for path in (pytester.path / "hars").iterdir())
    assert written == ["test_har.py_test_fails_1.har"]
    document = json.loads((pytester.path / "hars" / written[0]).read_text())
    assert har_problems(document) == []
    (entry,) = document["log"]["entries"]
    assert entry["response"]["status"] == 500
    assert "injected fault: 500" in entry["comment"]
    assert document["log"]["comment"] == "requests of test_har.py::test_fails[1]"


def test_a_har_directory_that_cannot_be_written_is_reported(pytester: pytest.Pytester) -> None:
    (pytester.path / "taken").write_text("a file, not a directory")
    pytester.makepyfile("def test_fails(vbs):\n    assert False\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--vbs-har", "taken")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- fake VBS HAR -*", "--vbs-har: the HAR could not be written to taken: *"])


def test_tokens_and_passwords_are_redacted(vbs: FakeVBS, http: requests.Session) -> None:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "vbs-user", "domain": {"name": "Default"}, "password": "vbs-password"}}}}}
    issued = http.post(f"{vbs.auth_url}/auth/tokens", json=body)
    assert issued.status_code == 201
    token = issued.headers["X-Subject-Token"]
    http.get(f"{vbs.endpoint}/backups", headers={"X-Auth-Token": token})
    text = json.dumps(vbs.har())
    assert token not in text
    assert "vbs-password" not in text
    assert har_problems(vbs.har()) == []


def test_a_body_the_journal_cut_says_so(vbs: FakeVBS, http: requests.Session) -> None:
    from pytest_vbs.journal import BODY_KEPT

    sent = b'{"backup": {"name": "' + b"x" * (BODY_KEPT + 10) + b'"}}'
    http.post(f"{vbs.endpoint}/backups", data=sent, headers={"Content-Type": "application/json"})
    (entry,) = vbs.har()["log"]["entries"]
    assert entry["request"]["bodySize"] == len(sent)
    assert len(entry["request"]["postData"]["text"]) == BODY_KEPT
    assert f"cut by the journal: body (request body: {len(sent)} bytes)" in entry["comment"]
    assert har_problems(vbs.har()) == []
