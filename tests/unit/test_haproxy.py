"""HAProxy: the stats-socket fact on real `show stat` output, the checked install, haproxy.cfg."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pyinfra.api import FactProcessError
from pyinfra.api.util import get_template
from pyinfra.facts.files import Sha1File

from facts.haproxy import HaproxyBackends
from lib.topology import Topology
from operations import haproxy
from tests.unit.conftest import NAMES, ROOT
from tests.unit.fakes import FakeHost, run

FIXTURES = ROOT / "tests/fixtures/haproxy"
CATALOG_SIZE = 14  # the seed's full list


# --- fact: captured on lab hosts with `echo 'show stat' | socat stdio unix-connect:...` -----------
def fixture_lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def test_fact_lists_every_backend_with_server_states():
    backends = HaproxyBackends().process(fixture_lines("show_stat.csv"))
    assert len(backends) == CATALOG_SIZE + 1  # + the stats page
    assert backends["galera_cluster"] == {
        "status": "UP",
        "servers": {
            "ctrl-1": {"status": "UP", "backup": False},
            "ctrl-2": {"status": "UP", "backup": True},
            "ctrl-3": {"status": "DOWN", "backup": True},
        },
    }
    assert backends["dashboard_cluster"]["status"] == "DOWN"
    assert backends["neutron_api_cluster"]["servers"]["ctrl-2"] == {"status": "UP", "backup": False}
    assert backends["stats"] == {"status": "UP", "servers": {}}
    assert not any("FRONTEND" in b["servers"] for b in backends.values())


def test_fact_keeps_transitional_and_maintenance_states():
    backends = HaproxyBackends().process(fixture_lines("show_stat_transitions.csv"))
    assert backends["neutron_api_cluster"]["servers"]["ctrl-1"]["status"] == "UP 1/5"
    assert backends["swift_proxy_cluster"]["servers"]["ctrl-2"]["status"] == "MAINT"


@pytest.mark.parametrize("output", [
    ["Unknown command. Please enter one of the following commands only :"],
    ["pxname,svname,status", "galera_cluster,ctrl-1,UP"],  # header without '# '
    ["# pxname,svname,status", "galera_cluster"],  # truncated row
])
def test_fact_refuses_what_is_not_show_stat(output):
    with pytest.raises(FactProcessError):
        HaproxyBackends().process(output)


def test_fact_command_is_empty_only_when_haproxy_is_stopped():
    fact = HaproxyBackends()
    command = fact.command().get_raw_value()
    # A failed or empty read is "stopped" only with no haproxy process (its socket outlives it).
    assert command == ("echo 'show stat' | socat -t 5 stdio unix-connect:/run/haproxy/admin.sock"
                       " | grep . || ! pgrep -x haproxy >/dev/null")
    assert fact.requires_command() == "socat" and fact.default() == {}


# --- operation: install_checked_config -------------------------------------------------------------
def run_install(hashes: dict[str, str | None]) -> tuple[list[str], FakeHost]:
    """install_checked_config on a host whose files have these sha1 sums (None: no such file)."""
    host = FakeHost({Sha1File: lambda path: hashes[path]})
    return run(haproxy.install_checked_config, host), host


NEW, LIVE = "/etc/haproxy/haproxy.cfg.new", "/etc/haproxy/haproxy.cfg"


def test_install_checks_before_replacing():
    commands, _ = run_install({NEW: "a" * 40, LIVE: "b" * 40})
    assert commands == [
        f"haproxy -c -f {NEW} || {{ echo 'haproxy -c rejected {NEW}; {LIVE} left unchanged "
        "(see the errors above)' >&2; exit 1; }",
        f"install -o root -g haproxy -m 640 {NEW} {LIVE}.tmp",
        f"mv -f {LIVE}.tmp {LIVE}",
    ]


def test_install_on_a_host_without_config():
    commands, _ = run_install({NEW: "a" * 40, LIVE: None})
    assert commands[0].startswith(f"haproxy -c -f {NEW} ||") and len(commands) == 3


def test_install_is_a_noop_when_the_candidate_is_live():
    commands, host = run_install({NEW: "a" * 40, LIVE: "a" * 40})
    assert commands == [] and host.noops == [f"{LIVE} is already {NEW}"]


def test_install_fails_without_a_candidate():
    commands, _ = run_install({NEW: None, LIVE: "a" * 40})
    assert len(commands) == 1 and commands[0].endswith("exit 1") and "missing" in commands[0]


# --- template: haproxy.cfg from group_data --------------------------------------------------------
def render(data, me: str = "ctrl-1", names: list[str] = NAMES) -> str:
    """haproxy.cfg exactly as deploys/haproxy.py renders it for host ``me``."""
    args = haproxy.template_args(Topology.from_data(me, data, names), data)
    template = get_template(str(ROOT / haproxy.TEMPLATE), args.pop("jinja_env_kwargs"))
    return template.render(args)


def sections(config: str) -> dict[str, list[str]]:
    """{'listen name': [its lines]} (also 'global', 'defaults'), comments left out."""
    found: dict[str, list[str]] = {}
    current = None
    for line in config.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            current = line.strip()
            found[current] = []
        else:
            found[current].append(line.strip())
    return found


def servers(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("server ")]


def test_default_catalog_renders_every_seed_service(default_data):
    found = sections(render(default_data))
    listens = [name for name in found if name.startswith("listen ")]
    assert listens == [f"listen {name}_cluster" for name in default_data["haproxy_services"]] + ["listen stats"]
    assert len(listens) == CATALOG_SIZE + 1
    for name, service in default_data["haproxy_services"].items():
        lines = found[f"listen {name}_cluster"]
        vips = {"api": "10.0.1.10", "srv": "10.0.2.10"}
        tls = " ssl crt /etc/haproxy/tls/vip.pem" if name in TLS_BY_DEFAULT else ""
        assert [l for l in lines if l.startswith("bind ")] == [
            f"bind {vips[net]}:{service['port']}{tls}" for net in service["binds"]]
        assert len(servers(lines)) == 3


# The catalog's services bound on the api network: TLS by default, on each of their binds.
TLS_BY_DEFAULT = {"dashboard", "keystone_public", "nova_vncproxy"}


def test_tls_settings_are_tls12_and_up_with_forward_secret_ciphers(default_data):
    glob = sections(render(default_data))["global"]
    assert "ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets" in glob
    ciphers = next(l for l in glob if l.startswith("ssl-default-bind-ciphers ")).split()[1].split(":")
    assert ciphers and all(c.startswith("ECDHE-") and ("GCM" in c or "CHACHA20" in c) for c in ciphers)
    assert "ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256" \
        in glob


def test_http_service_with_tls_is_proxied_as_http_with_hsts(default_data):
    keystone = sections(render(default_data))["listen keystone_public_cluster"]
    assert "mode http" in keystone and "option tcplog" not in keystone
    assert "http-request set-header X-Forwarded-Proto https" in keystone
    assert 'http-response set-header Strict-Transport-Security "max-age=63072000"' in keystone
    # A TLS service whose check is tcp stays a TCP proxy (no header can be set).
    dashboard = sections(render(default_data))["listen dashboard_cluster"]
    assert "mode http" not in dashboard and "option tcplog" in dashboard


def test_tls_follows_the_services_setting(default_data):
    default_data["haproxy_services"]["keystone_public"]["tls"] = False
    default_data["haproxy_services"]["glance_api"]["tls"] = True
    found = sections(render(default_data))
    assert [l for l in found["listen keystone_public_cluster"] if l.startswith("bind ")] == [
        "bind 10.0.1.10:5000", "bind 10.0.2.10:5000"]
    assert "mode http" not in found["listen keystone_public_cluster"]
    assert [l for l in found["listen glance_api_cluster"] if l.startswith("bind ")] == [
        "bind 10.0.2.10:9292 ssl crt /etc/haproxy/tls/vip.pem"]
    assert not any("ssl" in l for l in found["listen galera_cluster"])
    # The backends stay plain on the srv network.
    assert all(" ssl" not in l for l in servers(found["listen glance_api_cluster"]))


def test_backend_tls_verifies_each_controllers_certificate(default_data):
    default_data["haproxy_services"]["keystone_public"]["backend_tls"] = True
    default_data["haproxy_services"]["swift_proxy"]["backend_tls"] = True  # a TCP service: TLS added on the way
    found = sections(render(default_data))
    for name, port in (("keystone_public", 5000), ("swift_proxy", 8080)):
        assert servers(found[f"listen {name}_cluster"]) == [
            f"server ctrl-{n} 10.0.2.1{n}:{port} check inter 2000 rise 2 fall 5 "
            f"ssl verify required ca-file /etc/haproxy/tls/ca.crt verifyhost ctrl-{n}" for n in (1, 2, 3)]
    assert all(" ssl" not in l for l in servers(found["listen glance_api_cluster"]))
    assert "ssl-default-server-options ssl-min-ver TLSv1.2 no-tls-tickets" in found["global"]


def test_retired_services_are_flagged(default_data):
    config = render(default_data)
    retired = [n for n, s in default_data["haproxy_services"].items() if s.get("retired")]
    assert {"keystone_admin", "nova_ec2_api", "ceilometer_api", "glance_registry"} <= set(retired)
    for name in retired:
        assert re.search(rf"^# {name}: retired upstream in \w+", config, re.M)


def test_disabled_entries_are_absent(default_data):
    for name in ("nova_ec2_api", "ceilometer_api", "galera"):
        default_data["haproxy_services"][name]["enabled"] = False
    config = render(default_data)
    assert "nova_ec2_api" not in config and ":8773" not in config
    assert "ceilometer_api" not in config and ":8777" not in config
    assert "galera_cluster" not in config and ":3306" not in config
    assert "listen keystone_public_cluster" in config


def test_every_entry_disabled_leaves_only_stats(default_data):
    for service in default_data["haproxy_services"].values():
        service["enabled"] = False
    assert [n for n in sections(render(default_data)) if n.startswith("listen")] == ["listen stats"]


def test_explicitly_enabled_entry_is_kept(default_data):
    default_data["haproxy_services"]["swift_proxy"]["enabled"] = True
    assert "listen swift_proxy_cluster" in render(default_data)


def test_galera_has_one_writer_the_same_on_every_node(default_data):
    expected = [
        "server ctrl-1 10.0.2.11:3306 check port 9200 inter 1000 fastinter 500 rise 2 fall 2 on-marked-down shutdown-sessions"
        " on-marked-up shutdown-backup-sessions",
        "server ctrl-2 10.0.2.12:3306 check port 9200 inter 1000 fastinter 500 rise 2 fall 2 on-marked-down shutdown-sessions"
        " backup",
        "server ctrl-3 10.0.2.13:3306 check port 9200 inter 1000 fastinter 500 rise 2 fall 2 on-marked-down shutdown-sessions"
        " backup",
    ]
    for me in NAMES:
        lines = sections(render(default_data, me))["listen galera_cluster"]
        assert servers(lines) == expected
        assert "option httpchk" in lines and "timeout server 3600s" in lines


def test_galera_writer_follows_firstnode(default_data):
    default_data["firstnode"] = "ctrl-2"
    lines = servers(sections(render(default_data))["listen galera_cluster"])
    assert [line.endswith(" backup") for line in lines] == [True, False, True]


def test_http_and_tcp_checks(default_data):
    found = sections(render(default_data))
    keystone = found["listen keystone_public_cluster"]
    assert ["option httpchk", "http-check send meth GET uri /healthcheck", "http-check expect status 200"] == [
        l for l in keystone if l.startswith(("option httpchk", "http-check"))]
    assert "http-check send meth GET uri /" in found["listen nova_compute_api_cluster"]
    assert not any("httpchk" in l or "http-check" in l for l in found["listen swift_proxy_cluster"])
    assert servers(found["listen swift_proxy_cluster"])[0] == \
        "server ctrl-1 10.0.2.11:8080 check inter 2000 rise 2 fall 5"


def test_stats_page_on_own_api_address_with_generated_password(default_data):
    password = default_data["secrets"]["haproxy_stats_password"].unmask()
    for me, address in zip(NAMES, ("10.0.1.11", "10.0.1.12", "10.0.1.13")):
        stats = sections(render(default_data, me))["listen stats"]
        assert f"bind {address}:9000 ssl crt /etc/haproxy/tls/node.pem" in stats
        assert 'http-response set-header Strict-Transport-Security "max-age=63072000"' in stats
        assert f"stats auth 'admin:{password}'" in stats
    config = render(default_data)
    assert "haproxy:haproxy" not in config and len(password) >= 32
    assert "stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners" in config


def test_only_the_stats_bind_and_header_differ_between_nodes(default_data):
    one, two = render(default_data, "ctrl-1").splitlines(), render(default_data, "ctrl-2").splitlines()
    differing = [(a, b) for a, b in zip(one, two) if a != b]
    assert len(one) == len(two) and len(differing) == 2
    assert "ctrl-1" in differing[0][0] and "10.0.1.11:9000" in differing[1][0]


@pytest.mark.skipif(not shutil.which("haproxy"), reason="no local haproxy; tests/lab_tests/test_haproxy.py "
                                                         "checks this render with haproxy -c on a lab host")
def test_default_render_passes_haproxy_check(default_data, tmp_path: Path):
    config = tmp_path / "haproxy.cfg"
    config.write_text(render(default_data))
    result = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
