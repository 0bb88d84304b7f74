"""Fuzzing every operation of the OpenAPI document against the live fake (schemathesis), on a bounded budget.

For each operation of the document the fake serves at ``/__vbs__/openapi.json``, schemathesis generates
requests from the documented schemas (path, query and header parameters, bodies; valid and invalid ones) and
sends them to the ``vbs`` fixture's server. Every answer must: not be a 5xx (nothing is injected here), have a
documented status, be JSON when documented so, conform to the documented schema of its status, and, for
errors, use the envelope of the operation's family. Every other example has its ids swapped for ids of
resources seeded in the test's project, so the fuzzing reaches the success paths (and their response
schemas), not only 404s.

Budget: :data:`MAX_EXAMPLES` per operation (fewer when an operation has nothing to vary), derandomised.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.exceptions import HTTPException

from pytest_vbs import FakeVBS, openapi, schemas
from pytest_vbs import api as operations
from pytest_vbs.api import family_of
from pytest_vbs.errors import Family

#: Examples per operation (CI budget: the whole module runs in about 10 s); VBS_FUZZ_EXAMPLES=200 for a deeper run.
MAX_EXAMPLES = int(os.environ.get("VBS_FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# The generated document; test_openapi.py proves the fake serves exactly this one.
schema = schemathesis.openapi.from_dict(openapi.document())
schema.config.phases.coverage.enabled = False  # its exhaustive boundary cases: hundreds of requests an operation
schema.config.phases.stateful.enabled = False

_swap = itertools.count()
#: Examples sent, by operation and status class (printed at the end of the module with ``-s``).
SENT: Counter[tuple[str, str]] = Counter()
_registry: Registry[Any] = Registry().with_resources(
    (uri, Resource.from_contents(document)) for uri, document in schemas._all_documents().items()
)


def envelope_problems(family: Family, body: Any) -> list[str]:
    """Why ``body`` is not the error envelope of ``family`` (``response_definitions.json``); empty when it is."""
    envelope = {"$ref": f"{schemas.BASE_URI}response_definitions.json#/$defs/{openapi.ENVELOPES[family]}"}
    return [error.message for error in Draft202012Validator(envelope, registry=_registry).iter_errors(body)]


class Seeded:
    """A volume, snapshot and backup in the test's project; their ids replace generated ones."""

    def __init__(self, vbs: FakeVBS) -> None:
        volume_id = vbs.add_volume(size=10, name="fuzz")
        snapshot_id = vbs.add_snapshot(volume_id)
        backup_id = vbs.add_backup(volume_id, name="fuzz")
        self.ids = {"project_id": vbs.project_id, "volume_id": volume_id, "snapshot_id": snapshot_id,
                    "backup_id": backup_id}

    def apply(self, value: Any) -> Any:
        """``value`` with every string field named like a seeded id (``volume_id`` ...) replaced, recursively."""
        if isinstance(value, dict):
            return {k: self.ids[k] if k in self.ids and isinstance(v, str) else self.apply(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.apply(item) for item in value]
        return value


@pytest.fixture(scope="module")
def http_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case: Any, vbs: FakeVBS, http_session: requests.Session) -> None:
    operation = operations.BY_NAME[case.operation.definition.raw["operationId"]]
    if next(_swap) % 2 == 0:
        seeded = Seeded(vbs)
        if case.path_parameters:
            case.path_parameters = seeded.apply(dict(case.path_parameters))
        if isinstance(case.body, (dict, list)):
            case.body = seeded.apply(case.body)

    response = case.call(base_url=vbs.url, session=http_session)

    vbs.clear_faults()  # control_add_fault may have added a rule: nothing is injected into later examples
    SENT[(operation.name, f"{response.status_code // 100}xx")] += 1
    assert response.status_code < 500, response.text
    routed = routed_to(vbs, case.method, response.request.url)
    if routed is operation:
        case.validate_response(response, checks=CHECKS)
    # else: a deliberately invalid path parameter (negative mode: "detail", "..", "a/b") made the request
    # another route's, whose answer it got; it is still checked for a 5xx and for its family's envelope.
    family = routed.family if routed is not None else family_of(urlsplit(response.request.url).path)
    if response.status_code >= 400:
        problems = envelope_problems(family, response.json())
        assert not problems, f"{operation.name} answered {response.status_code} {response.text}: {problems}"


def routed_to(vbs: FakeVBS, method: str, url: str) -> operations.Operation | None:
    """The operation the fake routes ``method url`` to (``None``: no route)."""
    try:
        name, _ = vbs.app.url_map.bind("localhost").match(unquote(urlsplit(url).path), method=method)
    except HTTPException:
        return None
    return operations.BY_NAME[str(name)]


def test_every_operation_of_the_table_is_fuzzed() -> None:
    fuzzed = {result.ok().definition.raw["operationId"] for result in schema.get_all_operations()}

    assert fuzzed == set(operations.BY_NAME)


def teardown_module() -> None:
    by_class: Counter[str] = Counter()
    for (_, kind), count in SENT.items():
        by_class[kind] += count
    print(f"\nfuzz: {sum(SENT.values())} examples over {len({name for name, _ in SENT})} operations, "
          f"by status class {dict(sorted(by_class.items()))}")
