"""The fake VBS itself: its nouns (``models``) and rules (``state``, ``listing``, ``sharing``, ``policies``,
``scheduler``) and the fake Keystone (``identity``). No HTTP here: rules raise :class:`pytest_vbs.errors.APIError`,
which the API layer (``pytest_vbs.api``) turns into answers."""

from pytest_vbs.service.identity import Identity
from pytest_vbs.service.state import State

__all__ = ["Identity", "State"]
