"""Hypothesis strategies for what the VBS API accepts and, separately, what it must reject.

Every strategy is derived from the package's JSON Schemas (``schemas/definitions.json`` and the request
schemas), the same data the fake validates with, so the strategies cannot drift from the server. Invalid
strategies draw :class:`Invalid` objects: ``.value`` is what to send, ``.reason`` the stable reason the
fake reports for it (``"empty"``, ``"too_long"``, ``"bad_character"``, ``"auto_prefix"``,
``"not_a_string"``, ``"missing_field"``, ``"unknown_field"`` ...), ``.field`` the JSON path broken.

Case rule: the name must not start with ``auto`` in any letter case (``Auto…``, ``AUTO…`` are rejected);
the page writes the rule in lower case and the fake applies the stricter reading (docs/fidelity-notes.md).
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as error:  # hypothesis is an optional extra: it costs every pytest run (benchmarks/RESULTS.md)
    raise ImportError("pytest_vbs.strategies needs hypothesis: pip install 'pytest-vbs[hypothesis]'") from error

from pytest_vbs import schemas
from pytest_vbs.hypothesis_types import BackupName

__all__ = [
    "BackupName",
    "Invalid",
    "backup_names",
    "backup_tags",
    "create_backup_requests",
    "descriptions",
    "ids",
    "invalid_backup_names",
    "invalid_backup_tags",
    "invalid_create_backup_requests",
    "invalid_descriptions",
    "invalid_ids",
    "invalid_policy_names",
    "invalid_restore_requests",
    "json_values",
    "policy_names",
    "restore_requests",
]

# Characters tried against a schema's pattern to learn its alphabet: printable ASCII plus a few others.
_CANDIDATES = string.printable + "\x00\x01\x1f\x7féßЖ名\u00a0\u2028😀"
_FORBIDDEN_SAMPLES = " .\t\n\x00\x1féЖ名😀/\\<>:;,@#%&*+=?!'\"()[]{}|~`^$"


@dataclass(frozen=True)
class Invalid:
    """A value the documentation rejects, with the reason the fake gives for it and the field it breaks."""

    value: Any
    reason: str
    field: str = ""


# -- schema data ------------------------------------------------------------------------------------------
@functools.cache
def _definition(name: str, document: str = "definitions") -> Mapping[str, Any]:
    node: Mapping[str, Any] = schemas.definitions(document)["$defs"][name]
    return node


def _reason(node: Mapping[str, Any], keyword: str, fallback: str) -> str:
    annotated: Mapping[str, Any] = node.get("x-errors", {}).get(keyword, {})
    return str(annotated.get("reason", fallback))


def _alphabet(pattern: str) -> str:
    """The candidate characters a ``^[...]*``-style pattern accepts one by one."""
    return "".join(c for c in _CANDIDATES if re.fullmatch(pattern, c))


@dataclass(frozen=True)
class _TextRule:
    """A string field's rule as the schema states it: alphabet, length, a forbidden prefix, other patterns."""

    node: Mapping[str, Any]
    alphabet: str
    low: int
    high: int
    prefix: re.Pattern[str] | None  # the ``not`` pattern, e.g. ^[Aa][Uu][Tt][Oo]
    word: str  # that prefix as a word, e.g. "auto"
    others: tuple[re.Pattern[str], ...]  # patterns of ``allOf`` parts (e.g. no '<' or '>')

    @classmethod
    def of(cls, name: str, document: str = "definitions") -> _TextRule:
        node = _definition(name, document)
        forbidden = node.get("not", {}).get("pattern")
        others = tuple(re.compile(_definition(part["$ref"].rsplit("/", 1)[-1], document)["pattern"])
                       for part in node.get("allOf", []))
        return cls(node, _alphabet(node["pattern"]), int(node.get("minLength", 0)), int(node["maxLength"]),
                   re.compile(forbidden) if forbidden else None,
                   "".join(a.lower() for a, _ in re.findall(r"\[(\w)(\w)\]", forbidden or "")), others)

    def forbidden_characters(self) -> st.SearchStrategy[str]:
        """Characters the pattern refuses and every other part allows (so exactly one rule breaks)."""
        return st.one_of(st.sampled_from(_FORBIDDEN_SAMPLES), st.characters(codec="utf-8")).filter(
            lambda c: c not in self.alphabet and all(p.match(c) for p in self.others)
        )


