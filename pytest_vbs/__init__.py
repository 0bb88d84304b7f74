"""pytest-vbs: a faithful, stateful fake of the Volume Backup Service (VBS) API, as a pytest plugin.

The names below are the public API. The fixtures ``vbs`` and ``vbs_server`` come with the plugin.
"""

from pytest_vbs.errors import ERROR_STATUSES, APIError
from pytest_vbs.fake import DEFAULT_PROJECT_ID, FakeVBS
from pytest_vbs.hookspecs import Answer, hookimpl
from pytest_vbs.journal import RecordedRequest
from pytest_vbs.state import TransitionMode

__all__ = [
    "DEFAULT_PROJECT_ID",
    "ERROR_STATUSES",
    "APIError",
    "Answer",
    "FakeVBS",
    "RecordedRequest",
    "TransitionMode",
    "hookimpl",
]
