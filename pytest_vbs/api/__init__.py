"""The HTTP face of the fake: the operation table, one module per API family.

Each family module holds its rows (``ROUTES``: name, method, werkzeug rule, family, status, handler, schemas,
documentation page, error codes), its handlers, named after their operations, and its views; shared views are in
``views.py``, microversions in ``microversions.py``. Routing, validation, the journal, faults, the OpenAPI
document and the docs' coverage table are all derived from :data:`OPERATIONS`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from werkzeug.routing import Map, Rule

from pytest_vbs.api import cinder, cloudbackups, control, identity, native, policies, sharing
from pytest_vbs.api.call import Call, Controls, Operation
from pytest_vbs.errors import Family

__all__ = ["BY_NAME", "OPERATIONS", "Call", "Controls", "Operation", "family_of", "url_map"]

#: Every operation the fake serves, in the README's order: the documented VBS API, then the helpers.
OPERATIONS: tuple[Operation, ...] = (
    *native.ROUTES,
    *cloudbackups.ROUTES,
    *sharing.ROUTES,
    *policies.ROUTES,
    *cinder.ROUTES,
    *identity.ROUTES,
    *control.ROUTES,
)

BY_NAME: Mapping[str, Operation] = {op.name: op for op in OPERATIONS}


@functools.cache
def url_map(*, control: bool = True) -> Map:
    """werkzeug routing for the whole table; literal segments (``/detail``) win over ids by werkzeug's
    rule weighting. Trailing slashes are optional (``/v3`` and ``/v3/``). Without ``control`` the
    ``/__vbs__`` routes are left out: they answer 404 like any unknown route.

    Built once per process and shared by every app (matching only reads it)."""
    return Map(
        [Rule(op.rule, endpoint=op.name, methods=[op.method]) for op in OPERATIONS
         if control or "control" not in op.tags],
        strict_slashes=False,
        merge_slashes=False,
    )


@dataclass
class _Prefix:
    """A node of the rules' segment trie: the families of the operations below it, and the next segments
    (``None`` stands for a variable segment, ``<backup_id>``)."""

    families: set[Family] = field(default_factory=set)
    next: dict[str | None, _Prefix] = field(default_factory=dict)


@functools.cache
def _prefixes() -> _Prefix:
    root = _Prefix()
    for op in OPERATIONS:
        node = root
        for segment in (s for s in op.rule.split("/") if s):
            node = node.next.setdefault(None if segment.startswith("<") else segment, _Prefix())
            node.families.add(op.family)
    return root


def family_of(path: str) -> Family:
    """The envelope family of ``path``, also when no operation matches it: the family of every operation whose
    rule shares the longest prefix with the path (literal segments first, then a variable one), or the native
    (Cinder) envelope where that prefix belongs to several families or to none.

    Derived from the rows, so a new URL prefix needs no edit here."""
    node = _prefixes()
    for segment in (s for s in path.split("/") if s):
        child = node.next.get(segment) or node.next.get(None)
        if child is None:
            break
        node = child
    return next(iter(node.families)) if len(node.families) == 1 else Family.NATIVE
