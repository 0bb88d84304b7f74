"""Backup policy tags over real sockets: add, remove, list all, list one policy's, batch create/update/delete, and
querying policies by tag (api_description/backup_policies; choices in docs/policies.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import requests
from policy_support import UNKNOWN, body, ok, policies_url, vbs_error

from pytest_vbs import FakeVBS


def tags_of(vbs: FakeVBS, http: requests.Session, policy_id: str) -> dict[str, str]:
    answer = ok(http.get(f"{policies_url(vbs)}/{policy_id}/tags"), "list_backup_policy_tags")
    return {tag["key"]: tag["value"] for tag in answer["tags"]}


def add(vbs: FakeVBS, http: requests.Session, policy_id: str, tag: Any) -> requests.Response:
    return http.post(f"{policies_url(vbs)}/{policy_id}/tags", json={"tag": tag})


def batch(vbs: FakeVBS, http: requests.Session, policy_id: str, action: str, tags: Any = None) -> requests.Response:
    sent: dict[str, Any] = {"action": action}
    if tags is not None:
        sent["tags"] = tags
    return http.post(f"{policies_url(vbs)}/{policy_id}/tags/action", json=sent)


# -- add, remove, list ---------------------------------------------------------------------------------------------
def test_add_tag_then_list_it(vbs: FakeVBS, http: requests.Session) -> None:
    policy_id = vbs.add_policy(tags={"first": "1"})
    response = add(vbs, http, policy_id, {"key": "0f187b65-8d0e-4fc0-9096-3b55d330531e", "value": "volume"})
    assert ok(response, "add_backup_policy_tag", 204) is None
    assert tags_of(vbs, http, policy_id) == {"first": "1", "0f187b65-8d0e-4fc0-9096-3b55d330531e": "volume"}
    assert ok(add(vbs, http, policy_id, {"key": "first", "value": ""}), "add_backup_policy_tag", 204) is None
    assert tags_of(vbs, http, policy_id)["first"] == ""  # an existing key gets the new value
    assert list(tags_of(vbs, http, policy_id)) == ["first", "0f187b65-8d0e-4fc0-9096-3b55d330531e"]


def test_tags_given_at_creation_are_the_policys_tags(vbs: FakeVBS, http: requests.Session) -> None:
    tags = [{"key": "env", "value": "prod"}, {"key": "team", "value": ""}]
    created = http.post(policies_url(vbs), json=body(tags=tags))
    policy_id = ok(created, "create_backup_policy")["backup_policy_id"]
    assert tags_of(vbs, http, policy_id) == {"env": "prod", "team": ""}


def test_at_most_ten_tags(vbs: FakeVBS, http: requests.Session) -> None:
    policy_id = vbs.add_policy(tags={f"k{i}": "v" for i in range(10)})
    vbs_error(add(vbs, http, policy_id, {"key": "k10", "value": "v"}), 400, "AutoBackup.0215", "at most 10")
    assert ok(add(vbs, http, policy_id, {"key": "k9", "value": "w"}), "add_backup_policy_tag", 204) is None
    assert len(tags_of(vbs, http, policy_id)) == 10


ADD_ERRORS: list[tuple[str, Any, str, str]] = [
    ("no tag", {}, "AutoBackup.0214", "'tag': is mandatory"),
    ("tag not an object", {"tag": "k=v"}, "AutoBackup.0214", "must be an object"),
    ("no key", {"tag": {"value": "v"}}, "AutoBackup.0214", "'tag.key': is mandatory"),
    ("no value", {"tag": {"key": "k"}}, "AutoBackup.0214", "'tag.value': is mandatory"),
    ("empty key", {"tag": {"key": "", "value": "v"}}, "AutoBackup.0214", "1 to 36"),
    ("key of 37", {"tag": {"key": "k" * 37, "value": "v"}}, "AutoBackup.0214", "at most 36"),
    ("value of 44", {"tag": {"key": "k", "value": "v" * 44}}, "AutoBackup.0214", "at most 43"),
    ("key with a space", {"tag": {"key": "a b", "value": "v"}}, "AutoBackup.0214", "letters, digits"),
    ("key with #", {"tag": {"key": "a#b", "value": "v"}}, "AutoBackup.0214", "letters, digits"),
    ("value with a dot", {"tag": {"key": "k", "value": "1.0"}}, "AutoBackup.0214", "letters, digits"),
    ("key with <", {"tag": {"key": "<k>", "value": "v"}}, "AutoBackup.0221", "'<' or '>'"),
    ("value not a string", {"tag": {"key": "k", "value": 1}}, "AutoBackup.0214", "must be a string"),
    ("unknown field", {"tag": {"key": "k", "value": "v"}, "tags": []}, "AutoBackup.0008", "not a documented field"),
]


@pytest.mark.parametrize(("sent", "code", "fragment"), [c[1:] for c in ADD_ERRORS], ids=[c[0] for c in ADD_ERRORS])
def test_add_tag_rules(vbs: FakeVBS, http: requests.Session, sent: Any, code: str, fragment: str) -> None:
    policy_id = vbs.add_policy()
    vbs_error(http.post(f"{policies_url(vbs)}/{policy_id}/tags", json=sent), 400, code, fragment)
    assert tags_of(vbs, http, policy_id) == {}


def test_remove_tag(vbs: FakeVBS, http: requests.Session) -> None:
    policy_id = vbs.add_policy(tags={"env": "prod", "team": "a"})
    response = http.delete(f"{policies_url(vbs)}/{policy_id}/tags/env")
    assert ok(response, "delete_backup_policy_tag", 204) is None
    assert tags_of(vbs, http, policy_id) == {"team": "a"}
    vbs_error(http.delete(f"{policies_url(vbs)}/{policy_id}/tags/env"), 404, "AutoBackup.0216", "'env'")


def test_remove_a_tag_whose_key_needs_encoding(vbs: FakeVBS, http: requests.Session) -> None:
    """The page: encode special characters, e.g. '#' as %23 (such keys come through the batch operation)."""
    policy_id = vbs.add_policy()
    assert batch(vbs, http, policy_id, "create", [{"key": "team#1", "value": "a"}]).status_code == 204
    assert ok(http.delete(f"{policies_url(vbs)}/{policy_id}/tags/{quote('team#1', safe='')}"),
              "delete_backup_policy_tag", 204) is None
    assert tags_of(vbs, http, policy_id) == {}


@pytest.mark.parametrize(
    ("method", "suffix", "sent", "code"),
    [
        ("POST", "tags", {"tag": {"key": "k", "value": "v"}}, "AutoBackup.0205"),
        ("DELETE", "tags/k", None, "AutoBackup.0205"),
        ("POST", "tags/action", {"action": "create", "tags": [{"key": "k", "value": "v"}]}, "AutoBackup.0205"),
        ("GET", "tags", None, "AutoBackup.1100"),  # a query: "The queried policy does not exist."
    ],
)
def test_tags_of_an_unknown_policy(vbs: FakeVBS, http: requests.Session, method: str, suffix: str, sent: Any,
                                   code: str) -> None:
    vbs_error(http.request(method, f"{policies_url(vbs)}/{UNKNOWN}/{suffix}", json=sent), 404, code, UNKNOWN)


def test_list_all_tags_merges_the_values_of_every_policy(vbs: FakeVBS, http: requests.Session) -> None:
    assert ok(http.get(f"{policies_url(vbs)}/tags"), "list_all_backup_policy_tags") == {"tags": []}
    vbs.add_policy("a", tags={"env": "prod", "team": "db"})
    vbs.add_policy("b", tags={"env": "dev", "owner": "x"})
    vbs.add_policy("c", tags={"env": "prod"})
    vbs.add_policy("d")
    vbs.for_project("another-project").add_policy("e", tags={"secret": "s"})  # other tenants' tags stay hidden
    answer = ok(http.get(f"{policies_url(vbs)}/tags"), "list_all_backup_policy_tags")
    assert answer == {"tags": [{"key": "env", "values": ["dev", "prod"]}, {"key": "owner", "values": ["x"]},
                               {"key": "team", "values": ["db"]}]}


# -- batch -----------------------------------------------------------------------------------------------------------
def test_batch_create_update_and_delete(vbs: FakeVBS, http: requests.Session) -> None:
    policy_id = vbs.add_policy(tags={"keep": "1"})
    created = batch(vbs, http, policy_id, "create", [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    assert ok(created, "batch_backup_policy_tags", 204) is None
    assert tags_of(vbs, http, policy_id) == {"keep": "1", "a": "1", "b": "2"}
    ok(batch(vbs, http, policy_id, "update", [{"key": "a", "value": "9"}, {"key": "c", "value": ""}]),
       "batch_backup_policy_tags", 204)
    assert tags_of(vbs, http, policy_id) == {"keep": "1", "a": "9", "b": "2", "c": ""}
    ok(batch(vbs, http, policy_id, "create", [{"key": "b", "value": "3"}]), "batch_backup_policy_tags", 204)
    assert tags_of(vbs, http, policy_id)["b"] == "3"  # create on an existing key: the new value
    # delete: by key, or by key and value (a different value leaves the tag); absent keys are ignored
    ok(batch(vbs, http, policy_id, "delete", [{"key": "a"}, {"key": "b", "value": "other"}, {"key": "gone"},
                                                {"key": "c", "value": ""}]), "batch_backup_policy_tags", 204)
    assert tags_of(vbs, http, policy_id) == {"keep": "1", "b": "3"}
    ok(batch(vbs, http, policy_id, "delete"), "batch_backup_policy_tags", 204)  # tags are optional: nothing to do
    assert tags_of(vbs, http, policy_id) == {"keep": "1", "b": "3"}


def test_batch_is_all_or_nothing_within_ten_tags(vbs: FakeVBS, http: requests.Session) -> None:
    policy_id = vbs.add_policy(tags={f"k{i}": "v" for i in range(8)})
    response = batch(vbs, http, policy_id, "create", [{"key": f"n{i}", "value": "v"} for i in range(3)])
    vbs_error(response, 400, "AutoBackup.0215", "at most 10")
    assert len(tags_of(vbs, http, policy_id)) == 8
    ok(batch(vbs, http, policy_id, "update", [{"key": "k0", "value": "w"}, {"key": "n0", "value": "v"},
                                                {"key": "n1", "value": "v"}]), "batch_backup_policy_tags", 204)
    assert len(tags_of(vbs, http, policy_id)) == 10


BATCH_ERRORS: list[tuple[str, Any, str, str]] = [
    ("no action", {"tags": []}, "AutoBackup.0222", "'action': is mandatory"),
    ("action Create", {"action": "Create"}, "AutoBackup.0222", "case-sensitive"),
    ("action remove", {"action": "remove"}, "AutoBackup.0222", "\"create\", \"update\" or \"delete\""),
    ("create without value", {"action": "create", "tags": [{"key": "k"}]}, "AutoBackup.0214",
     "'tags.0.value': is mandatory"),
    ("update without value", {"action": "update", "tags": [{"key": "k"}]}, "AutoBackup.0214",
     "'tags.0.value': is mandatory"),
    ("no key", {"action": "delete", "tags": [{"value": "v"}]}, "AutoBackup.0214", "'tags.0.key': is mandatory"),
    ("empty key", {"action": "delete", "tags": [{"key": ""}]}, "AutoBackup.0214", "must not be empty"),
    ("create key of 37", {"action": "create", "tags": [{"key": "k" * 37, "value": "v"}]}, "AutoBackup.0214",
     "at most 36"),
    ("update value of 44", {"action": "update", "tags": [{"key": "k", "value": "v" * 44}]}, "AutoBackup.0214",
     "at most 43"),
    ("delete key of 128", {"action": "delete", "tags": [{"key": "k" * 128}]}, "AutoBackup.0214", "at most 127"),
    ("delete value of 256", {"action": "delete", "tags": [{"key": "k", "value": "v" * 256}]}, "AutoBackup.0214",
     "at most 255"),
    ("key with /", {"action": "create", "tags": [{"key": "a/b", "value": "v"}]}, "AutoBackup.0214", "= * < >"),
    ("key with =", {"action": "delete", "tags": [{"key": "a=b"}]}, "AutoBackup.0214", "= * < >"),
    ("key with a tab", {"action": "create", "tags": [{"key": "a\tb", "value": "v"}]}, "AutoBackup.0214", "0-31"),
    ("key with >", {"action": "create", "tags": [{"key": "a>b", "value": "v"}]}, "AutoBackup.0221", "'<' or '>'"),
    ("value with a space", {"action": "create", "tags": [{"key": "k", "value": "a b"}]}, "AutoBackup.0214",
     "letters, digits"),
    ("a key twice", {"action": "create", "tags": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]},
     "AutoBackup.0214", "repeated"),
    ("tags not a list", {"action": "create", "tags": {"key": "k", "value": "v"}}, "AutoBackup.0214", "list of tags"),
    ("unknown field", {"action": "create", "tag": {"key": "k", "value": "v"}}, "AutoBackup.0008",
     "not a documented field"),
]


@pytest.mark.parametrize(("sent", "code", "fragment"), [c[1:] for c in BATCH_ERRORS], ids=[c[0] for c in BATCH_ERRORS])
def test_batch_rules(vbs: FakeVBS, http: requests.Session, sent: Any, code: str, fragment: str) -> None:
    policy_id = vbs.add_policy(tags={"k": "v"})
    vbs_error(http.post(f"{policies_url(vbs)}/{policy_id}/tags/action", json=sent), 400, code, fragment)
    assert tags_of(vbs, http, policy_id) == {"k": "v"}


def test_batch_limits_depend_on_the_action(vbs: FakeVBS, http: requests.Session) -> None:
    """Delete accepts keys up to 127 and values up to 255 characters, create/update 36 and 43; the batch key rule
    (no ASCII 0-31 nor = * < > \\ , | /) is looser than the add-tag page's letters, digits, '-' and '_'."""
    policy_id = vbs.add_policy()
    ok(batch(vbs, http, policy_id, "delete", [{"key": "k" * 127, "value": "v" * 255}]), "batch_backup_policy_tags",
       204)
    ok(batch(vbs, http, policy_id, "create", [{"key": "k" * 36, "value": "v" * 43}, {"key": "a.b:c#d", "value": ""}]),
       "batch_backup_policy_tags", 204)
    assert tags_of(vbs, http, policy_id) == {"k" * 36: "v" * 43, "a.b:c#d": ""}


