"""Types hypothesis draws with ``st.from_type``: defined here, where both the entry point (``hypothesis_setup``)
and the strategies (``strategies``) can name them without importing each other."""

from __future__ import annotations

from typing import NewType

#: A valid backup name: ``st.from_type(BackupName)`` draws from ``pytest_vbs.strategies.backup_names()``.
BackupName = NewType("BackupName", str)
