"""A fake restricted to some project ids answers 404 for the others (standalone ``serve --only-project``)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from pytest_vbs import FakeVBS

SERVED = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
OTHER = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


@pytest.fixture
def restricted() -> Iterator[FakeVBS]:
    with FakeVBS(project_id=SERVED, projects=[SERVED]) as fake:
        yield fake


def test_served_project_works(restricted: FakeVBS, http: requests.Session) -> None:
    assert http.get(f"{restricted.url}/v3/{SERVED}/backups").json() == {"backups": []}


@pytest.mark.parametrize(("path", "key"), [
    (f"/v3/{OTHER}/backups", "itemNotFound"),
    (f"/v2/{OTHER}/backups/detail", "itemNotFound"),
    (f"/v2/{OTHER}/cloudbackups/quota", "error"),
    (f"/v1/{OTHER}/jobs/x", "error"),
])
def test_other_projects_are_404(restricted: FakeVBS, http: requests.Session, path: str, key: str) -> None:
    response = http.get(restricted.url + path)
    assert response.status_code == 404
    assert list(response.json()) == [key]
    assert f"Project {OTHER} is not served" in str(response.json())
    assert restricted.state.projects() == []  # nothing was created for the refused project


def test_discovery_and_control_are_not_project_routes(restricted: FakeVBS, http: requests.Session) -> None:
    assert http.get(f"{restricted.url}/v3").status_code == 200
    assert http.get(f"{restricted.url}/__vbs__/requests").status_code == 200


def test_by_default_any_project_id_works(vbs: FakeVBS, http: requests.Session) -> None:
    assert http.get(f"{vbs.url}/v3/{OTHER}/backups").status_code == 200


def test_serve_only_project(http: requests.Session) -> None:
    command = [sys.executable, "-m", "pytest_vbs", "serve", "--port", "0", "--only-project", SERVED]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        url = process.stdout.readline().split(" at ")[1].strip()
        try:
            assert http.get(f"{url}/v3/{SERVED}/backups").status_code == 200
            assert http.get(f"{url}/v3/{OTHER}/backups").status_code == 404
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=10)
    assert process.returncode == 0
