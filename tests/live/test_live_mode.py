"""Live mode end to end: a pytester suite run with ``--vbs-live`` against an independent fake with token checks on
and no control API (the "cloud"), through the recording proxy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from live_support import CLOUD, Cloud, write_clouds_yaml

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")



def live(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--vbs-live", CLOUD, "-p", "no:cacheprovider", "-rs", *args)


def test_live_mode_refuses_to_start_without_an_explicit_known_cloud(suite: pytest.Pytester) -> None:
    suite.makepyfile("def test_a(vbs):\n    pass\n")
    result = suite.runpytest("--vbs-live", "", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--vbs-live needs an explicit cloud name*"])
    result = suite.runpytest("--vbs-live", "no-such-cloud", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*no-such-cloud*"])
    assert result.ret != pytest.ExitCode.OK
    result = suite.runpytest("--vbs-live", CLOUD, "--vbs-transitions", "manual", "--vbs-auth", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--vbs-transitions, --vbs-auth: the fake's settings have no effect in live mode*"])


@pytest.mark.parametrize("auth", ["project_name", "token"])
def test_token_auth_and_project_scope_by_name(suite: pytest.Pytester, cloud: Cloud, auth: str) -> None:
    if auth == "token":
        settings = {"auth_type": "token", "token": cloud.token(), "username": "", "password": "",
                    "user_domain_name": ""}
    else:
        settings = {"project_id": "", "project_name": "vbs-project", "project_domain_name": "Default"}
    write_clouds_yaml(cloud.config_file, cloud.url, **settings)
    suite.makepyfile('''
        import requests
        from conftest import TIMEOUT

        def test_a(vbs):
            assert vbs.project_id == "0d5b1e9a6c7f4b2e8a1d3c5e7f9b0a24"
            assert requests.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT).status_code == 200
    ''')
    live(suite).assert_outcomes(passed=1)


def test_the_proxy_forwards_byte_for_byte_apart_from_endpoint_urls(suite: pytest.Pytester) -> None:
    suite.makepyfile('''
        import requests
        from conftest import CLOUD_URL, TIMEOUT, cloud_token

        def test_same_bytes(vbs, backup):
            token = cloud_token()
            for path in (f"/backups/{backup}", "/backups/detail", "/backups/unknown-id", "/backups/a%2Fb%20c?x=%41"):
                direct = requests.get(vbs.endpoint.replace(vbs.url, CLOUD_URL) + path,
                                      headers={"X-Auth-Token": token}, timeout=TIMEOUT)
                proxied = requests.get(vbs.endpoint + path, headers={"X-Auth-Token": token}, timeout=TIMEOUT)
                assert proxied.status_code == direct.status_code
                assert proxied.content == direct.content.replace(CLOUD_URL.encode(), vbs.url.encode())
                assert proxied.headers["Content-Type"] == direct.headers["Content-Type"]
                assert proxied.headers["X-OpenStack-Request-Id"].startswith("req-")  # the cloud's own
                assert CLOUD_URL not in proxied.text
            assert vbs.url in requests.get(f"{vbs.endpoint}/backups/{backup}", timeout=TIMEOUT).text  # links

        def test_a_token_is_added_only_when_missing(vbs):
            assert requests.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT).status_code == 200
            bad = requests.get(f"{vbs.endpoint}/backups", headers={"X-Auth-Token": "not-a-token"}, timeout=TIMEOUT)
            assert bad.status_code == 401  # forwarded as it is: the cloud refused it
            assert vbs.last_request("list_backups").headers["X-Auth-Token"] == "not-a-token"

        def test_identity_goes_through_the_proxy(vbs, backup):
            assert vbs.auth_url == f"{vbs.url}/identity/v3"
            connection = vbs.openstack_connection()
            assert [b.id for b in connection.block_storage.backups()] == [backup]
            vbs.assert_called("identity_create_token")
            token_body = vbs.last_request("identity_create_token").response_json
            urls = [e["url"] for s in token_body["token"]["catalog"] for e in s["endpoints"]]
            assert urls and all(url.startswith(vbs.url) for url in urls)

        def test_the_control_api_is_never_sent(vbs):
            assert requests.post(f"{vbs.url}/__vbs__/reset", timeout=TIMEOUT).status_code == 404
            assert vbs.app.control_calls() == ["POST /__vbs__/reset"]

        def test_a_test_that_needs_the_control_api_skips(vbs):
            answer = requests.post(f"{vbs.url}/__vbs__/volumes", json={"size": 1}, timeout=TIMEOUT)
            assert answer.status_code == 201
    ''')
    result = live(suite)
    result.assert_outcomes(passed=4, skipped=1)
    result.stdout.fnmatch_lines(["*the control API is fake-only: live mode did not send POST /__vbs__/volumes*"])


def test_hop_by_hop_headers_stay_behind_and_urls_in_headers_are_rewritten(suite: pytest.Pytester,
                                                                          cloud: Cloud) -> None:
    cloud.fake.fail("list_backups", 401, times=1)  # the cloud's WWW-Authenticate names its identity URL
    cloud.fake.fail("list_backups_detail", 408, times=1)  # the cloud closes its connection: Connection: close
    suite.makepyfile('''
        import requests
        from conftest import CLOUD_URL, TIMEOUT

        def test_headers(vbs):
            with requests.Session() as session:
                refused = session.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT)
                assert refused.status_code == 401
                assert refused.headers["WWW-Authenticate"] == f'Keystone uri="{vbs.url}/identity/v3"'
                timeout = session.get(f"{vbs.endpoint}/backups/detail", timeout=TIMEOUT)
                assert timeout.status_code == 408
                assert "close" not in timeout.headers.get("Connection", "")  # the cloud's connection, not ours
                assert session.get(f"{vbs.endpoint}/backups/detail", timeout=TIMEOUT).status_code == 200
                headers = {"Connection": "keep-alive, X-Hop", "X-Hop": "1", "X-Kept": "1"}
                assert session.get(f"{vbs.endpoint}/backups", headers=headers, timeout=TIMEOUT).status_code == 200
    ''')
    live(suite).assert_outcomes(passed=1)
    sent = [entry.headers for entry in cloud.fake.requests if entry.operation == "list_backups"][-1]
    assert sent["X-Kept"] == "1"
    assert "X-Hop" not in sent  # named by Connection: this connection's, not the message's


def test_journal_strict_mode_and_faults_work_in_live_mode(suite: pytest.Pytester, cloud: Cloud) -> None:
    suite.makepyfile('''
        import pytest, requests
        from conftest import TIMEOUT

        def test_journal(vbs, backup):
            requests.get(f"{vbs.endpoint}/backups/{backup}", timeout=TIMEOUT)
            vbs.assert_called("create_backup", times=1, json={"backup": {"name": "b"}})
            vbs.assert_not_called("delete_backup")
            assert vbs.last_request("get_backup").response_json["backup"]["id"] == backup
            vbs.assert_all_requests_valid()

        def test_status_fault_answers_without_forwarding(vbs, backup):
            rule = vbs.fail("delete_backup", 503, times=1)
            assert requests.delete(f"{vbs.endpoint}/backups/{backup}", timeout=TIMEOUT).status_code == 503
            assert requests.get(f"{vbs.endpoint}/backups/{backup}", timeout=TIMEOUT).status_code == 200
            assert rule.served == 1 and vbs.last_request("delete_backup").fault == "503"

        def test_after_commit_forwards_then_fails(vbs, backup):
            vbs.fail("delete_backup", 500, after_commit=True)
            assert requests.delete(f"{vbs.endpoint}/backups/{backup}", timeout=TIMEOUT).status_code == 500
            assert requests.get(f"{vbs.endpoint}/backups/{backup}", timeout=TIMEOUT).status_code == 404

        def test_sequence(vbs):
            vbs.fail_sequence("list_backups", [503, None])
            codes = [requests.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT).status_code for _ in range(2)]
            assert codes == [503, 200]

        def test_delay(vbs):
            vbs.fail("list_backups", delay=0.2)
            assert requests.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT).status_code == 200
            assert vbs.last_request("list_backups").fault.startswith("delay 0.2")

        def test_wire_fault_and_sequence(vbs):
            vbs.fail("list_backups", fault="connection_reset", nth=2)
            assert requests.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT).status_code == 200
            with pytest.raises(requests.ConnectionError):
                requests.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT)

        @pytest.mark.vbs_fault("list_backups", status=429, retry_after=3)
        def test_fault_marker(vbs):
            answer = requests.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT)
            assert answer.status_code == 429 and answer.headers["Retry-After"] == "3"

        @pytest.mark.vbs_strict
        def test_strict_mode_fails_an_undocumented_request(vbs):
            requests.post(f"{vbs.endpoint}/backups", json={"backup": {"volume_id": 42}}, timeout=TIMEOUT)
    ''')
    result = live(suite)
    result.assert_outcomes(passed=8, errors=1)
    result.stdout.fnmatch_lines(["*vbs strict mode*", "*backup.volume_id*must be a string*"])
    assert cloud.list("/v3/{project_id}/backups") == {"backups": []}


def test_fake_only_calls_and_markers_skip_with_a_reason(suite: pytest.Pytester) -> None:
    suite.makepyfile('''
        import pytest

        def test_manual(vbs):
            vbs.set_transitions("manual")

        def test_clock(vbs):
            vbs.advance_clock(days=1)

        def test_seeded_status(vbs):
            vbs.add_volume(status="in-use")

        def test_seeded_backup_time(vbs):
            vbs.add_backup(created_at=None, fail_reason="broken")

        @pytest.mark.vbs(transitions="manual")
        def test_vbs_marker(vbs):
            pass

        @pytest.mark.vbs_fake_only
        def test_fake_only():
            pass

        @pytest.mark.vbs_live_only
        def test_live_only(vbs):
            assert vbs.live
    ''')
    result = live(suite)
    result.assert_outcomes(passed=1, skipped=6)
    result.stdout.fnmatch_lines_random([
        "*vbs.add_backup(fail_reason=...) is fake-only*",
        "*vbs.set_transitions is fake-only*", "*vbs.advance_clock is fake-only*",
        "*vbs.add_volume(status='in-use') is fake-only*", "*vbs.@pytest.mark.vbs(transitions=...)*",
        "*marked vbs_fake_only*",
    ])
    module = "test_fake_only_calls_and_markers_skip_with_a_reason.py"
    result = suite.runpytest("-p", "no:cacheprovider", "-rs", f"{module}::test_live_only", f"{module}::test_fake_only")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*marked vbs_live_only*"])


def test_cleanup_deletes_everything_created_through_the_proxy(suite: pytest.Pytester, cloud: Cloud) -> None:
    suite.makepyfile('''
        import requests
        from conftest import TIMEOUT

        OTHER = "1" * 32
        POLICY = {"backup_policy_name": "daily",
                  "scheduled_policy": {"start_time": "12:00", "frequency": 1, "rentention_num": 3, "status": "ON"}}

        def test_creates_everything(vbs, backup):
            v2 = vbs.endpoint_v2
            seeded = vbs.add_backup(name="seeded")
            answer = requests.get(f"{vbs.endpoint}/backups/{seeded}", timeout=TIMEOUT).json()
            assert (answer["backup"]["status"], answer["backup"]["name"]) == ("available", "seeded")
            volume = requests.post(f"{vbs.endpoint}/volumes", json={"volume": {"size": 1}}, timeout=TIMEOUT)
            assert volume.status_code == 202
            shared = requests.post(f"{v2}/os-vendor-backup-sharing",
                                   json={"shared": {"backup_id": backup, "to_project_ids": [OTHER]}}, timeout=TIMEOUT)
            assert shared.status_code == 200, shared.text
            policy = requests.post(f"{v2}/backuppolicy", json=POLICY, timeout=TIMEOUT)
            assert policy.status_code == 200, policy.text
            policy_id = policy.json()["backup_policy_id"]
            tag = requests.post(f"{v2}/backuppolicy/{policy_id}/tags", json={"tag": {"key": "k", "value": "v"}},
                                timeout=TIMEOUT)
            assert tag.status_code == 204
    ''')
    live(suite).assert_outcomes(passed=1)
    for path, key in (("/v3/{project_id}/volumes", "volumes"), ("/v3/{project_id}/snapshots", "snapshots"),
                      ("/v3/{project_id}/backups", "backups"), ("/v2/{project_id}/backuppolicy", "backup_policies"),
                      ("/v2/{project_id}/os-vendor-backup-sharing/detail", "shared")):
        assert cloud.list(path)[key] == [], path  # type: ignore[index]


def test_a_volume_that_does_not_become_available_is_a_clear_error(suite: pytest.Pytester, cloud: Cloud) -> None:
    cloud.fake.fail("get_volume", 503, times=20)  # the cloud cannot say how the new volume is doing, for a while
    suite.makepyfile('''
        import pytest
        from pytest_vbs.live_handle import LiveError

        def test_a(vbs):
            vbs.timeout, vbs.interval = 0.3, 0.02
            with pytest.raises(LiveError, match=r"volume \\S+ was not available within 0 s \\(last status '503'\\)"):
                vbs.add_volume(size=1)
            vbs.timeout = 60.0  # cleanup waits until the cloud answers again, then deletes it
    ''')
    live(suite).assert_outcomes(passed=1)
    assert cloud.list("/v3/{project_id}/volumes") == {"volumes": []}


def test_what_cannot_be_deleted_is_listed_and_fails_the_session(suite: pytest.Pytester, cloud: Cloud) -> None:
    cloud.fake.fail("delete_volume", 500, message="volume is stuck")
    suite.makepyfile('''
        def test_a(vbs):
            vbs.add_volume(size=1)
    ''')
    result = live(suite)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*left behind on the cloud*", "*test_a*volume *: DELETE answered 500*stuck*"])
    assert len(cloud.list("/v3/{project_id}/volumes")["volumes"]) == 1  # type: ignore[index]


def test_the_session_token_is_renewed_before_it_expires(suite: pytest.Pytester, cloud: Cloud) -> None:
    cloud.fake.identity.token_ttl = timedelta(seconds=90)  # less than keystoneauth's two minutes: renew each time
    suite.makepyfile('''
        import requests
        from conftest import TIMEOUT

        def test_a(vbs):
            for _ in range(2):
                assert requests.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT).status_code == 200
    ''')
    live(suite).assert_outcomes(passed=1)
    tokens = [entry.headers["X-Auth-Token"] for entry in cloud.fake.requests if entry.operation == "list_backups"]
    assert len(tokens) == 2
    assert tokens[0] != tokens[1]


def test_secrets_never_reach_reports_or_recordings(suite: pytest.Pytester, cloud: Cloud) -> None:
    suite.makepyfile('''
        import requests
        from conftest import TIMEOUT

        def test_a(vbs, backup):
            vbs.openstack_connection().block_storage.get_backup(backup)
            assert requests.get(f"{vbs.endpoint}/backups/{backup}", timeout=TIMEOUT).status_code == 200
            assert False, "show the report"
    ''')
    record = suite.path / "shapes"
    result = live(suite, "-rA", "--vbs-record", str(record))
    result.assert_outcomes(failed=1)
    recorded = "".join(path.read_text() for path in record.iterdir())
    assert "identity_create_token" in recorded  # the token answers were recorded, masked
    tokens = {entry.headers["X-Auth-Token"] for entry in cloud.fake.requests if "X-Auth-Token" in entry.headers}
    assert tokens  # the tokens the cloud saw (the proxy's and the client's)
    for text in (result.stdout.str(), result.stderr.str(), recorded):
        assert "vbs-password" not in text
        for token in tokens:
            assert token not in text


def test_the_mode_markers_take_no_arguments(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        import pytest

        @pytest.mark.vbs_live_only("nightly")
        def test_a():
            pass
    ''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)  # at setup, like the other markers' mistakes
    result.stdout.fnmatch_lines(["*@pytest.mark.vbs_live_only takes no arguments*"])
