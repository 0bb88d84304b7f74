"""Ready-made client configuration for the fake: clouds.yaml, ``OS_*`` variables, an openstacksdk ``Connection``.

Everything points at the fake's identity service (password auth as the default user, scoped to the fake's
project) or, with ``auth_type="none"``, straight at the fake's endpoints without a token. openstacksdk is
imported only by :func:`openstack_connection`, so the plugin does not need it installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_vbs.api.identity import AUTH_PATH
from pytest_vbs.service import identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from pytest_vbs.fake import FakeVBS

#: The cloud name of :func:`clouds_yaml`.
CLOUD_NAME = "vbs"
#: ``auth_type`` values: password through the fake Keystone; keystoneauth's ``none`` (no token, endpoints given
#: directly); python-cinderclient's ``noauth`` plugin (``X-Auth-Token: <user>:<project>``, for the cinder CLI).
AUTH_TYPES = ("password", "none", "noauth")
NOAUTH_USER_ID = "vbs-noauth-user"


def auth_url(fake: FakeVBS) -> str:
    """The identity v3 URL, ``{url}/identity/v3``."""
    return fake.url + AUTH_PATH


def _check(auth_type: str) -> None:
    if auth_type not in AUTH_TYPES:
        raise ValueError(f"auth_type must be one of {', '.join(AUTH_TYPES)}, not {auth_type!r}")


def cloud_config(fake: FakeVBS, *, auth_type: str = "password") -> dict[str, Any]:
    """The settings of the ``vbs`` cloud (what :func:`clouds_yaml` puts under ``clouds.vbs``)."""
    _check(auth_type)
    region = fake.identity.region
    common: dict[str, Any] = {"region_name": region, "interface": "public", "identity_api_version": "3",
                              "volume_api_version": "3", "block_storage_api_version": "3"}
    if auth_type == "password":
        fake.identity.ensure_project(fake.project_id)
        return {
            "auth_type": "password",
            "auth": {
                "auth_url": auth_url(fake),
                "username": identity.DEFAULT_USERNAME,
                "password": identity.DEFAULT_PASSWORD,
                "user_domain_name": identity.DEFAULT_DOMAIN_NAME,
                "project_id": fake.project_id,
            },
            **common,
        }
    if auth_type == "none":
        # No catalog without a token: every service the clients use gets its endpoint directly.
        return {
            "auth_type": "none",
            "auth": {"endpoint": fake.endpoint},
            "block_storage_endpoint_override": fake.endpoint,
            "vbs_endpoint_override": fake.endpoint_v2,
            **common,
        }
    raise ValueError("auth_type 'noauth' (python-cinderclient's plugin) works for the cinder CLI only: use "
                     "os_environ(auth_type='noauth'); openstacksdk takes 'password' or 'none'")


def clouds_yaml(fake: FakeVBS, *, auth_type: str = "password") -> dict[str, Any]:
    """The content of a ``clouds.yaml`` with one cloud, ``vbs`` (dump it with ``yaml.safe_dump``)."""
    return {"clouds": {CLOUD_NAME: cloud_config(fake, auth_type=auth_type)}}


def os_environ(fake: FakeVBS, *, auth_type: str = "password") -> dict[str, str]:
    """``OS_*`` variables for code that reads the environment (openstacksdk, the ``cinder`` CLI ...).

    Add them to a copy of ``os.environ`` (or ``monkeypatch.setenv`` each); remove any ``OS_CLOUD`` of yours.
    """
    _check(auth_type)
    common = {"OS_REGION_NAME": fake.identity.region, "OS_INTERFACE": "public", "OS_ENDPOINT_TYPE": "publicURL",
              "OS_IDENTITY_API_VERSION": "3", "OS_VOLUME_API_VERSION": "3", "OS_PROJECT_ID": fake.project_id}
    if auth_type == "password":
        fake.identity.ensure_project(fake.project_id)
        return {
            "OS_AUTH_TYPE": "password",
            "OS_AUTH_URL": auth_url(fake),
            "OS_USERNAME": identity.DEFAULT_USERNAME,
            "OS_PASSWORD": identity.DEFAULT_PASSWORD,
            "OS_USER_DOMAIN_NAME": identity.DEFAULT_DOMAIN_NAME,
            **common,
        }
    if auth_type == "none":
        return {
            "OS_AUTH_TYPE": "none",
            "OS_ENDPOINT": fake.endpoint,
            "OS_BLOCK_STORAGE_ENDPOINT_OVERRIDE": fake.endpoint,
            "OS_VBS_ENDPOINT_OVERRIDE": fake.endpoint_v2,
            **common,
        }
    # python-cinderclient's noauth plugin: its options share their names with the cinder CLI's own --os-user-id,
    # --os-project-id and --os-endpoint, which read these variables (cinderclient/shell.py, contrib/noauth.py).
    return {
        "OS_AUTH_TYPE": "noauth",
        "OS_USER_ID": NOAUTH_USER_ID,
        "CINDER_ENDPOINT": fake.endpoint,
        **common,
    }


def openstack_connection(fake: FakeVBS, *, auth_type: str = "password", **kwargs: Any) -> Connection:
    """An openstacksdk ``Connection`` to the fake (password auth through its identity service by default).

    ``kwargs`` go to ``openstack.connection.Connection`` over the :func:`cloud_config` settings (an ``auth``
    dict is merged into the default one). Without a ``cloud`` name openstacksdk reads neither ``clouds.yaml``
    files nor ``OS_*`` variables, so the developer's own cloud settings cannot leak in.
    """
    import openstack.connection

    config = cloud_config(fake, auth_type=auth_type)
    config["auth"] = {**config["auth"], **kwargs.pop("auth", {})}
    config.update(kwargs)
    return openstack.connection.Connection(**config)
