"""Shared helpers for pytest-vbs's own tests: they drive the fake over real sockets with ``requests``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from hypothesis import settings
from vbs_support import Disk

from pytest_vbs import FakeVBS
from pytest_vbs.hypothesis_setup import CI_PROFILE

settings.load_profile(CI_PROFILE)  # bounded and derandomised: CI runs are reproducible


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive HTTP client, closed after the test."""
    with requests.Session() as session:
        yield session


@pytest.fixture
def disk(vbs: FakeVBS) -> Disk:
    """A 10 GB available volume with an available snapshot, in the test's project."""
    volume_id = vbs.add_volume(size=10, name="disk")
    return Disk(volume_id, vbs.add_snapshot(volume_id))


@pytest.fixture(params=["v3", "v2"])
def version(request: pytest.FixtureRequest) -> str:
    """Each native API family in turn: ``v3`` and the deprecated ``v2`` (operation names with ``_v2``)."""
    return str(request.param)


@pytest.fixture
def endpoint(vbs: FakeVBS, version: str) -> str:
    """The native endpoint of the test's project for ``version``."""
    return vbs.endpoint if version == "v3" else vbs.endpoint_v2


@pytest.fixture
def suffix(version: str) -> str:
    """The operation-name suffix of ``version`` (``""`` or ``"_v2"``)."""
    return "" if version == "v3" else "_v2"
