"""pytest-vbs: a faithful, stateful fake of the Volume Backup Service (VBS) API, as a pytest plugin.

The names below are the public API. The fixtures ``vbs``, ``vbs_server`` and ``vbs_error_status`` come
with the plugin. Names are imported on first use, so loading the plugin stays cheap for every pytest run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_vbs.assertions import assert_valid_request, assert_valid_response
    from pytest_vbs.coverage import CoverageRecorder, CoverageReport
    from pytest_vbs.errors import ERROR_STATUSES, APIError
    from pytest_vbs.fake import DEFAULT_PROJECT_ID, FakeVBS, SeedingWarning
    from pytest_vbs.faults import FaultRule, WireFault
    from pytest_vbs.hookspecs import Answer, hookimpl
    from pytest_vbs.journal import RecordedRequest
    from pytest_vbs.live_handle import LiveVBS
    from pytest_vbs.service.models import (
        Backup,
        Job,
        Policy,
        ScheduledPolicy,
        Sharing,
        Snapshot,
        Task,
        TransitionMode,
        Volume,
    )
    from pytest_vbs.wsgi.serving import ExposedServerWarning

_MODELS = "pytest_vbs.service.models"
_WHERE = {
    "DEFAULT_PROJECT_ID": "pytest_vbs.fake",
    "ERROR_STATUSES": "pytest_vbs.errors",
    "APIError": "pytest_vbs.errors",
    "Answer": "pytest_vbs.hookspecs",
    "Backup": _MODELS,
    "CoverageRecorder": "pytest_vbs.coverage",
    "CoverageReport": "pytest_vbs.coverage",
    "ExposedServerWarning": "pytest_vbs.wsgi.serving",
    "FakeVBS": "pytest_vbs.fake",
    "FaultRule": "pytest_vbs.faults",
    "Job": _MODELS,
    "LiveVBS": "pytest_vbs.live_handle",
    "Policy": _MODELS,
    "RecordedRequest": "pytest_vbs.journal",
    "ScheduledPolicy": _MODELS,
    "SeedingWarning": "pytest_vbs.fake",
    "Sharing": _MODELS,
    "Snapshot": _MODELS,
    "Task": _MODELS,
    "TransitionMode": _MODELS,
    "Volume": _MODELS,
    "WireFault": "pytest_vbs.faults",
    "assert_valid_request": "pytest_vbs.assertions",
    "assert_valid_response": "pytest_vbs.assertions",
    "hookimpl": "pytest_vbs.hookspecs",
}

__all__ = [
    "DEFAULT_PROJECT_ID",
    "ERROR_STATUSES",
    "APIError",
    "Answer",
    "Backup",
    "CoverageRecorder",
    "CoverageReport",
    "ExposedServerWarning",
    "FakeVBS",
    "FaultRule",
    "Job",
    "LiveVBS",
    "Policy",
    "RecordedRequest",
    "ScheduledPolicy",
    "SeedingWarning",
    "Sharing",
    "Snapshot",
    "Task",
    "TransitionMode",
    "Volume",
    "WireFault",
    "assert_valid_request",
    "assert_valid_response",
    "hookimpl",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'pytest_vbs' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
