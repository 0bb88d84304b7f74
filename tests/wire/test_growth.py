"""What a long-lived fake keeps is bounded without a reset (issue 15 items 8 and 17): tokens, empty projects of
unknown ids, the fake's own recorded errors."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from werkzeug.test import Client

from pytest_vbs import FakeVBS
from pytest_vbs.service import identity as identity_module
from pytest_vbs.service.identity import Identity
from pytest_vbs.service.state import PRUNE_MIN
from pytest_vbs.wsgi.app import MAX_UNEXPECTED


def test_reads_of_unknown_project_ids_do_not_pile_up_projects(vbs: FakeVBS) -> None:
    kept = vbs.add_backup(name="kept")
    client = Client(vbs.app)
    for _ in range(4 * PRUNE_MIN):
        assert client.get(f"/v3/{uuid.uuid4().hex}/backups").status_code == 200
        assert client.get(f"/v3/{uuid.uuid4().hex}/backups/{kept}").status_code == 404

    assert len(vbs.state.projects()) < 2 * PRUNE_MIN
    assert list(vbs.backups) == [kept]
    assert client.get(f"/v3/{vbs.project_id}/backups/{kept}").status_code == 200


def test_a_project_with_only_a_quota_is_kept(vbs: FakeVBS) -> None:
    vbs.state.set_quota("quota-only", backups=3)
    client = Client(vbs.app)
    for _ in range(2 * PRUNE_MIN):
        client.get(f"/v3/{uuid.uuid4().hex}/backups")

    assert vbs.state.project("quota-only").quota["backups"] == 3


def test_expired_tokens_are_purged() -> None:
    identity = Identity()
    live = identity.issue_token()
    for _ in range(5_000):
        identity.issue_token(ttl=-(identity_module.EXPIRED_KEPT + timedelta(seconds=1)))

    assert identity.token_count <= 1025
    assert identity.token(live) is not None
    just_expired = identity.issue_token(ttl=timedelta(seconds=-1))
    assert identity.token(just_expired) is not None  # kept a while: it answers "expired", not "not valid"


def test_live_tokens_are_bounded_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity_module, "MAX_TOKENS", 1_500)
    identity = Identity()
    tokens = [identity.issue_token() for _ in range(2_000)]

    assert identity.token_count == 1_500
    assert identity.token(tokens[0]) is None
    assert identity.token(tokens[-1]) is not None


def test_revoked_tokens_are_forgotten() -> None:
    identity = Identity()
    tokens = [identity.issue_token() for _ in range(100)]
    for token in tokens:
        identity.revoke(token)

    assert identity.token_count == 0


class _Exploding:
    """A buggy ``pytest_vbs_answer`` hook."""

    def pytest_vbs_answer(self, request: object, operation: object, committed: bool) -> None:
        raise RuntimeError("kaboom")


def test_recorded_internal_errors_are_bounded(vbs: FakeVBS) -> None:
    client = Client(vbs.app)
    plugin = _Exploding()
    vbs.plugin_manager.register(plugin)
    try:
        for _ in range(MAX_UNEXPECTED + 50):
            assert client.get(f"/v3/{vbs.project_id}/backups").status_code == 500
    finally:
        vbs.plugin_manager.unregister(plugin)

    errors = vbs.app.take_unexpected_errors()
    assert len(errors) == MAX_UNEXPECTED + 1
    assert errors[-1].startswith("... and 50 more internal error(s)")
    assert vbs.app.take_unexpected_errors() == []
