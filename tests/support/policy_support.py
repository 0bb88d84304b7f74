"""Helpers shared by the backup policy tests (``test_policies.py``, ``test_policy_tags.py``): they drive the fake
over real sockets and check every answer against the documented response schemas and error envelope."""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

import requests

from pytest_vbs import FakeVBS
from pytest_vbs.assertions import assert_valid_response

#: A Monday, 09:00 UTC: scheduled tests freeze the fake's clock here.
START = datetime(2025, 3, 3, 9, 0)
UNKNOWN = "6f1e2b3c-1111-2222-3333-444455556666"
TASK_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$")
AUTO_NAME = re.compile(r"^autobk_[0-9a-f]{4}$")
POLICY: dict[str, Any] = {
    "backup_policy_name": "daily",
    "scheduled_policy": {"start_time": "12:00", "frequency": 1, "rentention_num": 3, "status": "ON"},
}


def body(**changes: Any) -> dict[str, Any]:
    """A valid create body; top-level ``changes`` replace fields, ``scheduled_policy`` entries are merged and
    a ``None`` value removes a field."""
    result = copy.deepcopy(POLICY)
    for key, value in changes.items():
        if key == "scheduled_policy" and isinstance(value, dict):
            result[key].update(value)
            result[key] = {k: v for k, v in result[key].items() if v is not None}
        elif value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def policies_url(vbs: FakeVBS) -> str:
    return f"{vbs.endpoint_v2}/backuppolicy"


def vbs_error(response: requests.Response, status: int, code: str, *fragments: str) -> str:
    """The VBS-native envelope with this status, code and message fragments; returns the message."""
    assert response.status_code == status, response.text
    answer = response.json()
    assert list(answer) == ["error"], answer
    assert set(answer["error"]) == {"code", "message"}, answer
    assert answer["error"]["code"] == code, answer
    message = answer["error"]["message"]
    assert isinstance(message, str)
    assert message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def ok(response: requests.Response, operation: str, status: int = 200) -> Any:
    """The answer of a successful call, checked against ``schemas/responses/<operation>.json``."""
    assert response.status_code == status, response.text
    answer = response.json() if response.content else None
    assert_valid_response(operation, answer)
    return answer


def create(vbs: FakeVBS, http: requests.Session, **changes: Any) -> str:
    """Create a policy through the API; its id."""
    return str(ok(http.post(policies_url(vbs), json=body(**changes)), "create_backup_policy")["backup_policy_id"])


def listed(vbs: FakeVBS, http: requests.Session) -> dict[str, dict[str, Any]]:
    """The project's policies as the list operation shows them, by id."""
    answer = ok(http.get(policies_url(vbs)), "list_backup_policies")
    return {p["backup_policy_id"]: p for p in answer["backup_policies"]}


def associate(vbs: FakeVBS, http: requests.Session, policy_id: str, *volume_ids: str) -> dict[str, Any]:
    resources = [{"resource_id": v, "resource_type": "volume"} for v in volume_ids]
    response = http.post(f"{vbs.endpoint_v2}/backuppolicyresources",
                         json={"backup_policy_id": policy_id, "resources": resources})
    return dict(ok(response, "associate_backup_policy_resources"))


def execute(vbs: FakeVBS, http: requests.Session, policy_id: str) -> None:
    response = http.post(f"{policies_url(vbs)}/{policy_id}/action")
    assert response.status_code == 204, response.text
    assert response.content == b""


def tasks(vbs: FakeVBS, http: requests.Session, policy_id: str, **params: Any) -> dict[str, Any]:
    response = http.get(f"{policies_url(vbs)}/{policy_id}/backuptasks", params=params)
    return dict(ok(response, "list_backup_policy_tasks"))


def policy_backups(vbs: FakeVBS, policy_id: str | None = None) -> list[tuple[datetime, str]]:
    """(creation time to the second, volume id) of the backups policies made (of one policy), oldest first."""
    made = [b for b in vbs.backups.values() if b.policy_id is not None and policy_id in (None, b.policy_id)]
    return sorted((b.created_at.replace(microsecond=0), b.volume_id) for b in made)


