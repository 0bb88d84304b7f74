"""Hypothesis entry point: ``st.from_type`` support and a CI settings profile, at no import cost.

Hypothesis calls :func:`_hypothesis_setup_hook` when it is imported; the strategies module itself is only
imported when a strategy is first drawn.
"""

from __future__ import annotations

from typing import NewType

#: A valid backup name: ``st.from_type(BackupName)`` draws from ``pytest_vbs.strategies.backup_names()``.
BackupName = NewType("BackupName", str)

#: A bounded, derandomised profile for CI: ``pytest --hypothesis-profile vbs-ci``.
CI_PROFILE = "vbs-ci"


def _hypothesis_setup_hook() -> None:
    from hypothesis import settings
    from hypothesis import strategies as st

    def names() -> st.SearchStrategy[str]:
        from pytest_vbs.strategies import backup_names

        return backup_names()

    st.register_type_strategy(BackupName, st.deferred(names))
    settings.register_profile(CI_PROFILE, max_examples=50, derandomize=True, deadline=None, print_blob=True)
