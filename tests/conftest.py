"""Shared helpers for pytest-vbs's own tests: they drive the fake over real sockets with ``requests``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive HTTP client, closed after the test."""
    with requests.Session() as session:
        yield session