def _names(rule: _TextRule) -> st.SearchStrategy[str]:
    chars = st.sampled_from(rule.alphabet)
    edges = [
        st.text(chars, min_size=rule.low, max_size=rule.low),
        st.text(chars, min_size=rule.high, max_size=rule.high),
        st.text(st.sampled_from(string.digits), min_size=rule.low, max_size=rule.high),
        st.tuples(st.sampled_from("-_"), st.text(chars, max_size=rule.high - 1)).map("".join),
    ]
    if rule.word:  # names that contain or end with the forbidden prefix are fine
        variants = [rule.word, rule.word.title(), rule.word.upper()]
        edges.append(st.tuples(st.text(chars, min_size=1, max_size=8), st.sampled_from(variants),
                               st.text(chars, max_size=8)).map("".join))
    names = st.one_of(st.text(chars, min_size=rule.low, max_size=rule.high), *edges)
    prefix = rule.prefix
    return names.filter(lambda name: prefix is None or prefix.match(name) is None)


def _invalid_names(rule: _TextRule, field: str) -> st.SearchStrategy[Invalid]:
    node, alphabet, high = rule.node, rule.alphabet, rule.high
    safe = st.text(st.sampled_from(string.digits), min_size=1, max_size=4)  # never a prefix problem
    cases = [
        st.just(Invalid("", _reason(node, "minLength", "empty"), field)),
        st.text(st.sampled_from(alphabet), min_size=high + 1, max_size=high + 40).map(
            lambda s: Invalid("1" + s[1:], _reason(node, "maxLength", "too_long"), field)
        ),
        st.tuples(safe, rule.forbidden_characters(), st.text(st.sampled_from(alphabet), max_size=high - 6)).map(
            lambda p: Invalid("".join(p), _reason(node, "pattern", "bad_character"), field)
        ),
        _non_string_values().map(lambda v: Invalid(v, _reason(node, "type", "not_a_string"), field)),
    ]
    if rule.word:
        word = rule.word
        variants = [word, word.title(), word.upper(), "".join(c.upper() if i % 2 else c for i, c in enumerate(word))]
        cases.append(
            st.tuples(st.sampled_from(variants), st.text(st.sampled_from(alphabet), max_size=high - len(word))).map(
                lambda p: Invalid("".join(p), _reason(node, "not", "prefix"), field)
            )
        )
    return st.one_of(cases)


# -- names ----------------------------------------------------------------------------------------------
def backup_names() -> st.SearchStrategy[str]:
    """Every name the documentation allows, with the edges well covered: length 1 and the maximum,
    all digits, a leading ``-``/``_``, names that contain or end with ``auto``."""
    return _names(_TextRule.of("backup_name"))


def invalid_backup_names() -> st.SearchStrategy[Invalid]:
    """Every way a name can be wrong, labelled: empty, too long, a forbidden character (space, dot,
    unicode letters, control characters ...), the ``auto`` prefix (any case), not a string."""
    return _invalid_names(_TextRule.of("backup_name"), "backup.name")


def policy_names() -> st.SearchStrategy[str]:
    """Backup policy names the documentation allows (1-64 letters, digits, ``_``, ``-``; not ``default…``)."""
    return _names(_TextRule.of("policy_name", "policy_definitions"))


def invalid_policy_names() -> st.SearchStrategy[Invalid]:
    """Policy names the documentation refuses, labelled (``empty``, ``too_long``, ``bad_character``,
    ``default_prefix``, ``not_a_string``)."""
    return _invalid_names(_TextRule.of("policy_name", "policy_definitions"), "backup_policy_name")


def backup_tags() -> st.SearchStrategy[list[dict[str, str]]]:
    """``tags`` of a ``/cloudbackups`` create: up to the maximum number of key/value pairs."""
    tag = _definition("backup_tag")
    key, value = tag["properties"]["key"], tag["properties"]["value"]
    return st.lists(
        st.fixed_dictionaries({
            "key": st.text(st.sampled_from(_alphabet(key["pattern"])), min_size=key["minLength"],
                           max_size=key["maxLength"]),
            "value": st.text(st.sampled_from(_alphabet(value["pattern"])), max_size=value["maxLength"]),
        }),
        max_size=_definition("backup_tags")["maxItems"],
        unique_by=lambda t: t["key"],
    )


