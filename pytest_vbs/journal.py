"""The request journal: every request the fake answered, oldest first, guarded by a lock and bounded in bytes.

Each entry is weighed when it is recorded (an estimate of the memory it holds, on the high side); past the
journal's byte budget (``journal_bytes``, default 64 MiB) or :data:`DEFAULT_MAX_ENTRIES`, the oldest entries are
evicted. What one entry may hold is bounded too: a request body over :data:`BODY_KEPT` keeps its first bytes,
its real length and ``"body"`` in :attr:`RecordedRequest.truncated`; header values over :data:`HEADER_VALUE_KEPT`
and headers past :data:`HEADERS_KEPT` in all are cut the same way (``"headers"``); a response body over
:data:`RESPONSE_KEPT` is not kept (``"response"``). Parsed JSON is kept only for small bodies; a larger body is
kept as bytes and parsed again each time ``json`` or ``response_json`` is read, so the journal never holds a
body twice.
"""

from __future__ import annotations

import json as jsonlib
import re
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

KIB, MIB = 1024, 1024 * 1024
#: Entries kept by default, whatever their size; the oldest are dropped beyond it.
DEFAULT_MAX_ENTRIES = 10_000
#: The journal's memory budget by default (``FakeVBS(journal_bytes=...)``, ``--journal-bytes``, ``vbs_journal_bytes``).
DEFAULT_JOURNAL_BYTES = 64 * MIB
#: The smallest budget accepted: room for a few of the largest entries the limits below allow.
MIN_JOURNAL_BYTES = 4 * MIB
#: Request bodies longer than this keep only their first bytes (``truncated`` names ``"body"``).
BODY_KEPT = 64 * KIB
#: Header values longer than this are cut, and headers past this many characters in all are left out.
HEADER_VALUE_KEPT, HEADERS_KEPT = 8 * KIB, 64 * KIB
#: Response bodies longer than this are not kept (``response_json`` is ``None``, ``truncated`` names ``"response"``).
RESPONSE_KEPT = 1 * MIB
#: Bodies up to this length keep their parsed JSON; longer ones are parsed again when read.
JSON_KEPT = 16 * KIB
#: What a cut header value or name ends with.
CUT_MARK = "...[cut by the pytest-vbs journal]"
_ENTRY_OVERHEAD = 2 * KIB  # the entry, its dicts and small fields, the deque slot
_RESPONSE_FACTOR = 8  # memory of a handler's result per byte of its JSON text (dicts of short strings: 3-4)
_SIZE = re.compile(r"\s*([0-9]{1,15})\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": KIB, "kb": KIB, "kib": KIB, "m": MIB, "mb": MIB, "mib": MIB,
          "g": 1024 * MIB, "gb": 1024 * MIB, "gib": 1024 * MIB}
_UNSET: Any = object()


def journal_bytes(value: object, *, name: str = "journal_bytes") -> int:
    """A journal budget: an int, or text like ``64MiB`` / ``512k`` / ``1g`` (binary units); at least
    :data:`MIN_JOURNAL_BYTES`. Anything else raises ``ValueError`` naming ``name`` and what is allowed."""
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if match is None:
            raise ValueError(f"{name} must be a number of bytes, optionally with a unit (KiB, MiB, GiB), such as "
                             f"'64MiB'; got {value!r}")
        value = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer number of bytes, got {value!r}")
    if value < MIN_JOURNAL_BYTES:
        raise ValueError(f"{name} must be at least {MIN_JOURNAL_BYTES} bytes (4MiB), got {value}")
    return value


