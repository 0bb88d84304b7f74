"""pytest-vbs costs next to nothing at start-up (issue 16 item 18): hypothesis is an optional extra, and no part of
a pytest run with the plugin, a ``vbs`` test included, imports it; ``benchmarks/startup.py`` measures the time."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

BLOCK_HYPOTHESIS = "import sys; sys.modules['hypothesis'] = None  # as if it were not installed\n"


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK_HYPOTHESIS + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60)


def test_the_fake_and_the_plugin_work_without_hypothesis() -> None:
    result = python("""
        import pytest_vbs.plugin
        from pytest_vbs import FakeVBS, assert_valid_request
        with FakeVBS() as fake:
            fake.add_volume()
        assert_valid_request("create_backup", {"backup": {"volume_id": "v", "snapshot_id": "s"}})
        """)
    assert result.returncode == 0, result.stderr


def test_the_strategies_say_which_extra_they_need() -> None:
    result = python("import pytest_vbs.strategies")
    assert "ImportError: pytest_vbs.strategies needs hypothesis: pip install 'pytest-vbs[hypothesis]'" in result.stderr


def test_a_run_with_a_vbs_test_imports_no_hypothesis(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # only pytest-vbs: no other plugin imports hypothesis
    pytester.makeconftest("""
        import sys

        def pytest_sessionfinish(session):
            session.config.rootpath.joinpath("imported").write_text(str("hypothesis" in sys.modules))
        """)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.vbs(transitions="manual")
        @pytest.mark.vbs_strict
        def test_one(vbs):
            vbs.add_backup()
        """)

    result = pytester.runpytest_subprocess("-p", "pytest_vbs.plugin", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    assert (pytester.path / "imported").read_text() == "False"