def invalid_backup_tags() -> st.SearchStrategy[Invalid]:
    """``tags`` that break one rule, labelled: too many, key or value too long, a forbidden character, a
    missing value, not a tag object."""
    tags, tag = _definition("backup_tags"), _definition("backup_tag")
    key, value = tag["properties"]["key"], tag["properties"]["value"]
    banned = [c for c in _FORBIDDEN_SAMPLES + "=*|" if not re.match(key["pattern"], c)]
    field = "backup.tags"
    return st.one_of(
        st.just(Invalid([{"key": f"k{i}", "value": "v"} for i in range(tags["maxItems"] + 1)],
                        _reason(tags, "maxItems", "too_many"), field)),
        st.just(Invalid([{"key": "k" * (key["maxLength"] + 1), "value": "v"}], "too_long", f"{field}.0.key")),
        st.just(Invalid([{"key": "k", "value": "v" * (value["maxLength"] + 1)}], "too_long", f"{field}.0.value")),
        st.sampled_from(banned).map(
            lambda c: Invalid([{"key": f"k{c}", "value": "v"}], _reason(key, "pattern", "bad_character"),
                              f"{field}.0.key")
        ),
        st.just(Invalid([{"key": "k"}], "missing_field", f"{field}.0.value")),
    )


# -- descriptions -----------------------------------------------------------------------------------------
def descriptions() -> st.SearchStrategy[str | None]:
    """Descriptions the native APIs accept: up to the maximum length, no forbidden characters, or null."""
    node = _definition("native_description")
    low, high = int(node.get("minLength", 0)), int(node["maxLength"])
    pattern = re.compile(node["pattern"])
    text = st.text(st.characters(codec="utf-8"), min_size=low, max_size=high).filter(
        lambda s: pattern.fullmatch(s) is not None
    )
    return st.one_of(st.none(), text, st.text(st.sampled_from(string.ascii_letters), min_size=high, max_size=high))


def invalid_descriptions() -> st.SearchStrategy[Invalid]:
    """Descriptions the native APIs reject, labelled: too long, a forbidden character, not a string."""
    node = _definition("native_description")
    high = int(node["maxLength"])
    field = "backup.description"
    banned = [c for c in "<>" if re.fullmatch(node["pattern"], c) is None]
    return st.one_of(
        st.text(st.sampled_from(string.ascii_letters), min_size=high + 1, max_size=high + 50).map(
            lambda s: Invalid(s, _reason(node, "maxLength", "too_long"), field)
        ),
        st.tuples(st.text(st.sampled_from(string.ascii_letters), max_size=20), st.sampled_from(banned)).map(
            lambda p: Invalid("".join(p), _reason(node, "pattern", "bad_character"), field)
        ),
        _non_string_values().map(lambda v: Invalid(v, _reason(node, "type", "not_a_string"), field)),
    )


# -- ids --------------------------------------------------------------------------------------------------
def ids() -> st.SearchStrategy[str]:
    """Resource ids (the fake issues UUIDs; any non-empty string up to the maximum is well-formed)."""
    return st.uuids().map(str)


def invalid_ids(field: str = "backup.volume_id") -> st.SearchStrategy[Invalid]:
    """Malformed ids, labelled: empty, too long, not a string."""
    node = _definition("id")
    high = int(node["maxLength"])
    return st.one_of(
        st.just(Invalid("", "empty", field)),
        st.text(st.sampled_from(string.hexdigits), min_size=high + 1, max_size=high + 10).map(
            lambda s: Invalid(s, "too_long", field)
        ),
        st.one_of(st.integers(), st.booleans(), st.none(), st.lists(st.integers(), max_size=2)).map(
            lambda v: Invalid(v, "not_a_string", field)
        ),
    )


# -- whole request bodies ----------------------------------------------------------------------------------
def _given(value: str | st.SearchStrategy[str] | None) -> st.SearchStrategy[str]:
    if value is None:
        return ids()
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def _optional_fields(request: str, wrapper: str) -> dict[str, st.SearchStrategy[Any]]:
    """A strategy for each optional field of a request schema, chosen by the shared rule it references."""
    document = schemas.schema("requests", request)
    assert document is not None
    body: Mapping[str, Any] = document["properties"][wrapper]
    by_rule: dict[str, st.SearchStrategy[Any]] = {
        "backup_name": st.one_of(st.none(), backup_names()),
        "native_description": descriptions(),
        "optional_string": st.one_of(st.none(), st.text(max_size=30)),
        "optional_boolean": st.one_of(st.none(), st.booleans()),
        "id": ids(),
    }
    rules = {key: spec["$ref"].rsplit("/", 1)[-1] for key, spec in body["properties"].items()}
    return {  # fields of a later microversion (metadata, 3.43) are left out: the bodies suit any microversion
        key: by_rule[rule] for key, rule in rules.items()
        if key not in body.get("required", []) and "x-min-microversion" not in _definition(rule)
    }


