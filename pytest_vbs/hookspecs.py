"""The fake's extension points, as pluggy hook specifications.

They are added to pytest's plugin manager (``pytest_addhooks``), so a ``conftest.py`` implements them like
any pytest hook, and to the standalone server's own manager (``serve --plugin module``). Fault injection is
one implementation of :func:`pytest_vbs_answer`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pytest_vbs.api import Operation
    from pytest_vbs.fake import FakeVBS
    from pytest_vbs.journal import RecordedRequest
    from pytest_vbs.wsgi.app import VBSApp

# The marker's project name is "pytest" so that the same implementations work in pytest and standalone.
hookspec = pluggy.HookspecMarker("pytest")
hookimpl = pluggy.HookimplMarker("pytest")


@dataclass
class Answer:
    """A response given in place of the fake's own.

    ``status`` ``None`` keeps the fake's own response (useful with ``fault`` after the operation ran).
    With ``status`` >= 400 and no ``json``, the body is the documented error envelope of the route's API
    family, with ``message`` (default: the status page's wording) and, on VBS-native routes, ``code``.
    ``fault`` breaks the connection instead (a :class:`pytest_vbs.faults.WireFault` value); ``delay`` waits first
    (seconds).
    """

    status: int | None = 200
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    code: str | None = None
    fault: str | None = None
    delay: float = 0.0
    label: str = "hook"  #: recorded in the journal entry's ``fault`` field


@hookspec
def pytest_vbs_configure(fake: FakeVBS) -> None:
    """A fake server has started: seed volumes, set the transition mode, register state."""


@hookspec(firstresult=True)
def pytest_vbs_answer(
    app: VBSApp, request: RecordedRequest, operation: Operation | None, committed: bool
) -> Answer | None:
    """Answer ``request`` (sent to ``app``) instead of the fake: return an :class:`Answer`, or ``None``.

    Called before the fake handles the request (``committed=False``) and again after the operation took
    effect (``committed=True``: an answer then replaces the real response, the change stays made).
    ``operation`` is ``None`` for a request that matches no route.
    """


@hookspec
def pytest_vbs_answered(app: VBSApp, request: RecordedRequest) -> None:
    """Observe every request after it was answered (``request.status``/``request.response_json`` are set)."""


class _StandaloneManager(pluggy.PluginManager):
    """Accepts plain ``pytest_vbs_*`` functions as implementations, as pytest does for ``pytest_*``."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("pytest_vbs_") and callable(getattr(plugin, name, None)):
            return pluggy.HookimplOpts(
                wrapper=False, hookwrapper=False, optionalhook=False, tryfirst=False, trylast=False, specname=None
            )
        return opts


def standalone_plugin_manager(*plugins: object) -> pluggy.PluginManager:
    """The plugin manager of a fake run outside pytest, with these plugin modules/objects registered."""
    manager = _StandaloneManager("pytest")
    manager.add_hookspecs(sys.modules[__name__])
    for plugin in plugins:
        manager.register(plugin)
    return manager
