"""The OpenAPI 3.1 document: generated from the operation table and the schemas, served by the fake, complete."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from vbs_support import json_refs

from pytest_vbs import FakeVBS, openapi, schemas
from pytest_vbs import api as operations
from pytest_vbs.errors import ERROR_STATUSES


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.document()


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_fake_serves_the_generated_document(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.get(f"{vbs.url}/__vbs__/openapi.json")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == openapi.document(server_url=vbs.url)
    assert response.json()["openapi"] == "3.1.0"
    assert not vbs.requests  # a control route: not journaled


def test_every_operation_is_in_the_document_once(document: dict[str, Any]) -> None:
    found = {
        (method.upper(), path): spec["operationId"]
        for path, item in document["paths"].items()
        for method, spec in item.items()
    }

    assert sorted(found.values()) == sorted(operations.BY_NAME)
    for op in operations.OPERATIONS:
        assert found[(op.method, openapi.openapi_path(op.rule))] == op.name


def test_paths_use_openapi_templates() -> None:
    assert openapi.openapi_path("/v3/<project_id>/backups/<backup_id>") == "/v3/{project_id}/backups/{backup_id}"
    assert openapi.openapi_path("/v2/<project_id>/x/<path:key>") == "/v2/{project_id}/x/{key}"


def test_every_ref_resolves_inside_the_document(document: dict[str, Any]) -> None:
    refs = set(json_refs(document))

    assert refs
    for ref in refs:
        assert _resolve(document, ref) is not None, ref


def test_no_schema_is_written_twice(document: dict[str, Any]) -> None:
    """Bodies and responses are references to the bundled schema files, which are the package's own."""
    components = document["components"]["schemas"]
    for uri in schemas._all_documents():
        assert openapi._component_name(uri) in components
    for op in operations.OPERATIONS:
        spec = document["paths"][openapi.openapi_path(op.rule)][op.method.lower()]
        if op.request_schema:
            body = spec["requestBody"]["content"]["application/json"]["schema"]
            assert body == {"$ref": f"#/components/schemas/request.{op.request_schema}"}
        normal = spec["responses"][str(op.status)]
        if "content" in normal:
            expected = {"$ref": f"#/components/schemas/response.{op.name}"}
            assert normal["content"]["application/json"]["schema"] == expected


@pytest.mark.parametrize("op", operations.OPERATIONS, ids=lambda op: op.name)
def test_parameters_statuses_and_envelopes(document: dict[str, Any], op: operations.Operation) -> None:
    spec = document["paths"][openapi.openapi_path(op.rule)][op.method.lower()]
    path_names = re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", op.rule)
    query_names = list((schemas.schema("queries", op.query_schema or "") or {}).get("properties", {}))

    assert [p["name"] for p in spec["parameters"] if p["in"] == "path"] == path_names
    assert [p["name"] for p in spec["parameters"] if p["in"] == "query"] == query_names
    assert str(op.status) in spec["responses"]
    for status in (*ERROR_STATUSES, 413, 415):
        error = spec["responses"][str(status)]
        assert error["$ref"] == f"#/components/responses/{openapi.ENVELOPES[op.family]}"
        envelope = _resolve(document, error["$ref"])["content"]["application/json"]["schema"]["$ref"]
        assert envelope.endswith(f"/$defs/{openapi.ENVELOPES[op.family]}")


def test_without_control_the_document_has_no_control_route() -> None:
    paths = openapi.document(control=False)["paths"]

    assert paths
    assert not [path for path in paths if path.startswith("/__vbs__")]


def test_the_coverage_table_lists_every_operation_and_unserved_pages() -> None:
    table = openapi.coverage_table(["creating_a_vbs_backup", "a_page_nobody_serves"])
    lines = table.splitlines()

    assert lines[0] == "| operation | method | path | doc page | served |"
    assert len(lines) == 2 + len(operations.OPERATIONS) + 1
    assert "| `create_vbs_backup` | POST | `/v2/{project_id}/cloudbackups` | creating_a_vbs_backup | yes |" in lines
    assert lines[-1] == "| — | — | — | a_page_nobody_serves | no |"
