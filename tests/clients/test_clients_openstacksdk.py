"""openstacksdk, unmodified, against the fake: password auth through the fake Keystone (with token checks on)
and no auth (``auth_type="none"``), the block-storage proxy's backup calls, the cloud layer, and the fake's
documented errors as openstacksdk's exceptions carrying the fake's message."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pytest_vbs import FakeVBS

openstack = pytest.importorskip("openstack")
from openstack import exceptions  # noqa: E402
from openstack.connection import Connection  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # openstacksdk's own deprecations

FAST = {"interval": 0.01, "wait": 10}  # poll without sleeping for long; wait only bounds a broken run


@pytest.fixture(params=["password", "none"])
def conn(vbs: FakeVBS, request: pytest.FixtureRequest) -> Iterator[Connection]:
    """A connection per auth mode: password through the fake identity with token checks on, or no auth."""
    if request.param == "password":
        vbs.auth = True
        connection = vbs.openstack_connection()
    else:
        connection = vbs.openstack_connection(auth_type="none")
    yield connection
    connection.close()


@pytest.fixture
def disk(vbs: FakeVBS) -> tuple[str, str]:
    volume_id = vbs.add_volume(size=10, name="disk")
    return volume_id, vbs.add_snapshot(volume_id)


def test_connection_authenticates_through_the_fake_identity(vbs: FakeVBS) -> None:
    vbs.auth = True
    connection = vbs.openstack_connection()

    assert connection.current_project_id == vbs.project_id
    assert connection.block_storage.get_endpoint() == vbs.endpoint
    vbs.assert_called("identity_create_token", times=1)
    token = vbs.last_request("identity_create_token").json
    assert token["auth"]["identity"]["methods"] == ["password"]


def test_create_backup_with_snapshot(vbs: FakeVBS, conn: Connection, disk: tuple[str, str]) -> None:
    volume_id, snapshot_id = disk

    backup = conn.block_storage.create_backup(volume_id=volume_id, snapshot_id=snapshot_id, name="nightly",
                                              description="first")

    assert backup.id in vbs.backups
    assert backup.name == "nightly"
    vbs.assert_called("create_backup", times=1, json={"backup": {"volume_id": volume_id, "snapshot_id": snapshot_id,
                                                                  "name": "nightly", "description": "first"}})
    vbs.assert_all_requests_valid()


def test_get_backup(vbs: FakeVBS, conn: Connection, disk: tuple[str, str]) -> None:
    volume_id, snapshot_id = disk
    created = conn.block_storage.create_backup(volume_id=volume_id, snapshot_id=snapshot_id, name="b1")

    backup = conn.block_storage.get_backup(created.id)

    assert backup.status == "available"
    assert backup.volume_id == volume_id
    assert backup.snapshot_id == snapshot_id
    assert backup.size == 10
    assert backup.project_id == vbs.project_id
    assert backup.is_incremental is False


def test_backups_follows_pages(vbs: FakeVBS, conn: Connection) -> None:
    volume_id = vbs.add_volume()
    seeded = {vbs.add_backup(volume_id, name=f"b{i}") for i in range(5)}

    listed = list(conn.block_storage.backups(limit=2))
    summaries = list(conn.block_storage.backups(details=False, limit=2))

    assert sorted(b.id for b in listed) == sorted(seeded)
    assert sorted(b.id for b in summaries) == sorted(seeded)
    pages = [r for r in vbs.requests if r.operation == "list_backups_detail"]
    assert len(pages) >= 3
    assert all(r.query["limit"] == "2" for r in pages)
    assert [r.query.get("marker") for r in pages[1:3]] == [listed[1].id, listed[3].id]


def test_backups_filters_by_name_and_status(vbs: FakeVBS, conn: Connection) -> None:
    wanted = vbs.add_backup(name="keep")
    vbs.add_backup(name="other")
    vbs.add_backup(name="keep", status="error")

    found = list(conn.block_storage.backups(name="keep", status="available"))

    assert [b.id for b in found] == [wanted]


def test_find_backup_by_name_and_by_id(vbs: FakeVBS, conn: Connection) -> None:
    backup_id = vbs.add_backup(name="findme")

    by_name = conn.block_storage.find_backup("findme")
    by_id = conn.block_storage.find_backup(backup_id)

    assert by_name is not None
    assert by_name.id == backup_id
    assert by_id is not None
    assert by_id.id == backup_id
    # The name was looked up as an id first: the fake answered 404 for it, then filtered the list by name.
    assert [r.status for r in vbs.requests if r.path.endswith("/backups/findme")] == [404]


def test_find_missing_backup(vbs: FakeVBS, conn: Connection) -> None:
    assert conn.block_storage.find_backup("absent") is None
    with pytest.raises(exceptions.NotFoundException):
        conn.block_storage.find_backup("absent", ignore_missing=False)


def test_find_volume_by_name(vbs: FakeVBS, conn: Connection, disk: tuple[str, str]) -> None:
    volume = conn.block_storage.find_volume("disk")

    assert volume is not None
    assert volume.id == disk[0]


def test_restore_backup(vbs: FakeVBS, conn: Connection) -> None:
    backup_id = vbs.add_backup(size=10)
    target = vbs.add_volume(size=20, name="target")

    conn.block_storage.restore_backup(backup_id, volume=target)

    vbs.assert_called("restore_backup", times=1, json={"restore": {"volume_id": target}})
    assert vbs.backups[backup_id].status == "available"


def test_delete_and_wait_for_delete(vbs: FakeVBS, conn: Connection) -> None:
    vbs.set_transitions("reads", reads=2)
    backup = conn.block_storage.get_backup(vbs.add_backup())

    conn.block_storage.delete_backup(backup)
    conn.block_storage.wait_for_delete(backup, **FAST)

    assert vbs.backups == {}
    polls = [r for r in vbs.requests if r.operation == "get_backup"][1:]
    assert [r.status for r in polls][-1] == 404
    assert any(r.response_json and r.response_json["backup"]["status"] == "deleting" for r in polls[:-1])


def test_wait_for_status_sees_the_transition(vbs: FakeVBS, conn: Connection, disk: tuple[str, str]) -> None:
    vbs.set_transitions("reads", reads=2)
    created = conn.block_storage.create_backup(volume_id=disk[0], snapshot_id=disk[1])

    backup = conn.block_storage.wait_for_status(created, "available", failures=["error"], **FAST)

    assert backup.status == "available"
    statuses = [r.response_json["backup"]["status"] for r in vbs.requests if r.operation == "get_backup"]
    assert statuses == ["creating", "creating", "available"]


def test_wait_for_status_reports_failure(vbs: FakeVBS, conn: Connection, disk: tuple[str, str]) -> None:
    vbs.set_transitions("manual")
    created = conn.block_storage.create_backup(volume_id=disk[0], snapshot_id=disk[1])
    vbs.advance(created.id, fail_reason="disk detached")

    with pytest.raises(exceptions.ResourceFailure, match="error"):
        conn.block_storage.wait_for_status(created, "available", failures=["error"], **FAST)
    assert conn.block_storage.get_backup(created.id).fail_reason == "disk detached"


# -- the cloud layer --------------------------------------------------------------------------------------------------
def test_cloud_layer_create_volume_backup_waits(vbs: FakeVBS, conn: Connection, disk: tuple[str, str]) -> None:
    # Immediate transitions: the cloud layer polls every 2 s (not configurable), and its first poll succeeds.
    backup = conn.create_volume_backup(disk[0], name="cloud", snapshot_id=disk[1], wait=True, timeout=10)

    assert backup.status == "available"
    assert vbs.backups[backup.id].name == "cloud"
    assert [r.operation for r in vbs.requests if "backups" in r.path] == ["create_backup", "get_backup"]


def test_cloud_layer_without_snapshot_is_rejected_as_vbs_does(
    vbs: FakeVBS, conn: Connection, disk: tuple[str, str]
) -> None:
    """VBS requires snapshot_id (unlike Cinder): the cloud layer's default call gets the documented 400."""
    with pytest.raises(exceptions.BadRequestException, match=r"backup\.snapshot_id") as caught:
        conn.create_volume_backup(disk[0], wait=True, timeout=10)

    assert caught.value.status_code == 400
    assert vbs.backups == {}


