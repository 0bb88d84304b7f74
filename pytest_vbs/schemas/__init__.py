"""The documented JSON Schemas (``pytest_vbs/schemas/*.json``): loading, and validation into readable violations.

The schema files are the single source of every field rule: the server's 400 answers, the assertion
helpers and the hypothesis strategies all read them. ``jsonschema`` is imported on first use only.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from pytest_vbs.errors import HANDFUL, nearest

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

BASE_URI = "https://pytest-vbs.invalid/schemas/"
KINDS = ("requests", "responses", "queries")

# Generic reasons and rules for keywords a schema does not annotate with "x-errors".
_TYPE_NAMES = {"string": "a string", "integer": "an integer", "boolean": "a boolean", "object": "an object",
               "array": "an array", "number": "a number", "null": "null"}


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (``backup.name``), which rule, why (a stable reason), and the value sent."""

    path: str
    rule: str
    reason: str
    value: Any
    keyword: str
    doc_page: str
    code: str | None = None  #: the VBS error code the schema gives this rule (VBS-native operations)

    def describe(self) -> str:
        where = f"field '{self.path}'" if self.path else "the body"
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        got = "" if self.reason in ("missing_field", "unknown_field") else f" (got {shown})"
        return f"Invalid input for {where}: {self.rule}{got}."


_lock = threading.Lock()


@functools.cache
def _all_documents() -> dict[str, dict[str, Any]]:
    """Every schema file, keyed by its ``$id``."""
    root = resources.files("pytest_vbs") / "schemas"
    documents: dict[str, dict[str, Any]] = {}
    entries = [entry for entry in root.iterdir() if entry.is_file()]  # shared definitions
    entries += [entry for kind in KINDS if (root / kind).is_dir() for entry in (root / kind).iterdir()]
    for entry in entries:
        if entry.name.endswith(".json"):
            document = json.loads(entry.read_text(encoding="utf-8"))
            documents[document["$id"]] = document
    return documents


def schema_names(kind: str) -> list[str]:
    """Names of the schemas of one kind (``requests``, ``responses``, ``queries``)."""
    prefix = f"{BASE_URI}{kind}/"
    return sorted(uri[len(prefix) : -len(".json")] for uri in _all_documents() if uri.startswith(prefix))


def definitions(name: str = "definitions") -> dict[str, Any]:
    """A document of shared field rules (``schemas/definitions.json``, ``schemas/policy_definitions.json`` ...)."""
    return _all_documents()[f"{BASE_URI}{name}.json"]


def schema(kind: str, name: str) -> dict[str, Any] | None:
    """The raw schema document, or ``None`` when the operation has none of that kind."""
    return _all_documents().get(f"{BASE_URI}{kind}/{name}.json")


@functools.cache
def _validator(kind: str, name: str) -> Validator | None:
    document = schema(kind, name)
    if document is None:
        return None
    with _lock:
        validator: Validator = _inlining_validator_class()(_inlined(document["$id"], document, {}))
        return validator


# Every "$ref" is resolved once, when a validator is built, instead of being looked up through ``referencing``
# (urljoin, JSON pointer) on each validation: that was about half of the time of validating a body. A node
# holding only a "$ref" becomes its target; any other "$ref" keeps its place but holds its target, for the
# "$ref" keyword below. Errors keep their order, their schema node's annotations and their schema path
# (jsonschema leaves "$ref" out of it), so _code_along still reads the raw document.
@functools.cache
def _inlining_validator_class() -> type[Validator]:
    from jsonschema import Draft202012Validator, validators

    def inlined_ref(validator: Any, target: Any, instance: Any, _: Any) -> Iterator[ValidationError]:
        yield from validator.descend(instance, target)

    inlining: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {"$ref": inlined_ref}
    )
    return inlining


def _inlined(base: str, node: Any, copies: dict[int, Any]) -> Any:
    """A copy of ``node`` (in the document ``base``) whose "$ref"s hold their targets, themselves inlined.
    ``copies`` (by the id of the original) makes one copy of each node, and a recursive "$ref" a cycle."""
    if isinstance(node, list):
        return [_inlined(base, item, copies) for item in node]
    if not isinstance(node, Mapping):
        return node
    if len(node) == 1 and isinstance(node.get("$ref"), str):
        return _inlined(*_target(base, node["$ref"]), copies)
    if id(node) not in copies:
        copy: dict[str, Any] = {}
        copies[id(node)] = copy  # before its children, which may refer back to it
        for key, value in node.items():
            is_ref = key == "$ref" and isinstance(value, str)
            copy[key] = _inlined(*_target(base, value), copies) if is_ref else _inlined(base, value, copies)
    return copies[id(node)]


