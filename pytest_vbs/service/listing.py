"""Backup lists: order, ``marker`` and filters (the list pages' query parameters), on one project's backups.

Called by :meth:`State.list_backups <pytest_vbs.service.state.State.list_backups>` under the state lock.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pytest_vbs.errors import APIError
from pytest_vbs.service.models import Backup, ListQuery, Project


def ordered(project: Project, query: ListQuery) -> Iterator[Backup]:
    """Backups in the requested order, starting after ``marker``."""
    if len(query.sort) == 1 and query.sort[0][0] == "created_at":
        descending = query.sort[0][1] == "desc"
        keys = project.order
        if query.marker is not None:
            marker = _marker(project, query.marker)
            if descending:
                indices: Iterable[int] = range(bisect.bisect_left(keys, marker.sort_key) - 1, -1, -1)
            else:
                indices = range(bisect.bisect_right(keys, marker.sort_key), len(keys))
        else:
            indices = range(len(keys) - 1, -1, -1) if descending else range(len(keys))
        return (project.backups[keys[i][1]] for i in indices)
    backups = list(project.backups.values())
    # Ties are broken by creation time, then id, as Cinder's process_sort_params does.
    for key, direction in reversed([*query.sort, ("created_at", query.sort[0][1]), ("id", query.sort[0][1])]):
        backups.sort(key=_by(key), reverse=direction == "desc")
    if query.marker is not None:
        marker = _marker(project, query.marker)
        backups = backups[backups.index(marker) + 1 :]
    return iter(backups)


def matching(project: Project, query: ListQuery) -> Iterator[Backup]:
    """Every backup of the project that passes the query's filters (any order)."""
    return (b for b in project.backups.values() if matches(b, query))


def matches(backup: Backup, query: ListQuery) -> bool:
    for key, wanted in query.exact.items():
        if getattr(backup, key) != wanted:
            return False
    for key, part in query.fuzzy.items():
        value = getattr(backup, key)
        if value is None or part not in value:
            return False
    return True


def _marker(project: Project, marker_id: str) -> Backup:
    marker = project.backups.get(marker_id)
    if marker is None:
        raise APIError(400, f"Marker {marker_id} could not be found.", reason="bad_marker")
    return marker


def _by(key: str) -> Callable[[Backup], tuple[int, Any]]:
    """Sort key on one backup attribute; ``None`` (or an attribute backups lack) sorts first."""

    def sort_key(backup: Backup) -> tuple[int, Any]:
        value = getattr(backup, key, None)
        return (0, "") if value is None else (1, value)

    return sort_key
