"""API coverage of a test suite: which documented outcomes of each VBS operation its requests exercised.

A :class:`CoverageRecorder` watches every answered request (``pytest_vbs_answered``) and counts, per documented
operation, its calls, the statuses answered, the faults injected, the error reasons and VBS codes seen, and the
asynchronous end states the answers showed. It lives outside the journal: resetting the fake does not clear it
(counts are per session), and its :meth:`~CoverageRecorder.snapshot` is plain JSON, merged across xdist workers.

:func:`report` sets those counts against the documented outcomes of each operation, derived from the operation
table and the schemas by one table (:data:`OUTCOME_SOURCES`): every error status the pages document, each error
reason and VBS code of the row and its schemas (``x-errors``, ``x-code`` ...), each wire fault, and the end
states an operation can lead to (:data:`END_STATES`).
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_vbs import api, schemas
from pytest_vbs.api import Operation
from pytest_vbs.errors import ERROR_STATUSES, Family
from pytest_vbs.faults import WIRE_FAULTS
from pytest_vbs.hookspecs import hookimpl
from pytest_vbs.journal import RecordedRequest

FORMAT_VERSION = 1
_BACKUP_READS = ("get_backup", "list_backups_detail", "get_backup_v2", "list_backups_detail_v2")


@dataclass(frozen=True)
class EndState:
    """An asynchronous end state: seen when an answer of an ``observers`` operation shows ``status``; an
    outcome of each ``producers`` operation (the one whose failure leads there)."""

    label: str
    status: str
    observers: tuple[str, ...]
    producers: tuple[str, ...]


END_STATES: tuple[EndState, ...] = (
    EndState("backup error", "error", _BACKUP_READS, ("create_backup", "create_backup_v2", "create_vbs_backup")),
    EndState("restore error_restoring", "error_restoring", _BACKUP_READS,
             ("restore_backup", "restore_backup_v2", "restore_vbs_backup")),
    EndState("job FAIL", "FAIL", ("get_job",), ("create_vbs_backup", "delete_vbs_backup", "restore_vbs_backup")),
    EndState("task EXECUTE_FAIL", "EXECUTE_FAIL", ("list_backup_policy_tasks",), ("execute_backup_policy",)),
)
_OBSERVED_BY: Mapping[str, tuple[EndState, ...]] = {
    name: tuple(state for state in END_STATES if name in state.observers)
    for name in {name for state in END_STATES for name in state.observers}
}


def _schema_errors(op: Operation) -> tuple[set[str], set[str]]:
    reasons: set[str] = set()
    codes: set[str] = set()
    for kind, name in (("requests", op.request_schema), ("queries", op.query_schema)):
        if name is not None:
            found = schemas.documented_errors(kind, name)
            reasons |= found[0]
            codes |= found[1]
    return reasons, codes


def _codes(op: Operation) -> Iterable[str]:
    """VBS codes reach the client only in the VBS-native envelope (native routes answer Cinder's)."""
    return {*op.codes.values(), *_schema_errors(op)[1]} if op.family is Family.VBS else ()


#: Each kind of documented outcome and where it comes from: the operation table and the schemas.
OUTCOME_SOURCES: tuple[tuple[str, Callable[[Operation], Iterable[str]]], ...] = (
    ("status", lambda op: [str(op.status), *(str(status) for status in ERROR_STATUSES)]),
    ("reason", lambda op: {*op.codes, *_schema_errors(op)[0]}),
    ("code", _codes),
    ("fault", lambda op: WIRE_FAULTS),
    ("state", lambda op: [state.label for state in END_STATES if op.name in state.producers]),
)
KINDS: tuple[str, ...] = tuple(kind for kind, _ in OUTCOME_SOURCES)


@functools.cache
def documented_outcomes(name: str) -> dict[str, tuple[str, ...]]:
    """The documented outcomes of operation ``name``, by kind (``status``, ``reason``, ``code``, ``fault``,
    ``state``): reasons and codes sorted, the others in their table's order."""
    op = api.BY_NAME[name]
    found = {kind: tuple(dict.fromkeys(source(op))) for kind, source in OUTCOME_SOURCES}
    return {kind: tuple(sorted(values)) if kind in ("reason", "code") else values for kind, values in found.items()}


def documented_operations() -> tuple[str, ...]:
    return tuple(op.name for op in api.OPERATIONS if op.documented)


# -- recording --------------------------------------------------------------------------------------------------
@dataclass
class _Counts:
    calls: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)


