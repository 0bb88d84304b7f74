"""One catalogue of wire faults (``faults.WireFault``) and one list of fault-rule fields (``faults.RULE_FIELDS``):
every place that names them is held to them here."""

from __future__ import annotations

import inspect

from pytest_vbs import FakeVBS, schemas
from pytest_vbs.api import OPERATIONS
from pytest_vbs.faults import FAMILIES, OUTCOME_FIELDS, RULE_FIELDS, WIRE_FAULTS, FaultRule, WireFault, family_name
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
    assert list(CONTROL_BODY["properties"]) == [*RULE_FIELDS, "sequence"]
    assert set(FaultRule().as_dict()) == {*RULE_FIELDS, "matched", "served"}
    shown = schemas.definitions("response_definitions")["$defs"]["fault_rule"]
    assert list(shown["properties"]) == list(shown["required"]) == [*RULE_FIELDS, "matched", "served"]


def test_a_sequence_takes_what_fail_sequence_takes() -> None:
    parameters = inspect.signature(FakeVBS.fail_sequence).parameters
    assert list(parameters)[1:] == ["operation", "outcomes", "method", "path", "family"]
    assert set(OUTCOME_FIELDS) == set(RULE_FIELDS) - {"operation", "method", "path", "family", "times", "nth"}


def test_families_are_the_ones_the_operations_have_and_the_schema_lists() -> None:
    journaled = [op for op in OPERATIONS if op.journal]
    assert {family_name(op) for op in journaled} == set(FAMILIES)
    assert CONTROL_BODY["properties"]["family"]["enum"] == [None, *FAMILIES]
