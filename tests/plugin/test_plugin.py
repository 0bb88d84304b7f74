"""The pytest plugin as its users see it, in fresh pytest projects (``pytester``)."""

from __future__ import annotations

import pytest

TEST_STATUS_AFTER_CREATE = """
import requests

def test_status(vbs):
    volume = vbs.add_volume()
    body = {"backup": {"volume_id": volume, "snapshot_id": vbs.add_snapshot(volume)}}
    with requests.Session() as http:
        backup_id = http.post(f"{vbs.endpoint}/backups", json=body).json()["backup"]["id"]
        seen = [http.get(f"{vbs.endpoint}/backups/{backup_id}").json()["backup"]["status"] for _ in range(3)]
    assert seen == EXPECTED, seen
"""


def status_test(expected: list[str]) -> str:
    return TEST_STATUS_AFTER_CREATE.replace("EXPECTED", repr(expected))


def test_the_vbs_fixture_works_in_a_fresh_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests
        from pytest_vbs import DEFAULT_PROJECT_ID, FakeVBS

        def test_create_and_get(vbs):
            assert isinstance(vbs, FakeVBS)
            assert vbs.project_id == DEFAULT_PROJECT_ID
            volume = vbs.add_volume(size=10)
            body = {"backup": {"volume_id": volume, "snapshot_id": vbs.add_snapshot(volume), "name": "b1"}}
            created = requests.post(f"{vbs.endpoint}/backups", json=body)
            assert created.status_code == 202
            backup_id = created.json()["backup"]["id"]
            assert requests.get(f"{vbs.endpoint}/backups/{backup_id}").json()["backup"]["status"] == "available"
            assert [r.operation for r in vbs.requests] == ["create_backup", "get_backup"]

        def test_clean_again(vbs):
            assert vbs.backups == {} and vbs.requests == []

        def test_same_server_for_the_session(vbs, vbs_server):
            assert vbs.url == vbs_server.url
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=3)


