"""HAProxy on the lab: checked config, stats page and socket, reload, a bad catalog refused, the
Galera server taken out while its node is not Synced.

Pacemaker is not part of this test: HAProxy is started here by hand (``systemctl start``) and
stopped again at the end if it was not running before.
"""

from __future__ import annotations

import copy
import json
import shlex
import ssl
import subprocess
import time
import types
import urllib.error
import urllib.request

import pytest

from facts.haproxy import HaproxyBackends
from lib.validate import _Data
from tests.lab_tests.conftest import changed_ops, galera_check, group_data, ok
from tests.lab_tests.drill_load import stats_page, wait_until
from tests.unit.test_haproxy import NAMES, render

pytestmark = pytest.mark.lab

DEPLOY = "deploys/haproxy.py"
CONFIG = "/etc/haproxy/haproxy.cfg"
SOCKET = "/run/haproxy/admin.sock"


def socket_command(lab, n: int, command: str) -> str:
    return ok(lab.ssh(n, f"echo {shlex.quote(command)} | socat stdio unix-connect:{SOCKET}"))


@pytest.fixture(scope="module")
def deployed(lab):
    """The deploy converged on the lab, HAProxy running; HAProxy stopped again if it was not."""
    lab.deploy(DEPLOY)
    was_active = {n: lab.ssh(n, "systemctl is-active -q haproxy").returncode == 0 for n in lab.hosts}
    for n in lab.hosts:
        ok(lab.ssh(n, "systemctl start haproxy"))
    yield lab
    for n in lab.hosts:
        if not was_active[n]:
            lab.ssh(n, "systemctl stop haproxy")


def test_config_in_place_and_valid(deployed):
    for n in deployed.hosts:
        check = deployed.ssh(n, f"haproxy -c -V -f {CONFIG}")  # -V: HAProxy 3.0 (Debian 13) says nothing otherwise
        assert check.returncode == 0 and "Configuration file is valid" in check.stdout, check.stderr
        assert "[WARNING]" not in check.stdout + check.stderr
        assert ok(deployed.ssh(n, f"stat -c '%a %U %G' {CONFIG} {CONFIG}.new")).split("\n")[:2] == \
            ["640 root haproxy"] * 2
        assert ok(deployed.ssh(n, "sysctl -n net.ipv4.ip_nonlocal_bind")).strip() == "1"
        assert deployed.ssh(n, "systemctl is-enabled haproxy").stdout.strip() == "disabled"


