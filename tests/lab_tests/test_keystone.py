"""Keystone on the lab (deploys/keystone.py after the base stack): refused while the base is not
healthy; then served on every controller through the api VIP (``openstack token issue`` and
``endpoint list`` with /root/.openrc), HAProxy's keystone backend 3/3 UP by its /healthcheck,
identical keys (a token issued through the VIP validates on every node); a second run changes
nothing and no run prints a secret. The deploy times are printed (``KEYSTONE ...``, pytest -s)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from lib.secrets import load as load_secrets
from tests.lab_tests.conftest import changed_ops, group_data, ok
from tests.lab_tests.drill_load import Load, cluster_ca, running, wait_healthy, wait_until
from tests.lab_tests.ps_sampler import Sampler, leaks, secret_values
from tests.lab_tests.test_zz_drills import HEALTHY_WITHIN, start_all, vip_holder

pytestmark = pytest.mark.lab

DEPLOY = "deploys/keystone.py"
KEYSTONE = "keystone_public"  # its haproxy_services entry
PORT = 5000  # haproxy_services["keystone_public"]["port"]
OPENRC = ". /root/.openrc && "
# Keystone's own database URL (keystone.conf, read by the script: no password on a command line),
# through Keystone's SQLAlchemy and PyMySQL: the TLS version of that session.
DB_TLS = """
import configparser, sqlalchemy
conf = configparser.ConfigParser(interpolation=None)
conf.read("/etc/keystone/keystone.conf")
with sqlalchemy.create_engine(conf["database"]["connection"]).connect() as db:
    print(db.exec_driver_sql("SHOW SESSION STATUS LIKE 'Ssl_version'").fetchone()[1])
