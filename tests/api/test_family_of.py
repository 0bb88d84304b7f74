"""``api.family_of``: which error envelope a path gets, derived from the operation table's rows (also for paths
that match no route), so a new URL prefix needs no second edit."""

from __future__ import annotations

import re

import pytest

from pytest_vbs.api import OPERATIONS, Operation, family_of
from pytest_vbs.errors import Family


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_every_route_is_in_its_own_family(op: Operation) -> None:
    assert family_of(re.sub(r"<[^>]+>", "some-id", op.rule)) is op.family


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("/v1/p/jobs/x/more", Family.VBS),
        ("/v1/p/unknown", Family.VBS),
        ("/v2/p/cloudbackups/x/y/z", Family.VBS),
        ("/v2/p/backuppolicy/x/unknown/more", Family.VBS),
        ("/v2/p/backuppolicyresources/x/y", Family.VBS),
        ("/v2/p/os-vendor-backup-sharing/x/y", Family.VBS),
        ("/v2/p/unknown", Family.NATIVE),  # v2 holds native and VBS-native routes: Cinder's envelope
        ("/v3/p/backups/x/y/z", Family.NATIVE),
        ("/v3/p/unknown", Family.NATIVE),
        ("/identity", Family.IDENTITY),
        ("/identity/v3/unknown", Family.IDENTITY),
        ("/__vbs__/unknown", Family.NATIVE),
        ("/", Family.NATIVE),
        ("/nothing/here", Family.NATIVE),
    ],
)
def test_unmatched_paths_get_the_family_of_their_longest_known_prefix(path: str, family: Family) -> None:
    assert family_of(path) is family
