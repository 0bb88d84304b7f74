"""Fault rules as a test author writes them, over real sockets: stacked rules and the order they are tried in,
sequences of outcomes (``vbs.fail_sequence``, the marker, the control API), the ``family`` filter, and the
rules refused because they could never fire or have the wrong type (issue 16 items 6, 7, 11, 13; issue 15 14).
"""

from __future__ import annotations

import json
import math
from http import HTTPStatus
from typing import Any

import pytest
import requests
from vbs_support import JSON, Disk, assert_error

from pytest_vbs import FakeVBS
from pytest_vbs.service.identity import DEFAULT_DOMAIN_NAME, DEFAULT_PASSWORD, DEFAULT_USERNAME

TIMEOUT = 5.0


def list_backups(http: requests.Session, vbs: FakeVBS) -> int | str:
    """The status of one list, or ``"reset"`` when the connection broke."""
    try:
        return http.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT).status_code
    except requests.ConnectionError:
        return "reset"


def post_backup(http: requests.Session, vbs: FakeVBS, disk: Disk) -> int:
    return http.post(f"{vbs.endpoint}/backups", json=disk.backup(name="nightly"), timeout=TIMEOUT).status_code


def add_over_http(http: requests.Session, vbs: FakeVBS, body: Any) -> requests.Response:
    """POST ``body`` to the control API, as Python's ``json`` writes it (``NaN`` and ``Infinity`` included)."""
    return http.post(f"{vbs.url}/__vbs__/faults", data=json.dumps(body), headers=JSON, timeout=TIMEOUT)


# -- stacked rules (item 6) -----------------------------------------------------------------------------------
def test_stacked_nth_rules_fire_on_their_own_requests(vbs: FakeVBS, http: requests.Session) -> None:
    rules = [vbs.fail("list_backups", fault="connection_reset", nth=n) for n in (1, 2, 3)]

    assert [list_backups(http, vbs) for _ in range(5)] == ["reset", "reset", "reset", 200, 200]
    assert [(rule.matched, rule.served) for rule in rules] == [(5, 1)] * 3


def test_nth_counts_a_request_another_rule_answered(vbs: FakeVBS, http: requests.Session) -> None:
    first = vbs.fail("list_backups", 503, times=2)
    second = vbs.fail("list_backups", 502, nth=2)  # request 2 is the first rule's: this one never fires

    assert [list_backups(http, vbs) for _ in range(3)] == [503, 503, 200]
    assert [(first.matched, first.served), (second.matched, second.served)] == [(3, 2), (3, 0)]


def test_an_after_commit_rule_counts_requests_answered_before_the_operation(
    vbs: FakeVBS, http: requests.Session, disk: Disk
) -> None:
    vbs.fail("create_backup", 503, nth=1)
    late = vbs.fail("create_backup", 504, after_commit=True, nth=2)

    assert [post_backup(http, vbs, disk) for _ in range(3)] == [503, 504, 202]
    assert len(vbs.backups) == 2  # the 504 was committed
    assert (late.matched, late.served) == (3, 1)


def test_an_after_commit_rule_counts_a_request_the_operation_refused(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup()
    rule = vbs.fail("get_backup", 504, after_commit=True, nth=1)

    missing = http.get(f"{vbs.endpoint}/backups/no-such-backup", timeout=TIMEOUT)
    found = http.get(f"{vbs.endpoint}/backups/{backup_id}", timeout=TIMEOUT)

    assert (missing.status_code, found.status_code) == (404, 200)  # the first request was its turn
    assert (rule.matched, rule.served) == (2, 0)


@pytest.mark.parametrize(("first", "second", "answered"), [
    (("*", 500), ("list_backups", 503), 500),
    (("list_backups", 503), ("*", 500), 503),
])
def test_rules_are_tried_in_the_order_they_were_added(
    vbs: FakeVBS, http: requests.Session, first: tuple[str, int], second: tuple[str, int], answered: int
) -> None:
    vbs.fail(*first)
    vbs.fail(*second)

    assert list_backups(http, vbs) == answered
    assert [(rule.operation, rule.status) for rule in vbs.faults.rules()] == [first, second]


def test_a_delay_rule_lets_the_next_rule_answer(vbs: FakeVBS, http: requests.Session) -> None:
    slow = vbs.fail("list_backups", delay=0.01)
    vbs.fail("list_backups", 503)

    assert list_backups(http, vbs) == 503
    assert (slow.matched, slow.served) == (1, 1)


# -- sequences (item 7) -----------------------------------------------------------------------------------------
def test_a_sequence_answers_each_request_in_turn_then_for_real(vbs: FakeVBS, http: requests.Session) -> None:
    rules = vbs.fail_sequence("list_backups", [503, None, "connection_reset", {"status": 429, "retry_after": 2}])

    statuses = [list_backups(http, vbs) for _ in range(4)]
    last = http.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT)

    assert statuses == [503, 200, "reset", 429]
    assert [rule.nth for rule in rules] == [1, 3, 4]
    assert vbs.requests[3].status == 429
    assert rules[2].served == 1
    assert last.status_code == 200


