"""Write the default ``--vbs-compare`` baseline: the shapes of the documentation's example responses.

    python scripts/baseline_from_docs.py /path/to/vbs-api-docs

For every response schema with a documentation page (``x-doc-page``) and status (``x-status``), the first example
response of that page that parses as JSON becomes one recorded answer of the operation, in
``pytest_vbs/live/baseline/`` (package data). The package never reads the documentation itself.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from pytest_vbs import schemas
from pytest_vbs.live.shapes import Shapes

BASELINE = Path(__file__).resolve().parents[1] / "pytest_vbs" / "live" / "baseline"
_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. code-block::")


def examples(page: str) -> list[object]:
    """The JSON bodies of the page's "Example response" section, in order."""
    section = page.split("Example response", 1)[-1].split("Status Codes", 1)[0] if "Example response" in page else ""
    found = []
    lines = section.splitlines()
    for number, line in enumerate(lines):
        directive = _DIRECTIVE.match(line)
        if directive is None:
            continue
        depth = len(directive["indent"])
        block = []
        for following in lines[number + 1:]:
            if following.strip() and len(following) - len(following.lstrip()) <= depth:
                break
            block.append(following)
        try:
            found.append(json.loads("\n".join(block)))
        except ValueError:
            continue
    return found


def main(docs: Path) -> int:
    pages = {path.stem: path.read_text(encoding="utf-8") for path in docs.rglob("*.rst")}
    shapes = Shapes()
    for name in schemas.schema_names("responses"):
        document = schemas.schema("responses", name) or {}
        page, status = document.get("x-doc-page"), document.get("x-status")
        if page in pages and isinstance(status, int):
            for body in examples(pages[page])[:1]:
                shapes.add(name, status, body)
    for old in BASELINE.glob("*.json"):
        old.unlink()
    written = shapes.save(BASELINE)
    print(f"{len(written)} example shapes written to {BASELINE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
