"""The shapes of answers, recorded from the cloud and compared with the fake's.

A shape is kept per operation and status: each field's path (``backup.status``, ``backups[].links[].href``) with
the JSON types seen there (``null`` included), the names of the headers that matter, how many answers were seen,
and one example body with ids, times, names and URLs masked. Shapes merge across runs (types and fields add up).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Headers whose presence is part of an answer's shape (their values are never kept).
HEADERS = ("content-type", "location", "openstack-api-version", "retry-after", "vary", "www-authenticate",
           "x-openstack-request-id", "x-subject-token")
#: Fields a shape keeps per answer kind (bounded memory; deeper or wider bodies are cut).
MAX_FIELDS = 2000
_ID = re.compile(r"^(?:[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}|[0-9a-f]{32})$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_NAMES = ("name", "description", "key", "value", "fail_reason", "message")
_FILE = re.compile(r"^(?P<operation>[a-z0-9_]+)\.(?P<status>[0-9]{3})\.json$")


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def fields(value: Any, path: str = "", out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Every field path of ``value`` and the JSON types seen there; the keys of ``*metadata`` maps are free."""
    out = {} if out is None else out
    if len(out) >= MAX_FIELDS:
        return out
    if path:
        out.setdefault(path, set()).add(_type(value))
    if isinstance(value, Mapping):
        free = path.rsplit(".", 1)[-1].endswith("metadata")
        for key, item in value.items():
            name = "*" if free else str(key)
            fields(item, f"{path}.{name}" if path else name, out)
    elif isinstance(value, list):
        for item in value:
            fields(item, f"{path}[]", out)
    return out


def mask(value: Any, key: str = "") -> Any:
    """``value`` with ids, times, names, descriptions and URLs replaced by placeholders."""
    if isinstance(value, Mapping):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(item, key) for item in value[:3]]
    if not isinstance(value, str):
        return value
    if _ID.match(value) or key == "id" or key.endswith("_id"):
        return "<id>"
    if _TIME.match(value):
        return "<time>"
    if "://" in value:
        return "<url>"
    if key in _NAMES or key.endswith("_name"):
        return f"<{key}>"
    return value


@dataclass
class Shape:
    """The shape of one operation's answers with one status."""

    fields: dict[str, set[str]] = field(default_factory=dict)
    headers: set[str] = field(default_factory=set)
    count: int = 0
    example: Any = None

    def add(self, body: Any, headers: Iterable[str]) -> None:
        self.count += 1
        if self.example is None and body is not None:
            self.example = mask(body)
        fields(body, "", self.fields)
        self.headers.update(name.lower() for name in headers if name.lower() in HEADERS)

    def merge(self, other: Shape) -> None:
        for path, types in other.fields.items():
            if path in self.fields or len(self.fields) < MAX_FIELDS:
                self.fields.setdefault(path, set()).update(types)
        self.headers |= other.headers
        self.count += other.count
        if self.example is None:
            self.example = other.example

    def as_dict(self, operation: str, status: int) -> dict[str, Any]:
        return {"operation": operation, "status": status, "count": self.count,
                "fields": {path: sorted(types) for path, types in sorted(self.fields.items())},
                "headers": sorted(self.headers), "example": self.example}


class Shapes:
    """Shapes by (operation, status), filled from answers (thread-safe), saved to and loaded from a directory
    (one file per operation and status: ``create_backup.202.json``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.shapes: dict[tuple[str, int], Shape] = {}

    def add(self, operation: str, status: int, body: Any, headers: Iterable[str] = ()) -> None:
        if operation == "unknown" or status == 0:
            return
        with self._lock:
            self.shapes.setdefault((operation, status), Shape()).add(body, headers)

    def operations(self) -> set[str]:
        with self._lock:
            return {operation for operation, _ in self.shapes}

    def as_data(self) -> list[dict[str, Any]]:
        """Every shape as JSON data (what a file holds), to hand from an xdist worker to the controller."""
        with self._lock:
            return [shape.as_dict(operation, status) for (operation, status), shape in sorted(self.shapes.items())]

    def merge_data(self, data: Iterable[Mapping[str, Any]]) -> None:
        """Merge shapes given as :meth:`as_data` gives them."""
        for item in data:
            shape = _shape(item)
            with self._lock:
                self.shapes.setdefault((str(item["operation"]), int(item["status"])), Shape()).merge(shape)

    def save(self, directory: Path) -> list[Path]:
        """Merge these shapes into ``directory``'s (created if needed); the files written."""
        directory.mkdir(parents=True, exist_ok=True)
        merged = Shapes.load(directory)
        with self._lock:
            for key, shape in self.shapes.items():
                merged.shapes.setdefault(key, Shape()).merge(shape)
        written = []
        for (operation, status), shape in sorted(merged.shapes.items()):
            path = directory / f"{operation}.{status}.json"
            path.write_text(json.dumps(shape.as_dict(operation, status), indent=1, sort_keys=True) + "\n",
                            encoding="utf-8")
            written.append(path)
        return written

    @classmethod
    def load(cls, directory: Path) -> Shapes:
        """The shapes recorded in ``directory`` (none when it does not exist)."""
        shapes = cls()
        if not directory.is_dir():
            return shapes
        for path in sorted(directory.iterdir()):
            match = _FILE.match(path.name)
            if match is None:
                continue
            shape = _shape(json.loads(path.read_text(encoding="utf-8")))
            shapes.shapes[match["operation"], int(match["status"])] = shape
        return shapes


