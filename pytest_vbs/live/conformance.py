"""Where the cloud disagrees with the documentation: every real answer of a documented operation validated against
its response schema, the violations counted by operation, field and rule (values are never kept: they are data)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pytest_vbs import schemas
from pytest_vbs.api import BY_NAME
from pytest_vbs.journal import RecordedRequest
from pytest_vbs.live.proxy import Forwarded

#: Distinct disagreements kept (memory stays bounded).
MAX_FINDINGS = 1000


class Conformance:
    """The schema disagreements of every real answer seen (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.checked = 0
        self.findings: dict[tuple[str, str, str], int] = {}  #: (operation, field, rule) -> times seen

    def observe(self, entry: RecordedRequest, answer: Forwarded | None) -> None:
        """The proxy's observer: a successful real answer checked against the documented schema."""
        operation = BY_NAME.get(entry.operation)
        if answer is None or operation is None or not 200 <= answer.status < 300:
            return
        if answer.status == 204 or schemas.schema("responses", operation.name) is None:
            return
        found = schemas.violations("responses", operation.name, answer.json)
        with self._lock:
            self.checked += 1
            for violation in found:
                key = (operation.name, violation.path or "(body)", violation.rule)
                if key in self.findings or len(self.findings) < MAX_FINDINGS:
                    self.findings[key] = self.findings.get(key, 0) + 1

    def as_data(self) -> dict[str, Any]:
        """The findings as JSON data (from an xdist worker to the controller)."""
        with self._lock:
            return {"checked": self.checked, "findings": [[*key, n] for key, n in self.findings.items()]}

    def merge_data(self, data: Mapping[str, Any]) -> None:
        with self._lock:
            self.checked += int(data.get("checked", 0))
            for operation, path, rule, n in data.get("findings", []):
                key = (str(operation), str(path), str(rule))
                if key in self.findings or len(self.findings) < MAX_FINDINGS:
                    self.findings[key] = self.findings.get(key, 0) + int(n)

    def report(self) -> list[str]:
        """One line per disagreement: ``operation: field: rule (n answers)``."""
        with self._lock:
            items = sorted(self.findings.items())
        return [f"{op}: {field}: {rule} ({n} answer{'s' if n > 1 else ''})" for (op, field, rule), n in items]
