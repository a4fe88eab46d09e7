"""Keystone: endpoints, SQL account host, keys and templates as deploys/keystone.py renders them; the
db_sync and bootstrap steps (no-op when done, the password on stdin only); facts on real output."""

from __future__ import annotations

import pytest
from pyinfra.api import FactProcessError, HiddenValue

from facts.keystone import KeystoneBootstrap, KeystoneDbState
from lib.secrets import unmasked
from lib.topology import Topology
from operations import keystone
from tests.unit.conftest import NAMES, ROOT
from tests.unit.fakes import FakeHost, commands, renderer, run, stdin_of

FIXTURES = ROOT / "tests/fixtures/keystone"
MANAGE = "/opt/openstack/venv/bin/keystone-manage"
URLS = {"admin": "https://10.0.2.10:5000/v3", "internal": "https://10.0.2.10:5000/v3",
        "public": "https://10.0.1.10:5000/v3"}
render = renderer("templates/keystone")


def test_endpoints_public_on_the_api_vip_others_on_the_srv_vip(default_data):
    topo = Topology.from_data("ctrl-2", default_data, NAMES)
    assert keystone.endpoints(topo, default_data) == URLS
    # Without TLS on HAProxy's keystone frontend, every endpoint is plain http.
    default_data.haproxy_services["keystone_public"]["tls"] = False
    assert keystone.endpoints(topo, default_data) == {k: v.replace("https:", "http:") for k, v in URLS.items()}


def test_sql_account_from_the_srv_network_only(default_data):
    assert keystone.account_host(default_data) == "10.0.2.0/255.255.255.0"
    default_data.netprefix["srv"] = {"prefix": "172.16", "network": "172.16.0.0", "class": 16}
    assert keystone.account_host(default_data) == "172.16.0.0/255.255.0.0"


def test_keys_are_the_secrets_in_both_repositories(default_data):
    files = keystone.key_files(default_data.secrets)
    assert sorted(files) == ["/etc/keystone/credential-keys/0", "/etc/keystone/credential-keys/1",
                             "/etc/keystone/fernet-keys/0", "/etc/keystone/fernet-keys/1"]
    assert unmasked(files["/etc/keystone/fernet-keys/1"]) == unmasked(default_data.secrets["keystone_fernet_key_1"])
    assert len({unmasked(v) for v in files.values()}) == 4  # four distinct 32-byte keys, urlsafe base64
    assert all(len(unmasked(v)) == 44 for v in files.values())


def conf_lines(default_data, me: str = "ctrl-1") -> list[str]:
    topo = Topology.from_data(me, default_data, NAMES)
    text = render("keystone.conf.j2", **keystone.template_args(topo, default_data))
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_config_database_through_the_srv_vip_tokens_cached_in_every_memcached(default_data):
    lines = conf_lines(default_data)
    password = unmasked(default_data.secrets["keystone_db_password"])
    assert (f"connection = mysql+pymysql://keystone:{password}@10.0.2.10/keystone"
            "?ssl_ca=/etc/prereqos/tls/ca.crt&read_timeout=30&write_timeout=30") in lines
    default_data.galera["tls"] = False
    assert (f"connection = mysql+pymysql://keystone:{password}@10.0.2.10/keystone"
            "?read_timeout=30&write_timeout=30") in conf_lines(default_data)
    assert "memcache_servers = 10.0.2.11:11211,10.0.2.12:11211,10.0.2.13:11211" in lines
    assert {"[cache]", "enabled = true", "backend = oslo_cache.memcache_pool", "provider = fernet",
            "key_repository = /etc/keystone/fernet-keys", "key_repository = /etc/keystone/credential-keys",
            "backends = disable_by_file", "disable_by_file_path = /etc/keystone/healthcheck_disable",
            "log_dir = /var/log/keystone"} <= set(lines)