def _shape(data: Mapping[str, Any]) -> Shape:
    return Shape(fields={k: set(v) for k, v in data.get("fields", {}).items()}, headers=set(data.get("headers", [])),
                 count=int(data.get("count", 0)), example=data.get("example"))


def compare(real: Shapes, fake: Shapes) -> dict[str, Any]:
    """The parity report: for every operation the fake answered that has recorded shapes, the fields only one side
    sent, the type differences (``null`` aside), the headers of :data:`HEADERS` only one side sent (when the shape
    was recorded from a cloud) and the statuses seen on one side only."""
    differences: list[dict[str, Any]] = []
    recorded_ops = real.operations()
    not_recorded = sorted(fake.operations() - recorded_ops)
    for operation in sorted(fake.operations() & recorded_ops):
        real_statuses = {s for (op, s) in real.shapes if op == operation}
        fake_statuses = {s for (op, s) in fake.shapes if op == operation}
        for status in sorted(fake_statuses - real_statuses):
            differences.append({"operation": operation, "status": status, "kind": "status_only_fake"})
        for status in sorted(real_statuses - fake_statuses):
            differences.append({"operation": operation, "status": status, "kind": "status_only_real"})
        for status in sorted(real_statuses & fake_statuses):
            differences += _field_differences(operation, status, real.shapes[operation, status],
                                              fake.shapes[operation, status])
    return {"differences": differences, "not_recorded": not_recorded,
            "compared": sorted(fake.operations() & recorded_ops)}


def _field_differences(operation: str, status: int, real: Shape, fake: Shape) -> list[dict[str, Any]]:
    found = []
    where = {"operation": operation, "status": status}
    for path in sorted(real.fields.keys() - fake.fields.keys()):
        found.append({**where, "kind": "only_real", "field": path, "real": sorted(real.fields[path])})
    for path in sorted(fake.fields.keys() - real.fields.keys()):
        found.append({**where, "kind": "only_fake", "field": path, "fake": sorted(fake.fields[path])})
    for path in sorted(real.fields.keys() & fake.fields.keys()):
        real_types, fake_types = real.fields[path] - {"null"}, fake.fields[path] - {"null"}
        if real_types and fake_types and real_types != fake_types:
            found.append({**where, "kind": "type", "field": path, "real": sorted(real.fields[path]),
                          "fake": sorted(fake.fields[path])})
    if real.headers:  # recorded from a cloud (the documentation's examples carry no headers)
        found += [{**where, "kind": "header_only_real", "header": name} for name in sorted(real.headers - fake.headers)]
        found += [{**where, "kind": "header_only_fake", "header": name} for name in sorted(fake.headers - real.headers)]
    return found


#: The printed line of each kind of difference (a type difference is written out in :func:`describe`).
_LINES = {
    "status_only_fake": "{where}: status seen only on the fake",
    "status_only_real": "{where}: status seen only on the real service",
    "only_real": "{where}: field {field} sent by the real service, never by the fake",
    "only_fake": "{where}: field {field} sent by the fake, never by the real service",
    "header_only_real": "{where}: header {header} sent by the real service, never by the fake",
    "header_only_fake": "{where}: header {header} sent by the fake, never by the real service",
}


def describe(difference: Mapping[str, Any]) -> str:
    """One line of the printed report."""
    where = f"{difference['operation']} {difference['status']}"
    if difference["kind"] in _LINES:
        return _LINES[difference["kind"]].format(where=where, field=difference.get("field"),
                                                 header=difference.get("header"))
    return f"{where}: field {difference['field']} is {'/'.join(difference['real'])} on the real service, " \
           f"{'/'.join(difference['fake'])} on the fake"
