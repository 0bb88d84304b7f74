"""The requests a test sent, in its pytest report: the section "fake VBS requests" (and its JUnit XML property),
and the HAR file of ``--vbs-har``.

The plugin calls :func:`attach` from its ``pytest_runtest_makereport`` wrapper when a test that used ``vbs``
failed (``--vbs-report-requests=on-failure``, the default) or always (``always``); nothing is imported before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from pytest_vbs.journal import RecordedRequest, redacted

SECTION = "fake VBS requests"
#: The report modes of ``--vbs-report-requests`` / ini ``vbs_report_requests``.
MODES = ("on-failure", "always", "never")
#: Requests listed at most (the last ones); body excerpts at most this many characters.
LAST = 50
BODY_CHARS = 120
_DONE = pytest.StashKey[set[str]]()  # what was attached to this test already: "listing", "har"


def shorten(text: str, limit: int = BODY_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _message(body: Any) -> str | None:
    """The ``message`` of an error envelope (any family's: ``{"<name>": {"message": ...}}``)."""
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])
    return None


def line(entry: RecordedRequest) -> str:
    """``POST /v3/{project}/backups {"backup": ...} -> 202 create_backup``, faults and error messages added."""
    path = entry.path.replace(f"/{entry.project_id}", "/{project}", 1) if entry.project_id else entry.path
    text = f"{entry.method} {path}"
    if entry.query:
        text += "?" + "&".join(f"{key}={value}" for key, value in entry.query.items())
    if entry.json is not None:  # passwords and token ids redacted, as in GET /__vbs__/requests
        text += " " + shorten(json.dumps(redacted(entry.json), separators=(",", ":")))
    elif entry.body:
        text += " " + shorten(repr(entry.body))
    if "body" in entry.truncated:
        text += f" [body of {entry.body_length} bytes, cut by the journal]"
    text += f" -> {entry.status or 'no answer'} {entry.operation}"
    if entry.fault:
        text += f" [fault: {entry.fault}]"
    if entry.error:
        text += " [the fake failed: " + shorten(entry.error.strip().splitlines()[-1]) + "]"
    elif entry.status >= 400:
        message = _message(entry.response_json)
        if message:
            text += ": " + shorten(message)
    return text


def section(entries: Sequence[RecordedRequest], last: int = LAST) -> str:
    """The section's text: the last ``last`` requests, one line each, oldest first."""
    if not entries:
        return "(no requests)"
    shown = entries[-last:]
    lines = [f"({len(entries) - len(shown)} earlier requests not shown)"] if len(entries) > len(shown) else []
    return "\n".join([*lines, *(line(entry) for entry in shown)])


def attach(item: pytest.Item, report: pytest.TestReport, entries: Sequence[RecordedRequest], *, listing: bool,
           har_dir: str | None) -> None:
    """Add the section to ``report`` and the JUnit XML property to the test (once per test); with ``har_dir``,
    write the test's HAR there."""
    done = item.stash.setdefault(_DONE, set())
    if listing and "listing" not in done:
        done.add("listing")
        text = section(entries)
        report.sections.append((SECTION, text))
        item.user_properties.append((SECTION, text))  # JUnit XML: the test's <property> (from the teardown report)
        if report.when == "teardown":
            report.user_properties.append((SECTION, text))
    if har_dir is not None and "har" not in done:
        done.add("har")
        from pytest_vbs import har  # deferred for import cost: only when a HAR is written

        try:
            har.write(har_dir, item.nodeid, entries)
        except OSError as error:  # the test's own outcome stands; the report says why there is no file
            report.sections.append(("fake VBS HAR", f"--vbs-har: the HAR could not be written to {har_dir}: {error}"))
