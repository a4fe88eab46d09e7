"""openrc: /root/.openrc rendered from group_data as deploys/openrc.py renders it, then sourced
by real shells (bash and dash) to check values and quoting."""

from __future__ import annotations

import os
import shutil
import subprocess
from types import SimpleNamespace

import pytest
from pyinfra.api.util import get_template

from lib.secrets import Secret
from lib.topology import Topology
from operations import openrc
from tests.unit.conftest import NAMES, ROOT


def render(data, me: str = "ctrl-2") -> str:
    args = openrc.template_args(Topology.from_data(me, data, NAMES), data)
    return get_template(str(ROOT / openrc.TEMPLATE)).render({"host": SimpleNamespace(name=me), **args})


def source(text: str, tmp_path, shell: str = "bash", env: dict[str, str] | None = None) -> dict[str, str]:
    """The OS_* environment after ``. openrc`` in a clean shell started with ``env``."""
    if not shutil.which(shell):
        pytest.skip(f"{shell} not installed")
    path = tmp_path / "openrc"
    path.write_text(text)
    proc = subprocess.run(
        [shell, "-euc", f'. "{path}"; env -0'],
        capture_output=True, env={"PATH": os.environ["PATH"], **(env or {})},
    )
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    pairs = (item.decode().split("=", 1) for item in proc.stdout.split(b"\0") if item)
    return {key: value for key, value in pairs if key.startswith("OS_")}


def test_identity_v3_on_the_api_vip(default_data, tmp_path):
    password = default_data.secrets["openstack_admin_password"].unmask()
    assert source(render(default_data), tmp_path) == {
        "OS_AUTH_TYPE": "password",
        "OS_AUTH_URL": "https://10.0.1.10:5000/v3",  # api VIP, keystone_public's port, TLS
        "OS_CACERT": "/etc/ssl/certs/ca-certificates.crt",  # holds the cluster CA
        "OS_IDENTITY_API_VERSION": "3",
        "OS_USERNAME": "admin",
        "OS_PASSWORD": password,
        "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_REGION_NAME": "RegionOne",
        "OS_INTERFACE": "internal",
        "OS_ENDPOINT_TYPE": "internalURL",
    }


def test_same_file_on_every_controller(default_data):
    assert render(default_data, "ctrl-1") == render(default_data, "ctrl-3")


def test_auth_url_follows_the_catalog_port_and_vip(default_data):
    default_data.haproxy_services["keystone_public"]["port"] = 5001
    default_data.netprefix["api"]["prefix"] = "192.168.7"
    assert "export OS_AUTH_URL='https://192.168.7.10:5001/v3'" in render(default_data)


def test_plain_keystone_frontend_gives_http_and_no_cacert(default_data, tmp_path):
    default_data.haproxy_services["keystone_public"]["tls"] = False
    env = source(render(default_data), tmp_path)
    assert env["OS_AUTH_URL"] == "http://10.0.1.10:5000/v3" and "OS_CACERT" not in env


@pytest.mark.parametrize("shell", ["bash", "dash"])
def test_values_survive_sh_quoting(default_data, tmp_path, shell):
    nasty = "it's $HOME `id` \"q\" \\ ; *"
    default_data.secrets["openstack_admin_password"] = Secret(nasty)
    default_data.openrc["project"] = "ops' team"
    env = source(render(default_data), tmp_path, shell)
    assert env["OS_PASSWORD"] == nasty and env["OS_PROJECT_NAME"] == "ops' team"


def test_old_os_variables_are_cleared(default_data, tmp_path):
    env = source(render(default_data), tmp_path, env={"OS_TOKEN": "stale", "OS_CLOUD": "other",
                                                      "OS_TENANT_NAME": "admin"})
    assert not {"OS_TOKEN", "OS_CLOUD", "OS_TENANT_NAME"} & set(env)
