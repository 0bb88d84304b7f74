"""Scriptable failure injection: rules that make the fake answer with an error, late, or not at all.

A :class:`FaultInjector` is a pluggy plugin implementing :func:`~pytest_vbs.hookspecs.pytest_vbs_answer`,
registered next to any user hooks. Each :class:`FaultRule` matches requests (operation name or ``"*"``, API
``family``, method, path regex), decides whether it fires (``times``, ``nth``, seeded ``probability``), and
answers with the documented error envelope of ``status`` and the headers a real server sends with it, a wire
fault, and/or a delay. Without ``after_commit`` the operation does not run; with it, the operation takes effect
and the client still sees the failure. :func:`sequence_rules` turns a list of outcomes into rules, one per
matching request.

Every matching rule counts every request it matches (``nth`` and ``matched``), whether or not another rule
answered it; the rules are tried in the order they were added, and the first that fires answers (a delay-only
rule waits and lets the next rule or the fake answer). Rules are indexed by operation, and a ``path`` regex is
matched outside the lock, on at most ``MAX_PATH_SEARCHED`` characters, and only if it cannot backtrack
catastrophically (:mod:`pytest_vbs.patterns`).
"""

from __future__ import annotations

import enum
import heapq
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from pytest_vbs.errors import unknown_name, unknown_operation
from pytest_vbs.hookspecs import Answer, hookimpl
from pytest_vbs.patterns import MAX_PATH_SEARCHED, check_pattern

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
#: The API families a rule's ``family`` may name: the backup API's two envelopes, the fake Keystone, and the
#: version documents (``GET /``, ``/v2``, ``/v3``). See :func:`family_name`.
FAMILIES: tuple[str, ...] = ("native", "vbs", "identity", "discovery")
#: The methods a rule's ``method`` may name.
METHODS: tuple[str, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: Upper bound of ``times``, ``nth`` and ``retry_after``; ``delay`` is at most :data:`MAX_DELAY` seconds.
MAX_COUNT = 1_000_000_000
MAX_DELAY = 3600.0
#: Most outcomes in one sequence.
MAX_SEQUENCE = 1000
#: What a sequence's outcome may set (the rest is the sequence's own, or its place).
OUTCOME_FIELDS: tuple[str, ...] = ("status", "probability", "delay", "fault", "after_commit", "message", "code",
                                   "retry_after", "seed")


def family_name(operation: Operation) -> str:
    """The family a rule's ``family`` names for ``operation``: ``discovery`` for the version documents, else its
    error envelope's family (``native``: native backups, volumes, snapshots; ``vbs``; ``identity``)."""
    return "discovery" if "discovery" in operation.tags else operation.family.value


@dataclass
class FaultRule:
    """One injected failure; see :meth:`pytest_vbs.FakeVBS.fail` for the meaning of each field.

    Creating one checks every field on its own (``TypeError`` for a wrong type, ``ValueError`` for a wrong value
    or a rule that could never fire); :meth:`FaultInjector.add` checks it against the operation table."""

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
    family: str | None = None
    retry_after: int | None = None
    seed: int = 0
    matched: int = field(default=0, init=False)  #: requests this rule matched so far
    served: int = field(default=0, init=False)  #: times it fired
    _random: random.Random = field(init=False, repr=False, compare=False)
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _order: int = field(default=0, init=False, repr=False, compare=False)  #: when it was added (the trial order)

    def __post_init__(self) -> None:
        for name in ("operation", "message", "code", "method", "path", "family", "fault"):
            _expect(name, getattr(self, name), str, optional=name != "operation")
        _expect("after_commit", self.after_commit, bool)
        self.status = _integer("status", self.status, 400, 599, "an error status")
        for name, low in (("times", 1), ("nth", 1), ("retry_after", 0)):
            setattr(self, name, _integer(name, getattr(self, name), low, MAX_COUNT))
        self.seed = _integer("seed", self.seed, -(2**63), 2**63) or 0
        if self.probability is not None:
            self.probability = _number("probability", self.probability, 0.0, 1.0)
        self.delay = _delay(self.delay)
        if self.fault is not None and self.fault not in WIRE_FAULTS:
            raise ValueError(unknown_name("fault", self.fault, WIRE_FAULTS))
        if self.family is not None and self.family not in FAMILIES:
            raise ValueError(unknown_name("family", self.family, FAMILIES))
        if self.method is not None:
            if self.method.upper() not in METHODS:
                raise ValueError(unknown_name("method", self.method, METHODS))
            self.method = self.method.upper()
        if self.times is not None and self.nth is not None:
            raise ValueError("times and nth cannot be combined: a rule with nth fires once, on that request")
        if self.status is not None and self.fault is not None and not WireFault(self.fault).answers:
            raise ValueError(f"status {self.status} cannot be sent with fault {self.fault!r}, which sends no "
                             "answer at all; give one or the other")
        if self.status is None and self.fault is None and self.delay is None:
            self.status = DEFAULT_STATUS
        self._random = random.Random(self.seed)
        self._pattern = check_pattern(self.path) if self.path else None

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
        """Whether the request is one this rule is about (its operation, family, method and path); pure, so it
        runs outside the injector's lock."""
        if self.operation != "*" and (operation is None or operation.name != self.operation):
            return False
        if self.family is not None and (operation is None or family_name(operation) != self.family):
            return False
        if self.method is not None and request.method.upper() != self.method:
            return False
        if self._pattern is None:
            return True
        return len(request.path) <= MAX_PATH_SEARCHED and self._pattern.search(request.path) is not None

    def fires(self, ordinal: int) -> bool:
        """Whether the rule fires for the ``ordinal``-th request it matched (call under the injector's lock)."""
        if self.exhausted or (self.nth is not None and ordinal != self.nth):
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


# -- checking a rule's values ------------------------------------------------------------------------------------
def _expect(name: str, value: object, kind: type, *, optional: bool = False) -> None:
    if not (isinstance(value, kind) or (optional and value is None)):
        raise TypeError(f"{name} must be {kind.__name__}{' or None' if optional else ''}, not {_shown(value)}")


def _shown(value: object) -> str:
    text = repr(value)
    return f"{text if len(text) <= 40 else text[:37] + '...'} ({type(value).__name__})"


def _integer(name: str, value: Any, low: int, high: int, what: str = "an integer") -> int | None:
    """``value`` as a plain int in ``low..high``: ``503.0``, ``True`` and ``"503"`` are refused, an ``IntEnum``
    such as ``HTTPStatus.SERVICE_UNAVAILABLE`` becomes its number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int ({what}), not {_shown(value)}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be {what} between {low} and {high}, not {value}")
    return int(value)


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {_shown(value)}")
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value!r}")
    return float(value)


def _delay(value: Any) -> float | tuple[float, float] | None:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"delay range must be two numbers (low, high), not {len(value)}")
        low, high = (_number("delay", bound, 0.0, MAX_DELAY) for bound in value)
        if low > high:
            raise ValueError(f"delay range must be (low, high) with low <= high, not ({low:g}, {high:g})")
        return low, high
    return None if value is None else _number("delay", value, 0.0, MAX_DELAY)


# -- sequences -------------------------------------------------------------------------------------------------------
def sequence_rules(operation: str, outcomes: Sequence[Any], **common: Any) -> list[FaultRule]:
    """The rules of a sequence: the n-th request matching ``operation`` (and ``common``: ``method``, ``path``,
    ``family``) gets the n-th outcome, later ones the real behaviour. An outcome is ``None`` (the real
    behaviour), a status (int), a wire fault name, or a dict of ``FakeVBS.fail`` arguments (:data:`OUTCOME_FIELDS`).
    Each outcome other than ``None`` is a rule with ``nth`` set to its place."""
    if isinstance(outcomes, (str, bytes, Mapping)) or not isinstance(outcomes, Sequence):
        raise TypeError(f"outcomes must be a list, not {_shown(outcomes)}")
    if not 1 <= len(outcomes) <= MAX_SEQUENCE:
        raise ValueError(f"a sequence has 1 to {MAX_SEQUENCE} outcomes, not {len(outcomes)}")
    rules = []
    for place, outcome in enumerate(outcomes, 1):
        try:
            options = _outcome(outcome)
            if options is not None:
                rules.append(FaultRule(operation, nth=place, **common, **options))
        except (TypeError, ValueError) as error:
            raise type(error)(f"outcome {place} ({outcome!r}): {error}") from None
    return rules


def _outcome(outcome: Any) -> dict[str, Any] | None:
    if outcome is None:
        return None
    if isinstance(outcome, int) and not isinstance(outcome, bool):
        return {"status": outcome}
    if isinstance(outcome, str):
        return {"fault": outcome}
    if isinstance(outcome, Mapping):
        unknown = sorted(str(key) for key in outcome if key not in OUTCOME_FIELDS)
        if unknown:
            raise ValueError(unknown_name("outcome argument", unknown[0], OUTCOME_FIELDS)
                             + " (operation, method, path and family are the sequence's; nth is the place)")
        return dict(outcome)
    raise TypeError("an outcome is None, a status (int), a wire fault name or a dict of fail() arguments")


def rules_from(spec: Mapping[str, Any]) -> list[FaultRule]:
    """The rules a fault specification makes: ``FakeVBS.fail``'s arguments, or an ``operation`` and a
    ``sequence`` of outcomes with ``method``/``path``/``family`` (the ``vbs_fault`` marker's keywords and the
    control API's ``POST /__vbs__/faults`` body)."""
    options = dict(spec)
    if "sequence" not in options:
        unknown = sorted(str(key) for key in options if key not in RULE_FIELDS)
        if unknown:
            raise TypeError(unknown_name("fault rule argument", unknown[0], (*RULE_FIELDS, "sequence")))
        return [FaultRule(**options)]
    outcomes = options.pop("sequence")
    operation = options.pop("operation", "*")
    extra = sorted(str(key) for key in options if key not in ("method", "path", "family"))
    if extra:
        raise ValueError(f"{extra[0]!r} cannot be given with a sequence: put it in each outcome (a dict), or "
                         "give only operation, method, path and family")
    return sequence_rules(operation, outcomes, **options)


class FaultInjector:
    """The fault rules of one application, served through the ``pytest_vbs_answer`` hook (first in line).

    ``owner`` is the application whose requests the rules apply to; ``operations`` the operation table (a rule
    names one of them); ``allowed_methods`` the methods served at a path (for the ``Allow`` header of a 405).
    Rules are kept by operation (``"*"`` apart), so a request looks only at its own operation's rules."""

    def __init__(
        self, owner: object, *, operations: Mapping[str, Operation], allowed_methods: Callable[[str], list[str]],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.owner = owner
        self.operations = operations
        self.allowed_methods = allowed_methods
        self.sleep = sleep  #: how a latency-only rule waits (the app's ends at once when its server stops)
        self._lock = threading.Lock()
        self._by_operation: dict[str, list[FaultRule]] = {}
        self._added = 0
        self._pending = threading.local()  # the after-commit rules of the request this thread serves

    def add(self, rule: FaultRule) -> FaultRule:
        return self.add_all([rule])[0]

    def add_all(self, rules: Sequence[FaultRule]) -> list[FaultRule]:
        """Check every rule against the operation table, then add them all at once (or none)."""
        for rule in rules:
            self._check(rule)
        with self._lock:
            for rule in rules:
                self._added += 1
                rule._order = self._added
                self._by_operation.setdefault(rule.operation, []).append(rule)
        return list(rules)

    def _check(self, rule: FaultRule) -> None:
        if rule.operation == "*":
            return
        operation = self.operations.get(rule.operation)
        if operation is None:
            raise ValueError(unknown_operation(rule.operation, self.operations))
        if not operation.journal:
            raise ValueError(f"{rule.operation} is a control API route: faults never apply to /__vbs__")
        methods = (operation.method, "HEAD") if operation.method == "GET" else (operation.method,)
        if rule.method is not None and rule.method not in methods:
            raise ValueError(f"{rule.operation} is {operation.method} {operation.rule}: "
                             f"method {rule.method!r} would never match it")
        if rule.family is not None and rule.family != family_name(operation):
            raise ValueError(f"{rule.operation} is in family {family_name(operation)!r}, not {rule.family!r}: "
                             "the rule would never match it")

    def clear(self) -> None:
        with self._lock:
            self._by_operation.clear()

    def rules(self) -> list[FaultRule]:
        """Every rule, in the order they were added (the order they are tried in)."""
        with self._lock:
            every = [rule for rules in self._by_operation.values() for rule in rules]
        return sorted(every, key=lambda rule: rule._order)

    def _candidates(self, operation: Operation | None) -> list[FaultRule]:
        """The rules that may match a request of ``operation``, in the order they were added."""
        with self._lock:
            star = list(self._by_operation.get("*", ()))
            own = list(self._by_operation.get(operation.name, ())) if operation is not None else []
        if not own or not star:
            return own or star
        return list(heapq.merge(own, star, key=lambda rule: rule._order))

    @hookimpl(tryfirst=True)
    def pytest_vbs_answer(
        self, app: object, request: RecordedRequest, operation: Operation | None, committed: bool
    ) -> Answer | None:
        if app is not self.owner or (operation is not None and not operation.journal):
            return None  # another fake's request, or the control API
        if committed:
            pending = getattr(self._pending, "rules", None)
            self._pending.rules = None
            return self._answer(request, pending[1]) if pending and pending[0] is request else None
        matching = [rule for rule in self._candidates(operation) if rule.matches(request, operation)]
        with self._lock:  # every matching rule counts the request, whichever answers it
            counted = []
            for rule in matching:
                rule.matched += 1
                counted.append((rule, rule.matched))
        answer = self._answer(request, [pair for pair in counted if not pair[0].committed])
        self._pending.rules = None if answer else (request, [pair for pair in counted if pair[0].committed])
        return answer

    def _answer(self, request: RecordedRequest, counted: list[tuple[FaultRule, int]]) -> Answer | None:
        """The answer of the first of ``counted`` (rules and the ordinal of this request for each) that fires,
        after the delays of the delay-only rules before it that fire."""
        waits: list[float] = []
        answering: FaultRule | None = None
        with self._lock:
            for rule, ordinal in counted:
                if not rule.fires(ordinal):
                    continue
                if rule.status is None and rule.fault is None:
                    waits.append(rule.pause())  # latency only: then the next rule, or the fake itself, answers
                    continue
                answering, pause = rule, rule.pause()
                break
        for wait in waits:
            self.sleep(wait)
            request.fault = f"delay {wait:.3f}"
        if answering is None:
            return None
        rule = answering
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
