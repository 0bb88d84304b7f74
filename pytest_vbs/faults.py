"""Scriptable failure injection: rules that make the fake answer with an error, late, or not at all.

A :class:`FaultInjector` is a pluggy plugin implementing :func:`~pytest_vbs.hookspecs.pytest_vbs_answer`,
registered next to any user hooks. Each :class:`FaultRule` matches requests (operation name, ``"*"``,
method, path regex), decides whether it fires (``times``, ``nth``, seeded ``probability``), and answers with
the documented error envelope of ``status`` and the headers a real server sends with it, a wire fault,
and/or a delay. Without ``after_commit`` the operation does not run; with it, the operation takes effect
and the client still sees the failure.
"""

from __future__ import annotations

import enum
import random
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from pytest_vbs.hookspecs import Answer, hookimpl

if TYPE_CHECKING:
    from pytest_vbs.api import Operation
    from pytest_vbs.journal import RecordedRequest


class WireFault(str, enum.Enum):
    """The catalogue of wire faults: what a server does to the connection instead of (or while) answering.

    The socket server (``wsgi/serving.py``) performs each one, the in-process adapter (``inprocess.py``) raises what
    ``requests`` raises for it, and the control API's schema lists them; a test holds all three to this enum."""

    CONNECTION_RESET = "connection_reset"  #: RST instead of an answer
    EMPTY_RESPONSE = "empty_response"  #: the connection closes without a byte
    MALFORMED_BODY = "malformed_body"  #: the full ``Content-Length`` announced, half the body sent, then closed
    SLOW_BODY = "slow_body"  #: the body dribbled in pieces over about two seconds
    HANG = "hang"  #: nothing, until the client gives up or the server stops

    @property
    def sends_body(self) -> bool:
        """Sends a (broken) body: without a status it breaks the fake's real response (after the operation ran)."""
        return self in (WireFault.MALFORMED_BODY, WireFault.SLOW_BODY)

    @property
    def answers(self) -> bool:
        """The client gets a status line (the journal records the status; else ``0``)."""
        return self.sends_body


#: The wire fault names, in catalogue order.
WIRE_FAULTS: tuple[str, ...] = tuple(fault.value for fault in WireFault)
#: Status used when a rule names neither a status nor a wire fault nor a delay.
DEFAULT_STATUS = 500


@dataclass
class FaultRule:
    """One injected failure; see :meth:`pytest_vbs.FakeVBS.fail` for the meaning of each field."""

    operation: str = "*"
    status: int | None = None
    times: int | None = None
    probability: float | None = None
    nth: int | None = None
    delay: float | tuple[float, float] | None = None
    fault: str | None = None
    after_commit: bool = False
    message: str | None = None
    code: str | None = None
    method: str | None = None
    path: str | None = None
    retry_after: int | None = None
    seed: int = 0
    matched: int = field(default=0, init=False)  #: requests this rule matched so far
    served: int = field(default=0, init=False)  #: times it fired
    _random: random.Random = field(init=False, repr=False, compare=False)
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in WIRE_FAULTS:
            raise ValueError(f"fault must be one of {', '.join(WIRE_FAULTS)}, not {self.fault!r}")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"status must be an error status (400-599), not {self.status!r}")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        for name in ("times", "nth"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1")
        if isinstance(self.delay, (list, tuple)):
            low, high = self.delay
            if not 0 <= low <= high:
                raise ValueError("delay range must be (low, high) with 0 <= low <= high")
            self.delay = (float(low), float(high))
        elif self.delay is not None and self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.status is None and self.fault is None and self.delay is None:
            self.status = DEFAULT_STATUS
        self._random = random.Random(self.seed)
        try:
            self._pattern = re.compile(self.path) if self.path else None
        except re.error as error:
            raise ValueError(f"path is not a valid regular expression: {error}") from None

    @property
    def committed(self) -> bool:
        """Whether the rule acts after the operation ran: ``after_commit``, or a body fault (truncated or
        dribbled body) without a ``status``, which breaks the fake's real response."""
        body_fault = self.fault is not None and WireFault(self.fault).sends_body
        return self.after_commit or (body_fault and self.status is None)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.served >= self.times

    def matches(self, request: RecordedRequest, operation: Operation | None) -> bool:
        if self.operation != "*" and (operation is None or operation.name != self.operation):
            return False
        if self.method is not None and request.method.upper() != self.method.upper():
            return False
        return self._pattern is None or self._pattern.search(request.path) is not None

    def fires(self) -> bool:
        """Count a matching request and decide whether the rule fires for it (call under the lock)."""
        self.matched += 1
        if self.exhausted or (self.nth is not None and self.matched != self.nth):
            return False
        if self.probability is not None and self._random.random() >= self.probability:
            return False
        self.served += 1
        return True

    def pause(self) -> float:
        if isinstance(self.delay, tuple):
            return self._random.uniform(*self.delay)
        return self.delay or 0.0

    def as_dict(self) -> dict[str, Any]:
        data = {key: getattr(self, key) for key in RULE_FIELDS}
        if isinstance(self.delay, tuple):
            data["delay"] = list(self.delay)
        return {**data, "matched": self.matched, "served": self.served}


#: The fields a rule is made of: ``FakeVBS.fail``'s parameters and the control API's ``POST /__vbs__/faults`` body.
RULE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(FaultRule) if f.init)