def test_cloud_layer_lists_and_deletes(vbs: FakeVBS, conn: Connection) -> None:
    backup_id = vbs.add_backup(name="gone")

    assert [b.id for b in conn.list_volume_backups()] == [backup_id]
    assert conn.delete_volume_backup(backup_id, wait=True, timeout=10) is True
    assert vbs.backups == {}


# -- errors ----------------------------------------------------------------------------------------------------------
def test_unknown_backup_is_not_found_with_the_fake_message(conn: Connection) -> None:
    missing = str(uuid.uuid4())

    with pytest.raises(exceptions.NotFoundException) as caught:
        conn.block_storage.get_backup(missing)

    assert caught.value.status_code == 404
    assert f"Backup {missing} could not be found." in str(caught.value)


def test_invalid_create_is_bad_request_with_the_fake_message(conn: Connection, disk: tuple[str, str]) -> None:
    with pytest.raises(exceptions.BadRequestException) as caught:
        conn.block_storage.create_backup(volume_id=disk[0], snapshot_id=disk[1], name="autobackup")

    assert caught.value.status_code == 400
    assert "backup.name" in str(caught.value)


def test_restore_to_a_small_volume_is_bad_request(vbs: FakeVBS, conn: Connection) -> None:
    backup_id = vbs.add_backup(size=40)
    small = vbs.add_volume(size=10)

    with pytest.raises(exceptions.BadRequestException, match="smaller than backup"):
        conn.block_storage.restore_backup(backup_id, volume=small)


def test_injected_conflict_is_a_conflict_exception(vbs: FakeVBS, conn: Connection, disk: tuple[str, str]) -> None:
    vbs.fail("create_backup", 409, message="Another backup is being created.")

    with pytest.raises(exceptions.ConflictException, match="Another backup is being created") as caught:
        conn.block_storage.create_backup(volume_id=disk[0], snapshot_id=disk[1])

    assert caught.value.status_code == 409
    assert vbs.backups == {}