# -- query policies by tag -------------------------------------------------------------------------------------------
@pytest.fixture
def tagged(vbs: FakeVBS) -> dict[str, str]:
    """Four policies (and one in another project); name → id."""
    names = {
        "web_daily": {"env": "prod", "app": "web"},
        "web_weekly": {"env": "dev", "app": "web"},
        "db_daily": {"env": "prod", "app": "db"},
        "untagged": {},
    }
    ids = {name: vbs.add_policy(name, tags=tags) for name, tags in names.items()}
    vbs.for_project("another-project").add_policy("web_elsewhere", tags={"env": "prod", "app": "web"})
    return ids


def query(vbs: FakeVBS, http: requests.Session, **sent: Any) -> dict[str, Any]:
    response = http.post(f"{policies_url(vbs)}/resource_instances/action", json={"action": "filter", **sent})
    return dict(ok(response, "query_backup_policies_by_tag"))


def tag(key: str, *values: str) -> dict[str, Any]:
    return {"key": key, "values": list(values)}


QUERIES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("no condition", {}, ["web_daily", "web_weekly", "db_daily", "untagged"]),
    ("empty tags", {"tags": []}, ["web_daily", "web_weekly", "db_daily", "untagged"]),
    ("tags: one key", {"tags": [tag("env", "prod")]}, ["web_daily", "db_daily"]),
    ("tags: values OR-ed", {"tags": [tag("env", "prod", "dev")]}, ["web_daily", "web_weekly", "db_daily"]),
    ("tags: keys AND-ed", {"tags": [tag("env", "prod"), tag("app", "web")]}, ["web_daily"]),
    ("tags: any value of a key", {"tags": [tag("app")]}, ["web_daily", "web_weekly", "db_daily"]),
    ("tags: no match", {"tags": [tag("env", "test")]}, []),
    ("tags_any: keys OR-ed", {"tags_any": [tag("env", "dev"), tag("app", "db")]}, ["web_weekly", "db_daily"]),
    ("not_tags: keys AND-ed", {"not_tags": [tag("env", "prod"), tag("app", "web")]},
     ["web_weekly", "db_daily", "untagged"]),
    ("not_tags: values OR-ed", {"not_tags": [tag("env", "prod", "dev")]}, ["untagged"]),
    ("not_tags_any: keys OR-ed", {"not_tags_any": [tag("env", "dev"), tag("app", "db")]}, ["web_daily", "untagged"]),
    ("matches: fuzzy name", {"matches": [{"key": "resource_name", "value": "daily"}]}, ["web_daily", "db_daily"]),
    ("everything together", {"tags": [tag("app", "web")], "not_tags_any": [tag("env", "dev")],
                             "matches": [{"key": "resource_name", "value": "web"}]}, ["web_daily"]),
]


