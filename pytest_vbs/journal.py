"""The request journal: every request the fake answered, oldest first, guarded by a lock and bounded."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Entries kept by default; the oldest are dropped beyond it (the journal is cleared between tests).
DEFAULT_MAX_ENTRIES = 10_000


@dataclass
class RecordedRequest:
    """One request and how the fake answered it."""

    operation: str  #: operation name (``create_backup`` ...), ``"unknown"`` when no route matched
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any  #: the parsed JSON body, or ``None`` (no body, or not JSON)
    project_id: str | None
    status: int = 0  #: response status; ``0`` when the connection was broken instead of answered
    response_json: Any = None
    fault: str | None = None  #: the injected fault served, if any
    error: str | None = None  #: for unexpected exceptions in the fake: the traceback
    body: bytes = field(default=b"", repr=False)  #: the raw request body


class Journal:
    """Append-only, thread-safe, bounded list of :class:`RecordedRequest`."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._entries: deque[RecordedRequest] = deque(maxlen=max_entries)

    def append(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.entries())


def as_dict(entry: RecordedRequest) -> Mapping[str, Any]:
    """The JSON form of an entry, as ``GET /__vbs__/requests`` returns it."""
    return {
        "operation": entry.operation,
        "method": entry.method,
        "path": entry.path,
        "query": entry.query,
        "headers": entry.headers,
        "json": entry.json,
        "project_id": entry.project_id,
        "status": entry.status,
        "response_json": entry.response_json,
        "fault": entry.fault,
    }