class FaultInjector:
    """The fault rules of one application, served through the ``pytest_vbs_answer`` hook (first in line).

    ``owner`` is the application whose requests the rules apply to; ``operations`` the names a rule may
    give; ``allowed_methods`` the methods served at a path (for the ``Allow`` header of a 405)."""

    def __init__(
        self, owner: object, *, operations: Collection[str], allowed_methods: Callable[[str], list[str]],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.owner = owner
        self.operations = operations
        self.allowed_methods = allowed_methods
        self.sleep = sleep  #: how a latency-only rule waits (the app's ends at once when its server stops)
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        if rule.operation != "*" and rule.operation not in self.operations:
            raise ValueError(f"unknown operation {rule.operation!r}; known: {', '.join(sorted(self.operations))}")
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    @hookimpl(tryfirst=True)
    def pytest_vbs_answer(
        self, app: object, request: RecordedRequest, operation: Operation | None, committed: bool
    ) -> Answer | None:
        if app is not self.owner or (operation is not None and not operation.journal):
            return None  # another fake's request, or the control API
        for rule in self.rules():
            with self._lock:
                fired = rule.committed == committed and rule.matches(request, operation) and rule.fires()
            if not fired:
                continue
            pause = rule.pause()
            if rule.status is None and rule.fault is None:
                self.sleep(pause)  # latency only: then the next rule, or the fake itself, answers
                request.fault = f"delay {pause:.3f}"
                continue
            label = " ".join(str(part) for part in (rule.status, rule.fault) if part is not None)
            return Answer(
                status=rule.status,
                message=rule.message,
                code=rule.code,
                headers=self._headers(rule, request),
                fault=rule.fault,
                delay=pause,
                label=label + (" after_commit" if rule.after_commit else ""),
            )
        return None

    def _headers(self, rule: FaultRule, request: RecordedRequest) -> dict[str, str]:
        """The headers a real server sends with each status (RFC 9110; Keystone for 401)."""
        host = request.headers.get("Host", "localhost")
        headers = {
            401: {"WWW-Authenticate": f'Keystone uri="http://{host}/identity/v3"'},
            405: {"Allow": ", ".join(self.allowed_methods(request.path)) or "GET"},
            407: {"Proxy-Authenticate": 'Basic realm="vbs-proxy"'},
            408: {"Connection": "close"},
        }.get(rule.status or 0, {})
        if rule.retry_after is not None:
            headers["Retry-After"] = str(rule.retry_after)
        return headers