def test_default_group_data_render_passes_haproxy_check(deployed):
    """The unit tests' render of the production data, checked by the lab's real haproxy."""
    namespace = group_data()
    data = _Data(copy.deepcopy({k: v for k, v in namespace.items() if not k.startswith("__")
                                and not isinstance(v, (types.ModuleType, types.FunctionType))}))
    for me in NAMES:
        # On stdin, not in argv: the render holds the stats password.
        check = subprocess.run(
            deployed.lab.ssh_command(1) + ["f=$(mktemp) && cat > $f && haproxy -c -f $f; rc=$?; rm -f $f; exit $rc"],
            input=render(data, me), text=True, capture_output=True, timeout=60,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "[WARNING]" not in check.stdout + check.stderr


def test_stats_page_needs_the_generated_password_over_https(deployed):
    for n in deployed.hosts:
        assert stats_page(deployed, n)[0] == 200
        assert stats_page(deployed, n, user=None)[0] == 401
        assert stats_page(deployed, n, user="haproxy", password="haproxy")[0] == 401
        # In TLS only, with this controller's certificate: plain HTTP and a client without the CA fail.
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            stats_page(deployed, n, scheme="http")
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            stats_page(deployed, n, context=ssl.create_default_context())


def test_fact_lists_backends_from_the_stats_socket(deployed):
    catalog = group_data()["haproxy_services"]
    enabled = {f"{name}_cluster" for name, s in catalog.items() if s.get("enabled", True)}
    facts = deployed.fact("facts.haproxy.HaproxyBackends")
    assert set(facts) == {f"ctrl-{n}" for n in deployed.hosts}
    for backends in facts.values():
        assert set(backends) == enabled | {"stats"}
        galera = backends["galera_cluster"]["servers"]
        assert {name: s["backup"] for name, s in galera.items()} == {"ctrl-1": False, "ctrl-2": True, "ctrl-3": True}
        assert all(s["status"].split()[0] in ("UP", "DOWN") for b in backends.values() for s in b["servers"].values())
    assert "Name: HAProxy" in socket_command(deployed, 1, "show info")


def test_changed_config_is_reloaded_not_restarted(deployed):
    pid = ok(deployed.ssh(1, "systemctl show -p MainPID --value haproxy")).strip()
    changed = json.dumps({**group_data()["haproxy"], "maxconn": 4001})
    try:
        results = deployed.deploy(DEPLOY, "--data", f"haproxy={changed}")
        assert "Reload HAProxy if it is running" in changed_ops(results)
        assert "Maxconn: 4001" in socket_command(deployed, 1, "show info")
        assert ok(deployed.ssh(1, "systemctl show -p MainPID --value haproxy")).strip() == pid
    finally:
        deployed.deploy(DEPLOY)
    assert "Maxconn: 4000" in socket_command(deployed, 1, "show info")


def test_bad_catalog_entry_never_replaces_the_good_config(deployed):
    before = {n: ok(deployed.ssh(n, f"sha1sum {CONFIG}")) for n in deployed.hosts}
    catalog = group_data()["haproxy_services"]
    bad = json.dumps({**catalog, "bad/name": {"port": 1234, "binds": ["srv"], "check": "tcp"}})
    proc = deployed.pyinfra(DEPLOY, "--data", f"haproxy_services={bad}")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "character '/' is not permitted in 'listen' name 'bad/name_cluster'" in output
    assert f"haproxy -c rejected {CONFIG}.new; {CONFIG} left unchanged" in output
    for n in deployed.hosts:
        assert ok(deployed.ssh(n, f"sha1sum {CONFIG}")) == before[n]
        assert ok(deployed.ssh(n, "systemctl is-active haproxy")).strip() == "active"
        assert stats_page(deployed, n)[0] == 200
    # The next good run only puts the good candidate back: nothing to install, nothing to reload.
    restored = changed_ops(deployed.deploy(DEPLOY))
    assert list(restored) == ["Render the HAProxy configuration candidate"]


def test_second_run_changes_nothing(deployed):
    assert changed_ops(deployed.deploy(DEPLOY)) == {}


def galera_server_status(lab, n: int, server: str) -> str:
    """HAProxy's status of ``server`` in the Galera backend, as ctrl-``n`` sees it (``show stat``,
    parsed by the deploy's own fact)."""
    backends = HaproxyBackends().process(socket_command(lab, n, "show stat").splitlines())
    return backends["galera_cluster"]["servers"][server]["status"]


def wait_galera_server(lab, server: str, status: str, timeout: float = 60) -> float:
    """Seconds until every node's HAProxy shows ``server`` as ``status``."""
    started = time.monotonic()

    def everywhere() -> dict[int, str] | None:
        seen = {n: galera_server_status(lab, n, server) for n in lab.hosts}
        return seen if set(seen.values()) == {status} else None

    wait_until(everywhere, timeout, f"{server} {status} in every HAProxy", interval=0.2)
    return time.monotonic() - started


def test_galera_server_down_while_its_node_is_not_synced_up_again_once_synced(deployed):
    """The :9200 contract as HAProxy uses it: a node desynced (``wsrep_desync``: MariaDB up, state
    Donor/Desynced) answers 503 and every HAProxy takes it DOWN; Synced again, 200 and UP."""
    n = deployed.hosts[-1]
    server = f"ctrl-{n}"
    wait_galera_server(deployed, server, "UP", timeout=60)  # Galera Synced on the deployed lab
    try:
        ok(deployed.ssh(n, "mysql -e 'SET GLOBAL wsrep_desync = ON'"))
        answer = galera_check(deployed, n, "HTTP/1.1 503 Service Unavailable")
        assert "(Donor/Desynced)" in answer, answer
        down = wait_galera_server(deployed, server, "DOWN")
    finally:
        ok(deployed.ssh(n, "mysql -e 'SET GLOBAL wsrep_desync = OFF'"))
    up = wait_galera_server(deployed, server, "UP")
    galera_check(deployed, n, "HTTP/1.1 200 OK")
    print(f"{server} desynced: DOWN everywhere after {down:.1f} s; synced: UP after {up:.1f} s")