def doc_page(kind: str, name: str) -> str:
    document = schema(kind, name) or {}
    return str(document.get("x-doc-page", ""))


def violations(kind: str, name: str, instance: Any) -> list[Violation]:
    """Every rule ``instance`` breaks in the schema ``kind/name``, in the schema's order, each once: a missing
    field or an unknown one is a violation of its own, named by its path."""
    validator = _validator(kind, name)
    if validator is None:
        return []
    document = schema(kind, name) or {}
    page = doc_page(kind, name)
    found: dict[tuple[str, str, str, str], Violation] = {}
    for error in _leaves(validator.iter_errors(instance)):
        for violation in _violations(error, page):
            if violation.code is None:
                violation = replace(violation, code=_code_along(document, error.absolute_schema_path))
            found.setdefault((violation.path, violation.rule, violation.reason, violation.keyword), violation)
    return list(found.values())


def _code_along(document: Mapping[str, Any], schema_path: Iterable[Any]) -> str | None:
    """The deepest ``x-code`` on the way from the schema's root to the failing keyword, else the document's
    ``x-default-code``: a field's code can depend on where a shared rule is used. (jsonschema's schema paths
    do not enter ``$ref`` targets, so a shared definition's rules take the code of the place that uses them.)"""
    code = document.get("x-default-code")
    node_: Any = document
    for step in schema_path:
        if not isinstance(node_, Mapping):
            break
        code = node_.get("x-code", code)
        node_ = node_.get(step)
    if isinstance(node_, Mapping):
        code = node_.get("x-code", code)
    return str(code) if code else None


def _leaves(errors: Iterator[ValidationError]) -> Iterator[ValidationError]:
    for error in errors:
        if error.context:
            yield from _leaves(iter(error.context))
        else:
            yield error


def _violations(error: ValidationError, page: str) -> list[Violation]:
    """The violations one error stands for. jsonschema gives one ``required`` (or ``dependentRequired``) error
    per missing field without naming it, and one ``additionalProperties`` error for every unknown field: each
    missing or unknown field becomes a violation of its own (``violations`` drops the repeats)."""
    keyword = str(error.validator)
    schema_node = error.schema if isinstance(error.schema, Mapping) else {}
    base = ".".join(str(p) for p in error.absolute_path)
    value: Any = error.instance
    expected: Any = error.validator_value
    page = schema_node.get("x-doc-page", page)

    def at(field: str) -> str:
        return f"{base}.{field}" if base else field

    if keyword == "dependentRequired" and isinstance(value, Mapping):
        return [Violation(at(missing), f"is mandatory when '{trigger}' is given", "missing_field", None, keyword, page)
                for trigger, needed in expected.items() if trigger in value
                for missing in needed if missing not in value]
    if keyword == "required" and isinstance(value, Mapping):
        codes = schema_node.get("x-missing-codes", {})
        return [Violation(at(missing), "is mandatory", "missing_field", None, keyword, page, codes.get(missing))
                for missing in expected if missing not in value]
    if keyword == "additionalProperties" and isinstance(value, Mapping):
        allowed = set(schema_node.get("properties", {}))
        return [Violation(at(extra), "is not a documented field" + _hint(extra, allowed), "unknown_field",
                          value[extra], keyword, page)
                for extra in sorted(k for k in value if k not in allowed)]
    code = schema_node.get("x-code")
    annotated = schema_node.get("x-errors", {}).get(keyword)
    if annotated:
        return [Violation(base, annotated["rule"], annotated["reason"], value, keyword, page,
                          annotated.get("code", code))]
    reason, rule = _generic(keyword, expected, value)
    return [Violation(base, rule, reason, value, keyword, page, code)]


def _hint(field: str, allowed: set[str]) -> str:
    """What an unknown field could have been: every documented field when there are a handful, else the nearest."""
    if not allowed:
        return ""
    if len(allowed) <= HANDFUL:
        return f" (allowed: {', '.join(sorted(allowed))})"
    close = nearest(field, allowed)
    return f" (did you mean {' or '.join(repr(name) for name in close)}?)" if close else ""