@dataclass(init=False)
class RecordedRequest:
    """One request and how the fake answered it.

    ``json`` and ``response_json`` read like attributes; for long bodies they are parsed from the kept bytes on
    each read (the journal keeps one copy of a body, not two)."""

    operation: str  #: operation name (``create_backup`` ...), ``"unknown"`` when no route matched
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  #: as sent; long values cut (they end with :data:`CUT_MARK`)
    project_id: str | None
    status: int  #: response status; ``0`` when the connection was broken instead of answered
    fault: str | None  #: the injected fault served, if any
    error: str | None  #: for unexpected exceptions in the fake: the traceback
    body: bytes = field(repr=False)  #: the raw request body (its first :data:`BODY_KEPT` bytes when longer)
    body_length: int  #: the request body's real length in bytes
    truncated: tuple[str, ...]  #: what the journal cut: ``"body"``, ``"headers"``, ``"response"``
    seq: int  #: the entry's number (1, 2, ...; never reused while the fake runs); ``0`` until recorded
    weight: int = field(repr=False)  #: the memory the journal counts for it, in bytes
    reason: str | None  #: the error's stable reason (``backup_not_found`` ...) when the fake refused the request
    started: float  #: when the request arrived (``time.time()``)
    duration: float  #: seconds from its arrival to the answer (injected delays included)
    response_headers: dict[str, str] = field(repr=False)  #: the answer's headers
    _json: Any = field(repr=False)
    _response_json: Any = field(repr=False)
    _response_body: bytes | None = field(repr=False)
    _response_weight: int | None = field(repr=False)

    def __init__(self, operation: str, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                 json: Any, project_id: str | None, status: int = 0, response_json: Any = None,
                 fault: str | None = None, error: str | None = None, body: bytes = b"") -> None:
        self.operation, self.method, self.path, self.query, self.headers = operation, method, path, query, headers
        self.project_id, self.status, self.fault, self.error = project_id, status, fault, error
        self._json, self._response_json, self._response_body, self._response_weight = json, response_json, None, None
        self.body, self.body_length, self.truncated, self.seq, self.weight = body, len(body), (), 0, 0
        self.reason, self.started, self.duration, self.response_headers = None, 0.0, 0.0, {}

    @property
    def json(self) -> Any:
        """The parsed JSON request body, or ``None`` (no body, not JSON, or truncated)."""
        return _loads(self.body) if self._json is _UNSET else self._json

    @json.setter
    def json(self, value: Any) -> None:
        self._json = value

    @property
    def response_json(self) -> Any:
        """The parsed JSON response body, or ``None`` (no body, not JSON, or longer than :data:`RESPONSE_KEPT`)."""
        return _loads(self._response_body) if self._response_body is not None else self._response_json

    @response_json.setter
    def response_json(self, value: Any) -> None:
        self._response_json, self._response_body, self._response_weight = value, None, None

    def keep_response(self, body: bytes, parsed: Any = _UNSET) -> None:
        """Record the answer's body: ``parsed`` (the handler's result) when it is short, else the bytes."""
        if len(body) > RESPONSE_KEPT:
            self.response_json, self.truncated = None, (*self.truncated, "response")
        elif len(body) > JSON_KEPT:
            self.response_json = None
            self._response_body = body
        else:
            self.response_json = _loads(body) if parsed is _UNSET else parsed
            self._response_weight = _RESPONSE_FACTOR * len(body) if parsed is not _UNSET else None

    def compact(self) -> int:
        """Cut what the journal does not keep (see the module docstring); returns and stores :attr:`weight`."""
        cut: list[str] = list(self.truncated)
        self.body_length = max(self.body_length, len(self.body))
        if len(self.body) > BODY_KEPT:
            self.body, self._json = self.body[:BODY_KEPT], None
            cut.append("body")
        elif len(self.body) > JSON_KEPT and self._json is not None:
            self._json = _UNSET  # parsed again from the body when read
        self.headers, headers_cut = _kept_headers(self.headers)
        self.response_headers, answer_cut = _kept_headers(self.response_headers)  # a hook's may be long
        if headers_cut or answer_cut:
            cut.append("headers")
        self.truncated = tuple(dict.fromkeys(cut))
        self.weight = self._weigh()
        return self.weight

    def _weigh(self) -> int:
        texts = [self.path, self.method, self.operation, self.error or "", *self.query.keys(), *self.query.values(),
                 *self.headers.keys(), *self.headers.values()]
        weight = _ENTRY_OVERHEAD + sum(map(sys.getsizeof, texts)) + sys.getsizeof(self.body)
        weight += sys.getsizeof(self.headers) + sys.getsizeof(self.query) + sys.getsizeof(self.response_headers)
        weight += sum(map(sys.getsizeof, [*self.response_headers.keys(), *self.response_headers.values()]))
        if self._json is not _UNSET:
            weight += deep_size(self._json)
        if self._response_body is not None:
            weight += sys.getsizeof(self._response_body)
        elif self._response_weight is not None:
            weight += self._response_weight  # the handler's own result: plain dicts and strings
        else:
            weight += deep_size(self._response_json)
        return weight