@pytest.mark.parametrize(("sent", "expected"), [q[1:] for q in QUERIES], ids=[q[0] for q in QUERIES])
def test_query_by_tag_filters(vbs: FakeVBS, http: requests.Session, tagged: dict[str, str], sent: dict[str, Any],
                              expected: list[str]) -> None:
    answer = query(vbs, http, **sent)
    assert [r["resource_name"] for r in answer["resources"]] == expected
    assert answer["total_count"] == len(expected)
    counted = http.post(f"{policies_url(vbs)}/resource_instances/action", json={**sent, "action": "count"})
    assert ok(counted, "query_backup_policies_by_tag") == {"total_count": len(expected)}


def test_query_by_tag_answers_policies_with_their_tags(vbs: FakeVBS, http: requests.Session,
                                                        tagged: dict[str, str]) -> None:
    (found,) = query(vbs, http, tags=[tag("app", "db")])["resources"]
    assert found == {"resource_id": tagged["db_daily"], "resource_detail": None, "resource_name": "db_daily",
                     "tags": [{"key": "env", "value": "prod"}, {"key": "app", "value": "db"}]}


def test_query_by_tag_pages_with_string_limit_and_offset(vbs: FakeVBS, http: requests.Session,
                                                          tagged: dict[str, str]) -> None:
    answer = query(vbs, http, limit="2", offset="1")
    assert [r["resource_name"] for r in answer["resources"]] == ["web_weekly", "db_daily"]
    assert answer["total_count"] == 4
    assert query(vbs, http, offset="4")["resources"] == []
    assert len(query(vbs, http, limit="1000")["resources"]) == 4
    counted = http.post(f"{policies_url(vbs)}/resource_instances/action",
                        json={"action": "count", "limit": "1", "offset": "3"})  # not used with count
    assert ok(counted, "query_backup_policies_by_tag") == {"total_count": 4}


