"""Fault drills on the converged lab, each under real client load, each ending with the proof that
nothing acknowledged was lost: every INSERT acknowledged through the srv VIP is on every node,
every message confirmed by RabbitMQ is still in its quorum queue.

- R2: hard kill of the controller holding the VIPs (failover time of SQL through the VIP).
- R3: one controller cut off from every network (majority serves, the cut-off one stops serving).
- R3w: the controller holding the Galera writer and a quorum queue's leader (not the VIPs) cut
  off: confirms through the other nodes resume within 10 s, then the heal-to-whole time.
- R3n: a controller holding nothing the clients use (not the VIPs, not the writer, no queue
  leader) cut off: the same accounting.
- R4: power loss of every controller, then ``deploys/recover.py``. Both recoveries (R4, R4b) run
  under ``ps_sampler``: no secret on any host's command line.
- R4b: every controller stopped cleanly, one after the other (the cluster cannot come back by
  itself): ``deploys/prereqos.py`` refuses, ``deploys/recover.py`` bootstraps from the node that
  stopped last, the most advanced one.
- R5: a killed controller started again rejoins everything unaided (time to a green report).

Each drill leaves the lab healthy. The measured times are printed (``DRILL ...`` lines, run
pytest with ``-s``) and kept in the lab's state directory (``drills.json``).
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from lib.cluster import VIP_GROUP, VIP_RESOURCE
from tests.lab_tests.amqp_failover import isolate_under_load
from tests.lab_tests.conftest import changed_ops, ok
from tests.lab_tests.drill_load import (
    AmqpLoad,
    SqlLoad,
    amqp_queue,
    attach,
    brokers,
    changes,
    facts,
    health,
    rabbit_paused,
    running,
    sql_account,
    wait_healthy,
    wait_until,
)
from tests.lab_tests.ps_sampler import Sampler, leaks, secret_values

pytestmark = pytest.mark.lab

RECOVER = "deploys/recover.py"
PREREQOS = "deploys/prereqos.py"
HEALTHY_WITHIN = 300
# Publisher confirms through the surviving nodes resume within this many seconds after the silent
# loss of the node holding the quorum queue's leader (issue #18's target).
AMQP_FAILOVER_WITHIN = 10


def record(lab, drill: str, **numbers: float) -> None:
    """Print a drill's measures and keep them in the lab's state directory."""
    print(f"DRILL {drill}: " + ", ".join(f"{key}={value:.1f}s" if isinstance(value, float) else f"{key}={value}"
                                         for key, value in numbers.items()))
    path = lab.lab.state_dir / "drills.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[drill] = {**numbers, "at": time.strftime("%Y-%m-%d %H:%M:%S")}
    path.write_text(json.dumps(results, indent=2))


def number(name: str) -> int:
    return int(name.rsplit("-", 1)[1])


def srv_vip_node(status: dict) -> int | None:
    """The controller running the srv VIP in one host's ``CrmMon``, if that host is quorate and
    sees it on exactly one node."""
    nodes = [r["nodes"] for r in status.get("resources", []) if r["id"] == VIP_RESOURCE["srv"] and r["active"]]
    return number(nodes[0][0]) if status.get("quorum") and nodes and len(nodes[0]) == 1 else None


def vip_holder(lab, alive: list[int]) -> int:
    """The controller running the srv VIP, as a quorate pacemaker sees it."""
    def holder():
        for status in facts(lab, "facts.pacemaker.CrmMon", alive).values():
            if node := srv_vip_node(status):
                return node
        return None

    return wait_until(holder, 120, f"{VIP_RESOURCE['srv']} placed")


def serving(lab, alive: list[int]) -> str:
    """Why the ``alive`` controllers do not serve yet, or "" when they do: Galera Primary of their
    size and Synced, RabbitMQ running, corosync quorate with them, the VIPs on one of them."""
    size = len(alive)
    for name, wsrep in facts(lab, "facts.galera.WsrepStatus", alive).items():
        if (wsrep.get("cluster_status"), wsrep.get("cluster_size"), wsrep.get("local_state_comment")) != (
                "Primary", size, "Synced"):
            return f"Galera on {name}: {wsrep}"
    for name, quorum in facts(lab, "facts.corosync.CorosyncQuorum", alive).items():
        if not quorum.get("quorate") or quorum.get("nodes") != size:
            return f"corosync on {name}: quorate={quorum.get('quorate')} nodes={quorum.get('nodes')}"
    for n in alive:
        if lab.ssh(n, "rabbitmq-diagnostics -q check_running").returncode != 0:
            return f"RabbitMQ not running on ctrl-{n}"
    if vip_holder(lab, alive) not in alive:
        return "VIPs not on a live controller"
    return ""


def assert_nothing_lost(lab, sql: SqlLoad, amqp: AmqpLoad) -> None:
    print(f"DRILL load: {sql.summary()}; {amqp.summary()}")
    assert len(sql.acked) > 50 and len(amqp.acked) > 50, "the load did not run"
    assert sql.missing(lab, list(lab.hosts)) == {}, "acknowledged INSERTs lost"
    assert amqp.missing(lab) == set(), "confirmed messages lost"


def converge(lab) -> None:
    """deploys/prereqos.py converged; a fully stopped cluster (hosts stopped cleanly) is first
    brought back by deploys/recover.py, as an operator would."""
    proc = lab.pyinfra(PREREQOS)
    if proc.returncode != 0 and RECOVER in proc.stdout + proc.stderr:
        ok(lab.pyinfra(RECOVER))
        proc = lab.pyinfra(PREREQOS)
    ok(proc)


@pytest.fixture(scope="module")
def account(lab):
    """The converged, healthy lab and a throwaway SQL account for the load."""
    if len(lab.hosts) != 3:
        pytest.skip("the drills expect a lab of 3 controllers")
    converge(lab)
    wait_healthy(lab, HEALTHY_WITHIN)
    with sql_account(lab) as account:
        yield account


@pytest.fixture
def queue(lab, account):
    """A quorum queue for one drill; the lab is healthy when the drill starts."""
    wait_healthy(lab, HEALTHY_WITHIN)
    with amqp_queue(lab) as queue:
        yield queue


def loads(lab, account, queue, seconds: float = 240) -> tuple[SqlLoad, AmqpLoad]:
    return SqlLoad(lab.vip("srv"), account, max_seconds=seconds), AmqpLoad(brokers(lab), queue, max_seconds=seconds)


def start_all(lab) -> None:
    for n in lab.hosts:
        if lab.lab.state(n) != "RUNNING":
            lab.run_lab("start", str(n))


# --- R2 --------------------------------------------------------------------------------------------
def test_r2_kill_the_vip_holder(lab, account, queue):
    victim = vip_holder(lab, list(lab.hosts))
    alive = [n for n in lab.hosts if n != victim]
    sql, amqp = loads(lab, account, queue)
    try:
        with running(sql, amqp):
            killed = time.monotonic()
            ok(lab.run_lab("kill", str(victim)))
            wait_until(lambda: sql.back_after(killed), 120, "SQL through the VIP again", 0.2)
            failover = sql.back_after(killed)
            amqp.wait_acks(20, timeout=120)
            wait_until(lambda: not serving(lab, alive), 180, f"ctrl-{alive} serving without ctrl-{victim}")
            sql.wait_acks(20)
            sql_gap, amqp_gap = sql.longest_gap(killed), amqp.longest_gap(killed)
        restarted = time.monotonic()
        ok(lab.run_lab("start", str(victim)))
        wait_healthy(lab, HEALTHY_WITHIN)
    finally:
        start_all(lab)
    record(lab, "R2", victim=f"ctrl-{victim}", sql_failover=failover, sql_longest_gap=sql_gap,
           amqp_longest_gap=amqp_gap, start_to_green=time.monotonic() - restarted)
    assert failover < 60, f"SQL through the VIP back after {failover:.1f}s"
    assert_nothing_lost(lab, sql, amqp)


# --- R3 --------------------------------------------------------------------------------------------
def isolated_stopped_serving(lab, n: int, vips: list[str]) -> str:
    """Why the cut-off ctrl-<n> still serves, or "" once it serves nothing (read with lxc-attach)."""
    galera = attach(lab, n, "mysql -NBe \"SHOW STATUS LIKE 'wsrep_cluster_status'\"").stdout.split()
    if galera[-1:] == ["Primary"]:
        return "Galera still Primary"
    if not rabbit_paused(lab, n):
        return "RabbitMQ still serving (not paused)"
    quorum = attach(lab, n, "corosync-quorumtool -s | grep -i '^Quorate:'").stdout
    if "Yes" in quorum:
        return "corosync still quorate"
    addresses = attach(lab, n, "ip -o -4 addr show").stdout
    held = [vip for vip in vips if f" {vip}/" in addresses]
    if held:
        return f"still holds {held}"
    if attach(lab, n, "systemctl is-active haproxy").stdout.strip() == "active":
        return "HAProxy still running"
    return ""


def test_r3_isolate_one_controller(lab, account, queue):
    victim = vip_holder(lab, list(lab.hosts))
    alive = [n for n in lab.hosts if n != victim]
    vips = [lab.vip("srv"), lab.vip("api")]
    sql, amqp = loads(lab, account, queue)
    try:
        with running(sql, amqp):
            cut = time.monotonic()
            ok(lab.run_lab("isolate", str(victim)))
            wait_until(lambda: sql.back_after(cut), 120, "SQL through the VIP again", 0.2)
            failover = sql.back_after(cut)
            wait_until(lambda: not serving(lab, alive), 180, f"majority ctrl-{alive} serving")
            wait_until(lambda: not isolated_stopped_serving(lab, victim, vips), 180,
                       f"cut-off ctrl-{victim} serving nothing")
            stopped_serving = time.monotonic() - cut
            sql.wait_acks(20)
            amqp.wait_acks(20, timeout=120)
            healed = time.monotonic()
            ok(lab.run_lab("heal", str(victim)))
            rejoin = wait_healthy(lab, HEALTHY_WITHIN)
            sql_gap, amqp_gap = sql.longest_gap(cut), amqp.longest_gap(cut)
    finally:
        lab.run_lab("heal", str(victim))
    record(lab, "R3", victim=f"ctrl-{victim}", sql_failover=failover, sql_longest_gap=sql_gap,
           amqp_longest_gap=amqp_gap, isolated_stopped_serving_after=stopped_serving,
           heal_to_green=time.monotonic() - healed)
    assert rejoin < HEALTHY_WITHIN
    assert_nothing_lost(lab, sql, amqp)


# --- R3w, R3n -------------------------------------------------------------------------------------
def move_vips_off(lab, n: int) -> None:
    """The VIPs placed on another controller than ctrl-<n> (``crm_resource --move``, then the
    move's constraint cleared: the VIPs stay where they are, as after any failover)."""
    if vip_holder(lab, list(lab.hosts)) != n:
        return
    target = min(m for m in lab.hosts if m != n)
    ok(lab.ssh(n, f"crm_resource --resource {VIP_GROUP} --move --node ctrl-{target}"))
    try:
        wait_until(lambda: vip_holder(lab, list(lab.hosts)) == target, 120, f"VIPs moved to ctrl-{target}")
    finally:
        ok(lab.ssh(n, f"crm_resource --resource {VIP_GROUP} --clear"))
    wait_healthy(lab, HEALTHY_WITHIN)
    assert vip_holder(lab, list(lab.hosts)) == target, "the VIPs went back after the move was cleared"


# Where the silent loss strikes (issue #18): the drill's name, what the cut-off controller holds.
PLACEMENTS = {
    "R3w": "the Galera writer (the first node) and the quorum queue's leader, not the VIPs",
    "R3n": "nothing: not the VIPs, not the Galera writer, no queue leader",
}


@pytest.mark.parametrize("drill", list(PLACEMENTS))
def test_r3_isolate_by_placement(lab, account, drill):
    """One controller cut off from every network while SQL is written through the srv VIP and
    persistent messages are published with confirms through the two other brokers. R3w: it holds
    the Galera writer (HAProxy's active galera backend, the first node) and the quorum queue's
    leader: confirms come back within 10 s (Ra elects a new leader; the Erlang distribution's
    net_ticktime does not matter) and SQL only waits for HAProxy's check and Galera's membership
    change. R3n: it holds nothing the clients use: neither load should notice. Nothing confirmed or
    acknowledged is lost; after the heal the clusters are whole again (times recorded)."""
    wait_healthy(lab, HEALTHY_WITHIN)
    first = 1
    if drill == "R3w":
        victim = first
        move_vips_off(lab, victim)
    else:
        holder = vip_holder(lab, list(lab.hosts))
        victim = max(n for n in lab.hosts if n not in (holder, first))
    leader = victim if drill == "R3w" else min(n for n in lab.hosts if n != victim)
    sql = SqlLoad(lab.vip("srv"), account, max_seconds=600)
    try:
        with amqp_queue(lab, through=leader) as queue, running(sql):
            cut = time.monotonic()
            result = isolate_under_load(lab, victim, queue, leader)
            sql.wait_acks(20)
            sql_gap = sql.longest_gap(cut)
    finally:
        lab.run_lab("heal", str(victim))
    record(lab, drill, victim=f"ctrl-{victim}", holds=PLACEMENTS[drill], amqp_longest_gap=result["amqp_gap"],
           sql_longest_gap=sql_gap, rabbit_paused_after=result["paused_after"], heal_to_whole=result["rejoin"])
    print(f"DRILL load: {sql.summary()}; {result['summary']}")
    print("DRILL heal trace: " + "; ".join(result["rejoin_trace"]))
    assert result["amqp_gap"] < AMQP_FAILOVER_WITHIN, f"no confirm for {result['amqp_gap']:.1f}s ({result['gap_began']})"
    assert result["confirmed"] > 50 and len(sql.acked) > 50, "the load did not run"
    assert result["lost"] == [], f"{len(result['lost'])} confirmed messages lost: {result['lost'][:10]}"
    assert result["partitions"] == {}, f"RabbitMQ partitions after the heal: {result['partitions']}"
    assert sql.missing(lab, list(lab.hosts)) == {}, "acknowledged INSERTs lost"
    wait_healthy(lab, HEALTHY_WITHIN)


# --- R4 --------------------------------------------------------------------------------------------
def recover(lab) -> tuple[dict, float]:
    """deploys/recover.py with every host's process list sampled (issue 11): no secret, no
    MariaDB hash on a command line while it starts MariaDB (IST/SST) and RabbitMQ everywhere."""
    with Sampler(lab.lab) as sampler:
        started = time.monotonic()
        proc = lab.pyinfra(RECOVER, "--json")
        took = time.monotonic() - started
    ok(proc)
    assert leaks(sampler.seen, secret_values()) == []
    print(f"recover.py sampled: {sum(map(len, sampler.seen.values()))} distinct command lines, "
          f"{min(sampler.sweeps.values())} sweeps of /proc per host or more, no secret")
    return json.loads(proc.stdout), took


def test_r4_power_loss_of_every_controller(lab, account, queue):
    sql, amqp = loads(lab, account, queue)
    try:
        with running(sql, amqp):
            sql.wait_acks(300)
            for n in lab.hosts:
                ok(lab.run_lab("kill", str(n)))
        powered = time.monotonic()
        for n in lab.hosts:
            ok(lab.run_lab("start", str(n)))
        results, took = recover(lab)
        to_green = wait_healthy(lab, HEALTHY_WITHIN)
        total = time.monotonic() - powered
    finally:
        start_all(lab)
    record(lab, "R4", recover_deploy=took, recover_changed=sorted(changed_ops(results)),
           power_on_to_green=total, after_deploy_to_green=to_green)
    assert_nothing_lost(lab, sql, amqp)
    assert changes(lab.deploy(PREREQOS)) == {}


def test_r4b_clean_full_stop_bootstraps_from_the_last_node_to_stop(lab, account, queue):
    order = [1, 3, 2]  # ctrl-2 stops last: the most advanced node, and not the first node
    sql, amqp = loads(lab, account, queue)
    try:
        with running(sql, amqp):
            for n in order:
                # A clean shutdown of the host (systemd stops every service), as `lab down` does.
                subprocess.run(["lxc-stop", "-n", lab.lab.container(n), "-t", "120"], check=True)
                if n == order[0]:  # two nodes left: both still serve (one node alone would not)
                    sql.wait_acks(50, timeout=120)
                    amqp.wait_acks(50, timeout=120)
        for n in lab.hosts:
            ok(lab.run_lab("start", str(n)))
        started = time.monotonic()
        refused = lab.pyinfra(PREREQOS)
        output = refused.stdout + refused.stderr
        assert refused.returncode != 0 and "fully stopped" in output and RECOVER in output, output[-3000:]
        results, took = recover(lab)
        to_green = wait_healthy(lab, HEALTHY_WITHIN)
        total = time.monotonic() - started
    finally:
        start_all(lab)
    bootstrapped = [name for name in changed_ops(results) if name.startswith("Bootstrap Galera")]
    record(lab, "R4b", recover_deploy=took, bootstrapped=bootstrapped, start_to_green=total,
           after_deploy_to_green=to_green)
    assert bootstrapped and "(ctrl-2," in bootstrapped[0], changed_ops(results)
    assert_nothing_lost(lab, sql, amqp)
    assert changes(lab.deploy(PREREQOS)) == {}


# --- R5 --------------------------------------------------------------------------------------------
def test_r5_killed_controller_rejoins_unaided(lab, account, queue):
    holder = vip_holder(lab, list(lab.hosts))
    victim = max(n for n in lab.hosts if n != holder)  # the writes keep flowing while it is down
    sql, amqp = loads(lab, account, queue)
    try:
        with running(sql, amqp):
            ok(lab.run_lab("kill", str(victim)))
            sql.wait_acks(100)  # transactions it misses: it must catch up (IST)
            amqp.wait_acks(50)
            ok(lab.run_lab("start", str(victim)))
            to_green = wait_healthy(lab, HEALTHY_WITHIN)
    finally:
        start_all(lab)
    journal = lab.ssh(victim, "journalctl -b -u mariadb --no-pager | grep -E 'Receiving IST|IST received'").stdout
    record(lab, "R5", victim=f"ctrl-{victim}", start_to_green=to_green)
    assert "IST received" in journal, f"ctrl-{victim} did not catch up by IST:\n{journal}"
    assert_nothing_lost(lab, sql, amqp)
    assert health(lab).returncode == 0
