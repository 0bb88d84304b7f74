"""A "cloud" for live mode tests: an independent fake VBS with token checks on and no control API (what
``pytest-vbs serve --auth --no-control`` runs), and a clouds.yaml naming it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from pytest_vbs import FakeVBS
from pytest_vbs.service.identity import DEFAULT_PASSWORD, DEFAULT_PROJECT_ID, DEFAULT_USERNAME

CLOUD = "vbs-test-cloud"
TIMEOUT = 10

#: The inner suites' shared helpers: the cloud's own URL and a token asked for directly.
CONFTEST = '''
import os, requests
import pytest

TIMEOUT = 10
CLOUD_URL = os.environ["LIVE_TEST_CLOUD_URL"]

def cloud_token():
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "vbs-user", "domain": {"name": "Default"}, "password": "vbs-password"}}},
        "scope": {"project": {"id": "0d5b1e9a6c7f4b2e8a1d3c5e7f9b0a24"}}}}
    answer = requests.post(f"{CLOUD_URL}/identity/v3/auth/tokens", json=body, timeout=TIMEOUT)
    return answer.headers["X-Subject-Token"]

@pytest.fixture
def backup(vbs):
    volume_id = vbs.add_volume(size=1)
    snapshot_id = vbs.add_snapshot(volume_id)
    answer = requests.post(f"{vbs.endpoint}/backups", json={"backup": {"volume_id": volume_id,
                           "snapshot_id": snapshot_id, "name": "b"}}, timeout=TIMEOUT)
    assert answer.status_code == 202, answer.text
    return answer.json()["backup"]["id"]
'''
INI = "[pytest]\nfilterwarnings =\n    ignore::DeprecationWarning\n"


@dataclass
class Cloud:
    fake: FakeVBS
    config_file: Path

    @property
    def url(self) -> str:
        return self.fake.url

    def token(self) -> str:
        """A token of the cloud, asked for directly (not through any proxy)."""
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": DEFAULT_USERNAME, "domain": {"name": "Default"}, "password": DEFAULT_PASSWORD}}},
            "scope": {"project": {"id": DEFAULT_PROJECT_ID}}}}
        answer = requests.post(f"{self.url}/identity/v3/auth/tokens", json=body, timeout=TIMEOUT)
        answer.raise_for_status()
        return answer.headers["X-Subject-Token"]

    def list(self, path: str) -> object:
        """A listing through the cloud's real API (``/v3/{project}/volumes`` ...), with a token of its own."""
        url = f"{self.url}/{path.format(project_id=DEFAULT_PROJECT_ID).lstrip('/')}"
        answer = requests.get(url, headers={"X-Auth-Token": self.token()}, timeout=TIMEOUT)
        answer.raise_for_status()
        return answer.json()


def write_clouds_yaml(path: Path, url: str, *, name: str = CLOUD, auth_type: str = "password",
                      **auth: str) -> Path:
    """A clouds.yaml with the cloud ``name``: password auth scoped to the project by id, unless ``auth`` says
    otherwise (``token=...`` with ``auth_type="token"``, ``project_name=...`` ...)."""
    settings = {"auth_url": f"{url}/identity/v3", "username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD,
                "user_domain_name": "Default", "project_id": DEFAULT_PROJECT_ID}
    settings.update(auth)
    config = {"clouds": {name: {"auth_type": auth_type, "auth": {k: v for k, v in settings.items() if v},
                                "region_name": "eu-de", "identity_api_version": "3"}}}
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    """The "cloud" and the environment naming it (``OS_CLIENT_CONFIG_FILE``; no other ``OS_*`` leaks in)."""
    import os

    for key in list(os.environ):
        if key.startswith("OS_"):
            monkeypatch.delenv(key)
    with FakeVBS(auth=True, control=False) as fake:
        config = write_clouds_yaml(tmp_path / "clouds.yaml", fake.url)
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(config))
        yield Cloud(fake, config)


@pytest.fixture
def suite(pytester: pytest.Pytester, cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester whose inner suites know the cloud (``LIVE_TEST_CLOUD_URL``) and the shared :data:`CONFTEST`."""
    monkeypatch.setenv("LIVE_TEST_CLOUD_URL", cloud.url)
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    return pytester