def create_backup_requests(
    volume_id: str | st.SearchStrategy[str] | None = None,
    snapshot_id: str | st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid ``POST /v3/{project_id}/backups`` bodies; pass real ids to have the fake accept them."""
    optional = _optional_fields("create_backup", "backup")
    required = st.fixed_dictionaries({"volume_id": _given(volume_id), "snapshot_id": _given(snapshot_id)})
    return st.tuples(required, st.fixed_dictionaries({}, optional=optional)).map(
        lambda parts: {"backup": {**parts[0], **parts[1]}}
    )


def invalid_create_backup_requests(
    volume_id: str | st.SearchStrategy[str] | None = None,
    snapshot_id: str | st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Invalid]:
    """Create bodies that break exactly one documented rule, labelled with the reason and the field."""
    valid = create_backup_requests(volume_id, snapshot_id)

    def broken_field(field: str, strategy: st.SearchStrategy[Invalid]) -> st.SearchStrategy[Invalid]:
        return st.tuples(valid, strategy).map(
            lambda pair: Invalid(_with(pair[0], field, pair[1].value), pair[1].reason, pair[1].field)
        )

    booleans = [key for key in _optional_fields("create_backup", "backup") if key in ("force", "incremental")]
    return st.one_of(
        broken_field("name", invalid_backup_names()),
        broken_field("description", invalid_descriptions()),
        broken_field("volume_id", invalid_ids("backup.volume_id")),
        broken_field("snapshot_id", invalid_ids("backup.snapshot_id")),
        st.tuples(valid, st.sampled_from(booleans), st.sampled_from(["true", 1, "yes", [True]])).map(
            lambda t: Invalid(_with(t[0], t[1], t[2]), "not_a_boolean", f"backup.{t[1]}")
        ),
        st.tuples(valid, st.sampled_from(["volume_id", "snapshot_id"])).map(
            lambda t: Invalid({"backup": {k: v for k, v in t[0]["backup"].items() if k != t[1]}},
                              "missing_field", f"backup.{t[1]}")
        ),
        st.tuples(valid, st.sampled_from(["user_id", "availability_zone", "Name", "volumeId"])).map(
            lambda t: Invalid(_with(t[0], t[1], "x"), "unknown_field", f"backup.{t[1]}")
        ),
        st.sampled_from([[], "backup", 1, None, [{"backup": {}}]]).map(
            lambda v: Invalid(v, "not_an_object", "")
        ),
        st.sampled_from([[], "x", 1, None]).map(lambda v: Invalid({"backup": v}, "not_an_object", "backup")),
        st.just(Invalid({}, "missing_field", "backup")),
    )


def _with(body: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    return {"backup": {**body["backup"], field: value}}


def restore_requests(volume_id: str | st.SearchStrategy[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Valid ``POST .../backups/{id}/restore`` bodies: ``{"restore": {"volume_id": ...}}``."""
    return _given(volume_id).map(lambda v: {"restore": {"volume_id": v}})


def invalid_restore_requests(volume_id: str | st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Invalid]:
    """Restore bodies that break one rule: no ``restore``, no ``volume_id``, an unknown field, bad types."""
    return st.one_of(
        st.just(Invalid({}, "missing_field", "restore")),
        st.just(Invalid({"restore": {}}, "missing_field", "restore.volume_id")),
        _given(volume_id).map(lambda v: Invalid({"restore": {"volume_id": v, "name": "x"}}, "unknown_field",
                                                "restore.name")),
        invalid_ids("restore.volume_id").map(lambda i: Invalid({"restore": {"volume_id": i.value}}, i.reason, i.field)),
        st.sampled_from([[], "x", 1, None]).map(lambda v: Invalid({"restore": v}, "not_an_object", "restore")),
    )


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Arbitrary JSON documents (for "never a 500" fuzzing)."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=20))
    return st.recursive(
        scalars,
        lambda children: st.one_of(st.lists(children, max_size=4),
                                   st.dictionaries(st.text(max_size=10), children, max_size=4)),
        max_leaves=max_leaves,
    )


def _non_string_values() -> st.SearchStrategy[Any]:
    """Non-string JSON values (what ``not_a_string`` sends; ``null`` is allowed where fields are optional)."""
    return st.one_of(
        st.integers(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
    )
