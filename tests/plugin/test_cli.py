"""``python -m pytest_vbs serve``: a standalone fake in a subprocess, stopped by a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from serve_support import DEADLINE, serve

from pytest_vbs.service.identity import DEFAULT_PROJECT_ID


def test_serve_then_stop_with_ctrl_c(http: requests.Session) -> None:
    with serve("--project-id", "cli-project") as server:
        assert server.url.startswith("http://127.0.0.1:")
        endpoint = f"{server.url}/v3/cli-project"
        volume = http.post(f"{server.url}/__vbs__/volumes", json={"project_id": "cli-project", "size": 10})
        assert volume.status_code == 201, volume.text
        volume_id = volume.json()["volume"]["id"]
        snapshot = http.post(f"{endpoint}/snapshots", json={"snapshot": {"volume_id": volume_id}})
        created = http.post(
            f"{endpoint}/backups",
            json={"backup": {"volume_id": volume_id, "snapshot_id": snapshot.json()["snapshot"]["id"], "name": "cli"}},
        )
        assert created.status_code == 202, created.text
        backup = http.get(f"{endpoint}/backups/{created.json()['backup']['id']}").json()["backup"]
        assert (backup["name"], backup["status"], backup["os-backup-project-attr:project_id"]) == (
            "cli", "available", "cli-project"
        )
        journal = http.get(f"{server.url}/__vbs__/requests").json()["requests"]
        assert [e["operation"] for e in journal] == ["create_snapshot", "create_backup", "get_backup"]
        http.close()

        status, output = server.stop(signal.SIGINT)

    assert status == 0, output
    assert "stopped" in output
    assert "Traceback" not in output
    assert "/v3/cli-project" in output  # the printed example endpoint uses the project


def test_serve_stops_on_sigterm() -> None:
    with serve() as server:
        assert requests.get(f"{server.url}/", timeout=DEADLINE).status_code == 300

        status, output = server.stop(signal.SIGTERM)

    assert status == 0, output
    assert "stopped" in output


def test_serve_with_manual_transitions(http: requests.Session) -> None:
    with serve("--project-id", "p", "--transitions", "manual") as server:
        volume_id = http.post(f"{server.url}/__vbs__/volumes", json={"project_id": "p"}).json()["volume"]["id"]
        snapshot_id = http.post(f"{server.url}/__vbs__/snapshots",
                                json={"project_id": "p", "volume_id": volume_id}).json()["snapshot"]["id"]
        created = http.post(f"{server.url}/v3/p/backups",
                            json={"backup": {"volume_id": volume_id, "snapshot_id": snapshot_id}})
        url = f"{server.url}/v3/p/backups/{created.json()['backup']['id']}"
        assert http.get(url).json()["backup"]["status"] == "creating"
        assert http.post(f"{server.url}/__vbs__/advance", json={}).json() == {"advanced": 1}
        assert http.get(url).json()["backup"]["status"] == "available"
        http.close()

        status, _ = server.stop(signal.SIGINT)

    assert status == 0


def test_serve_with_timed_transitions(http: requests.Session) -> None:
    with serve("--transitions", "timed", "--seconds", "0.2") as server:
        state = http.get(f"{server.url}/__vbs__/state").json()
        http.close()

        status, _ = server.stop(signal.SIGINT)

    assert (state["transitions"], state["seconds"]) == ("timed", 0.2)
    assert status == 0


def test_serve_loads_plugins(tmp_path: Path, http: requests.Session) -> None:
    (tmp_path / "vbs_cli_seed_plugin.py").write_text(
        "def pytest_vbs_configure(fake):\n"
        "    volume = fake.add_volume(size=7, name='seeded')\n"
        "    fake.add_snapshot(volume, name='seeded-snap')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}

    with serve("--project-id", "plugged", "--plugin", "vbs_cli_seed_plugin", env=env) as server:
        volumes = http.get(f"{server.url}/v3/plugged/volumes/detail").json()["volumes"]
        snapshots = http.get(f"{server.url}/v3/plugged/snapshots").json()["snapshots"]
        # The seeding runs again after a reset.
        http.post(f"{server.url}/__vbs__/reset")
        after_reset = http.get(f"{server.url}/v3/plugged/volumes").json()["volumes"]
        http.close()

        status, output = server.stop(signal.SIGINT)

    assert [(v["name"], v["size"]) for v in volumes] == [("seeded", 7)]
    assert [(s["name"], s["volume_id"]) for s in snapshots] == [("seeded-snap", volumes[0]["id"])]
    assert [v["name"] for v in after_reset] == ["seeded"]
    assert status == 0, output


def test_serve_rejects_an_unknown_plugin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_vbs", "serve", "--port", "0", "--plugin", "no_such_module_for_vbs"],
        capture_output=True, text=True, timeout=DEADLINE,
    )

    assert result.returncode != 0
    assert "no_such_module_for_vbs" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["serve", "--transitions", "sometimes"], "--transitions"),
        (["serve", "--port", "x"], "--port"),
        (["nothing"], "invalid choice"),
        (["serve", "--transitions", "timed", "--seconds", "-1"], "--seconds"),
        (["serve", "--transitions", "timed", "--seconds", "soon"], "--seconds"),
        (["serve", "--seconds", "0.2"], "--seconds is the delay of --transitions timed"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], fragment: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pytest_vbs", *args], capture_output=True, text=True,
                            timeout=DEADLINE)

    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert fragment in result.stderr


def test_serve_with_auth_prints_a_token_for_the_control_api(http: requests.Session) -> None:
    """Issue 15 item 10: with --auth the control API wants a token too; serve prints one that works."""
    with serve("--auth") as server:
        while not any("X-Auth-Token" in line for line in server.output):
            line = server.lines.get(timeout=DEADLINE)
            assert line is not None, "".join(server.output)
            server.output.append(line)
        token = next(line for line in server.output if "X-Auth-Token" in line).split("X-Auth-Token: ")[1].strip("'\n")
        assert http.get(f"{server.url}/__vbs__/state").status_code == 401
        assert http.get(f"{server.url}/__vbs__/state", headers={"X-Auth-Token": token}).status_code == 200
        assert http.post(f"{server.url}/__vbs__/reset", headers={"X-Auth-Token": token}).status_code == 200
        assert http.get(f"{server.url}/v3/{DEFAULT_PROJECT_ID}/backups", headers={"X-Auth-Token": token}).ok
        journal = http.get(f"{server.url}/__vbs__/requests", headers={"X-Auth-Token": token})
        assert token not in journal.text
        http.close()

        status, output = server.stop(signal.SIGTERM)

    assert status == 0, output


@pytest.mark.parametrize("size", ["lots", "1k", "0"])
def test_serve_refuses_a_bad_journal_budget(size: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pytest_vbs", "serve", "--port", "0", "--journal-bytes", size],
                            capture_output=True, text=True, timeout=DEADLINE)

    assert result.returncode == 2
    assert "--journal-bytes" in result.stderr