QUERY_ERRORS: list[tuple[str, Any, str, str]] = [
    ("no action", {}, "AutoBackup.0222", "'action': is mandatory"),
    ("action list", {"action": "list"}, "AutoBackup.0222", "\"filter\" or \"count\""),
    ("limit a number", {"action": "filter", "limit": 10}, "AutoBackup.0008", "must be a string"),
    ("limit 0", {"action": "filter", "limit": "0"}, "AutoBackup.0008", "\"1\" to \"1000\""),
    ("limit 1001", {"action": "filter", "limit": "1001"}, "AutoBackup.0008", "\"1\" to \"1000\""),
    ("offset -1", {"action": "filter", "offset": "-1"}, "AutoBackup.0008", "non-negative"),
    ("eleven tags", {"action": "filter", "tags": [tag(f"k{i}") for i in range(11)]}, "AutoBackup.0214",
     "at most 10 tags"),
    ("tags_any empty", {"action": "filter", "tags_any": []}, "AutoBackup.0214", "must not be an empty list"),
    ("not_tags empty", {"action": "filter", "not_tags": []}, "AutoBackup.0214", "must not be an empty list"),
    ("not_tags_any empty", {"action": "filter", "not_tags_any": []}, "AutoBackup.0214", "must not be an empty list"),
    ("a key twice", {"action": "filter", "tags": [tag("k", "a"), tag("k", "b")]}, "AutoBackup.0214", "unique"),
    ("a key twice in not_tags_any", {"action": "filter", "not_tags_any": [tag("k"), tag("k")]}, "AutoBackup.0214",
     "unique"),
    ("eleven values", {"action": "filter", "tags": [tag("k", *(f"v{i}" for i in range(11)))]}, "AutoBackup.0214",
     "at most 10 values"),
    ("a value twice", {"action": "filter", "tags": [tag("k", "v", "v")]}, "AutoBackup.0214", "repeat"),
    ("no values", {"action": "filter", "tags": [{"key": "k"}]}, "AutoBackup.0214", "'tags.0.values': is mandatory"),
    ("match on another field", {"action": "filter", "matches": [{"key": "name", "value": "x"}]}, "AutoBackup.0214",
     "resource_name"),
    ("match value with <", {"action": "filter", "matches": [{"key": "resource_name", "value": "<x"}]},
     "AutoBackup.0221", "'<' or '>'"),
    ("unknown field", {"action": "filter", "tag": []}, "AutoBackup.0008", "not a documented field"),
]


@pytest.mark.parametrize(("sent", "code", "fragment"), [q[1:] for q in QUERY_ERRORS], ids=[q[0] for q in QUERY_ERRORS])
def test_query_by_tag_rules(vbs: FakeVBS, http: requests.Session, sent: Any, code: str, fragment: str) -> None:
    vbs_error(http.post(f"{policies_url(vbs)}/resource_instances/action", json=sent), 400, code, fragment)