def test_option_transitions_manual(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(status_test(["creating", "creating", "creating"]))

    result = pytester.runpytest("--vbs-transitions", "manual")

    result.assert_outcomes(passed=1)


def test_option_transitions_reads_and_reads(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(status_test(["creating", "available", "available"]))

    result = pytester.runpytest("--vbs-transitions=reads", "--vbs-reads=1")

    result.assert_outcomes(passed=1)


def test_ini_transitions_reads(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nvbs_transitions = reads\nvbs_reads = 2\n")
    pytester.makepyfile(status_test(["creating", "creating", "available"]))

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)


TEST_TIMED = """
import time

def test_timed(vbs):
    assert (vbs.state.transitions.value, vbs.state.seconds) == ("timed", SECONDS)
"""


@pytest.mark.parametrize(("args", "ini", "seconds"), [
    (["--vbs-transitions", "timed", "--vbs-seconds", "0.2"], "", 0.2),
    ([], "vbs_transitions = timed\nvbs_seconds = 0.3\n", 0.3),
    (["--vbs-transitions=timed"], "", 1.0),
])
def test_option_and_ini_timed_transitions(pytester: pytest.Pytester, args: list[str], ini: str, seconds: float) -> None:
    pytester.makeini("[pytest]\n" + ini)
    pytester.makepyfile(TEST_TIMED.replace("SECONDS", repr(seconds)))

    result = pytester.runpytest(*args)

    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(("args", "ini", "expected"), [
    (["--vbs-seconds", "-1"], "", "*argument --vbs-seconds: '-1' is not a number of seconds >= 0*"),
    (["--vbs-seconds=soon"], "", "*argument --vbs-seconds: 'soon' is not a number of seconds >= 0*"),
    ([], "vbs_seconds = nan\n", "*ini vbs_seconds: 'nan' is not a number of seconds >= 0*"),
])
def test_bad_seconds_are_a_usage_error(pytester: pytest.Pytester, args: list[str], ini: str, expected: str) -> None:
    pytester.makeini("[pytest]\n" + ini)
    pytester.makepyfile("def test_nothing(vbs):\n    pass\n")

    result = pytester.runpytest(*args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


def test_marker_timed_seconds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.vbs(transitions="timed", seconds=0.25)
        def test_timed(vbs):
            assert (vbs.state.transitions.value, vbs.state.seconds) == ("timed", 0.25)

        @pytest.mark.vbs(transitions="manual", seconds=0.25)
        def test_seconds_without_timed(vbs):
            pass
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*seconds is the delay of timed transitions*"])


def test_the_command_line_wins_over_the_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nvbs_transitions = reads\n")
    pytester.makepyfile(status_test(["available", "available", "available"]))

    result = pytester.runpytest("--vbs-transitions", "immediate")

    result.assert_outcomes(passed=1)


def test_option_project_id(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_project(vbs):
            assert vbs.project_id == "from-cli"
            assert vbs.endpoint.endswith("/v3/from-cli")
        """
    )

    result = pytester.runpytest("--vbs-project-id", "from-cli")

    result.assert_outcomes(passed=1)


def test_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        import requests

        @pytest.mark.vbs(transitions="reads", reads=2, project_id="marked")
        def test_marked(vbs):
            assert vbs.project_id == "marked"
            assert vbs.state.transitions.value == "reads"
            assert vbs.state.reads == 2

        @pytest.mark.vbs(transitions="manual")
        def test_manual(vbs):
            assert vbs.state.transitions.value == "manual"

        def test_unmarked_is_back_to_the_defaults(vbs):
            assert vbs.state.transitions.value == "immediate"
            assert vbs.state.reads == 1
        """
    )

    result = pytester.runpytest("--strict-markers")
    markers = pytester.runpytest("--markers")

    result.assert_outcomes(passed=3)
    markers.stdout.fnmatch_lines(["@pytest.mark.vbs(*transitions*reads*project_id*"])


def test_configure_hook_seeds_every_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_vbs_configure(fake):
            volume = fake.add_volume(size=30, name="seeded")
            fake.add_snapshot(volume)
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("run", range(3))
        def test_seeded(vbs, run):
            assert [(v.name, v.size) for v in vbs.volumes.values()] == [("seeded", 30)]
            assert len(vbs.snapshots) == 1
            vbs.add_volume(name=f"extra-{run}")  # must not leak into the next test
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=3)


def test_answer_hook_overrides_a_route(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest_vbs

        def pytest_vbs_answer(request, operation, committed):
            if not committed and operation is not None and operation.name == "list_backups":
                return pytest_vbs.Answer(status=418, json={"x": 1})
            return None
        """
    )
    pytester.makepyfile(
        """
        import requests

        def test_overridden(vbs):
            response = requests.get(f"{vbs.endpoint}/backups")
            assert response.status_code == 418
            assert response.json() == {"x": 1}
            assert requests.get(f"{vbs.endpoint}/backups/detail").status_code == 200
            assert [(r.operation, r.status) for r in vbs.requests] == [
                ("list_backups", 418), ("list_backups_detail", 200),
            ]
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)


def test_an_answer_before_commit_leaves_the_state_alone(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest_vbs

        def pytest_vbs_answer(request, operation, committed):
            if operation is not None and operation.name == "create_backup":
                return pytest_vbs.Answer(status=503) if committed == (request.headers.get("X-When") == "after") \\
                    else None
            return None
        """
    )
    pytester.makepyfile(
        """
        import requests

        def test_before_and_after(vbs):
            volume = vbs.add_volume()
            body = {"backup": {"volume_id": volume, "snapshot_id": vbs.add_snapshot(volume)}}
            before = requests.post(f"{vbs.endpoint}/backups", json=body, headers={"X-When": "before"})
            assert before.status_code == 503
            assert list(before.json()) == ["serviceUnavailable"]
            assert before.json()["serviceUnavailable"]["code"] == 503
            assert vbs.backups == {}
            after = requests.post(f"{vbs.endpoint}/backups", json=body, headers={"X-When": "after"})
            assert after.status_code == 503
            assert len(vbs.backups) == 1
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)


#: A hook with a bug: the fake's own crash (a computeFault 500) on any path ending in /explode.
EXPLODING_HOOK = """
def pytest_vbs_answer(request, operation, committed):
    if request.path.endswith("/explode"):
        raise RuntimeError("{message}")
    return None
"""


def test_an_exception_inside_the_fake_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(EXPLODING_HOOK.format(message="kaboom in a hook"))
    pytester.makepyfile(
        """
        import requests

        def test_explodes(vbs):
            response = requests.get(f"{vbs.endpoint}/explode")
            assert response.status_code == 500
            assert list(response.json()) == ["computeFault"]

        def test_next_one_is_fine(vbs):
            assert vbs.requests == []
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*raised unexpectedly*", "*kaboom in a hook*"])


@pytest.mark.parametrize("how", ["vbs.reset()", "requests.post(f'{vbs.url}/__vbs__/reset').raise_for_status()"],
                         ids=["verb", "control-api"])
def test_a_reset_inside_the_test_does_not_swallow_an_internal_error(pytester: pytest.Pytester, how: str) -> None:
    """Issue 15 item 8: only the fixture's teardown takes the fake's recorded crashes."""
    pytester.makeconftest(EXPLODING_HOOK.format(message="kaboom before a reset"))
    pytester.makepyfile(
        f"""
        import requests

        def test_explodes_then_resets(vbs):
            assert requests.get(f"{{vbs.endpoint}}/explode").status_code == 500
            {how}

        def test_next_one_is_fine(vbs):
            assert vbs.requests == []
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_explodes_then_resets*", "*kaboom before a reset*"])


@pytest.mark.parametrize(("args", "expected"), [([], 8), (["--vbs-journal-bytes", "16m"], 16)],
                         ids=["ini", "command-line-wins"])
def test_journal_budget_from_the_ini_and_the_command_line(
    pytester: pytest.Pytester, args: list[str], expected: int
) -> None:
    pytester.makeini("[pytest]\nvbs_journal_bytes = 8MiB\n")
    pytester.makepyfile(f"def test_budget(vbs):\n    assert vbs.journal.max_bytes == {expected} * 1024 * 1024\n")

    result = pytester.runpytest(*args)

    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("setting", [["--vbs-journal-bytes=lots"], ["--vbs-journal-bytes", "1k"]])
def test_a_bad_journal_budget_is_a_usage_error(pytester: pytest.Pytester, setting: list[str]) -> None:
    pytester.makepyfile("def test_nothing(): pass")

    result = pytester.runpytest(*setting)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--vbs-journal-bytes (ini: vbs_journal_bytes)*"])


def test_a_request_left_running_fails_its_test_and_stays_out_of_the_next_journal(pytester: pytest.Pytester) -> None:
    """Issue 15 item 7: a request delayed across the reset between two tests."""
    pytester.makepyfile(
        """
        import threading
        import time
        import requests

        leaked = []

        def test_leaves_a_request_running(vbs):
            rule = vbs.fail("list_backups", delay=2.5)
            thread = threading.Thread(target=requests.get, args=(f"{vbs.endpoint}/backups",), kwargs={"timeout": 30})
            thread.start()
            leaked.append(thread)
            deadline = time.monotonic() + 30
            while not rule.matched and time.monotonic() < deadline:  # the request is in the fake, delayed
                time.sleep(0.005)

        def test_next_one_does_not_see_it(vbs):
            leaked[0].join(30)
            assert not leaked[0].is_alive()
            assert vbs.requests == []
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaves_a_request_running*",
                                 "*1 request(s) this test sent to the fake VBS were still being served 1 s after it "
                                 "ended: GET /v3/*/backups*"])