def test_a_sequence_of_statuses(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.fail_sequence("list_backups", [503, 429, None])

    assert [list_backups(http, vbs) for _ in range(5)] == [503, 429, 200, 200, 200]


def test_a_sequence_response_carries_its_headers(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.fail_sequence("list_backups", [{"status": 429, "retry_after": 2, "message": "Slow down."}])

    response = http.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT)

    assert_error(response, 429, "computeFault", "Slow down.")
    assert response.headers["Retry-After"] == "2"


def test_a_sequence_outcome_can_commit(vbs: FakeVBS, http: requests.Session, disk: Disk) -> None:
    vbs.fail_sequence("create_backup", [{"status": 504, "after_commit": True}, 503])

    assert [post_backup(http, vbs, disk) for _ in range(3)] == [504, 503, 202]
    assert len(vbs.backups) == 2


def test_a_sequence_narrowed_by_method_and_path(vbs: FakeVBS, http: requests.Session) -> None:
    backup_id = vbs.add_backup()
    vbs.fail_sequence("*", [409, 409], method="DELETE", path=r"/backups/[^/]+$")

    assert http.get(f"{vbs.endpoint}/backups/{backup_id}", timeout=TIMEOUT).status_code == 200
    deletes = [http.delete(f"{vbs.endpoint}/backups/{backup_id}", timeout=TIMEOUT).status_code for _ in range(3)]

    assert deletes == [409, 409, 202]


@pytest.mark.vbs_fault("list_backups", sequence=[503, None, 502])
def test_the_marker_takes_a_sequence(vbs: FakeVBS, http: requests.Session) -> None:
    assert [list_backups(http, vbs) for _ in range(4)] == [503, 200, 502, 200]


@pytest.mark.vbs_fault(operation="list_backups", sequence=["connection_reset"], method="GET")
def test_the_marker_takes_a_sequence_with_keywords_only(vbs: FakeVBS, http: requests.Session) -> None:
    assert [list_backups(http, vbs) for _ in range(2)] == ["reset", 200]


def test_the_control_api_takes_a_sequence(vbs: FakeVBS, http: requests.Session) -> None:
    body = {"operation": "list_backups", "sequence": [503, None, "connection_reset", {"status": 502}],
            "method": "GET"}

    added = add_over_http(http, vbs, body)

    assert added.status_code == 201
    assert [(rule["nth"], rule["status"], rule["fault"]) for rule in added.json()["faults"]] == [
        (1, 503, None), (3, None, "connection_reset"), (4, 502, None)]
    assert [list_backups(http, vbs) for _ in range(5)] == [503, 200, "reset", 502, 200]


BAD_SEQUENCES: list[Any] = [
    pytest.param([], ValueError, "1 to 1000 outcomes", id="empty"),
    pytest.param("503", TypeError, "outcomes must be a list", id="a-string"),
    pytest.param([503, "explode"], ValueError, "outcome 2 ('explode'): unknown fault 'explode'", id="unknown-fault"),
    pytest.param([True], TypeError, "outcome 1 (True): an outcome is None, a status", id="bool"),
    pytest.param([503.0], TypeError, "outcome 1 (503.0)", id="float-status"),
    pytest.param([200], ValueError, "outcome 1 (200): status must be an error status", id="status-200"),
    pytest.param([{"nth": 2}], ValueError, "unknown outcome argument 'nth'", id="nth-in-outcome"),
    pytest.param([{"times": 2}], ValueError, "unknown outcome argument 'times'", id="times-in-outcome"),
    pytest.param([{"status": 503, "fault": "hang"}], ValueError, "sends no answer", id="status-with-hang"),
    pytest.param([None] * 1001, ValueError, "1 to 1000 outcomes", id="too-long"),
]


@pytest.mark.parametrize(("outcomes", "error", "message"), BAD_SEQUENCES)
def test_a_bad_sequence_is_refused_whole(vbs: FakeVBS, outcomes: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        vbs.fail_sequence("list_backups", outcomes)
    assert vbs.faults.rules() == []


@pytest.mark.parametrize("body", [
    pytest.param({"operation": "list_backups", "sequence": [503, "explode"]}, id="unknown-fault"),
    pytest.param({"operation": "list_backups", "sequence": [503.0]}, id="float-status"),
    pytest.param({"operation": "list_backups", "sequence": [{"nth": 1}]}, id="nth-in-outcome"),
    pytest.param({"operation": "list_backups", "sequence": []}, id="empty"),
    pytest.param({"operation": "list_backups", "sequence": [503], "status": 502}, id="status-beside-it"),
    pytest.param({"operation": "list_backups", "sequence": [503], "times": 1}, id="times-beside-it"),
    pytest.param({"operation": "create_bakup", "sequence": [503]}, id="unknown-operation"),
    pytest.param({"operation": "list_backups", "sequence": "503"}, id="not-a-list"),
])
def test_the_control_api_refuses_a_bad_sequence(vbs: FakeVBS, http: requests.Session, body: dict[str, Any]) -> None:
    response = add_over_http(http, vbs, body)

    assert_error(response, 400, "badRequest")
    assert vbs.faults.rules() == []


def test_a_sequence_with_other_rule_arguments_says_where_they_go(vbs: FakeVBS, http: requests.Session) -> None:
    response = add_over_http(http, vbs, {"operation": "list_backups", "sequence": [503], "retry_after": 2})

    assert_error(response, 400, "badRequest", "'retry_after' cannot be given with a sequence")


# -- family (item 13) -----------------------------------------------------------------------------------------------
#: Requests of each family: (family, path of a GET, its status without faults).
FAMILY_REQUESTS = [
    ("native", "/v3/{p}/backups", 200),
    ("native", "/v3/{p}/volumes", 200),
    ("vbs", "/v2/{p}/cloudbackups/quota", 200),
    ("identity", "/identity/v3", 200),
    ("discovery", "/", 300),
    ("discovery", "/v3", 200),
]


def family_statuses(vbs: FakeVBS, http: requests.Session) -> list[int]:
    return [http.get(vbs.url + path.format(p=vbs.project_id), timeout=TIMEOUT).status_code
            for _, path, _ in FAMILY_REQUESTS]


def expected(**failed: int) -> list[int]:
    """The statuses of :data:`FAMILY_REQUESTS` when the families named fail with the status given."""
    return [failed.get(family, normal) for family, _, normal in FAMILY_REQUESTS]


@pytest.mark.parametrize("family", ["native", "vbs", "identity", "discovery"])
def test_family_narrows_star_to_one_api_family(vbs: FakeVBS, http: requests.Session, family: str) -> None:
    vbs.fail("*", 503, family=family)

    assert family_statuses(vbs, http) == expected(**{family: 503})


def test_star_alone_fails_identity_and_discovery_too(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.fail("*", 503)

    assert family_statuses(vbs, http) == [503] * len(FAMILY_REQUESTS)
    login = http.post(f"{vbs.auth_url}/auth/tokens", json={}, timeout=TIMEOUT)
    assert login.status_code == 503


def test_family_keeps_the_login_working_under_chaos(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.fail("*", 503, family="native")
    vbs.fail("*", 503, family="vbs")
    user = {"name": DEFAULT_USERNAME, "domain": {"name": DEFAULT_DOMAIN_NAME}, "password": DEFAULT_PASSWORD}
    login = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}},
                      "scope": {"project": {"id": vbs.project_id}}}}

    token = http.post(f"{vbs.auth_url}/auth/tokens", json=login, timeout=TIMEOUT)

    assert token.status_code == 201, token.text
    assert http.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT).status_code == 503


