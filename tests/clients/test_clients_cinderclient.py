"""python-cinderclient, unmodified, against the fake: the library over a keystoneauth session (password through
the fake Keystone with token checks on, or keystoneauth's ``NoAuth``), and the ``cinder`` CLI as a subprocess
configured only by ``vbs.os_environ()``. The fake's documented errors become cinderclient's exceptions (and
the CLI's ``ERROR:`` lines) with the fake's message."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_vbs import FakeVBS
from pytest_vbs.api.native import MAX_PAGE
from pytest_vbs.service.identity import DEFAULT_DOMAIN_NAME, DEFAULT_PASSWORD, DEFAULT_USERNAME

cinderclient = pytest.importorskip("cinderclient")
from cinderclient import client as cinder_client  # noqa: E402
from cinderclient import exceptions  # noqa: E402
from keystoneauth1 import noauth, session  # noqa: E402
from keystoneauth1.identity import v3  # noqa: E402

CINDER = str(Path(sys.executable).with_name("cinder"))


@pytest.fixture(params=["password", "noauth"])
def cinder(vbs: FakeVBS, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A cinderclient v3 client on a keystoneauth session: password (token checks on) or NoAuth."""
    if request.param == "password":
        vbs.auth = True
        auth: Any = v3.Password(auth_url=vbs.auth_url, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD,
                                user_domain_name=DEFAULT_DOMAIN_NAME, project_id=vbs.project_id)
    else:
        auth = noauth.NoAuth(endpoint=vbs.endpoint)
    keystone_session = session.Session(auth=auth)
    yield cinder_client.Client("3", session=keystone_session)
    keystone_session.close()


@pytest.fixture
def disk(vbs: FakeVBS) -> tuple[str, str]:
    volume_id = vbs.add_volume(size=10, name="disk")
    return volume_id, vbs.add_snapshot(volume_id)


# -- the library -----------------------------------------------------------------------------------------------------
def test_create_and_get(vbs: FakeVBS, cinder: Any, disk: tuple[str, str]) -> None:
    volume_id, snapshot_id = disk

    created = cinder.backups.create(volume_id, name="nightly", snapshot_id=snapshot_id)
    fetched = cinder.backups.get(created.id)

    assert created.id in vbs.backups
    assert fetched.status == "available"
    assert fetched.snapshot_id == snapshot_id
    assert fetched.volume_id == volume_id
    vbs.assert_called("create_backup", times=1, json={"backup": {"volume_id": volume_id, "snapshot_id": snapshot_id,
                                                                  "name": "nightly"}})
    vbs.assert_all_requests_valid()


def test_list_and_find(vbs: FakeVBS, cinder: Any) -> None:
    wanted = vbs.add_backup(name="wanted")
    vbs.add_backup(name="other")

    listed = cinder.backups.list()
    filtered = cinder.backups.list(search_opts={"name": "wanted"})
    found = cinder.backups.find(name="wanted")

    assert len(listed) == 2
    assert [b.id for b in filtered] == [wanted]
    assert found.id == wanted
    # find() asks for all tenants, as for an admin: the fake accepts it and lists the caller's project.
    assert vbs.last_request("list_backups_detail").query == {"all_tenants": "1", "name": "wanted"}


def test_find_missing_is_not_found(cinder: Any) -> None:
    with pytest.raises(exceptions.NotFound):
        cinder.backups.find(name="absent")


def test_list_pages_with_limit_and_marker(vbs: FakeVBS, cinder: Any) -> None:
    volume_id = vbs.add_volume()
    seeded = [vbs.add_backup(volume_id, name=f"b{i}") for i in range(5)]

    first = cinder.backups.list(limit=2)
    second = cinder.backups.list(limit=2, marker=first[-1].id)
    rest = cinder.backups.list(marker=second[-1].id)

    assert [b.id for b in [*first, *second, *rest]] == seeded[::-1]  # newest first


def test_list_follows_backups_links_beyond_a_page(vbs: FakeVBS, cinder: Any) -> None:
    volume_id = vbs.add_volume()
    for _ in range(MAX_PAGE + 1):
        vbs.state.add_backup(vbs.project_id, volume_id=volume_id)

    listed = cinder.backups.list(detailed=False, limit=MAX_PAGE + 1)

    assert len({b.id for b in listed}) == MAX_PAGE + 1
    pages = [r for r in vbs.requests if r.operation == "list_backups"]
    assert len(pages) == 2
    assert pages[1].query["marker"] == listed[MAX_PAGE - 1].id


def test_restore(vbs: FakeVBS, cinder: Any) -> None:
    backup_id = vbs.add_backup(size=10)
    target = vbs.add_volume(size=10, name="target")

    restore = cinder.restores.restore(backup_id, volume_id=target)

    assert restore.volume_id == target
    assert restore.backup_id == backup_id
    assert restore.volume_name == "target"
    # cinderclient always sends "name" (null): VBS ignores it; any other value is refused.
    vbs.assert_called("restore_backup", times=1, json={"restore": {"volume_id": target, "name": None}})


def test_delete(vbs: FakeVBS, cinder: Any) -> None:
    backup_id = vbs.add_backup()

    cinder.backups.delete(backup_id)

    assert vbs.backups == {}
    vbs.assert_called("delete_backup", times=1)


