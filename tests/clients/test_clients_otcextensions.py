"""otcextensions on an openstacksdk connection to the fake: ``register_otc_extensions`` through the fake Keystone
(its catalog has the ``vbs`` endpoint type the ``volume_backup`` service uses), and the calls that the native
API serves. The ``volume_backup`` proxy's own calls (policies, tasks) are tested in ``test_policies.py``; its
job reads skip: otcextensions reads jobs under ``/v2``, the fake serves the documented ``/v1``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from vbs_support import otc_patches_undone

from pytest_vbs import FakeVBS

openstack = pytest.importorskip("openstack")
otc_sdk = pytest.importorskip("otcextensions.sdk")
from openstack import exceptions  # noqa: E402
from openstack.connection import Connection  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning", "ignore::DeprecationWarning")

@pytest.fixture(autouse=True)
def _undo_otc_patches() -> Iterator[None]:
    """``register_otc_extensions`` monkeypatches openstacksdk for the whole process: undo it after each test."""
    with otc_patches_undone():
        yield


def _served(vbs: FakeVBS, method: str, path: str) -> bool:
    return method in vbs.app.allowed_methods(path)


@pytest.fixture
def conn(vbs: FakeVBS) -> Iterator[Connection]:
    """A password connection through the fake Keystone (token checks on), with the OTC extensions registered."""
    vbs.auth = True
    connection = vbs.openstack_connection()
    otc_sdk.register_otc_extensions(connection)
    yield connection
    connection.close()


def test_register_otc_extensions_finds_the_vbs_endpoint(vbs: FakeVBS, conn: Connection) -> None:
    assert conn.volume_backup.get_endpoint() == vbs.endpoint_v2
    assert conn.block_storage.get_endpoint() == vbs.endpoint
    vbs.assert_called("identity_create_token", times=1)


def test_block_storage_backups_work_after_registering(vbs: FakeVBS, conn: Connection) -> None:
    volume_id = vbs.add_volume(name="disk")
    snapshot_id = vbs.add_snapshot(volume_id)

    created = conn.block_storage.create_backup(volume_id=volume_id, snapshot_id=snapshot_id, name="otc")
    fetched = conn.block_storage.get_backup(created.id)
    conn.block_storage.restore_backup(created.id, volume=volume_id)
    found = conn.block_storage.find_backup("otc")
    conn.block_storage.delete_backup(created.id)
    conn.block_storage.wait_for_delete(fetched, interval=0.01, wait=10)

    assert fetched.status == "available"
    assert found is not None
    assert found.id == created.id
    assert vbs.backups == {}


def test_errors_through_otcextensions_error_parser(vbs: FakeVBS, conn: Connection) -> None:
    """otcextensions replaces openstacksdk's error parsing; the fake's message still reaches the exception."""
    volume_id = vbs.add_volume()
    missing = str(uuid.uuid4())
    vbs.fail("list_backups_detail", 503, message="VBS is under maintenance", times=1)

    with pytest.raises(exceptions.NotFoundException, match=f"Backup {missing} could not be found."):
        conn.block_storage.get_backup(missing)
    with pytest.raises(exceptions.BadRequestException, match=r"backup\.snapshot_id"):
        conn.block_storage.create_backup(volume_id=volume_id)
    with pytest.raises(exceptions.HttpException, match="VBS is under maintenance") as caught:
        list(conn.block_storage.backups())
    assert caught.value.status_code == 503
    vbs.fail("create_backup", 409, message="Conflict in VBS")
    with pytest.raises(exceptions.ConflictException, match="Conflict in VBS"):
        conn.block_storage.create_backup(volume_id=volume_id, snapshot_id=vbs.add_snapshot(volume_id))


def test_without_keystone_register_the_service_with_the_project(vbs: FakeVBS) -> None:
    """``register_otc_extensions`` reads the project id from the token, so without auth register the
    ``volume_backup`` service alone with the project id (``register_single_service``)."""
    from otcextensions.sdk import register_single_service

    connection = vbs.openstack_connection(auth_type="none")
    register_single_service(connection, "volume_backup", project_id=vbs.project_id)

    assert connection.volume_backup.get_endpoint() == vbs.endpoint_v2
    assert list(connection.block_storage.backups()) == []
    assert not [r for r in vbs.requests if r.operation.startswith("identity_")]


def test_volume_backup_policies(vbs: FakeVBS, conn: Connection) -> None:
    """The policy calls of otcextensions' volume_backup proxy. (``find_backup_policy`` and ``tasks`` fail inside
    otcextensions itself: its BackupPolicy cannot be fetched, and ``tasks`` sends an invalid query.)"""
    if not _served(vbs, "GET", f"/v2/{vbs.project_id}/backuppolicy"):
        pytest.skip("VBS-native backup policy routes are not served yet (another issue)")
    volume_id = vbs.add_volume()
    schedule = {"start_time": "12:00", "frequency": 1, "rentention_num": 7,
                "remain_first_backup_of_curMonth": "N", "status": "ON"}

    policy = conn.volume_backup.create_backup_policy(backup_policy_name="daily", scheduled_policy=schedule)
    listed = [p.name for p in conn.volume_backup.backup_policies()]
    linked = conn.volume_backup.link_resources_to_policy(policy, [volume_id])
    conn.volume_backup.execute_policy(policy)
    conn.volume_backup.disable_policy(policy)
    conn.volume_backup.unlink_resources_of_policy(policy, [volume_id])
    conn.volume_backup.delete_backup_policy(policy)

    assert "daily" in listed
    assert [r.resource_id for r in linked.success_resources] == [volume_id]
    assert policy.id not in [p.id for p in conn.volume_backup.backup_policies()]
    assert [r.method for r in vbs.requests if "/backuppolicy/" in r.path] == ["POST", "PUT", "DELETE"]


def test_volume_backup_job(vbs: FakeVBS, conn: Connection) -> None:
    # otcextensions' Job lives at /jobs under the vbs endpoint (/v2/{project_id}); the VBS page uses /v1.
    job_path = f"/v2/{vbs.project_id}/jobs/{uuid.uuid4()}"
    if not _served(vbs, "GET", job_path):
        pytest.skip("otcextensions reads jobs at /v2/{project_id}/jobs/{id}; the fake does not serve that route")

    with pytest.raises(exceptions.NotFoundException):
        conn.volume_backup.get_job(job_path.rsplit("/", 1)[-1])
