"""Listing backups: summary and detail, filters, microversion-gated parameters, paging and order (3.2, 3.3, 4.3)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from vbs_support import assert_error

from pytest_vbs import FakeVBS

MV = "OpenStack-API-Version"
T0 = datetime(2019, 3, 27, 12, 0, 0, 123456)
SUMMARY_FIELDS = {"id", "links", "name"}


def seed(vbs: FakeVBS, count: int, **fields: Any) -> list[str]:
    """``count`` available backups created one minute apart, oldest first; returns their ids."""
    return [
        vbs.add_backup(name=f"backup-{i}", created_at=T0 + timedelta(minutes=i), **fields) for i in range(count)
    ]


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [b["id"] for b in response.json()["backups"]]


@pytest.fixture(params=["backups", "backups/detail"])
def listing(request: pytest.FixtureRequest, endpoint: str) -> str:
    """The summary and the detail list URL of the native family under test."""
    return f"{endpoint}/{request.param}"


def test_summary_items_have_id_links_and_name_only(vbs: FakeVBS, http: requests.Session, endpoint: str) -> None:
    backup_id = vbs.add_backup(name="one")

    body = http.get(f"{endpoint}/backups").json()

    assert list(body) == ["backups"]
    assert [set(b) for b in body["backups"]] == [SUMMARY_FIELDS]
    assert body["backups"][0]["id"] == backup_id
    assert body["backups"][0]["name"] == "one"
    assert [link["rel"] for link in body["backups"][0]["links"]] == ["self", "bookmark"]


def test_detail_items_are_the_get_view(vbs: FakeVBS, http: requests.Session, endpoint: str) -> None:
    backup_ids = seed(vbs, 3)

    body = http.get(f"{endpoint}/backups/detail").json()

    assert list(body) == ["backups"]
    assert [b["id"] for b in body["backups"]] == backup_ids[::-1]
    for item in body["backups"]:
        assert item == http.get(f"{endpoint}/backups/{item['id']}").json()["backup"]
        assert {"status", "volume_id", "created_at", "is_incremental"} <= set(item)


def test_an_empty_project_lists_nothing(http: requests.Session, listing: str) -> None:
    response = http.get(listing)

    assert response.status_code == 200
    assert response.json() == {"backups": []}


def test_default_order_is_newest_first(vbs: FakeVBS, http: requests.Session, listing: str) -> None:
    # Seeded out of creation order: the list orders by created_at, not by insertion.
    middle = vbs.add_backup(name="middle", created_at=T0 + timedelta(hours=1))
    newest = vbs.add_backup(name="newest", created_at=T0 + timedelta(hours=2))
    oldest = vbs.add_backup(name="oldest", created_at=T0)

    assert ids(http.get(listing)) == [newest, middle, oldest]


FILTERS = [
    # (query, names expected, newest first)
    ({"name": "backup-1"}, ["backup-1"]),
    ({"name": "backup"}, []),
    ({"status": "error"}, ["backup-3", "backup-2"]),
    ({"status": "available"}, ["backup-1", "backup-0"]),
    ({"status": "creating"}, []),
    ({"volume_id": "{volume}"}, ["backup-2", "backup-0"]),
    ({"volume_id": "{volume}", "status": "error"}, ["backup-2"]),
    ({"name": "backup-3", "status": "available"}, []),
]


@pytest.mark.parametrize(("query", "expected"), FILTERS, ids=[str(q) for q, _ in FILTERS])
def test_exact_filters(
    vbs: FakeVBS, http: requests.Session, listing: str, query: dict[str, str], expected: list[str]
) -> None:
    volume = vbs.add_volume()
    other = vbs.add_volume()
    for i, (vol, status) in enumerate([(volume, "available"), (other, "available"), (volume, "error"),
                                       (other, "error")]):
        vbs.add_backup(vol, name=f"backup-{i}", status=status, created_at=T0 + timedelta(minutes=i))
    params = {k: v.format(volume=volume) for k, v in query.items()}

    response = http.get(listing, params=params)

    assert response.status_code == 200, response.text
    assert [b["name"] for b in response.json()["backups"]] == expected


FUZZY = [
    ({"name~": "kup-1"}, ["backup-1"]),
    ({"name~": "backup"}, ["backup-2", "backup-1", "backup-0"]),
    ({"name~": "zzz"}, []),
    ({"status~": "err"}, ["backup-2"]),
    ({"status~": "avail"}, ["backup-1", "backup-0"]),
    ({"volume_id~": "{volume_part}"}, ["backup-2", "backup-0"]),
]


@pytest.mark.parametrize(("query", "expected"), FUZZY, ids=[str(q) for q, _ in FUZZY])
@pytest.mark.parametrize("microversion", ["3.31", "3.45", "latest"])
def test_fuzzy_filters_from_microversion_3_31(
    vbs: FakeVBS, http: requests.Session, query: dict[str, str], expected: list[str], microversion: str
) -> None:
    volume = vbs.add_volume()
    other = vbs.add_volume()
    for i, (vol, status) in enumerate([(volume, "available"), (other, "available"), (volume, "error")]):
        vbs.add_backup(vol, name=f"backup-{i}", status=status, created_at=T0 + timedelta(minutes=i))
    params = {k: v.format(volume_part=volume[4:20]) for k, v in query.items()}

    for path in ("backups", "backups/detail"):
        response = http.get(f"{vbs.endpoint}/{path}", params=params, headers={MV: f"volume {microversion}"})
        assert response.status_code == 200, response.text
        assert [b["name"] for b in response.json()["backups"]] == expected


@pytest.mark.parametrize("parameter", ["name~", "status~", "volume_id~"])
@pytest.mark.parametrize("header", [None, "volume 3.0", "volume 3.30"])
def test_fuzzy_filters_need_microversion_3_31(
    vbs: FakeVBS, http: requests.Session, parameter: str, header: str | None
) -> None:
    vbs.add_backup(name="backup")
    headers = {MV: header} if header else {}

    for path in ("backups", "backups/detail"):
        response = http.get(f"{vbs.endpoint}/{path}", params={parameter: "a"}, headers=headers)
        assert_error(response, 400, "badRequest", f"'{parameter}'", "3.31")


@pytest.mark.parametrize("parameter", ["name~", "status~", "volume_id~", "with_count"])
def test_v2_lists_do_not_know_the_v3_parameters(
    vbs: FakeVBS, http: requests.Session, parameter: str
) -> None:
    for path in ("backups", "backups/detail"):
        response = http.get(f"{vbs.endpoint_v2}/{path}", params={parameter: "true"}, headers={MV: "volume 3.45"})
        assert_error(response, 400, "badRequest", f"'{parameter}'", "not a supported query parameter")


def test_with_count_from_microversion_3_45_counts_every_match(
    vbs: FakeVBS, http: requests.Session
) -> None:
    seed(vbs, 5)
    vbs.add_backup(name="failed", status="error")

    for path in ("backups", "backups/detail"):
        url = f"{vbs.endpoint}/{path}"
        paged = http.get(url, params={"with_count": "true", "limit": 2}, headers={MV: "volume 3.45"})
        filtered = http.get(url, params={"with_count": "true", "status": "error"}, headers={MV: "volume 3.45"})
        without = http.get(url, params={"with_count": "false"}, headers={MV: "volume 3.45"})
        assert paged.status_code == 200, paged.text
        assert paged.json()["count"] == 6
        assert len(paged.json()["backups"]) == 2
        assert filtered.json()["count"] == 1
        assert "count" not in without.json()
        assert len(without.json()["backups"]) == 6


@pytest.mark.parametrize("header", [None, "volume 3.0", "volume 3.31", "volume 3.44"])
def test_with_count_needs_microversion_3_45(vbs: FakeVBS, http: requests.Session, header: str | None) -> None:
    headers = {MV: header} if header else {}

    for path in ("backups", "backups/detail"):
        response = http.get(f"{vbs.endpoint}/{path}", params={"with_count": "true"}, headers=headers)
        assert_error(response, 400, "badRequest", "'with_count'", "3.45")


# -- paging ------------------------------------------------------------------------------------------------
def next_link(response: requests.Response) -> str | None:
    body = response.json()
    if "backups_links" not in body:
        return None
    links = body["backups_links"]
    assert [link["rel"] for link in links] == ["next"]
    return str(links[0]["href"])


@pytest.mark.parametrize(
    ("query", "expected", "cut"),
    [
        ({"limit": 2}, [6, 5], True),
        ({"limit": 7}, [6, 5, 4, 3, 2, 1, 0], False),
        ({"limit": 8}, [6, 5, 4, 3, 2, 1, 0], False),
        ({"limit": 0}, [], True),
        ({"offset": 5}, [1, 0], False),
        ({"offset": 2, "limit": 2}, [4, 3], True),
        ({"offset": 5, "limit": 2}, [1, 0], False),
        ({"offset": 7}, [], False),
        ({"offset": 100, "limit": 1}, [], False),
        ({"marker": 4}, [3, 2, 1, 0], False),
        ({"marker": 4, "limit": 2}, [3, 2], True),
        ({"marker": 0}, [], False),
        ({}, [6, 5, 4, 3, 2, 1, 0], False),
    ],
    ids=str,
)
def test_limit_offset_and_marker(
    vbs: FakeVBS, http: requests.Session, listing: str, query: dict[str, int], expected: list[int], cut: bool
) -> None:
    backup_ids = seed(vbs, 7)
    params = {k: (backup_ids[v] if k == "marker" else v) for k, v in query.items()}

    response = http.get(listing, params=params)

    assert ids(response) == [backup_ids[i] for i in expected]
    link = next_link(response)
    if not cut or not expected:
        assert link is None
    else:
        assert link is not None
        assert parse_qs(urlparse(link).query)["marker"] == [backup_ids[expected[-1]]]


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_following_next_links_walks_every_backup_exactly_once(
    vbs: FakeVBS, http: requests.Session, listing: str, limit: int
) -> None:
    backup_ids = seed(vbs, 7)
    url: str | None = f"{listing}?limit={limit}"
    seen: list[str] = []
    pages = 0

    while url is not None:
        response = http.get(url)
        seen += ids(response)
        pages += 1
        assert pages <= 8, "the next links never end"
        url = next_link(response)
        if url is not None:
            # The next link stays on the list that was asked (summary or detail) and keeps the limit.
            assert urlparse(url).path == urlparse(listing).path
            assert parse_qs(urlparse(url).query)["limit"] == [str(limit)]

    assert seen == backup_ids[::-1]
    assert pages == -(-7 // limit)  # no empty last page: a link only when a page was cut


def test_next_links_keep_the_filters(vbs: FakeVBS, http: requests.Session, listing: str) -> None:
    volume = vbs.add_volume()
    wanted = [vbs.add_backup(volume, created_at=T0 + timedelta(minutes=i)) for i in range(5)]
    seed(vbs, 5)  # on other volumes
    url: str | None = f"{listing}?volume_id={volume}&limit=2&offset=0"
    seen: list[str] = []

    while url is not None:
        response = http.get(url)
        seen += ids(response)
        url = next_link(response)
        if url is not None:
            assert parse_qs(urlparse(url).query)["volume_id"] == [volume]

    assert seen == wanted[::-1]


def test_a_page_is_at_most_1000_backups(vbs: FakeVBS, http: requests.Session) -> None:
    seed(vbs, 1001)

    unlimited = http.get(f"{vbs.endpoint}/backups")
    large = http.get(f"{vbs.endpoint}/backups", params={"limit": 5000})

    for response in (unlimited, large):
        assert len(ids(response)) == 1000
        link = next_link(response)
        assert link is not None
        assert len(ids(http.get(link))) == 1


def test_next_link_is_absent_when_nothing_was_cut(vbs: FakeVBS, http: requests.Session, listing: str) -> None:
    seed(vbs, 3)

    for params in ({}, {"limit": 3}, {"limit": 1000}, {"offset": 1}):
        assert "backups_links" not in http.get(listing, params=params).json(), params


# -- sorting (v2 detail documents sort_key / sort_dir) -------------------------------------------------------
SORTS = [
    ({"sort_key": "name", "sort_dir": "asc"}, ["a", "b", "c", "d"]),
    ({"sort_key": "name", "sort_dir": "desc"}, ["d", "c", "b", "a"]),
    ({"sort_key": "name"}, ["d", "c", "b", "a"]),  # sort_dir defaults to desc
    ({"sort_key": "size", "sort_dir": "asc"}, ["c", "a", "d", "b"]),
    ({"sort_key": "created_at", "sort_dir": "asc"}, ["b", "d", "a", "c"]),
    ({"sort_dir": "asc"}, ["b", "d", "a", "c"]),  # sort_key defaults to created_at
    ({"sort_key": "created_at", "sort_dir": "desc"}, ["c", "a", "d", "b"]),
    ({"sort_key": "size", "sort_dir": "desc", "limit": 2}, ["b", "d"]),
]


@pytest.mark.parametrize(("query", "expected"), SORTS, ids=[str(q) for q, _ in SORTS])
def test_v2_detail_sorts_by_sort_key_and_sort_dir(
    vbs: FakeVBS, http: requests.Session, query: dict[str, Any], expected: list[str]
) -> None:
    # name, size, minutes after T0, status
    for name, size, minute, status in [("a", 20, 2, "error"), ("b", 40, 0, "available"), ("c", 10, 3, "error"),
                                       ("d", 30, 1, "available")]:
        vbs.add_backup(name=name, size=size, created_at=T0 + timedelta(minutes=minute), status=status)

    response = http.get(f"{vbs.endpoint_v2}/backups/detail", params=query)

    assert response.status_code == 200, response.text
    assert [b["name"] for b in response.json()["backups"]] == expected


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_ties_are_broken_by_created_at(vbs: FakeVBS, http: requests.Session, direction: str) -> None:
    # Cinder appends created_at and id to the sort keys, in the direction of the first key.
    created = [vbs.add_backup(name="same", created_at=T0 + timedelta(minutes=i)) for i in range(6)]

    response = http.get(f"{vbs.endpoint_v2}/backups/detail", params={"sort_key": "name", "sort_dir": direction})

    assert ids(response) == (created if direction == "asc" else created[::-1])


@pytest.mark.parametrize(
    "key", ["name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"]
)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_v2_detail_accepts_every_documented_sort_key(
    vbs: FakeVBS, http: requests.Session, key: str, direction: str
) -> None:
    backup_ids = seed(vbs, 3)

    response = http.get(f"{vbs.endpoint_v2}/backups/detail", params={"sort_key": key, "sort_dir": direction})

    assert response.status_code == 200, response.text
    assert sorted(ids(response)) == sorted(backup_ids)


def test_sorted_pages_follow_the_sort_with_markers(vbs: FakeVBS, http: requests.Session) -> None:
    for name in ["e", "b", "d", "a", "c"]:
        vbs.add_backup(name=name)
    url: str | None = f"{vbs.endpoint_v2}/backups/detail?sort_key=name&sort_dir=asc&limit=2"
    names: list[str] = []

    while url is not None:
        response = http.get(url)
        assert response.status_code == 200, response.text
        names += [b["name"] for b in response.json()["backups"]]
        url = next_link(response)

    assert names == ["a", "b", "c", "d", "e"]


# -- bad query values ----------------------------------------------------------------------------------------
BAD_QUERIES = [
    # (query string, parameter named in the message, fragment of the rule)
    ("limit=abc", "limit", "integer"),
    ("limit=-1", "limit", ">= 0"),
    ("limit=1.5", "limit", "integer"),
    ("limit=", "limit", "integer"),
    ("limit=99999999999", "limit", "<="),
    ("offset=1e9", "offset", "integer"),
    ("offset=-1", "offset", ">= 0"),
    ("offset=x", "offset", "integer"),
    ("status=bogus", "status", "available"),
    ("status=AVAILABLE", "status", "available"),
    ("sort_dir=sideways", "sort_dir", "asc"),
    ("sort_key=colour", "sort_key", "name"),
    ("all_tenants=maybe", "all_tenants", "boolean"),
    ("foo=1", "foo", "not a supported query parameter"),
    ("volume=1", "volume", "not a supported query parameter"),
]


@pytest.mark.parametrize(("query", "parameter", "rule"), BAD_QUERIES, ids=[q for q, _, _ in BAD_QUERIES])
def test_a_bad_query_value_is_400_naming_the_parameter(
    vbs: FakeVBS, http: requests.Session, listing: str, query: str, parameter: str, rule: str
) -> None:
    seed(vbs, 2)

    response = http.get(f"{listing}?{query}")

    assert_error(response, 400, "badRequest", f"'{parameter}'", rule)


def test_with_count_must_be_a_boolean(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.get(f"{vbs.endpoint}/backups", params={"with_count": "maybe"}, headers={MV: "volume 3.45"})

    assert_error(response, 400, "badRequest", "'with_count'", "boolean")


@pytest.mark.parametrize("marker", ["592a0c4d-65a3-4051-8d51-1e2b6401b2d8", "not-an-id"])
def test_an_unknown_marker_is_400(vbs: FakeVBS, http: requests.Session, listing: str, marker: str) -> None:
    seed(vbs, 2)

    response = http.get(listing, params={"marker": marker})

    assert_error(response, 400, "badRequest", "arker", marker)


def test_a_marker_from_another_project_is_unknown(vbs: FakeVBS, http: requests.Session, listing: str) -> None:
    seed(vbs, 2)
    foreign = vbs.for_project("other-project").add_backup()

    response = http.get(listing, params={"marker": foreign})

    assert_error(response, 400, "badRequest", foreign)
