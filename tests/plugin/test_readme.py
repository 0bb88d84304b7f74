"""The README's and the docs' example tests run as written: every ``python`` block that defines tests is a test
file of an inner pytest session with the plugin (``examples/`` on ``sys.path``, for the client the fault recipes
test), and all its tests must pass, unless an ``<!-- outcomes: passed=1, errors=1 -->`` line just above the block
says otherwise. ``docs/clients.md`` runs in ``tests/helpers/test_clients_docs.py`` (it needs the clients). The
README's API coverage table agrees with the operation table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from pytest_vbs.api import BY_NAME, OPERATIONS
from pytest_vbs.openapi import openapi_path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted(page for page in (ROOT / "docs").glob("*.md") if page.name != "clients.md")]
README = PAGES[0].read_text(encoding="utf-8")
BLOCK = re.compile(r"(?:<!-- outcomes: ([^>]*) -->\n)?```python\n(.*?)```", re.DOTALL)
RECIPES = [
    (f"{page.name}:{index}", block, outcomes)
    for page in PAGES
    for index, (outcomes, block) in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")))
    if re.search(r"^def test_", block, re.MULTILINE)
]


def test_the_readme_and_the_docs_have_recipes() -> None:
    assert len([name for name, *_ in RECIPES if name.startswith("README")]) >= 4
    assert {name.split(":")[0] for name, *_ in RECIPES} >= {"assertions.md", "fault-injection.md", "policies.md",
                                                            "reading-state.md"}


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_python_block_parses(page: Path) -> None:
    """Blocks that are not test files (one-line snippets, hooks) are at least valid Python."""
    for index, (_, block) in enumerate(BLOCK.findall(page.read_text(encoding="utf-8"))):
        try:
            ast.parse(block)
        except SyntaxError as error:
            pytest.fail(f"{page.name} block {index}: {error}")


@pytest.mark.parametrize(("source", "outcomes"), [(block, outcomes) for _, block, outcomes in RECIPES],
                         ids=[name for name, *_ in RECIPES])
def test_recipe_runs(pytester: pytest.Pytester, source: str, outcomes: str) -> None:
    if "openstack_connection" in source:
        pytest.importorskip("openstack")
    pytester.syspathinsert(ROOT / "examples")
    pytester.makepyfile(test_recipe=source)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")
    if outcomes:
        result.assert_outcomes(**{k.strip(): int(v) for k, v in (pair.split("=") for pair in outcomes.split(","))})
        return
    counts = result.parseoutcomes()
    assert counts.get("passed", 0) >= len(re.findall(r"^def test_", source, re.MULTILINE)), result.stdout.str()
    assert set(counts) <= {"passed", "warnings"}, result.stdout.str()


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
