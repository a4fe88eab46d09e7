"""The whole stack on the lab: converge, health, VIPs with HAProxy, SQL through the VIP,
a second run and ``--dry`` with zero changes, and no secret in anything pyinfra prints.

Runs right after the lab tests, so in CI (``LAB_FRESH=1``) the converge starts from fresh hosts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from base64 import b64encode
from pathlib import Path

import pymysql
import pytest

from lib.cluster import HAPROXY_RESOURCE, VIP_RESOURCE
from lib.secrets import load as load_secrets
from tests.lab_tests.conftest import ROOT, changed_ops
from tests.lab_tests.drill_load import stats_page

pytestmark = pytest.mark.lab

DEPLOY = "deploys/prereqos.py"
PROBE_USER = "prereqos_probe"


@pytest.fixture(scope="module")
def converged(lab):
    """The first full deploy: its results and its printed output (default verbosity)."""
    started = time.monotonic()
    proc = lab.pyinfra(DEPLOY)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    print(f"\nfull converge: {elapsed:.1f}s")
    return {"output": proc.stdout + proc.stderr, "seconds": elapsed}


def assert_no_secret(text: str, where: str) -> None:
    leaked = [name for name, s in load_secrets().items() if s.unmask() in text]
    assert not leaked, f"{where} shows the value of {leaked}"


def health(lab) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib.health", "tests/lab/inventory.py"], cwd=ROOT,
                          text=True, capture_output=True, env=lab.env(), timeout=300)


def test_health_report_is_green(lab, converged):
    deadline = time.monotonic() + 120  # VIPs and backends settle a few seconds after the run
    while True:
        report = health(lab)
        if report.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "HEALTHY: 3 controllers" in report.stdout or "HEALTHY:" in report.stdout


def vip_holder(lab) -> tuple[str, dict]:
    crm = next(v for v in lab.fact("facts.pacemaker.CrmMon").values() if v.get("quorum"))
    placed = {r["id"]: r["nodes"] for r in crm["resources"] if r["id"] in VIP_RESOURCE.values()}
    return placed, crm


def test_both_vips_on_one_node_with_haproxy(lab, converged):
    placed, crm = vip_holder(lab)
    srv, api = VIP_RESOURCE["srv"], VIP_RESOURCE["api"]
    assert len(placed) == 2 and placed[srv] == placed[api] and len(placed[srv]) == 1, placed
    holder = placed[srv][0]
    haproxy_on = {n for r in crm["resources"] if r["id"] == HAPROXY_RESOURCE and r["active"] for n in r["nodes"]}
    assert holder in haproxy_on
    n = int(holder.split("-")[1])
    addrs = lab.ssh(n, "ip -4 -o addr show").stdout
    assert lab.vip("srv") in addrs and lab.vip("api") in addrs


def test_sql_through_the_srv_vip_reaches_the_active_galera_node(lab, converged):
    password = "probe-" + b64encode(bytes(range(12))).decode()[:12]
    network = lab.lab.prefix("srv") + ".%"
    create = (f"CREATE USER IF NOT EXISTS '{PROBE_USER}'@'{network}' IDENTIFIED BY '{password}'; "
              f"GRANT USAGE ON *.* TO '{PROBE_USER}'@'{network}';")
    assert lab.ssh(1, "mysql", input=create).returncode == 0  # the password on stdin
    try:
        conn = pymysql.connect(host=lab.vip("srv"), port=3306, user=PROBE_USER, password=password,
                               connect_timeout=5)
        with conn.cursor() as cur:
            cur.execute("SELECT @@hostname, @@wsrep_on")
            hostname, wsrep_on = cur.fetchone()
        conn.close()
        assert hostname == "ctrl-1" and wsrep_on == 1  # firstnode is the single active writer
    finally:
        lab.ssh(1, f"mysql -e \"DROP USER IF EXISTS '{PROBE_USER}'@'{network}'\"")


def test_haproxy_stats_show_galera_up(lab, converged):
    placed, _ = vip_holder(lab)
    holder = placed[VIP_RESOURCE["srv"]][0]
    n = int(holder.split("-")[1])
    status, body = stats_page(lab, n, ";csv")
    assert status == 200
    rows = body.splitlines()
    galera = {r.split(",")[1]: r.split(",")[17] for r in rows if r.startswith("galera_cluster,")}
    assert galera["BACKEND"] == "UP" and galera["ctrl-1"] == "UP", galera


def operation_position(converged):
    """``position(text)``: the index, in the converge's order, of the first operation whose name
    holds ``text`` (``StopIteration`` if none ran). pyinfra prints "--> Starting operation:" or,
    for a one-node-at-a-time one, "--> Starting serial operation:"."""
    started = [line for line in converged["output"].splitlines()
               if line.startswith("--> Starting ") and " operation: " in line]

    def position(text: str) -> int:
        return next(i for i, line in enumerate(started) if text in line)

    return position


def test_a_new_cluster_elects_its_dc_while_rabbitmq_and_galera_deploy(converged):
    """On fresh hosts pacemaker starts right after the packages (deploys/corosync.py), before
    RabbitMQ's and Galera's operations, and the wait for its DC comes after them (issue #17, item 4)."""
    first = operation_position(converged)
    try:
        early_start = first("deploys/corosync.py | pacemaker: running")
    except StopIteration:
        pytest.skip("pacemaker ran on the lab before this converge (LAB_FRESH off): not a new cluster")
    assert early_start < first("deploys/rabbitmq.py |") < first("deploys/galera.py |")
    assert first("deploys/galera.py |") < first("Wait for pacemaker: DC elected")


def test_rabbitmq_boots_while_galera_deploys(converged):
    """deploys/prereqos.py runs RabbitMQ's deploy in two parts: the nodes' start, not waited for,
    before Galera's deploy; the wait for their boot, the users and the joins after it (issue #17,
    item 4). On fresh hosts every RabbitMQ node starts there and joins after Galera's joins."""
    first = operation_position(converged)
    try:
        joins = first("Join the RabbitMQ cluster")
    except StopIteration:
        pytest.skip("RabbitMQ was clustered before this converge (LAB_FRESH off): no node started or joined")
    assert first("Start rabbitmq-server where it does not run") < first("deploys/galera.py |")
    assert first("Join the new cluster, one node at a time") < first("rabbitmq-server booted")
    assert first("rabbitmq-server booted") < first("RabbitMQ users") < joins


def test_second_run_changes_nothing(lab, converged):
    started = time.monotonic()
    results = lab.deploy(DEPLOY)
    elapsed = time.monotonic() - started
    assert changed_ops(results) == {}
    print(f"\nno-change re-run: {elapsed:.1f}s")


def test_dry_run_lists_no_change(lab, converged):
    started = time.monotonic()
    proc = lab.pyinfra(DEPLOY, "--dry", "--json")
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    plan = json.loads(proc.stdout)["plan"]
    changing = [(op["name"], op["hosts_with_change"]) for op in plan if op["hosts_with_change"]]
    assert changing == []
    assert_no_secret(proc.stdout + proc.stderr, "--dry --json")
    print(f"\n--dry: {elapsed:.1f}s")


def test_no_secret_in_any_output(lab, converged):
    assert_no_secret(converged["output"], "the first converge (default verbosity)")
    for flags in (["-v"], ["-vv"], ["--debug"]):
        proc = lab.pyinfra(DEPLOY, *flags)
        assert proc.returncode == 0, (flags, proc.stderr[-2000:])
        assert_no_secret(proc.stdout + proc.stderr, f"a run with {flags}")
    inventory = lab.pyinfra("debug-inventory")
    assert inventory.returncode == 0, inventory.stderr[-2000:]
    assert "*MASKED*" in inventory.stdout + inventory.stderr
    assert_no_secret(inventory.stdout + inventory.stderr, "debug-inventory")
    # A run that fails (no -y, stdin closed) writes pyinfra-debug.log: it must not hold secrets either.
    log = ROOT / "pyinfra-debug.log"
    log.unlink(missing_ok=True)
    env = lab.env()
    env.pop("PYINFRA_YES")
    subprocess.run([str(Path(sys.executable).with_name("pyinfra")), "tests/lab/inventory.py", DEPLOY],
                   cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                   capture_output=True, text=True, timeout=600)
    if log.exists():
        assert_no_secret(log.read_text(), "pyinfra-debug.log")
        log.unlink()
