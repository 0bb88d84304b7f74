"""Version discovery (GET /, /v3, /v2) and microversion negotiation (section 11.2), as Cinder does it."""

from __future__ import annotations

import jsonschema
import pytest
import requests
from vbs_support import assert_error

from pytest_vbs import FakeVBS

MV = "OpenStack-API-Version"


def test_root_lists_the_versions_with_300(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.get(f"{vbs.url}/")

    assert response.status_code == 300
    versions = {v["id"]: v for v in response.json()["versions"]}
    assert set(versions) == {"v3.0", "v2.0"}
    v3, v2 = versions["v3.0"], versions["v2.0"]
    assert v3["status"] == "CURRENT"
    assert (v3["min_version"], v3["version"]) == ("3.0", "3.45")
    assert {"rel": "self", "href": f"{vbs.url}/v3/"} in v3["links"]
    assert v2["status"] == "DEPRECATED"
    assert {"rel": "self", "href": f"{vbs.url}/v2/"} in v2["links"]
    assert MV not in response.headers
    assert vbs.requests[0].operation == "list_versions"


#: tempest's ``volume_api_version_details`` (tempest/lib/api_schema/response/volume/versions.py), the response
#: schema of its volume ``VersionsClient.show_version``; tempest is not installed here, so its schema is a fixture.
_LINK = {"type": "object", "properties": {"href": {"type": "string", "format": "uri"}, "rel": {"type": "string"},
                                          "type": {"type": "string"}}, "required": ["href", "rel"]}
TEMPEST_VERSION_DETAILS = {
    "type": "object",
    "properties": {
        "versions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "status": {"type": "string"}, "updated": {"type": "string"}, "id": {"type": "string"},
                    "links": {"type": "array", "items": _LINK},
                    "min_version": {"type": "string"}, "version": {"type": "string"},
                    "media-types": {"type": "array", "properties": {"base": {"type": "string"},
                                                                    "type": {"type": "string"}},
                                    "required": ["base", "type"]},
                },
                "required": ["status", "updated", "id", "links", "min_version", "version", "media-types"],
            },
        }
    },
    "required": ["versions"],
}


@pytest.mark.parametrize("path", ["/v3", "/v3/"])
def test_v3_version_document(vbs: FakeVBS, http: requests.Session, path: str) -> None:
    response = http.get(vbs.url + path)

    assert response.status_code == 200
    jsonschema.validate(response.json(), TEMPEST_VERSION_DETAILS)
    [version] = response.json()["versions"]
    assert version["id"] == "v3.0"
    assert version["status"] == "CURRENT"
    assert version["min_version"] == "3.0"
    assert version["version"] == "3.45"
    assert version["links"] == [{"rel": "self", "href": f"{vbs.url}/v3/"}]
    assert response.headers[MV] == "volume 3.0"
    assert vbs.requests[0].operation == "show_version"


@pytest.mark.parametrize("path", ["/v2", "/v2/"])
def test_v2_version_document(vbs: FakeVBS, http: requests.Session, path: str) -> None:
    response = http.get(vbs.url + path)

    assert response.status_code == 200
    jsonschema.validate(response.json(), TEMPEST_VERSION_DETAILS)
    [version] = response.json()["versions"]
    assert (version["id"], version["status"]) == ("v2.0", "DEPRECATED")
    assert version["links"] == [{"rel": "self", "href": f"{vbs.url}/v2/"}]
    assert MV not in response.headers


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        (None, "volume 3.0"),
        ("volume 3.0", "volume 3.0"),
        ("volume 3.31", "volume 3.31"),
        ("volume 3.45", "volume 3.45"),
        ("volume latest", "volume 3.45"),
        ("Volume 3.7", "volume 3.7"),
        ("compute 2.1, volume 3.40", "volume 3.40"),
        ("compute 2.90", "volume 3.0"),
    ],
)
def test_the_microversion_is_echoed_with_vary(
    vbs: FakeVBS, http: requests.Session, sent: str | None, echoed: str
) -> None:
    headers = {MV: sent} if sent else {}

    for path in ("backups", "backups/detail", "volumes"):
        response = http.get(f"{vbs.endpoint}/{path}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers[MV] == echoed
        assert MV in response.headers["Vary"]


def test_the_header_name_is_case_insensitive(vbs: FakeVBS, http: requests.Session) -> None:
    vbs.add_backup(name="x")

    # The VBS pages write it "Openstack-Api-Version".
    headers = {"Openstack-Api-Version": "volume 3.31"}
    response = http.get(f"{vbs.endpoint}/backups", params={"name~": "x"}, headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers[MV] == "volume 3.31"
    assert len(response.json()["backups"]) == 1


def test_errors_echo_the_microversion_too(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.get(f"{vbs.endpoint}/backups/nope", headers={MV: "volume 3.45"})

    assert_error(response, 404, "itemNotFound")
    assert response.headers[MV] == "volume 3.45"


@pytest.mark.parametrize("sent", ["volume 3", "volume 3.x", "volume abc", "volume", "volume 3.1.2", "volume -3.1"])
def test_an_invalid_microversion_is_400(vbs: FakeVBS, http: requests.Session, sent: str) -> None:
    response = http.get(f"{vbs.endpoint}/backups", headers={MV: sent})

    assert_error(response, 400, "badRequest", repr(sent), "volume 3.")


@pytest.mark.parametrize("sent", ["volume 3.46", "volume 2.0", "volume 4.0", "volume 3.999"])
def test_an_unsupported_microversion_is_406(vbs: FakeVBS, http: requests.Session, sent: str) -> None:
    response = http.get(f"{vbs.endpoint}/backups", headers={MV: sent})

    assert_error(response, 406, "computeFault", sent.split()[1], "3.0", "3.45")


def test_an_unsupported_microversion_does_not_create(vbs: FakeVBS, http: requests.Session) -> None:
    volume = vbs.add_volume()
    body = {"backup": {"volume_id": volume, "snapshot_id": vbs.add_snapshot(volume)}}

    response = http.post(f"{vbs.endpoint}/backups", json=body, headers={MV: "volume 3.46"})

    assert_error(response, 406, "computeFault")
    assert vbs.backups == {}


@pytest.mark.parametrize("sent", ["volume 3.x", "volume 9.9", "volume latest"])
def test_v2_routes_ignore_the_header(vbs: FakeVBS, http: requests.Session, sent: str) -> None:
    backup_id = vbs.add_backup()

    for path in ("backups", "backups/detail", f"backups/{backup_id}"):
        response = http.get(f"{vbs.endpoint_v2}/{path}", headers={MV: sent})
        assert response.status_code == 200, response.text
        assert MV not in response.headers


def test_the_root_ignores_the_header(vbs: FakeVBS, http: requests.Session) -> None:
    response = http.get(f"{vbs.url}/", headers={MV: "volume 3.x"})

    assert response.status_code == 300
    assert MV not in response.headers