def test_family_on_a_sequence_the_marker_and_the_control_api(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.fail_sequence("*", [502], family="discovery")
    assert add_over_http(http, vbs, {"operation": "*", "status": 504, "family": "vbs", "times": 1}).status_code == 201

    assert family_statuses(vbs, http) == [200, 200, 504, 200, 502, 200]  # times=1 and nth=1: once each


@pytest.mark.vbs_fault("*", status=503, family="identity")
def test_family_in_the_marker(vbs: FakeVBS, http: requests.Session) -> None:
    assert family_statuses(vbs, http) == expected(identity=503)


# -- rules that could never fire, and wrong types (item 11; issue 15 item 14) --------------------------------------
REFUSED: list[Any] = [
    pytest.param("create_backup", {"method": "GET"}, ValueError, "create_backup is POST", id="method-of-another-op"),
    pytest.param("*", {"method": "FETCH"}, ValueError,
                 "unknown method 'FETCH' \\(did you mean 'PATCH'\\?\\); allowed: 'DELETE', 'GET'", id="unknown-method"),
    pytest.param("control_reset", {}, ValueError, "control API route", id="control-operation"),
    pytest.param("control_add_fault", {}, ValueError, "control API route", id="control-faults"),
    pytest.param("list_backups", {"times": 2, "nth": 1}, ValueError, "times and nth cannot be combined",
                 id="times-and-nth"),
    pytest.param("list_backups", {"status": 503, "fault": "hang"}, ValueError, "sends no answer",
                 id="status-with-hang"),
    pytest.param("list_backups", {"status": 503, "fault": "connection_reset"}, ValueError, "sends no answer",
                 id="status-with-reset"),
    pytest.param("list_backups", {"status": 503, "fault": "empty_response"}, ValueError, "sends no answer",
                 id="status-with-empty-response"),
    pytest.param("list_backups", {"status": "503"}, TypeError, r"status must be an int .*'503' \(str\)",
                 id="status-as-text"),
    pytest.param("list_backups", {"status": 503.0}, TypeError, r"503.0 \(float\)", id="status-as-float"),
    pytest.param("list_backups", {"status": True}, TypeError, r"True \(bool\)", id="status-true"),
    pytest.param("list_backups", {"times": 1e300}, TypeError, "times must be an int", id="times-1e300"),
    pytest.param("list_backups", {"times": 10**12}, ValueError, "times must be an integer between 1 and",
                 id="times-huge"),
    pytest.param("list_backups", {"nth": 2.0}, TypeError, "nth must be an int", id="nth-float"),
    pytest.param("list_backups", {"retry_after": 1e300}, TypeError, "retry_after must be an int",
                 id="retry-after-1e300"),
    pytest.param("list_backups", {"retry_after": -1}, ValueError, "retry_after", id="retry-after-negative"),
    pytest.param("list_backups", {"delay": 1e300}, ValueError, "delay must be between 0 and 3600",
                 id="delay-1e300"),
    pytest.param("list_backups", {"delay": math.nan}, ValueError, "delay must be between", id="delay-nan"),
    pytest.param("list_backups", {"delay": (0, math.inf)}, ValueError, "delay must be between", id="delay-inf"),
    pytest.param("list_backups", {"delay": (0, 1, 2)}, ValueError, "two numbers", id="delay-three"),
    pytest.param("list_backups", {"delay": (None, 1)}, TypeError, "delay must be a number", id="delay-none-bound"),
    pytest.param("list_backups", {"delay": "1"}, TypeError, "delay must be a number", id="delay-text"),
    pytest.param("list_backups", {"probability": True}, TypeError, "probability must be a number",
                 id="probability-true"),
    pytest.param("list_backups", {"seed": "x"}, TypeError, "seed must be an int", id="seed-text"),
    pytest.param("list_backups", {"after_commit": "yes"}, TypeError, "after_commit must be bool",
                 id="after-commit-text"),
    pytest.param("list_backups", {"family": "cinder"}, ValueError, "unknown family 'cinder'; allowed:",
                 id="unknown-family"),
    pytest.param("list_backups", {"family": "vbs"}, ValueError, "list_backups is in family 'native', not 'vbs'",
                 id="family-of-another-op"),
    pytest.param("list_backups", {"fault": "reset"}, ValueError, "unknown fault 'reset'; allowed:", id="bad-fault"),
]


@pytest.mark.parametrize(("operation", "options", "error", "message"), REFUSED)
def test_a_rule_that_cannot_fire_is_refused(
    vbs: FakeVBS, operation: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        vbs.fail(operation, **options)
    assert vbs.faults.rules() == []


@pytest.mark.parametrize(("operation", "options", "error", "message"), REFUSED)
def test_the_control_api_refuses_the_same_rules(
    vbs: FakeVBS, http: requests.Session, operation: str, options: dict[str, Any], error: type[Exception],
    message: str,
) -> None:
    response = add_over_http(http, vbs, {"operation": operation, **options})

    assert_error(response, 400, "badRequest")
    assert vbs.faults.rules() == []
    assert list_backups(http, vbs) == 200  # nothing installed, nothing broken


def test_the_control_api_names_a_misspelt_operation(vbs: FakeVBS, http: requests.Session) -> None:
    response = add_over_http(http, vbs, {"operation": "create_bakup", "status": 503})

    message = assert_error(response, 400, "badRequest",
                           "unknown operation 'create_bakup'; did you mean 'create_backup'?")
    assert len(message) < 120


def test_a_head_rule_on_a_get_operation_fires(vbs: FakeVBS, http: requests.Session) -> None:
    rule = vbs.fail("list_backups", 503, method="head")

    assert http.head(f"{vbs.endpoint}/backups", timeout=TIMEOUT).status_code == 503
    assert list_backups(http, vbs) == 200
    assert rule.method == "HEAD"


def test_an_http_status_enum_is_a_status(vbs: FakeVBS, http: requests.Session) -> None:
    rule = vbs.fail("list_backups", HTTPStatus.SERVICE_UNAVAILABLE)

    assert type(rule.status) is int
    assert list_backups(http, vbs) == 503
    assert http.get(f"{vbs.url}/__vbs__/faults", timeout=TIMEOUT).json()["faults"][0]["status"] == 503


def test_a_malformed_body_with_a_status_is_allowed(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.fail("list_backups", 503, fault="malformed_body")

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT).json()
