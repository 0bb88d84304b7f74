"""A bug in a user's observer hook does not break the answer, and fails the test at teardown."""

from __future__ import annotations

import pytest


def test_a_failing_observer_hook_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_vbs_answered(app, request):
            raise RuntimeError("observer bug")
        """
    )
    pytester.makepyfile(
        """
        import requests

        def test_list(vbs):
            assert requests.get(f"{vbs.endpoint}/backups").status_code == 200
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*raised unexpectedly*", "*RuntimeError: observer bug*"])