def test_apache_site_on_the_srv_address_and_the_keystone_port(default_data):
    topo = Topology.from_data("ctrl-3", default_data, NAMES)
    lines = [line.strip() for line in render("keystone-site.conf.j2", **keystone.template_args(topo, default_data))
             .splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "Listen 10.0.2.13:5000" and "<VirtualHost 10.0.2.13:5000>" in lines
    daemon = next(line for line in lines if line.startswith("WSGIDaemonProcess"))
    assert "processes=2 threads=1 user=keystone group=keystone" in daemon
    assert daemon.endswith("python-home=/opt/openstack/venv")
    assert "WSGIScriptAlias / /usr/local/share/keystone/keystone.wsgi" in lines


def test_the_wsgi_entry_point_is_keystone_own_application():
    source = (ROOT / keystone.WSGI_SOURCE).read_text()
    assert "from keystone.wsgi.api import application" in source


# --- facts ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("code, state", [(0, "current"), (1, "unknown"), (2, "expand"), (4, "contract")])
def test_db_state_from_the_check_exit_status(code, state):
    assert KeystoneDbState().process([f"rc={code}"]) == state


def test_db_state_refuses_garbage_and_runs_as_keystone():
    with pytest.raises(FactProcessError):
        KeystoneDbState().process(["rc=127"])
    assert KeystoneDbState().command(MANAGE).get_raw_value() == (
        f"runuser -u keystone -- {MANAGE} --config-file /etc/keystone/keystone.conf db_sync --check "
        ">/dev/null 2>&1; echo rc=$?")
    assert KeystoneDbState().requires_command(manage=MANAGE) == MANAGE


def test_bootstrap_fact_on_a_lab_database():
    found = KeystoneBootstrap().process((FIXTURES / "bootstrap-lab3.txt").read_text().splitlines())
    assert found == {"user": True, "endpoints": {"admin": "http://10.103.2.10:5000/v3",
                                                 "internal": "http://10.103.2.10:5000/v3",
                                                 "public": "http://10.103.1.10:5000/v3"}}


def test_bootstrap_fact_before_db_sync_and_on_garbage():
    assert KeystoneBootstrap().process([]) == {"user": False, "endpoints": {}}
    with pytest.raises(FactProcessError):
        KeystoneBootstrap().process(["ERROR 1146 (42S02): Table 'keystone.endpoint' doesn't exist"])


# --- operations -----------------------------------------------------------------------------------
@pytest.mark.parametrize("state, expected", [
    ("current", []),
    (None, [f"runuser -u keystone -- {MANAGE} --config-file /etc/keystone/keystone.conf db_sync"]),
    ("unknown", [f"runuser -u keystone -- {MANAGE} --config-file /etc/keystone/keystone.conf db_sync"]),
    ("expand", [f"runuser -u keystone -- {MANAGE} --config-file /etc/keystone/keystone.conf db_sync"]),
])
def test_db_sync_only_when_not_at_head(state, expected):
    host = FakeHost({KeystoneDbState: lambda manage: state})
    assert run(keystone.db_sync, host, manage=MANAGE) == expected


OPENRC = {"username": "admin", "project": "admin", "region": "RegionOne"}


def bootstrap(found: dict) -> tuple[list, FakeHost]:
    host = FakeHost({KeystoneBootstrap: lambda database, user: found})
    return commands(keystone.bootstrap, host, manage=MANAGE, database="keystone", openrc=OPENRC, urls=URLS,
                    password=HiddenValue("s3cret-Pw")), host


def test_bootstrap_noop_when_admin_and_endpoints_exist():
    done, host = bootstrap({"user": True, "endpoints": URLS})
    assert done == [] and host.noops == ["admin admin and the identity endpoints exist"]


@pytest.mark.parametrize("found", [{"user": False, "endpoints": {}},
                                   {"user": True, "endpoints": {**URLS, "public": "http://10.0.1.10:5000/v3"}}])
def test_bootstrap_password_on_stdin_endpoints_on_the_line(found):
    (command,), _ = bootstrap(found)
    line = command.get_raw_value()
    assert "s3cret-Pw" not in line and unmasked(stdin_of(command)) == "s3cret-Pw"
    assert line.startswith("read -r OS_BOOTSTRAP_PASSWORD && export OS_BOOTSTRAP_PASSWORD && runuser -u keystone --")
    assert ("bootstrap --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin "
            "--bootstrap-region-id RegionOne --bootstrap-admin-url https://10.0.2.10:5000/v3 "
            "--bootstrap-internal-url https://10.0.2.10:5000/v3 --bootstrap-public-url https://10.0.1.10:5000/v3") in line
    assert str(stdin_of(command)) == "*MASKED*"
