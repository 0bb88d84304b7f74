"""The control API under ``/__vbs__/``: drive the fake from outside the test process.

Reset, read the journal, seed volumes and snapshots, configure and advance transitions, inject faults, and the
OpenAPI document. These routes are not part of VBS; they use the native error envelope and are not recorded in the
journal. With auth on (``--auth``, ``FakeVBS(auth=True)``) they want a valid token of the fake identity service, of
any scope (401 otherwise); the journal they show has token headers and passwords redacted, whatever the setting.
What they do beyond state reaches them through :class:`~pytest_vbs.api.call.Controls`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pytest_vbs.api.call import Call, Operation
from pytest_vbs.api.views import snapshot_detail, timestamp, volume_detail
from pytest_vbs.errors import APIError
from pytest_vbs.faults import rules_from
from pytest_vbs.journal import as_dict
from pytest_vbs.service.models import TransitionMode

#: Journal entries a page of ``GET /__vbs__/requests`` holds at most (and by default); a page also stops near 8 MiB.
PAGE_LIMIT = 1000


def control_reset(call: Call) -> dict[str, Any]:
    call.controls.reset_fake()
    return {"reset": True}


def control_requests(call: Call) -> dict[str, Any]:
    """A page of the journal, oldest first, after the entry numbered ``marker``; tokens and passwords redacted."""
    journal = call.controls.journal
    entries, more = journal.page(after=call.query.get("marker", 0), limit=call.query.get("limit", PAGE_LIMIT))
    return {"requests": [as_dict(entry) for entry in entries],
            "next_marker": entries[-1].seq if more else None, "evicted": journal.evicted}


def control_clear_requests(call: Call) -> None:
    call.controls.journal.clear()


def control_state(call: Call) -> dict[str, Any]:
    """Every project's volumes, snapshots and backups (status only), for debugging."""
    with call.state.lock:
        return {
            "transitions": call.state.transitions.value,
            "reads": call.state.reads,
            "seconds": call.state.seconds,
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


def control_config(call: Call) -> dict[str, Any]:
    """The transition settings: ``transitions``, ``reads``, and ``seconds`` (only for ``timed``)."""
    body = call.body
    with call.state.lock:
        mode = TransitionMode(body["transitions"]) if body.get("transitions") else None
        if "seconds" in body and (mode or call.state.transitions) is not TransitionMode.TIMED:
            raise APIError(400, "Invalid config: 'seconds' is the delay of timed transitions; send it with "
                           "\"transitions\": \"timed\" (or while timed transitions are in force).", reason="bad_config")
        if "reads" in body and (mode or call.state.transitions) is not TransitionMode.READS:
            raise APIError(400, "Invalid config: 'reads' counts the reads of the reads transitions; send it with "
                           "\"transitions\": \"reads\" (or while reads transitions are in force).", reason="bad_config")
        call.state.configure(transitions=mode, reads=body.get("reads"), seconds=body.get("seconds"))
        return {"transitions": call.state.transitions.value, "reads": call.state.reads, "seconds": call.state.seconds}


def _seed_call(call: Call) -> Call:
    """The same call, aimed at the project the body names (for links in the returned views)."""
    return replace(call, project_id=call.body["project_id"], version="v3")


def control_add_volume(call: Call) -> dict[str, Any]:
    body = call.body
    volume = call.state.add_volume(
        body["project_id"],
        size=body.get("size", 10),
        status=body.get("status", "available"),
        name=body.get("name"),
        volume_id=body.get("id"),
    )
    return {"volume": volume_detail(_seed_call(call), volume)}


def control_add_snapshot(call: Call) -> dict[str, Any]:
    body = call.body
    snapshot = call.state.add_snapshot(
        body["project_id"], body["volume_id"], status=body.get("status", "available"), name=body.get("name")
    )
    return {"snapshot": snapshot_detail(_seed_call(call), snapshot)}


def control_advance(call: Call) -> dict[str, Any]:
    body = call.body
    done = call.state.advance(body.get("project_id"), body.get("backup_id"), fail_reason=body.get("fail_reason"))
    return {"advanced": done}


def control_add_fault(call: Call) -> dict[str, Any]:
    """Add a fault rule (the arguments of ``FakeVBS.fail``, as JSON: ``{"fault": rule}``) or a sequence
    (``{"operation": ..., "sequence": [...]}``, as ``FakeVBS.fail_sequence``: ``{"faults": [rules]}``)."""
    try:
        rules = call.controls.faults.add_all(rules_from(call.body))
    except (TypeError, ValueError) as error:
        raise APIError(400, f"Invalid fault rule: {error}.", reason="bad_fault") from None
    if "sequence" in call.body:
        return {"faults": [rule.as_dict() for rule in rules]}
    return {"fault": rules[0].as_dict()}


def control_list_faults(call: Call) -> dict[str, Any]:
    return {"faults": [rule.as_dict() for rule in call.controls.faults.rules()]}


def control_clear_faults(call: Call) -> None:
    call.controls.faults.clear()


def control_openapi(call: Call) -> dict[str, Any]:
    """The OpenAPI document of everything the fake serves, with ``servers`` set to its own URL."""
    return call.controls.openapi_document(call.base_url)


def control_coverage(call: Call) -> dict[str, Any]:
    """The API coverage report: what the requests so far exercised of each documented operation."""
    return call.controls.coverage_report()


# -- rows ------------------------------------------------------------------------------------------------------
def _routes() -> list[Operation]:
    base = "/__vbs__"
    # Not public: with auth on, the control API wants a valid token of the fake identity service (any scope).
    common: dict[str, Any] = {"tags": ("control",), "journal": False, "locked": False,
                              "doc_page": "README: control API"}
    return [
        Operation("control_reset", "POST", f"{base}/reset", control_reset, **common),
        Operation("control_requests", "GET", f"{base}/requests", control_requests, query_schema="control_requests",
                  **common),
        Operation("control_clear_requests", "DELETE", f"{base}/requests", control_clear_requests, 204, **common),
        Operation("control_state", "GET", f"{base}/state", control_state, **common),
        Operation("control_config", "POST", f"{base}/config", control_config,
                  request_schema="control_config", **common),
        Operation("control_add_volume", "POST", f"{base}/volumes", control_add_volume, 201,
                  request_schema="control_add_volume", **common),
        Operation("control_add_snapshot", "POST", f"{base}/snapshots", control_add_snapshot, 201,
                  request_schema="control_add_snapshot", **common),
        Operation("control_advance", "POST", f"{base}/advance", control_advance,
                  request_schema="control_advance", **common),
        Operation("control_add_fault", "POST", f"{base}/faults", control_add_fault, 201,
                  request_schema="control_add_fault", **common),
        Operation("control_list_faults", "GET", f"{base}/faults", control_list_faults, **common),
        Operation("control_clear_faults", "DELETE", f"{base}/faults", control_clear_faults, 204, **common),
        Operation("control_openapi", "GET", f"{base}/openapi.json", control_openapi, **common),
        Operation("control_coverage", "GET", f"{base}/coverage", control_coverage, **common),
    ]


ROUTES: tuple[Operation, ...] = tuple(_routes())
