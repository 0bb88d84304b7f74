"""The control API under ``/__vbs__/``: drive the fake from outside the test process.

Reset, read the journal, seed volumes and snapshots, configure and advance transitions. These routes are
not part of VBS; they use the native error envelope and are not recorded in the journal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_vbs.api.native import snapshot_detail, timestamp, volume_detail
from pytest_vbs.errors import APIError
from pytest_vbs.faults import FaultRule
from pytest_vbs.journal import as_dict
from pytest_vbs.service.state import TransitionMode

if TYPE_CHECKING:
    from pytest_vbs.api import Call


def reset(call: Call) -> dict[str, Any]:
    call.app.on_reset()
    return {"reset": True}


def requests(call: Call) -> dict[str, Any]:
    return {"requests": [as_dict(entry) for entry in call.app.journal.entries()]}


def clear_requests(call: Call) -> None:
    call.app.journal.clear()


def state(call: Call) -> dict[str, Any]:
    """Every project's volumes, snapshots and backups (status only), for debugging."""
    with call.state.lock:
        return {
            "transitions": call.state.transitions.value,
            "reads": call.state.reads,
            "projects": {
                project.id: {
                    "volumes": {v.id: {"status": v.status, "size": v.size} for v in project.volumes.values()},
                    "snapshots": {s.id: {"status": s.status, "volume_id": s.volume_id}
                                  for s in project.snapshots.values()},
                    "backups": {b.id: {"status": b.status, "name": b.name, "volume_id": b.volume_id,
                                       "created_at": timestamp(b.created_at)}
                                for b in project.backups.values()},
                }
                for project in call.state.projects()
            },
        }


def configure(call: Call) -> dict[str, Any]:
    transitions = call.body.get("transitions")
    call.state.configure(
        transitions=TransitionMode(transitions) if transitions else None, reads=call.body.get("reads")
    )
    return {"transitions": call.state.transitions.value, "reads": call.state.reads}


def _seed_call(call: Call) -> Call:
    """The same call, aimed at the project the body names (for links in the returned views)."""
    call.project_id = call.body["project_id"]
    call.version = "v3"
    return call


def add_volume(call: Call) -> dict[str, Any]:
    body = call.body
    volume = call.state.add_volume(
        body["project_id"],
        size=body.get("size", 10),
        status=body.get("status", "available"),
        name=body.get("name"),
        volume_id=body.get("id"),
    )
    return {"volume": volume_detail(_seed_call(call), volume)}


def add_snapshot(call: Call) -> dict[str, Any]:
    body = call.body
    snapshot = call.state.add_snapshot(
        body["project_id"], body["volume_id"], status=body.get("status", "available"), name=body.get("name")
    )
    return {"snapshot": snapshot_detail(_seed_call(call), snapshot)}


def advance(call: Call) -> dict[str, Any]:
    body = call.body
    done = call.state.advance(body.get("project_id"), body.get("backup_id"), fail_reason=body.get("fail_reason"))
    return {"advanced": done}


def add_fault(call: Call) -> dict[str, Any]:
    """Add a fault rule: the same arguments as ``FakeVBS.fail``, as JSON."""
    try:
        rule = call.app.faults.add(FaultRule(**call.body))
    except ValueError as error:
        raise APIError(400, f"Invalid fault rule: {error}.", reason="bad_fault") from None
    return {"fault": rule.as_dict()}


def list_faults(call: Call) -> dict[str, Any]:
    return {"faults": [rule.as_dict() for rule in call.app.faults.rules()]}


def clear_faults(call: Call) -> None:
    call.app.faults.clear()