@pytest.mark.parametrize("status", [500, 503])
def test_injected_server_errors_are_http_exceptions(vbs: FakeVBS, conn: Connection, status: int) -> None:
    backup_id = vbs.add_backup()
    vbs.fail("get_backup", status, message="backend exploded", times=1)

    with pytest.raises(exceptions.HttpException, match="backend exploded") as caught:
        conn.block_storage.get_backup(backup_id)

    assert caught.value.status_code == status
    assert conn.block_storage.get_backup(backup_id).id == backup_id  # the fault fired once


def test_password_connection_with_wrong_password_is_unauthorized(vbs: FakeVBS) -> None:
    connection = vbs.openstack_connection(auth={"password": "wrong"})

    # openstacksdk wraps keystoneauth's Unauthorized in an SDKException with its text.
    with pytest.raises(exceptions.SDKException, match=r"requires authentication.*\(HTTP 401\)"):
        connection.authorize()


def test_connection_as_a_seeded_user_of_another_project(vbs: FakeVBS) -> None:
    other = vbs.for_project("b" * 32)
    vbs.identity.add_user("carol", "secret", projects=[vbs.project_id])
    vbs.auth = True

    mine = vbs.openstack_connection(auth={"username": "carol", "password": "secret"})
    theirs = other.openstack_connection()
    other.add_backup(name="theirs")

    assert [b.name for b in theirs.block_storage.backups()] == ["theirs"]
    assert list(mine.block_storage.backups()) == []
    scopes = [r.json["auth"]["scope"]["project"]["id"] for r in vbs.requests if r.operation == "identity_create_token"]
    assert sorted(scopes) == sorted([vbs.project_id, other.project_id])


def test_block_storage_v2_proxy_makes_volumes_snapshots_and_backups(vbs: FakeVBS) -> None:
    """The catalog's ``volumev2`` entry points at ``/v2/{project_id}``: openstacksdk's v2 proxy creates its volume
    and snapshot there (the helpers are served under ``/v2`` as well as ``/v3``)."""
    vbs.auth = True
    conn = vbs.openstack_connection(block_storage_api_version="2")
    try:
        assert conn.block_storage.get_endpoint() == vbs.endpoint_v2
        volume = conn.block_storage.create_volume(size=3, name="v2-disk")
        snapshot = conn.block_storage.create_snapshot(volume_id=volume.id, name="v2-snap")
        backup = conn.block_storage.create_backup(volume_id=volume.id, snapshot_id=snapshot.id, name="v2_backup")

        assert conn.block_storage.get_volume(volume.id).size == 3
        assert [v.name for v in conn.block_storage.volumes()] == ["v2-disk"]
        assert conn.block_storage.get_backup(backup.id).snapshot_id == snapshot.id
        conn.block_storage.delete_backup(backup.id)
        conn.block_storage.delete_snapshot(snapshot.id)
        conn.block_storage.delete_volume(volume.id)
    finally:
        conn.close()

    assert vbs.volumes == {}
    assert {"create_volume_v2", "create_snapshot_v2", "create_backup_v2", "delete_volume_v2"} <= {
        r.operation for r in vbs.requests}
    vbs.assert_all_requests_valid()


def test_password_connection_to_a_project_only_the_api_has_seen(vbs: FakeVBS) -> None:
    """Open mode: the API serves any project id, and the fake Keystone makes a project scoped by id on first use
    (the default user granted), so a client configured for a fresh project id logs in."""
    fresh = "9" * 32
    vbs.for_project(fresh).add_backup(name="seen-by-the-api")
    vbs.identity.reset()  # forget the project for_project made: only the API has seen it now
    vbs.auth = True
    conn = vbs.openstack_connection(auth={"project_id": fresh})
    try:
        assert [b.name for b in conn.block_storage.backups()] == ["seen-by-the-api"]
    finally:
        conn.close()
    assert fresh in vbs.identity.projects


def test_create_backup_with_metadata_at_343(vbs: FakeVBS, disk: tuple[str, str]) -> None:
    """openstacksdk's ``Backup`` carries ``metadata`` (Cinder 3.43): a connection pinned to 3.43 sends and reads it."""
    vbs.auth = True
    conn = vbs.openstack_connection(block_storage_api_version="3.43")
    try:
        created = conn.block_storage.create_backup(volume_id=disk[0], snapshot_id=disk[1], name="tagged",
                                                   metadata={"owner": "team-a"})
        fetched = conn.block_storage.get_backup(created.id)
    finally:
        conn.close()

    assert fetched.metadata == {"owner": "team-a"}
    sent = vbs.last_request("create_backup")
    assert {k.lower(): v for k, v in sent.headers.items()}["openstack-api-version"] == "volume 3.43"
    assert sent.json["backup"]["metadata"] == {"owner": "team-a"}
    vbs.assert_all_requests_valid()
