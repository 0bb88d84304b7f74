"""The recipes of docs/clients.md run: every ``python`` block is a test file, run by an inner pytest session
with the pytest-vbs plugin, and every test in it must pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)

pytest.importorskip("openstack")
pytest.importorskip("cinderclient")
pytest.importorskip("otcextensions")


def test_the_page_has_recipes() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_recipe_runs(pytester: pytest.Pytester, index: int) -> None:
    source = BLOCKS[index]
    expected = len(re.findall(r"^def test_", source, flags=re.MULTILINE))
    assert expected, f"block {index} has no test"
    pytester.makepyfile(**{f"test_recipe_{index}": source})

    args = ("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning", "-W", "ignore::PendingDeprecationWarning")
    # otcextensions patches openstacksdk for the whole process: keep it out of this one.
    run = pytester.runpytest_subprocess if "otcextensions" in source else pytester.runpytest_inprocess
    result = run(*args)

    result.assert_outcomes(passed=expected)
