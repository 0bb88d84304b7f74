"""Hypothesis entry point: ``st.from_type`` support and a CI settings profile, at no import cost.

Hypothesis calls :func:`_hypothesis_setup_hook` when it is imported; the strategies module itself is only
imported when a strategy is first drawn.
"""

from __future__ import annotations

from pytest_vbs.hypothesis_types import BackupName

__all__ = ["CI_PROFILE", "BackupName"]

#: A bounded, derandomised profile for CI: ``pytest --hypothesis-profile vbs-ci``.
CI_PROFILE = "vbs-ci"


def _hypothesis_setup_hook() -> None:
    from hypothesis import settings
    from hypothesis import strategies as st

    def names() -> st.SearchStrategy[str]:
        from pytest_vbs.strategies import backup_names  # deferred for import cost: drawn only when a test asks

        return backup_names()

    st.register_type_strategy(BackupName, st.deferred(names))
    settings.register_profile(CI_PROFILE, max_examples=50, derandomize=True, deadline=None, print_blob=True)
