"""Safe by default: the fake listens on 127.0.0.1 only, warns when told to listen everywhere, and its
``/__vbs__`` control API can be turned off (its routes then answer 404 like unknown routes)."""

from __future__ import annotations

import signal
import socket
import warnings
from collections.abc import Iterator

import pytest
import requests
from serve_support import serve
from vbs_support import assert_error

from pytest_vbs import FakeVBS
from pytest_vbs.wsgi.serving import ExposedServerWarning, exposed

CONTROL_ROUTES = [
    ("POST", "/__vbs__/reset"),
    ("GET", "/__vbs__/requests"),
    ("GET", "/__vbs__/state"),
    ("POST", "/__vbs__/volumes"),
    ("POST", "/__vbs__/faults"),
    ("GET", "/__vbs__/openapi.json"),
    ("PUT", "/__vbs__/state"),  # a wrong method is 404 too: nothing is there
]


def test_the_fixture_binds_loopback_only(vbs: FakeVBS) -> None:
    httpd = vbs.server._httpd
    assert httpd is not None

    assert vbs.server.host == "127.0.0.1"
    assert httpd.socket.getsockname()[0] == "127.0.0.1"
    assert vbs.url.startswith("http://127.0.0.1:")


def test_a_fake_binds_loopback_by_default() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with FakeVBS() as fake:
            httpd = fake.server._httpd
            assert httpd is not None
            assert httpd.socket.getsockname()[0] == "127.0.0.1"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "0:0:0:0:0:0:0:0", "192.0.2.10", "[::]", "0", "0x0", "0.0"])
def test_binding_every_interface_warns(host: str) -> None:
    with pytest.warns(ExposedServerWarning, match=r"other machines can reach it.*127\.0\.0\.1") as caught:
        FakeVBS(host)  # not started: the warning comes with the choice, before anything listens

    assert "--vbs-no-control" in str(caught[0].message)
    assert caught[0].filename == __file__  # points at the caller


@pytest.mark.parametrize("host", ["0", "0x0", "0.0", "000.000.000.000"])
def test_shorthands_of_the_wildcard_are_judged_by_the_address_they_bind(host: str) -> None:
    """The OS reads ``0`` and ``0x0`` as 0.0.0.0 (inet_aton): every interface, so the warning is due."""
    assert socket.getaddrinfo(host, 0, socket.AF_INET, socket.SOCK_STREAM)[0][4][0] == "0.0.0.0"
    assert exposed(host)


def test_the_warning_does_not_mention_a_control_api_that_is_off() -> None:
    with pytest.warns(ExposedServerWarning) as caught:
        FakeVBS("0.0.0.0", control=False)

    assert "/__vbs__" not in str(caught[0].message)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_does_not_warn(host: str) -> None:
    assert not exposed(host)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FakeVBS(host)


# -- the control API turned off ----------------------------------------------------------------------------------
@pytest.fixture
def uncontrolled() -> Iterator[FakeVBS]:
    with FakeVBS(control=False) as fake:
        yield fake


@pytest.mark.parametrize(("method", "path"), CONTROL_ROUTES)
def test_without_control_its_routes_are_unknown(
    uncontrolled: FakeVBS, http: requests.Session, method: str, path: str
) -> None:
    response = http.request(method, uncontrolled.url + path, json={})

    assert_error(response, 404, "itemNotFound", "matches no operation")


def test_without_control_the_api_and_the_python_handle_still_work(
    uncontrolled: FakeVBS, http: requests.Session
) -> None:
    volume = uncontrolled.add_volume()
    snapshot = uncontrolled.add_snapshot(volume)

    created = http.post(f"{uncontrolled.endpoint}/backups", json={"backup": {"volume_id": volume,
                                                                             "snapshot_id": snapshot}})

    assert created.status_code == 202, created.text
    assert list(uncontrolled.backups) == [created.json()["backup"]["id"]]
    uncontrolled.reset()
    assert uncontrolled.backups == {}
    assert uncontrolled.app.take_unexpected_errors() == []


PLUGIN_TEST = """
import requests

def test_control_is_off(vbs):
    assert requests.post(vbs.url + "/__vbs__/reset").status_code == 404
    assert requests.get(vbs.url + "/__vbs__/openapi.json").status_code == 404
    assert requests.get(vbs.endpoint + "/backups").status_code == 200
"""


def test_plugin_option_turns_control_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLUGIN_TEST)

    pytester.runpytest_inprocess("--vbs-no-control", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_plugin_ini_turns_control_off(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nvbs_control = false\n")
    pytester.makepyfile(PLUGIN_TEST)

    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_plugin_serves_control_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import requests

        def test_control_is_on(vbs):
            assert requests.get(vbs.url + "/__vbs__/state").status_code == 200
    """)

    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_serve_no_control(http: requests.Session) -> None:
    with serve("--no-control") as server:
        assert http.get(f"{server.url}/__vbs__/state").status_code == 404
        assert http.get(f"{server.url}/v3").status_code == 200
        status, output = server.stop(signal.SIGTERM)

    assert status == 0
    assert "control API (/__vbs__): off" in output
    assert "__vbs__/volumes" not in output
