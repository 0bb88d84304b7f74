"""The proxy's mount table: where each real endpoint appears on the proxy, and that nothing else is reachable."""

from __future__ import annotations

import pytest

from pytest_vbs.live.mounts import Mounts, UnknownTarget

PROXY = "http://127.0.0.1:9000"
VBS = "https://vbs.example.com/v2/p1"
EVS = "https://evs.example.com:8776/v3/p1"
IAM = "https://iam.example.com/v3"


@pytest.fixture
def mounts() -> Mounts:
    return Mounts(PROXY, EVS, IAM, [VBS, EVS, IAM])


def test_the_primary_origin_is_at_the_root_identity_under_identity_others_numbered(mounts: Mounts) -> None:
    assert mounts.to_proxy(EVS) == f"{PROXY}/v3/p1"
    assert mounts.to_proxy(IAM) == f"{PROXY}/identity/v3"
    assert mounts.to_proxy(VBS) == f"{PROXY}/__vbs_live__/2/v2/p1"  # sorted: evs < iam < vbs
    mount, path = mounts.target("/__vbs_live__/2/v2/p1/backuppolicy")
    assert path == "/v2/p1/backuppolicy"
    assert mounts.real_url(mount, path, "limit=1") == "https://vbs.example.com/v2/p1/backuppolicy?limit=1"
    mount, path = mounts.target("/identity/v3/auth/tokens")
    assert (path, mounts.real_url(mount, path, "")) == ("/identity/v3/auth/tokens", f"{IAM}/auth/tokens")


def test_bodies_and_headers_are_rewritten_only_at_url_boundaries(mounts: Mounts) -> None:
    body = (b'{"href": "https://evs.example.com:8776/v3/p1/backups/1", '
            b'"other": "https://evs.example.com:87760/x", "iam": "https://iam.example.com/v3/"}')
    assert mounts.rewrite(body) == (b'{"href": "http://127.0.0.1:9000/backups/1", '.replace(b"9000/", b"9000/v3/p1/")
                                    + b'"other": "https://evs.example.com:87760/x", '
                                    + b'"iam": "http://127.0.0.1:9000/identity/v3/"}')


@pytest.mark.parametrize("path", ["//evil.example.com/x", "/@evil.example.com/x", "/\\evil.example.com"])
def test_a_request_never_leaves_for_an_address_the_catalog_did_not_name(mounts: Mounts, path: str) -> None:
    mount, logical = mounts.target(path)
    url = mounts.real_url(mount, logical, "")
    assert url.startswith("https://evs.example.com:8776/")


def test_an_unknown_origin_is_refused(mounts: Mounts) -> None:
    mount, _ = mounts.target("/v3")
    with pytest.raises(UnknownTarget, match="not an address the cloud's catalog names"):
        mounts.real_url(mount, "@evil.example.com/x", "")