"""


@pytest.fixture(scope="module")
def runs(lab):
    """The deploy run twice, each timed: the first converges (-vv: every command printed; every
    host's process list sampled: no secret on a command line), the second must change nothing."""
    started = time.monotonic()
    with Sampler(lab.lab) as sampler:
        first = lab.pyinfra(DEPLOY, "-vv")
    fresh = time.monotonic() - started
    ok(first)
    assert leaks(sampler.seen, secret_values()) == []
    started = time.monotonic()
    second = lab.pyinfra(DEPLOY, "--json")
    rerun = time.monotonic() - started
    ok(second)
    print(f"KEYSTONE deploy: first run {fresh:.0f}s, re-run {rerun:.0f}s")
    return first, second


def test_refused_while_the_base_is_not_healthy(lab):
    """Before any change: memcached stopped on ctrl-3 is named, nothing runs."""
    ok(lab.ssh(3, "systemctl stop memcached"))
    try:
        proc = lab.pyinfra(DEPLOY)
    finally:
        ok(lab.ssh(3, "systemctl start memcached"))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Keystone needs a healthy base stack, nothing was changed" in output
    assert "ctrl-3: no answer on " in output and "Starting operation" not in output


def test_second_run_changes_nothing_and_no_secret_is_printed(runs):
    assert changed_ops(json.loads(runs[1].stdout)) == {}
    for key, secret in load_secrets().items():
        for proc in runs:
            assert secret.unmask() not in proc.stdout + proc.stderr, f"secret {key} printed by pyinfra"
    first = runs[0].stdout + runs[0].stderr
    assert "db_sync --check" in first  # -vv printed the commands (the facts' too)
    if "Admin user, project, role and the identity endpoints" in first and "export OS_BOOTSTRAP_PASSWORD" in first:
        assert "--bootstrap-username admin" in first  # a fresh lab: the bootstrap command was printed, not its password


def test_openrc_issues_tokens_and_lists_endpoints_on_every_controller(lab, runs):
    for n in lab.hosts:
        token = ok(lab.ssh(n, OPENRC + "openstack token issue -f json", timeout=120))
        assert json.loads(token)["id"], n
        endpoints = json.loads(ok(lab.ssh(n, OPENRC + "openstack endpoint list -f json", timeout=120)))
        urls = {e["Interface"]: e["URL"] for e in endpoints if e["Service Type"] == "identity"}
        assert urls == {"public": f"https://{lab.vip('api')}:{PORT}/v3",
                        "internal": f"https://{lab.vip('srv')}:{PORT}/v3",
                        "admin": f"https://{lab.vip('srv')}:{PORT}/v3"}, (n, urls)


def keystone_backend(lab) -> dict:
    """The keystone backend's servers as each HAProxy sees them."""
    backends = lab.fact("facts.haproxy.HaproxyBackends")
    return {host: (found.get("keystone_public_cluster") or {}).get("servers", {}) for host, found in backends.items()}


def backend_up(lab) -> bool:
    """Every HAProxy sees the keystone backend's servers all UP."""
    return all(len(s) == len(lab.hosts) and all(v["status"] == "UP" for v in s.values())
               for s in keystone_backend(lab).values())


def test_haproxy_keystone_backend_3_of_3_up_by_healthcheck(lab, runs):
    wait_until(lambda: backend_up(lab), 60, "keystone backend 3/3 UP on every HAProxy")
    for n in lab.hosts:
        url = f"http://{lab.address('srv', n)}:{PORT}/healthcheck"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200


def test_healthcheck_drains_a_node_with_the_disable_file(lab, runs):
    url = f"http://{lab.address('srv', 2)}:{PORT}/healthcheck"
    ok(lab.ssh(2, "touch /etc/keystone/healthcheck_disable"))
    try:
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(url, timeout=5)
        assert error.value.code == 503
    finally:
        ok(lab.ssh(2, "rm -f /etc/keystone/healthcheck_disable"))
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200


def test_a_token_from_the_vip_validates_on_every_node(lab, runs):
    """The fernet keys are the same everywhere (from secrets.json, 0600 keystone)."""
    token = json.loads(ok(lab.ssh(1, OPENRC + "openstack token issue -f json", timeout=120)))["id"]
    for n in lab.hosts:
        request = urllib.request.Request(f"http://{lab.address('srv', n)}:{PORT}/v3/auth/tokens",
                                         headers={"X-Auth-Token": token, "X-Subject-Token": token})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, n
    sums = {n: ok(lab.ssh(n, "cd /etc/keystone && sha256sum fernet-keys/* credential-keys/* && "
                             "stat -c '%a %U %G %n' fernet-keys/* credential-keys/* keystone.conf")) for n in lab.hosts}
    assert len(set(sums.values())) == 1, sums
    assert sums[1].count("600 keystone keystone") == 4 and "640 root keystone keystone.conf" in sums[1]


def test_keystones_database_connection_is_tls_verified_through_the_srv_vip(lab, runs):
    for n in lab.hosts:
        version = ok(lab.ssh(n, "runuser -u keystone -- /opt/openstack/venv/bin/python -", input=DB_TLS)).strip()
        assert version in ("TLSv1.2", "TLSv1.3"), (n, version)
    assert ok(lab.ssh(1, "grep -c '^connection = .*?ssl_ca=/etc/prereqos/tls/ca.crt&read_timeout=30&write_timeout=30$' "
                         "/etc/keystone/keystone.conf")).strip() == "1"


# --- HAProxy to Keystone in TLS (keystone_public's backend_tls) --------------------------------------
def backend_certificate(lab, n: int) -> dict:
    """The certificate Keystone's Apache shows on controller ``n``'s srv address, verified with the
    cluster CA and checked against the controller's name (what HAProxy's ``verifyhost`` does)."""
    with socket.create_connection((lab.address("srv", n), PORT), timeout=10) as raw:
        with cluster_ca().wrap_socket(raw, server_hostname=f"ctrl-{n}") as tls:
            return tls.getpeercert()


def test_backend_tls_haproxy_verifies_keystone_in_tls(lab, runs):
    """With ``backend_tls`` on keystone_public, Apache serves Keystone in TLS with each controller's
    certificate and HAProxy verifies it (checks too): tokens through the api VIP, backends 3/3 UP,
    nothing in clear on the backend port, a second run changes nothing; then back to plain.
    ``deploys/keystone.py`` alone switches both (HAProxy's configuration right after Apache's
    reload); a token load through the VIP measures what the switch costs."""
    catalog = group_data()["haproxy_services"]
    on = json.dumps({**catalog, KEYSTONE: {**catalog[KEYSTONE], "backend_tls": True}})
    url = f"https://{lab.vip('api')}:{PORT}/v3/auth/tokens"
    load = TokenLoad(url, load_secrets()["openstack_admin_password"].unmask(), max_seconds=300)
    try:
        with running(load):
            switching = time.monotonic()
            switched = lab.deploy(DEPLOY, "--data", f"haproxy_services={on}")
            took = time.monotonic() - switching
            wait_until(lambda: backend_up(lab), 60, "keystone backend 3/3 UP in TLS on every HAProxy")
            load.wait_acks(5, timeout=60)
            failed_on, gap_on = sum(1 for *_, acked in load.records if not acked), load.longest_gap(switching)
        assert {"Reload Apache (graceful) after a change of Keystone's files",
                "Reload HAProxy if it is running (its configuration changed)"} <= set(changed_ops(switched))
        assert changed_ops(lab.deploy(DEPLOY, "--data", f"haproxy_services={on}")) == {}
        for n in lab.hosts:
            subject = dict(item[0] for item in backend_certificate(lab, n)["subject"])
            assert subject["commonName"] == f"ctrl-{n}"
            with pytest.raises(urllib.error.HTTPError) as plain:  # Apache: plain HTTP to its TLS port
                urllib.request.urlopen(f"http://{lab.address('srv', n)}:{PORT}/healthcheck", timeout=5)
            assert plain.value.code == 400
            config = ok(lab.ssh(n, "grep -c 'ssl verify required ca-file /etc/haproxy/tls/ca.crt verifyhost' "
                                   "/etc/haproxy/haproxy.cfg"))
            assert config.strip() == str(len(lab.hosts))
        token = json.loads(ok(lab.ssh(1, OPENRC + "openstack token issue -f json", timeout=120)))["id"]
        assert validates(url, token)
    finally:
        started = time.monotonic()
        lab.deploy(DEPLOY)
        back = time.monotonic() - started
    wait_until(lambda: backend_up(lab), 60, "keystone backend 3/3 UP in plain HTTP again")
    with urllib.request.urlopen(f"http://{lab.address('srv', 1)}:{PORT}/healthcheck", timeout=5) as response:
        assert response.status == 200
    print(f"BACKEND_TLS keystone: on in {took:.1f}s ({failed_on} of {len(load.records)} token attempts failed "
          f"during the switch, longest gap {gap_on:.1f}s), off in {back:.1f}s")


# --- drill: tokens through the api VIP while its holder is hard-killed ------------------------------
class TokenLoad(Load):
    """Issues a token through the api VIP (password auth as the openrc's admin) and validates it
    there; an attempt counts only when both answered. Every issued token is kept, with its time."""

    def __init__(self, url: str, password: str, **kwargs) -> None:
        super().__init__(interval=0.2, **kwargs)
        self.url = url
        self.body = json.dumps({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}).encode()
        self.issued: list[tuple[float, str]] = []

    def attempt(self, token: str) -> bool:
        request = urllib.request.Request(self.url, data=self.body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5, context=cluster_ca()) as response:
            issued = response.headers["X-Subject-Token"]
        self.issued.append((time.monotonic(), issued))
        return validates(self.url, issued)


def validates(url: str, token: str) -> bool:
    request = urllib.request.Request(url, headers={"X-Auth-Token": token, "X-Subject-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=5, context=cluster_ca()) as response:
            return response.status == 200
    except urllib.error.HTTPError:
        return False


def test_drill_tokens_through_the_api_vip_while_its_holder_is_killed(lab, runs):
    """Issue and validate tokens in a loop while the VIP holder is hard-killed: the longest gap,
    the failed attempts, and every token issued before the kill still validates afterwards."""
    if len(lab.hosts) != 3:
        pytest.skip("the drill expects a lab of 3 controllers")
    wait_healthy(lab, HEALTHY_WITHIN)
    victim = vip_holder(lab, list(lab.hosts))
    url = f"https://{lab.vip('api')}:{PORT}/v3/auth/tokens"
    load = TokenLoad(url, load_secrets()["openstack_admin_password"].unmask(), max_seconds=240)
    try:
        with running(load):
            killed = time.monotonic()
            ok(lab.run_lab("kill", str(victim)))
            wait_until(lambda: load.back_after(killed), 120, "tokens through the api VIP again", 0.2)
            load.wait_acks(10, timeout=120)
            back, gap = load.back_after(killed), load.longest_gap(killed)
        before = [token for at, token in load.issued if at < killed]
        stale = [token for token in before if not validates(url, token)]
        failed = sum(1 for *_, acked in load.records if not acked)
        restarted = time.monotonic()
        ok(lab.run_lab("start", str(victim)))
        wait_healthy(lab, HEALTHY_WITHIN)
        green = time.monotonic() - restarted
    finally:
        start_all(lab)
    print(f"DRILL keystone: victim=ctrl-{victim}, back_after={back:.1f}s, longest_gap={gap:.1f}s, "
          f"failed={failed}, issued={len(load.issued)} ({len(before)} before the kill, {len(stale)} no longer valid), "
          f"start_to_green={green:.1f}s; {load.summary()}")
    assert len(before) >= 10, "the load did not run before the kill"
    assert stale == [], f"{len(stale)} tokens issued before the kill no longer validate"
    assert gap < 60, f"no token through the api VIP for {gap:.1f}s"
    wait_until(lambda: all(len(s) == 3 and all(v["status"] == "UP" for v in s.values())
                           for s in keystone_backend(lab).values()), 120, "keystone backend 3/3 UP again")
