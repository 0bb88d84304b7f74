"""schemas.py validates over copies of the schema documents in which every ``$ref`` was resolved once (looking
each one up on every validation was half of the validation time). Those copies must find exactly the errors
that a validator looking the ``$ref``s up in a registry finds, in the same order, at the same schema nodes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from pytest_vbs import schemas

#: Values put at each documented field: each breaks some rules (type, length, pattern, enum, prefix ...).
VALUES: list[Any] = [None, 5, "", "auto <x>" * 40, "ON", ["a", "a"], {"key": "k"}]

_registry: Registry[Any] = Registry().with_resources(
    (uri, Resource.from_contents(document)) for uri, document in schemas._all_documents().items()
)


def _field_paths(base: str, node: Any, depth: int = 4) -> Iterator[tuple[str, ...]]:
    """Paths to the documented properties of ``node`` (through ``$ref``s), down to ``depth`` levels."""
    base, node = schemas._resolve(base, node)
    if not isinstance(node, Mapping) or not depth:
        return
    for key, spec in node.get("properties", {}).items():
        yield (key,)
        yield from ((key, *rest) for rest in _field_paths(base, spec, depth - 1))


def _instance(path: tuple[str, ...], value: Any) -> Any:
    return {path[0]: _instance(path[1:], value)} if path else value


def _errors(validator: Any, instance: Any) -> list[tuple[Any, ...]]:
    return [
        (list(error.absolute_path), list(error.absolute_schema_path), error.validator, error.instance,
         {k: v for k, v in error.schema.items() if k.startswith("x-")} if isinstance(error.schema, Mapping) else None)
        for error in schemas._leaves(validator.iter_errors(instance))
    ]


def test_inlined_refs_find_the_errors_a_registry_lookup_finds() -> None:
    compared = 0
    for kind in schemas.KINDS:
        for name in schemas.schema_names(kind):
            document = schemas.schema(kind, name) or {}
            looked_up = Draft202012Validator(document, registry=_registry)
            for path in [(), *_field_paths(document["$id"], document)]:
                for value in VALUES:
                    instance = _instance(path, value)
                    assert _errors(schemas._validator(kind, name), instance) == _errors(looked_up, instance), instance
                    compared += 1
    assert compared > 3000