_COUNTERS = ("statuses", "faults", "reasons", "codes")


class CoverageRecorder:
    """Per-session counts of the requests the fakes answered (thread-safe); a pluggy plugin of the fake's
    plugin manager (``pytest_vbs_answered``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._operations: dict[str, _Counts] = {}
        self._states: set[str] = set()
        self._documented = frozenset(documented_operations())

    @hookimpl
    def pytest_vbs_answered(self, app: object, request: RecordedRequest) -> None:
        self.record(request)

    def record(self, entry: RecordedRequest) -> None:
        name = entry.operation
        if name not in self._documented:
            return
        states = _states_shown(name, entry) if name in _OBSERVED_BY and entry.status < 300 else ()
        code = _vbs_code(entry.response_json) if entry.status >= 400 else None
        with self._lock:
            counts = self._operations.get(name)
            if counts is None:
                counts = self._operations[name] = _Counts()
            counts.calls += 1
            counts.statuses[str(entry.status)] += 1
            if entry.fault:
                counts.faults["delay" if entry.fault.startswith("delay") else entry.fault] += 1
            if entry.reason:
                counts.reasons[entry.reason] += 1
            if code:
                counts.codes[code] += 1
            self._states.update(states)

    def snapshot(self) -> dict[str, Any]:
        """The raw counts as JSON (what :meth:`merge` takes, and what an xdist worker sends its controller)."""
        with self._lock:
            return {
                "operations": {name: {"calls": counts.calls, **{key: dict(getattr(counts, key)) for key in _COUNTERS}}
                               for name, counts in sorted(self._operations.items())},
                "states": sorted(self._states),
            }

    def merge(self, raw: Mapping[str, Any]) -> None:
        """Add another recorder's :meth:`snapshot` (an xdist worker's) to these counts."""
        with self._lock:
            for name, data in raw.get("operations", {}).items():
                counts = self._operations.setdefault(name, _Counts())
                counts.calls += int(data.get("calls", 0))
                for key in _COUNTERS:
                    getattr(counts, key).update({str(k): int(v) for k, v in data.get(key, {}).items()})
            self._states.update(str(state) for state in raw.get("states", []))

    def report(self) -> CoverageReport:
        return report(self.snapshot())


def _vbs_code(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _states_shown(name: str, entry: RecordedRequest) -> list[str]:
    """The end states an answer of an observing operation shows (its resources' ``status``, one level down)."""
    shown: set[str] = set()
    body = entry.response_json
    if isinstance(body, dict):
        shown.add(str(body.get("status")))
        for value in body.values():
            items = value if isinstance(value, list) else [value]
            shown.update(str(item.get("status")) for item in items if isinstance(item, dict))
    return [state.label for state in _OBSERVED_BY[name] if state.status in shown]


# -- the report ---------------------------------------------------------------------------------------------------
@dataclass
class OperationCoverage:
    """One documented operation: what the suite did with it, and which documented outcomes it never reached."""

    operation: str
    calls: int
    statuses: dict[str, int]
    faults: dict[str, int]
    reasons: dict[str, int]
    codes: dict[str, int]
    documented: dict[str, tuple[str, ...]]
    untested: dict[str, list[str]]

    @property
    def outcomes(self) -> int:
        return sum(len(values) for values in self.documented.values())

    @property
    def exercised(self) -> int:
        return self.outcomes - sum(len(values) for values in self.untested.values())


@dataclass
class CoverageReport:
    operations: list[OperationCoverage]

    @property
    def used(self) -> int:
        return sum(1 for row in self.operations if row.calls)

    @property
    def outcomes(self) -> int:
        return sum(row.outcomes for row in self.operations)

    @property
    def exercised(self) -> int:
        return sum(row.exercised for row in self.operations)

    @property
    def percent(self) -> float:
        return 100.0 * self.exercised / self.outcomes if self.outcomes else 100.0

    def summary(self) -> str:
        return (f"vbs coverage: {self.used} of {len(self.operations)} documented operations used, "
                f"{self.exercised} of {self.outcomes} documented outcomes exercised ({self.percent:.1f} %)")

    def as_json(self) -> dict[str, Any]:
        """The report as JSON (``--vbs-coverage-json``, ``GET /__vbs__/coverage``)."""
        return {
            "version": FORMAT_VERSION,
            "summary": {"operations_used": self.used, "operations_documented": len(self.operations),
                        "outcomes_exercised": self.exercised, "outcomes_documented": self.outcomes,
                        "percent": round(self.percent, 2)},
            "operations": {row.operation: {
                "calls": row.calls, "statuses": row.statuses, "faults": row.faults, "reasons": row.reasons,
                "codes": row.codes, "documented": {k: list(v) for k, v in row.documented.items()},
                "untested": row.untested, "exercised": row.exercised, "outcomes": row.outcomes,
            } for row in self.operations},
        }

    def lines(self, width: int = 120) -> list[str]:
        """The terminal table: one row per documented operation, its untested outcomes wrapped below it."""
        name_width = max(len(row.operation) for row in self.operations)
        header = f"{'operation':<{name_width}}  {'calls':>5}  {'outcomes':>8}  statuses answered / faults injected"
        lines = [header, "-" * min(width, len(header) + 20)]
        for row in self.operations:
            if not row.calls:
                lines.append(f"{row.operation:<{name_width}}  {0:>5}  {f'0/{row.outcomes}':>8}  never called")
                continue
            seen = " ".join(f"{status}x{count}" for status, count in sorted(row.statuses.items(),
                                                                          key=lambda kv: int(kv[0])))
            faults = " ".join(f"{fault}x{count}" for fault, count in sorted(row.faults.items()))
            lines.append(f"{row.operation:<{name_width}}  {row.calls:>5}  "
                         f"{f'{row.exercised}/{row.outcomes}':>8}  {seen}" + (f" / faults {faults}" if faults else ""))
            untested = "; ".join(f"{kind} " + " ".join(values) for kind, values in row.untested.items() if values)
            if untested:
                lines += _wrap("untested: " + untested, " " * (name_width + 2), width)
        return [*lines, self.summary()]


def _wrap(text: str, indent: str, width: int) -> list[str]:
    import textwrap  # deferred for import cost: only when a table is printed

    return textwrap.wrap(text, width=max(width, 60), initial_indent=indent, subsequent_indent=indent + "  ")


def report(raw: Mapping[str, Any]) -> CoverageReport:
    """The coverage report of a recorder's :meth:`~CoverageRecorder.snapshot` (merged or not)."""
    operations = raw.get("operations", {})
    states = set(raw.get("states", []))
    rows = []
    for name in documented_operations():
        data = operations.get(name, {})
        documented = documented_outcomes(name)
        calls = int(data.get("calls", 0))
        faults = dict(data.get("faults", {}))
        seen = {
            "status": set(data.get("statuses", {})),
            "reason": set(data.get("reasons", {})),
            "code": set(data.get("codes", {})),
            "fault": {part for label in faults for part in label.split() if part in WIRE_FAULTS},
            "state": states if calls else set(),
        }
        untested = {kind: [value for value in documented[kind] if value not in seen[kind]] for kind in KINDS}
        rows.append(OperationCoverage(name, calls, dict(data.get("statuses", {})), faults,
                                      dict(data.get("reasons", {})), dict(data.get("codes", {})), documented,
                                      untested))
    return CoverageReport(rows)
