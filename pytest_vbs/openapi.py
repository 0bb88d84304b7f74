"""An OpenAPI 3.1 document of everything the fake serves, derived from the operation table and the schemas.

Nothing is written twice: paths, methods, statuses and families come from :data:`pytest_vbs.api.OPERATIONS`,
bodies, query parameters and responses from ``schemas/{requests,queries,responses}/*.json``, and errors from
the family's envelope in ``schemas/response_definitions.json``. OpenAPI 3.1 schema objects are JSON Schema
2020-12, so the package's schemas are bundled unchanged under ``components.schemas`` (one component per
file, named ``request.<name>``, ``response.<name>``, ``query.<name>``, ``definitions``,
``response_definitions``), with every ``$ref`` rewritten to point inside the document.

The fake serves the document at ``GET /__vbs__/openapi.json`` (with ``servers`` set to its own URL).
:func:`coverage_table` renders the API coverage table of the README from the same table.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from pytest_vbs import api, schemas
from pytest_vbs.api import Operation
from pytest_vbs.errors import ERROR_STATUSES, STATUS_DESCRIPTIONS, Family

OPENAPI_VERSION = "3.1.0"
#: Error statuses every operation documents: the abnormal statuses of the VBS pages (``ERROR_STATUSES``)
#: and the two the request pipeline adds (413 body over the limit, 415 wrong ``Content-Type``).
DOCUMENTED_ERRORS: tuple[int, ...] = tuple(sorted({*ERROR_STATUSES, 413, 415}))
#: Error envelope of each family: a ``$defs`` entry of ``response_definitions.json``.
ENVELOPES: Mapping[Family, str] = {
    Family.NATIVE: "native_error",
    Family.VBS: "vbs_error",
    Family.IDENTITY: "identity_error",
}
_COMPONENT_PREFIX = {"requests": "request.", "responses": "response.", "queries": "query."}
_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_SEGMENT = "path_segment"
_MICROVERSION = {"type": "string", "pattern": "^volume 3\\.[0-9]{1,2}$",
                 "description": "Microversion of the V3 API (create page note; Cinder's negotiation)."}


# -- bundling the schema files ---------------------------------------------------------------------------------
def _component_name(uri: str) -> str:
    """``.../schemas/requests/create_backup.json`` → ``request.create_backup``; shared files by stem."""
    relative = uri[len(schemas.BASE_URI) :] if uri.startswith(schemas.BASE_URI) else uri
    kind, _, name = relative.rpartition("/")
    stem = name[: -len(".json")] if name.endswith(".json") else name
    return _COMPONENT_PREFIX.get(kind, "") + stem


def _ref(component: str, pointer: str = "") -> str:
    return f"#/components/schemas/{component}{pointer}"


def _rewrite(node: Any, base: str) -> Any:
    """A copy of ``node`` (part of the file ``base``) with ``$id``/``$schema`` dropped and every ``$ref``
    made a pointer into the bundled document."""
    if isinstance(node, list):
        return [_rewrite(item, base) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$id", "$schema"):
            continue
        if key == "$ref" and isinstance(value, str):
            uri, _, pointer = urljoin(base, value).partition("#")
            result[key] = _ref(_component_name(uri), pointer)
        elif key in ("properties", "$defs", "patternProperties", "dependentSchemas") and isinstance(value, dict):
            result[key] = {name: _rewrite(sub, base) for name, sub in value.items()}
        else:
            result[key] = _rewrite(value, base)
    return result


def _components() -> dict[str, Any]:
    bundled: dict[str, Any] = {}
    for uri, document in schemas._all_documents().items():
        bundled[_component_name(uri)] = _rewrite(document, uri)
    return dict(sorted(bundled.items()))


def _schema_uri(kind: str, name: str) -> str:
    return f"{schemas.BASE_URI}{kind}/{name}.json"


# -- operations -------------------------------------------------------------------------------------------------
def openapi_path(rule: str) -> str:
    """werkzeug's ``/v3/<project_id>/backups/<backup_id>`` as OpenAPI's ``/v3/{project_id}/backups/{backup_id}``."""
    return _RULE_ARG.sub(lambda match: "{" + match[1] + "}", rule)


def _literal_segments(operations: Iterable[Operation]) -> list[str]:
    """Every fixed path segment of the table: an id equal to one of them would reach another route."""
    found = {segment for op in operations for segment in op.rule.split("/") if segment and "<" not in segment}
    return sorted(found | {".", ".."})


def _segment_schema(literals: list[str]) -> dict[str, Any]:
    return {
        "description": "A path parameter: any text without '/', other than a fixed segment of the API "
        "('detail', 'count', ...) or a dot segment, which would reach another route.",
        "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^/]+$", "not": {"enum": literals},
    }


def _path_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"$ref": _ref(_SEGMENT)}}


def _query_parameters(operation: Operation) -> list[dict[str, Any]]:
    if operation.query_schema is None:
        return []
    uri = _schema_uri("queries", operation.query_schema)
    document = schemas.schema("queries", operation.query_schema) or {}
    required = set(document.get("required", []))
    parameters = []
    for name, spec in document.get("properties", {}).items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                     "schema": _rewrite(spec, uri)}
        if "x-min-microversion" in spec:
            parameter["description"] = f"From microversion {spec['x-min-microversion']}."
        parameters.append(parameter)
    return parameters


def _is_empty(name: str) -> bool:
    """Whether the response schema of ``name`` is the empty body (``{"type": "null"}``)."""
    node: Any = schemas.schema("responses", name)
    base = _schema_uri("responses", name)
    if node is None:
        return False
    _, node = schemas._resolve(base, node)
    return isinstance(node, Mapping) and node.get("type") == "null"


def _normal_response(operation: Operation) -> dict[str, Any]:
    document = schemas.schema("responses", operation.name)
    description = str((document or {}).get("title") or f"{operation.name}: the normal answer")
    if operation.status in (204, 304) or _is_empty(operation.name):
        return {"description": description}
    schema: dict[str, Any] = {"$ref": _ref(f"response.{operation.name}")} if document is not None else {}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error_responses() -> dict[str, Any]:
    """``components.responses``: one error response per family, its envelope as the schema."""
    return {
        envelope: {
            "description": f"An error, in the {family.value} family's envelope ({envelope}).",
            "content": {"application/json": {"schema": {"$ref": _ref("response_definitions", f"/$defs/{envelope}")}}},
        }
        for family, envelope in ENVELOPES.items()
    }


def _error_response(family: Family, status: int) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{ENVELOPES[family]}",
            "description": STATUS_DESCRIPTIONS.get(status, "Error.")}


def _operation(operation: Operation) -> dict[str, Any]:
    parameters = [_path_parameter(name) for name in _RULE_ARG.findall(operation.rule)]
    parameters += _query_parameters(operation)
    if operation.version == "v3":
        parameters.append({"name": "OpenStack-API-Version", "in": "header", "required": False,
                           "schema": dict(_MICROVERSION)})
    responses: dict[str, Any] = {str(operation.status): _normal_response(operation)}
    for status in DOCUMENTED_ERRORS:
        responses.setdefault(str(status), _error_response(operation.family, status))
    result: dict[str, Any] = {
        "operationId": operation.name,
        "tags": [operation.tags[-1] if operation.tags else operation.family.value],
        "summary": str((schemas.schema("responses", operation.name) or {}).get("title") or operation.name),
        "description": f"Documentation page: {operation.doc_page}." if operation.doc_page else "",
        "x-doc-page": operation.doc_page,
        "x-family": operation.family.value,
        "parameters": parameters,
        "responses": responses,
    }
    if operation.request_schema is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _ref(f"request.{operation.request_schema}")}}},
        }
    if "project_id" in _RULE_ARG.findall(operation.rule):
        # Token checks are off by default (any token or none is accepted) and on with auth enabled.
        result["security"] = [{"token": []}, {}]
    return result


@functools.cache
def _build(operations: tuple[Operation, ...], control: bool) -> dict[str, Any]:
    served = [op for op in operations if control or "control" not in op.tags]
    paths: dict[str, dict[str, Any]] = {}
    for operation in served:
        paths.setdefault(openapi_path(operation.rule), {})[operation.method.lower()] = _operation(operation)
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "pytest-vbs: fake Volume Backup Service",
            "version": _version(),
            "description": "Every route the fake VBS serves, generated from its operation table and its JSON "
            "Schemas. Native OpenStack routes answer errors with Cinder's envelope, VBS-native routes with "
            "{\"error\": {\"code\", \"message\"}}, the fake Keystone with Keystone's.",
        },
        "paths": paths,
        "components": {
            "schemas": {**_components(), _SEGMENT: _segment_schema(_literal_segments(operations))},
            "responses": _error_responses(),
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}},
        },
    }


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pytest-vbs")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def document(
    operations: Iterable[Operation] | None = None, *, control: bool = True, server_url: str | None = None
) -> dict[str, Any]:
    """The OpenAPI document (a fresh copy) of ``operations`` (default: every operation the fake serves); without
    ``control`` the ``/__vbs__`` routes are left out; ``server_url`` sets ``servers``."""
    result = copy.deepcopy(_build(tuple(operations) if operations is not None else api.OPERATIONS, control))
    if server_url:
        result["servers"] = [{"url": server_url}]
    return result


# -- the coverage table -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CoverageRow:
    operation: str
    method: str
    path: str
    doc_page: str
    served: bool


def coverage_rows(documented_pages: Iterable[str] = ()) -> list[CoverageRow]:
    """One row per operation of the table (all served); then one per page of ``documented_pages`` that no
    operation follows (not served)."""
    rows = [CoverageRow(op.name, op.method, openapi_path(op.rule), op.doc_page, True) for op in api.OPERATIONS]
    followed = {op.doc_page for op in api.OPERATIONS}
    rows += [CoverageRow("", "", "", page, False) for page in documented_pages if page not in followed]
    return rows


def coverage_table(documented_pages: Iterable[str] = ()) -> str:
    """The API coverage table (Markdown): operation, method, path, documentation page, served."""
    lines = ["| operation | method | path | doc page | served |", "| --- | --- | --- | --- | --- |"]
    for row in coverage_rows(documented_pages):
        operation = f"`{row.operation}`" if row.operation else "—"
        path = f"`{row.path}`" if row.path else "—"
        lines.append(f"| {operation} | {row.method or '—'} | {path} | {row.doc_page} | "
                     f"{'yes' if row.served else 'no'} |")
    return "\n".join(lines) + "\n"
