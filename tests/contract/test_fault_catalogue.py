"""One catalogue of wire faults (``faults.WireFault``) and one list of fault-rule fields (``faults.RULE_FIELDS``):
every place that names them is held to them here."""

from __future__ import annotations

import inspect

from pytest_vbs import FakeVBS, schemas
from pytest_vbs.faults import RULE_FIELDS, WIRE_FAULTS, FaultRule, WireFault
from pytest_vbs.inprocess import WIRE_ERRORS
from pytest_vbs.wsgi.serving import _Handler

CONTROL_BODY = schemas.schema("requests", "control_add_fault") or {}


def test_the_socket_server_performs_every_wire_fault() -> None:
    assert set(_Handler.WIRE_FAULTS) == set(WireFault)


def test_the_inprocess_adapter_raises_for_every_wire_fault() -> None:
    assert set(WIRE_ERRORS) == set(WireFault)


def test_the_control_api_schema_lists_every_wire_fault() -> None:
    assert CONTROL_BODY["properties"]["fault"]["enum"] == [None, *WIRE_FAULTS]


def test_what_a_wire_fault_sends() -> None:
    assert [f.value for f in WireFault if f.sends_body] == ["malformed_body", "slow_body"]
    assert [f.value for f in WireFault if not f.answers] == ["connection_reset", "empty_response", "hang"]


def test_fault_rule_fields_are_fails_parameters_and_the_control_body() -> None:
    assert list(inspect.signature(FakeVBS.fail).parameters)[1:] == list(RULE_FIELDS)
    assert list(CONTROL_BODY["properties"]) == list(RULE_FIELDS)
    assert set(FaultRule().as_dict()) == {*RULE_FIELDS, "matched", "served"}
