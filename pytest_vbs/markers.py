"""The markers ``vbs``, ``vbs_strict`` and ``vbs_fault``: their arguments in one table, and the check of a test's marks.

A mark with an unknown or extra argument, or a bad value, is a usage error at the test's setup naming the marker and
what it allows; a mark on a test that uses neither ``vbs`` nor ``vbs_server`` is an error that says so. A new
argument is one row of :data:`MARKERS` (and its use in :meth:`Settings.apply`). Imported by the plugin at load:
only the standard library here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_vbs.errors import unknown_name

if TYPE_CHECKING:
    import pytest

    from pytest_vbs.fake import FakeVBS

#: The values of ``TransitionMode`` (``tests/plugin/test_markers.py`` holds the two together; the plugin may not
#: import ``pytest_vbs.service`` at load, see the module docstring).
TRANSITION_MODES = ("immediate", "reads", "manual", "timed")
FIXTURES = ("vbs", "vbs_server")


class MarkerError(Exception):
    """A mark's arguments are wrong: the message names the marker and what it allows."""


# -- checks: each returns what is wrong with a value, or None --------------------------------------------------
def one_of(*values: str) -> Callable[[Any], str | None]:
    return lambda value: None if value in values else f"must be one of {', '.join(map(repr, values))}"


def positive_int(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return None if ok else "must be an integer >= 1"


def seconds(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf")
    return None if ok else "must be a number of seconds >= 0"


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be True or False"


def text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def by_fail(_: Any) -> str | None:
    return None  # checked by vbs.fail itself (ValueError/TypeError), reported as this marker's usage error


@dataclass(frozen=True)
class Argument:
    name: str
    check: Callable[[Any], str | None]
    help: str = ""


@dataclass(frozen=True)
class Marker:
    name: str
    help: str
    arguments: tuple[Argument, ...]
    positional: tuple[str, ...] = ()  #: the arguments a positional value stands for, in order
    signature: str = ""  #: how error messages show the arguments when they are too many to list

    def allowed(self) -> list[str]:
        return [argument.name for argument in self.arguments]

    def describe(self) -> str:
        return f"@pytest.mark.{self.name}({self.signature or ', '.join(self.allowed())})"

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The mark's arguments by name, each checked; :class:`MarkerError` otherwise."""
        if len(args) > len(self.positional):
            takes = f"at most {len(self.positional)} ({', '.join(self.positional)})" if self.positional else "none"
            raise self.error(f"takes {takes} positional argument(s), got {len(args)}: {args!r}; use keywords")
        bound = dict(zip(self.positional, args, strict=False))
        for name, value in kwargs.items():
            if name in bound:
                raise self.error(f"{name!r} given twice (positionally and as a keyword)")
            bound[name] = value
        rows = {argument.name: argument for argument in self.arguments}
        for name, value in bound.items():
            if name not in rows:  # the known names are listed, and the signature too when they are many
                raise self.error(unknown_name("keyword", name, rows), signature=bool(self.signature))
            problem = rows[name].check(value)
            if problem is not None:
                raise self.error(f"{name}={value!r}: {problem}")
        return bound

    def error(self, problem: str, *, signature: bool = True) -> MarkerError:
        allowed = f" (allowed: {self.describe()})" if signature else ""
        return MarkerError(f"@pytest.mark.{self.name}: {problem}{allowed}")


#: The keyword arguments of ``FakeVBS.fail`` (``tests/plugin/test_markers.py`` holds the two together).
_FAULT_KEYWORDS = ("times", "probability", "nth", "delay", "fault", "after_commit", "message", "code", "method",
                   "path", "family", "retry_after", "seed")

#: Every marker and every argument it takes: the one place they are defined.
MARKERS: dict[str, Marker] = {m.name: m for m in (
    Marker("vbs", "configure the fake VBS for this test", (
        Argument("transitions", one_of(*TRANSITION_MODES), "when asynchronous status changes happen"),
        Argument("reads", positive_int, "with transitions='reads': reads that see the transient status"),
        Argument("seconds", seconds, "with transitions='timed': seconds before a pending change completes"),
        Argument("project_id", text, "the project the vbs fixture acts in"),
        Argument("auth", boolean, "check X-Auth-Token (401/403)"),
        Argument("strict", boolean, "strict mode for this test, whatever the configuration"),
    )),
    Marker("vbs_strict", "strict mode for this test (vbs_strict(False): off): fail it at teardown if it sent a "
           "request that breaks the documented VBS schema", (
        Argument("enabled", boolean, "True (the default) or False"),
    ), positional=("enabled",)),
    Marker("vbs_fault", "inject a fault into the fake VBS for this test (the arguments of vbs.fail, or an operation "
           "and sequence=[...] as vbs.fail_sequence; repeatable)", (
        Argument("operation", by_fail), Argument("status", by_fail),
        *(Argument(name, by_fail) for name in _FAULT_KEYWORDS),
        Argument("sequence", by_fail, "the outcomes of vbs.fail_sequence"),
    ), positional=("operation", "status"),
        signature="operation, status, **the keywords of vbs.fail; or operation, sequence=[...]"),
)}


def ini_lines() -> Iterator[str]:
    """The ``markers`` ini lines that register the markers (``--strict-markers``, ``pytest --markers``)."""
    for marker in MARKERS.values():
        yield f"{marker.name}({', '.join(marker.allowed())}): {marker.help}"


@dataclass
class Settings:
    """What a test's marks ask of the fake, checked."""

    vbs: dict[str, Any] = field(default_factory=dict)
    strict: bool | None = None  #: None: the configuration decides
    faults: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, item: pytest.Item) -> Settings:
        """The closest ``vbs`` and ``vbs_strict`` marks and every ``vbs_fault`` mark (outermost first)."""
        settings = cls()
        vbs = item.get_closest_marker("vbs")
        if vbs is not None:
            settings.vbs = MARKERS["vbs"].bind(vbs.args, dict(vbs.kwargs))
            settings.strict = settings.vbs.pop("strict", None)
        strict = item.get_closest_marker("vbs_strict")
        if strict is not None:
            settings.strict = MARKERS["vbs_strict"].bind(strict.args, dict(strict.kwargs)).get("enabled", True)
        settings.faults = [MARKERS["vbs_fault"].bind(mark.args, dict(mark.kwargs))
                           for mark in reversed(list(item.iter_markers("vbs_fault")))]
        return settings

    def apply(self, fake: FakeVBS) -> FakeVBS:
        """Configure a freshly reset fake; the fake the test gets (``project_id`` gives another project's view)."""
        options = dict(self.vbs)
        if "project_id" in options:
            fake = fake.for_project(options.pop("project_id"))
        if "auth" in options:
            fake.auth = options.pop("auth")
        try:
            if options:
                fake.set_transitions(options.get("transitions", fake.state.transitions), options.get("reads"),
                                     seconds=options.get("seconds"))
        except (ValueError, TypeError) as error:
            raise MARKERS["vbs"].error(str(error)) from None
        for fault in self.faults:
            try:
                if "sequence" in fault:
                    options = dict(fault)
                    fake.fail_sequence(options.pop("operation", "*"), options.pop("sequence"), **options)
                else:
                    fake.fail(**fault)
            except (ValueError, TypeError) as error:
                raise MARKERS["vbs_fault"].error(f"{error}") from None
        return fake


def own_marks(item: pytest.Item) -> str:
    """The vbs marks set on the test function itself (``@pytest.mark.vbs, ...``), or ``""``."""
    own = sorted({mark.name for mark in getattr(item, "own_markers", []) if mark.name in MARKERS})
    return ", ".join(f"@pytest.mark.{name}" for name in own)


def misplaced(item: pytest.Item, fixtures: Iterable[str]) -> str | None:
    """Why the test's own vbs marks cannot apply (it uses neither fixture), or None. Marks of a module or class
    apply to the tests in it that use a fixture."""
    marks = own_marks(item)
    if not marks or set(FIXTURES) & set(fixtures):
        return None
    return (f"{marks} on {item.name}: this test uses neither the 'vbs' fixture nor 'vbs_server', so the mark "
            "would do nothing; add the 'vbs' argument to the test (or use vbs_server.isolated())")
