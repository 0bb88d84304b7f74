"""A fault rule's ``path`` regex cannot stall the server (issue 15, item 15), and rules are indexed by operation
(item 17).

Python's ``re`` holds the GIL for a whole search: ``(a+)+$`` on a 30-character path stalls every thread of the
process for seconds. Such patterns are refused when the rule is made; the others search at most
``MAX_PATH_SEARCHED`` characters. Times are bounded by thread joins, never asserted as durations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from pytest_vbs import FakeVBS
from pytest_vbs.api import BY_NAME
from pytest_vbs.patterns import MAX_PATH_SEARCHED, check_pattern

TIMEOUT = 5.0

CATASTROPHIC = [
    pytest.param(r"(a+)+$", "exponential", id="nested-plus"),
    pytest.param(r"(\w+/?)+$", "exponential", id="nested-segments"),
    pytest.param(r"(a|aa)+$", "exponential", id="repeated-alternation"),
    pytest.param(r"(a?){30}a{30}", "exponential", id="repeated-optional"),
    pytest.param(r"(.+)\1", "backreferences", id="backreference"),
    pytest.param(r"\w*\w*\w*x", "too many quantifiers", id="three-stars"),
    pytest.param(r"[a-z]+[0-9a-z]+[0-9]+$", "too many quantifiers", id="three-pluses"),
    pytest.param("a?" * 30 + "a" * 30, "too many quantifiers", id="thirty-optionals"),
    pytest.param("(?:" * 2000 + "a" + ")" * 2000, "nests groups too deeply", id="deep-nesting"),
]
SAFE = [
    r"/backups/[^/]+$",
    r"/backups/[^/]+/restore$",
    r"/v[23]?/[^/]+/backups/[^/]+/?$",
    r"(?i)^/V3/",
    r"/backups/(?:detail)?$",
    r".*.*x",
    r"(?=.*backups).*detail",
    r"^/v3/(?:[0-9a-f]{32})/backups",
]


def within(seconds: float, work: Callable[[], Any]) -> Any:
    """``work()`` run in a thread that must finish within ``seconds`` (a bound, not a measurement)."""
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(_capture(work)), daemon=True)
    thread.start()
    thread.join(timeout=seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    result, error = outcome[0]
    if error is not None:
        raise error
    return result


def _capture(work: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return work(), None
    except BaseException as error:  # handed back to the test's thread
        return None, error


@pytest.mark.parametrize(("pattern", "said"), CATASTROPHIC)
def test_a_catastrophic_pattern_is_refused_at_once(vbs: FakeVBS, pattern: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        within(TIMEOUT, lambda: vbs.fail("*", 503, path=pattern))
    assert vbs.faults.rules() == []


@pytest.mark.parametrize(("pattern", "said"), CATASTROPHIC)
def test_the_control_api_refuses_a_catastrophic_pattern(
    vbs: FakeVBS, http: requests.Session, pattern: str, said: str
) -> None:
    response = within(TIMEOUT, lambda: http.post(f"{vbs.url}/__vbs__/faults",
                                                 json={"path": pattern, "status": 503}, timeout=TIMEOUT))
    assert response.status_code == 400
    assert said in response.json()["badRequest"]["message"]


@pytest.mark.parametrize("pattern", SAFE)
def test_ordinary_patterns_are_accepted(pattern: str) -> None:
    assert check_pattern(pattern).pattern == pattern


def test_hostile_paths_against_the_worst_accepted_pattern_do_not_stall_the_server(
    vbs: FakeVBS, http: requests.Session
) -> None:
    rule = vbs.fail("*", 503, path=r".+.+.?.?x")  # as slow as an accepted pattern gets, and it never matches
    hostile = [f"/v3/{vbs.project_id}/backups/" + "a" * n for n in (100, MAX_PATH_SEARCHED, 600)]

    def attack() -> list[int]:
        with requests.Session() as attacker:
            return [attacker.get(vbs.url + path, timeout=TIMEOUT).status_code for path in hostile * 3]

    attacker = threading.Thread(target=attack, daemon=True)
    attacker.start()
    served = within(TIMEOUT, lambda: [http.get(f"{vbs.endpoint}/backups", timeout=TIMEOUT).status_code
                                      for _ in range(5)])
    attacker.join(timeout=3 * TIMEOUT)

    assert not attacker.is_alive()
    assert served == [200] * 5
    assert rule.served == 0


def test_a_path_longer_than_the_bound_never_matches_a_path_rule(vbs: FakeVBS, http: requests.Session) -> None:
    rule = vbs.fail("*", 503, path="a")
    short = f"/v3/{vbs.project_id}/backups/a"
    long = short + "a" * MAX_PATH_SEARCHED

    assert http.get(vbs.url + short, timeout=TIMEOUT).status_code == 503
    assert http.get(vbs.url + long, timeout=TIMEOUT).status_code == 404
    assert (rule.matched, rule.served) == (1, 1)


# -- the index (issue 15, item 17) -------------------------------------------------------------------------------
def test_a_request_looks_only_at_its_operations_rules_and_star(vbs: FakeVBS) -> None:
    for _ in range(2000):
        vbs.fail("get_backup", 503, path="never")
    listing = vbs.fail("list_backups", 502)
    star = vbs.fail("*", 500, method="DELETE")

    candidates = vbs.faults._candidates(BY_NAME["list_backups"])  # the rules a list_backups request reads

    assert candidates == [listing, star]
    assert len(vbs.faults._candidates(BY_NAME["get_backup"])) == 2001
    assert vbs.faults.rules()[-2:] == [listing, star]