def _kept_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], bool]:
    kept: dict[str, str] = {}
    used, cut = 0, False
    for name, value in headers.items():
        if len(name) > HEADER_VALUE_KEPT:
            name, cut = name[:HEADER_VALUE_KEPT] + CUT_MARK, True
        if len(value) > HEADER_VALUE_KEPT:
            value, cut = value[:HEADER_VALUE_KEPT] + CUT_MARK, True
        used += len(name) + len(value)
        if used > HEADERS_KEPT:
            return kept, True
        kept[name] = value
    return kept, cut


def _loads(data: bytes) -> Any:
    if not data:
        return None
    try:
        return jsonlib.loads(data)
    except (ValueError, RecursionError):
        return None


def deep_size(value: Any) -> int:
    """The memory a JSON value holds, counting shared objects once per reference (an upper bound)."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return total


class Journal:
    """Append-only, thread-safe list of :class:`RecordedRequest`, bounded in bytes and in count."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, *, max_bytes: int = DEFAULT_JOURNAL_BYTES) -> None:
        self.max_bytes = journal_bytes(max_bytes, name="max_bytes")
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: deque[RecordedRequest] = deque()
        self._bytes = 0
        self._next_seq = 1
        self._evicted = 0

    def append(self, entry: RecordedRequest) -> None:
        """Record ``entry``, cut to the limits (:meth:`RecordedRequest.compact`, unless done already)."""
        weight = entry.weight or entry.compact()
        with self._lock:
            entry.seq, self._next_seq = self._next_seq, self._next_seq + 1
            self._entries.append(entry)
            self._bytes += weight
            while len(self._entries) > 1 and (self._bytes > self.max_bytes or len(self._entries) > self.max_entries):
                self._bytes -= self._entries.popleft().weight
                self._evicted += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = self._evicted = 0

    def entries(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._entries)

    @property
    def bytes(self) -> int:
        """The memory the kept entries are counted for (at most ``max_bytes``)."""
        with self._lock:
            return self._bytes

    @property
    def evicted(self) -> int:
        """Entries dropped (oldest first) since the last clear, to stay within ``max_bytes`` / ``max_entries``."""
        with self._lock:
            return self._evicted

    def page(self, after: int = 0, limit: int = 1000, max_bytes: int = 8 * MIB) -> tuple[list[RecordedRequest], bool]:
        """Entries with ``seq`` above ``after``, oldest first: at most ``limit`` of them and about ``max_bytes``
        of weight (at least one); and whether more follow."""
        with self._lock:
            if not self._entries:
                return [], False
            start = max(0, after + 1 - self._entries[0].seq)
            found: list[RecordedRequest] = []
            weight = 0
            for index in range(start, len(self._entries)):
                entry = self._entries[index]
                if len(found) >= limit or (found and weight + entry.weight > max_bytes):
                    return found, True
                found.append(entry)
                weight += entry.weight
            return found, False

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.entries())


#: Header values the HTTP view of the journal never shows (compared case-insensitively).
SECRET_HEADERS = frozenset({"x-auth-token", "x-subject-token"})
REDACTED = "[redacted]"


def as_dict(entry: RecordedRequest) -> Mapping[str, Any]:
    """The JSON form of an entry, as ``GET /__vbs__/requests`` returns it: tokens and passwords redacted."""
    return {
        "seq": entry.seq,
        "operation": entry.operation,
        "method": entry.method,
        "path": entry.path,
        "query": entry.query,
        "headers": {k: REDACTED if k.lower() in SECRET_HEADERS else v for k, v in entry.headers.items()},
        "json": redacted(entry.json),
        "body_length": entry.body_length,
        "truncated": list(entry.truncated),
        "project_id": entry.project_id,
        "status": entry.status,
        "response_json": redacted(entry.response_json),
        "fault": entry.fault,
    }


def redacted(value: Any) -> Any:
    """``value`` with every ``password`` value, and the ``id`` of a Keystone ``token`` method, replaced."""
    if isinstance(value, dict):
        shown = {k: REDACTED if k == "password" and not isinstance(v, dict) else redacted(v) for k, v in value.items()}
        token = shown.get("token")
        if "methods" in shown and isinstance(token, dict) and "id" in token:
            shown["token"] = {**token, "id": REDACTED}
        return shown
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return value
