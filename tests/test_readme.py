"""The README's and docs/policies.md's example tests run as written: every ``python`` block that defines tests
is a test file of an inner pytest session with the plugin, and all its tests must pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "docs" / "policies.md"]
RECIPES = [
    (f"{page.name}:{index}", block)
    for page in PAGES
    for index, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL))
    if re.search(r"^def test_", block, re.MULTILINE)
]


def test_the_readme_has_recipes() -> None:
    assert len([name for name, _ in RECIPES if name.startswith("README")]) >= 4


@pytest.mark.parametrize("source", [block for _, block in RECIPES], ids=[name for name, _ in RECIPES])
def test_recipe_runs(pytester: pytest.Pytester, source: str) -> None:
    if "openstack_connection" in source:
        pytest.importorskip("openstack")
    pytester.makepyfile(test_recipe=source)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=len(re.findall(r"^def test_", source, re.MULTILINE)))