def test_unknown_backup_is_not_found_with_the_fake_message(cinder: Any) -> None:
    missing = str(uuid.uuid4())

    with pytest.raises(exceptions.NotFound, match=f"Backup {missing} could not be found.") as caught:
        cinder.backups.get(missing)

    assert caught.value.code == 404


def test_create_without_snapshot_is_bad_request(vbs: FakeVBS, cinder: Any, disk: tuple[str, str]) -> None:
    with pytest.raises(exceptions.BadRequest, match=r"backup\.snapshot_id") as caught:
        cinder.backups.create(disk[0])

    assert caught.value.code == 400
    assert vbs.backups == {}


def test_restore_name_is_refused(vbs: FakeVBS, cinder: Any) -> None:
    backup_id = vbs.add_backup()
    target = vbs.add_volume()

    with pytest.raises(exceptions.BadRequest, match=r"restore\.name.*not a documented field"):
        cinder.restores.restore(backup_id, volume_id=target, name="new-volume")


def test_injected_conflict(vbs: FakeVBS, cinder: Any, disk: tuple[str, str]) -> None:
    vbs.fail("create_backup", 409, message="Another backup is being created.")

    with pytest.raises(exceptions.ClientException, match="Another backup is being created") as caught:
        cinder.backups.create(disk[0], snapshot_id=disk[1])

    assert caught.value.code == 409


@pytest.mark.parametrize("status", [500, 503])
def test_injected_server_errors(vbs: FakeVBS, cinder: Any, status: int) -> None:
    vbs.fail("list_backups_detail", status, message="backend exploded", times=1)

    with pytest.raises(exceptions.ClientException, match="backend exploded") as caught:
        cinder.backups.list()

    assert caught.value.code == status
    assert cinder.backups.list() == []


def test_wrong_password_is_unauthorized(vbs: FakeVBS) -> None:
    auth = v3.Password(auth_url=vbs.auth_url, username=DEFAULT_USERNAME, password="wrong",
                       user_domain_name=DEFAULT_DOMAIN_NAME, project_id=vbs.project_id)
    cinder = cinder_client.Client("3", session=session.Session(auth=auth))

    with pytest.raises(Exception, match="requires authentication") as caught:
        cinder.backups.list()

    assert getattr(caught.value, "http_status", None) == 401


# -- the cinder CLI ---------------------------------------------------------------------------------------------------
def run_cinder(vbs: FakeVBS, auth_type: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``cinder <args>`` with only the fake's ``OS_*`` settings (none of the developer's own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "CINDER_", "Cinder_"))}
    env.update(vbs.os_environ(auth_type=auth_type))
    return subprocess.run([CINDER, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(params=["password", "noauth"])
def cli_auth(vbs: FakeVBS, request: pytest.FixtureRequest) -> str:
    """The CLI's auth: password through the fake Keystone (token checks on), or cinderclient's noauth plugin."""
    vbs.auth = request.param == "password"
    return str(request.param)


def test_cli_backup_lifecycle(vbs: FakeVBS, cli_auth: str, disk: tuple[str, str]) -> None:
    volume_id, snapshot_id = disk

    created = run_cinder(vbs, cli_auth, "backup-create", "--snapshot-id", snapshot_id, "--name", "b1", "disk")
    assert created.returncode == 0, created.stderr
    (backup_id,) = vbs.backups
    assert backup_id in created.stdout
    # The CLI resolved the volume by name first (the fake filters volumes by name, all_tenants accepted).
    assert vbs.requests[0].operation != "create_backup"
    assert any(r.operation == "list_volumes_detail" and r.query.get("name") == "disk" for r in vbs.requests)

    listed = run_cinder(vbs, cli_auth, "backup-list")
    shown = run_cinder(vbs, cli_auth, "backup-show", "b1")
    deleted = run_cinder(vbs, cli_auth, "backup-delete", "b1")

    assert listed.returncode == 0, listed.stderr
    assert backup_id in listed.stdout
    assert "available" in listed.stdout
    assert shown.returncode == 0, shown.stderr
    assert snapshot_id in shown.stdout
    assert volume_id in shown.stdout
    assert deleted.returncode == 0, deleted.stderr
    assert "Request to delete backup b1 has been accepted." in deleted.stdout
    assert vbs.backups == {}
    expected_token = "vbs-noauth-user:" + vbs.project_id if cli_auth == "noauth" else None
    token = vbs.last_request("delete_backup").headers.get("X-Auth-Token")
    assert token == expected_token if expected_token else vbs.identity.token(str(token)) is not None


def test_cli_error_carries_the_fake_message(vbs: FakeVBS, cli_auth: str, disk: tuple[str, str]) -> None:
    result = run_cinder(vbs, cli_auth, "backup-create", disk[0])

    assert result.returncode == 1
    # cinderclient sends "snapshot_id": null when none is given; VBS requires one.
    assert "ERROR: Invalid input for field 'backup.snapshot_id'" in result.stderr
    assert "(HTTP 400)" in result.stderr


def test_cli_injected_fault(vbs: FakeVBS) -> None:
    vbs.fail("list_backups_detail", 503, message="VBS is under maintenance")

    result = run_cinder(vbs, "noauth", "backup-list")

    assert result.returncode == 1
    assert "VBS is under maintenance (HTTP 503)" in result.stderr


def test_cli_with_auth_on_and_no_credentials_fails(vbs: FakeVBS) -> None:
    vbs.auth = True

    result = run_cinder(vbs, "noauth", "backup-list")

    assert result.returncode == 1
    assert "(HTTP 401)" in result.stderr