def _generic(keyword: str, expected: Any, value: Any) -> tuple[str, str]:
    if keyword == "type":
        types = expected if isinstance(expected, list) else [expected]
        names = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types)
        reason = "not_an_object" if types == ["object"] else "wrong_type"
        if "string" in types:
            reason = "not_a_string"
        return reason, f"must be {names}"
    if keyword == "minLength":
        if expected == 1 and value == "":
            return "empty", "must not be empty"
        return "too_short", f"must be at least {expected} characters"
    if keyword == "maxLength":
        return "too_long", f"must be at most {expected} characters"
    if keyword in ("minimum", "exclusiveMinimum"):
        return "out_of_range", f"must be >= {expected}"
    if keyword in ("maximum", "exclusiveMaximum"):
        return "out_of_range", f"must be <= {expected}"
    if keyword == "enum":
        return "not_allowed", "must be one of " + ", ".join(json.dumps(v) for v in expected)
    if keyword == "pattern":
        return "bad_character", f"must match {expected}"
    if keyword in ("minItems", "maxItems"):
        return "bad_length", f"must have {'at least' if keyword == 'minItems' else 'at most'} {expected} items"
    return "invalid", f"breaks the '{keyword}' rule"


def min_microversions(name: str) -> dict[str, str]:
    """Query parameters of ``queries/name`` that exist only from a microversion (``x-min-microversion``)."""
    document = schema("queries", name) or {}
    return {
        key: spec["x-min-microversion"]
        for key, spec in document.get("properties", {}).items()
        if "x-min-microversion" in spec
    }


def query_types(name: str) -> dict[str, str]:
    """The declared JSON type of each query parameter, used to coerce query strings before validation."""
    document = schema("queries", name) or {}
    return {key: spec.get("type", "string") for key, spec in document.get("properties", {}).items()}


def microversion_violations(
    kind: str, name: str, instance: Any, microversion: tuple[int, int] | None
) -> list[Violation]:
    """Fields present in ``instance`` that exist only from a later microversion (``x-min-microversion``)."""
    document = schema(kind, name)
    if document is None or microversion is None:
        return []
    found: list[Violation] = []
    _walk_versions(document["$id"], document, instance, microversion, "", doc_page(kind, name), found)
    return found


def _walk_versions(
    base: str, node: Any, instance: Any, version: tuple[int, int], path: str, page: str, found: list[Violation]
) -> None:
    base, node = _resolve(base, node)
    if not isinstance(node, Mapping) or not isinstance(instance, dict):
        return
    for key, spec in node.get("properties", {}).items():
        if key not in instance:
            continue
        child = f"{path}.{key}" if path else key
        _, resolved = _resolve(base, spec)
        since = resolved.get("x-min-microversion") if isinstance(resolved, Mapping) else None
        if since and version < tuple(int(part) for part in since.split(".")):
            found.append(Violation(child, f"exists only from microversion {since}", "needs_microversion",
                                   instance[key], "x-min-microversion", page))
        _walk_versions(base, spec, instance[key], version, child, page, found)


def _resolve(base: str, node: Any) -> tuple[str, Any]:
    """Follow ``$ref`` (relative to ``base``) until a node without one."""
    while isinstance(node, Mapping) and "$ref" in node:
        base, node = _target(base, node["$ref"])
    return base, node


def _target(base: str, ref: str) -> tuple[str, Any]:
    """The node ``ref`` (relative to ``base``) points to, and the address of its document."""
    uri, _, pointer = urljoin(base, ref).partition("#")
    node: Any = _all_documents()[uri]
    for part in (p for p in pointer.split("/") if p):
        node = node[part]
    return uri, node


def documented_errors(kind: str, name: str) -> tuple[set[str], set[str]]:
    """The error reasons and VBS codes the schema ``kind/name`` documents: its ``x-errors`` (reason, code),
    ``x-code``, ``x-missing-codes`` and ``x-default-code``, ``missing_field`` where it requires a field and
    ``unknown_field`` where it forbids others, through every ``$ref`` (the API coverage report's
    documented outcomes)."""
    reasons: set[str] = set()
    codes: set[str] = set()
    document = schema(kind, name)
    if document is not None:
        _collect_errors(document["$id"], document, reasons, codes, set())
    return reasons, codes


def _collect_errors(base: str, node: Any, reasons: set[str], codes: set[str], seen: set[int]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect_errors(base, item, reasons, codes, seen)
        return
    if not isinstance(node, Mapping) or id(node) in seen:
        return
    seen.add(id(node))
    for annotation in node.get("x-errors", {}).values():
        reasons.add(str(annotation["reason"]))
        if annotation.get("code"):
            codes.add(str(annotation["code"]))
    if node.get("required"):
        reasons.add("missing_field")
    if node.get("additionalProperties") is False:
        reasons.add("unknown_field")
    codes.update(str(code) for code in node.get("x-missing-codes", {}).values())
    codes.update(str(node[key]) for key in ("x-code", "x-default-code") if node.get(key))
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            _collect_errors(*_target(base, value), reasons, codes, seen)
        elif key not in ("x-errors", "x-missing-codes"):
            _collect_errors(base, value, reasons, codes, seen)
