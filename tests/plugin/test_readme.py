"""The README's and docs/policies.md's example tests run as written: every ``python`` block that defines tests
is a test file of an inner pytest session with the plugin, and all its tests must pass. The README's API coverage
table agrees with the operation table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_vbs.api import BY_NAME, OPERATIONS
from pytest_vbs.openapi import openapi_path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "docs" / "policies.md"]
README = PAGES[0].read_text(encoding="utf-8")
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


# -- the API coverage table agrees with the operation table ------------------------------------------------------
def coverage_rows() -> list[list[str]]:
    """The cells of the README's API coverage table (under "### API coverage")."""
    section = README.split("### API coverage", 1)[1].split("\n#", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("|")]
    return [row for row in rows[2:] if len(row) == 4]  # past the header and its rule


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_the_readme_coverage_table_agrees_with_the_operation_table() -> None:
    listed: set[str] = set()
    for family, _page, route, served in coverage_rows():
        name = served.strip("`")
        if name == "*_v2":  # "the same six operations" under /v2
            assert {f"{op}_v2" for op in listed if BY_NAME[op].version == "v3"} <= BY_NAME.keys()
            continue
        op = BY_NAME[name]
        listed.add(name)
        match = re.fullmatch(r"`(GET|POST|PUT|DELETE) ([^`]+)`", route)
        if match is not None:  # enabling/disabling a policy names the modify route in words
            assert (match[1], _shape(match[2])) == (op.method, _shape(openapi_path(op.rule))), family
    documented = {op.name for op in OPERATIONS if op.documented and not op.name.endswith("_v2")}
    assert listed == documented
