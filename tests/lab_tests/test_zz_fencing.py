"""Fencing on the lab: Debian's fence_ipmilan against the lab's BMCs (tests/lab/bmc.py).

The module turns fencing on with the lab's devices (``Lab.fence_devices``, the lab's BMC password
put in secrets.json the operator's way: ``python -m lib.secrets set``), checks the CIB and the
process lists hold no password and that a re-run changes nothing, drills a frozen controller, a
failed stop (blocked without fencing, fenced with it) and a device that does not answer, then
turns fencing off again: the later lab tests expect no fencing (stonith-enabled=false, no device
in the CIB).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from tests.lab_tests.conftest import ROOT, changed_ops, ok, run_deploy
from tests.lab_tests.drill_load import (
    amqp_queue, facts, health, running, sql_account, wait_healthy, wait_until,
)
from tests.lab_tests.ps_sampler import Sampler, leaks, secret_values
from tests.lab_tests.test_zz_drills import (
    assert_nothing_lost, loads, record, srv_vip_node, start_all, vip_holder,
)

pytestmark = pytest.mark.lab

HA = "deploys/ha.py"
HEALTHY_WITHIN = 300


def fencing_data(lab, devices: dict) -> str:
    return "fencing=" + json.dumps({"devices": devices, "monitor_interval": "60s"})


def store_password(lab) -> str:
    """The lab's BMC password into secrets.json for every device, on stdin (the operator's way)."""
    password = json.loads(lab.lab.bmc_credentials_file.read_text())["password"]
    for node in lab.lab.fence_devices():
        proc = subprocess.run([sys.executable, "-m", "lib.secrets", "set", f"fence_{node}_1"], input=password,
                              text=True, capture_output=True, cwd=ROOT, env=lab.env())
        assert proc.returncode == 0 and password not in proc.stdout + proc.stderr, proc.stderr
    return password


def cib_properties(lab) -> str:
    return ok(lab.ssh(1, "cibadmin --query --scope crm_config"))


# --- F2: a stop that fails --------------------------------------------------------------------
DRILL_UNIT = "prereqos-drill-stop"
HANG_FLAG = "/run/prereqos-drill-stop-hangs"  # tmpfs: gone after the node's reboot
DRILL_RESOURCE = "drill-stop"
# Runs for ever; its stop hangs (past the resource's stop timeout) where HANG_FLAG exists.
UNIT = f"""[Unit]
Description=prereqos fencing drill: a service whose stop can hang
[Service]
ExecStart=/bin/sleep infinity
ExecStop=/bin/sh -c 'if [ -e {HANG_FLAG} ]; then sleep 600; fi; kill $MAINPID'
TimeoutStopSec=660
"""
PRIMITIVE = (f'<primitive id="{DRILL_RESOURCE}" class="systemd" type="{DRILL_UNIT}"><operations>'
             f'<op id="{DRILL_RESOURCE}-monitor" name="monitor" interval="10s" timeout="20s"/>'
             f'<op id="{DRILL_RESOURCE}-stop" name="stop" interval="0s" timeout="10s"/></operations></primitive>')


def drill_resource_node(lab) -> str:
    out = lab.ssh(1, f"crm_resource --resource {DRILL_RESOURCE} --locate").stdout
    return out.split("running on:")[-1].strip() if "running on:" in out else ""


@pytest.fixture
def stop_drill(lab):
    """A systemd resource whose stop hangs on demand, on every controller; removed afterwards."""
    for n in lab.hosts:
        ok(lab.ssh(n, f"cat > /etc/systemd/system/{DRILL_UNIT}.service && systemctl daemon-reload", input=UNIT))
    ok(lab.ssh(1, f"cibadmin --create --scope resources --xml-text '{PRIMITIVE}'"))
    wait_until(lambda: drill_resource_node(lab), 60, f"{DRILL_RESOURCE} started", 1)
    yield
    start_all(lab)
    ok(lab.ssh(1, f"crm_resource --resource {DRILL_RESOURCE} --set-parameter target-role --meta "
                  f"--parameter-value Stopped"))
    for n in lab.hosts:  # a hung stop still runs where it failed
        lab.ssh(n, f"rm -f {HANG_FLAG}; systemctl kill --signal=KILL {DRILL_UNIT}; systemctl reset-failed {DRILL_UNIT}")
    lab.ssh(1, f"crm_resource --resource {DRILL_RESOURCE} --clear; crm_resource --cleanup --resource {DRILL_RESOURCE}")
    wait_until(lambda: not drill_resource_node(lab), 60, f"{DRILL_RESOURCE} stopped", 1)
    ok(lab.ssh(1, f"cibadmin --delete --xml-text '<primitive id=\"{DRILL_RESOURCE}\"/>'"))
    for n in lab.hosts:
        lab.ssh(n, f"rm -f /etc/systemd/system/{DRILL_UNIT}.service && systemctl daemon-reload")


def hang_and_move(lab) -> tuple[int, float]:
    """Make the drill resource's stop hang where it runs, then ask it elsewhere: (that node, when)."""
    node = drill_resource_node(lab)
    n = int(node.rsplit("-", 1)[1])
    ok(lab.ssh(n, f"touch {HANG_FLAG}"))
    asked = time.monotonic()
    ok(lab.ssh(1 if n != 1 else 2, f"crm_resource --resource {DRILL_RESOURCE} --ban --node {node}"))
    return n, asked


def test_f2a_failed_stop_blocks_without_fencing(lab, stop_drill):
    """Fencing off (the seed's way): the failed stop leaves the resource blocked where it was."""
    assert 'name="stonith-enabled" value="false"' in cib_properties(lab)
    n, asked = hang_and_move(lab)
    status = wait_until(lambda: "blocked" in (out := lab.ssh(1, "crm_mon -1").stdout) and out, 90,
                        f"{DRILL_RESOURCE} blocked", 1)
    record(lab, "F2a", node=f"ctrl-{n}", blocked_after=time.monotonic() - asked)
    assert f"{DRILL_RESOURCE}" in status and f"ctrl-{n}" in status
    assert lab.lab.state(n) == "RUNNING"  # nobody fenced it: the resource stays stuck


# --- Fencing on --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fenced(lab):
    """Fencing on (deploys/ha.py with the lab's devices), watched by the ps sampler; off again after."""
    if len(lab.hosts) != 3:
        pytest.skip("the fencing drills expect a lab of 3 controllers")
    wait_healthy(lab, HEALTHY_WITHIN)
    password = store_password(lab)
    data = fencing_data(lab, lab.lab.fence_devices())
    with Sampler(lab.lab) as sampler:
        results, output = run_deploy(lab, HA, "--data", data)
        assert password not in output
        yield password, sampler
        # The drills' fence actions ran under it too (a fenced host's sampler ends with its power).
        assert leaks(sampler.seen, secret_values()) == []
    start_all(lab)
    results, output = run_deploy(lab, HA)
    changed = changed_ops(results)
    assert any("removed" in name for name in changed), changed
    assert 'name="stonith-enabled" value="false"' in cib_properties(lab)
    assert "stonith" not in ok(lab.ssh(1, "cibadmin --query --scope resources"))
    assert ok(lab.ssh(2, "test -e /etc/prereqos/fence && echo present || echo absent")).strip() == "absent"
    wait_healthy(lab, HEALTHY_WITHIN)


def test_devices_configured_without_password_anywhere(lab, fenced):
    password, sampler = fenced
    assert 'name="stonith-enabled" value="true"' in cib_properties(lab)
    cib = ok(lab.ssh(1, "cibadmin -Q"))
    assert password not in cib
    for n in lab.hosts:
        assert f'id="fence-ctrl-{n}-1-not-on-ctrl-{n}"' in cib
    # The BMC answers Debian's real agent from a controller (ctrl-1 asks ctrl-2's BMC).
    status = ok(lab.ssh(1, f"fence_ipmilan --ip {lab.lab.gateway('srv')} --ipport {lab.lab.bmc_port(2)} "
                           f"--username fence --lanplus --ipmitool-path /usr/local/sbin/prereqos-fence-ipmitool "
                           f"-o status"))
    assert "Status: ON" in status
    registered = ok(lab.ssh(1, "stonith_admin --list-registered"))
    assert all(f"fence-ctrl-{n}-1" in registered for n in lab.hosts if n != 1)
    results, output = run_deploy(lab, HA, "--data", fencing_data(lab, lab.lab.fence_devices()))
    assert changed_ops(results) == {}
    assert password not in output
    seen = sampler.seen
    assert leaks(seen, secret_values()) == []
    assert any("ipmitool" in line for lines in seen.values() for line in lines), "no fence agent ran while sampled"


def vips_after_fencing(lab, alive: list[int], victim: int) -> int | None:
    """Where pacemaker runs the VIPs once it has dealt with the fenced ``victim``: a survivor, or
    the victim itself when it was back in the cluster before they were placed (a lab container
    reboots in seconds: seen once in CI, the fenced node rejoined 0.2 s after its fencing returned
    and the scheduler started the VIPs there); None while they still show on the unclean victim."""
    for status in facts(lab, "facts.pacemaker.CrmMon", alive).values():
        if holder := srv_vip_node(status):
            return holder if holder in alive or f"ctrl-{victim}" in status["nodes"]["online"] else None
    return None


def test_frozen_controller_is_fenced_and_rejoins(lab, fenced):
    """A hung controller (lxc-freeze: alive, silent) is powered off through its BMC by the others;
    SQL moves to a survivor's database, nothing acknowledged is lost, it boots and rejoins, and the
    VIPs, once placed, do not move again (no second outage)."""
    victim = vip_holder(lab, list(lab.hosts))
    alive = [n for n in lab.hosts if n != victim]
    with sql_account(lab) as account, amqp_queue(lab) as queue:
        sql, amqp = loads(lab, account, queue)
        try:
            with running(sql, amqp):
                sql.wait_acks(20)
                frozen = time.monotonic()
                ok(subprocess.run(["lxc-freeze", "-n", lab.lab.container(victim)], text=True, capture_output=True))
                wait_until(lambda: lab.lab.state(victim) != "FROZEN", 120, f"ctrl-{victim} fenced", 0.2)
                fenced_after = time.monotonic() - frozen
                wait_until(lambda: sql.back_after(frozen), 120, "SQL through the VIP again", 0.2)
                failover = sql.back_after(frozen)
                with sql.connect() as db, db.cursor() as cursor:  # the writer HAProxy sends SQL to
                    cursor.execute("SELECT @@wsrep_node_name")
                    writer = cursor.fetchone()[0]
                if writer == f"ctrl-{victim}":
                    # Only a rebooted victim may write again (a container boots in seconds; seen in a
                    # rehearsal): its MariaDB started after the freeze (both clocks: the kernel's
                    # CLOCK_MONOTONIC, shared by the containers).
                    started = ok(lab.ssh(victim, "systemctl show -P ActiveEnterTimestampMonotonic mariadb"))
                    assert int(started) / 1e6 > frozen, f"SQL still on the frozen ctrl-{victim}'s database"
                # SQL may answer before pacemaker shows the fenced node's VIPs stopped: wait for the move.
                placed = wait_until(lambda: vips_after_fencing(lab, alive, victim), 120, "the VIPs placed again", 0.5)
                amqp.wait_acks(20, timeout=120)
                sql.wait_acks(20)
            green = wait_healthy(lab, HEALTHY_WITHIN)
        finally:
            if lab.lab.state(victim) == "FROZEN":
                subprocess.run(["lxc-unfreeze", "-n", lab.lab.container(victim)], check=False)
            start_all(lab)
        history = ok(lab.ssh(alive[0], f"stonith_admin --history ctrl-{victim}"))
        record(lab, "F1", victim=f"ctrl-{victim}", fenced_after=fenced_after, sql_failover=failover,
               back_to_green=time.monotonic() - frozen, green_wait=green,
               vips_on="a survivor" if placed in alive else "the fenced node, back before they were placed",
               sql_writer="a survivor" if writer != f"ctrl-{victim}" else "the fenced node, rebooted and back")
        assert f"ctrl-{victim}" in history and "successful" in history.lower(), history
        # Back and green, the VIPs stay where they were placed (pacemaker['vip_stickiness']): a
        # fenced node back does not take them from a survivor.
        assert vip_holder(lab, list(lab.hosts)) == placed, "the VIPs moved again"
        assert_nothing_lost(lab, sql, amqp)


def test_f2b_failed_stop_is_fenced(lab, fenced, stop_drill):
    """Fencing on: the node whose stop failed is fenced, and the resource starts elsewhere."""
    node = drill_resource_node(lab)
    n, asker = int(node.rsplit("-", 1)[1]), 1 if node != "ctrl-1" else 2

    def fencings() -> int:  # of that node, every one the cluster remembers (earlier drills' too)
        return lab.ssh(asker, f"stonith_admin --history {node} --verbose").stdout.count(f"reboot of {node} successful")

    before = fencings()
    n, asked = hang_and_move(lab)
    wait_until(lambda: fencings() > before, 120, f"{node} fenced", 0.5)
    fenced_after = time.monotonic() - asked
    elsewhere = wait_until(lambda: (node := drill_resource_node(lab)) and node != f"ctrl-{n}" and node, 120,
                           f"{DRILL_RESOURCE} started elsewhere", 1)
    moved_after = time.monotonic() - asked
    green = wait_healthy(lab, HEALTHY_WITHIN)
    record(lab, "F2b", node=f"ctrl-{n}", fenced_after=fenced_after, resource_elsewhere_after=moved_after,
           back_to_green=time.monotonic() - asked, green_wait=green)
    assert elsewhere != f"ctrl-{n}"


# --- F3: a fence device that does not answer -----------------------------------------------------
def fencing_events(lab, asker: int, target: str) -> list[str]:
    """The status of every fencing of ``target`` the cluster remembers (newest first), as the
    health report's fact reads them (``success``, ``failed``, ``pending``)."""
    out = lab.ssh(asker, f"stonith_admin --history {target} --verbose --output-as=xml").stdout
    return re.findall(r'<fence_event [^>]*status="(\w+)"', out)


def test_f3_unreachable_device_waits_for_the_operator(lab, fenced):
    """The frozen VIP holder's BMC does not answer (the lab's power controller stopped): the
    survivors try to fence it, fail, and wait: nobody powers it off, its VIPs are not taken over,
    the health report names the failed fencing. The operator's path (docs section 21): power it off
    by hand, ``stonith_admin --confirm``; then the VIPs and the writer move, nothing acknowledged is
    lost; the BMCs back, the devices cleaned up, the node powered on: green."""
    victim = vip_holder(lab, list(lab.hosts))
    alive = [n for n in lab.hosts if n != victim]
    target = f"ctrl-{victim}"
    with sql_account(lab) as account, amqp_queue(lab) as queue:
        sql, amqp = loads(lab, account, queue, 420)
        try:
            with running(sql, amqp):
                sql.wait_acks(20)
                before = fencing_events(lab, alive[0], target)
                lab.lab.stop_bmc()  # every device of the lab unreachable
                frozen = time.monotonic()
                ok(subprocess.run(["lxc-freeze", "-n", lab.lab.container(victim)], text=True, capture_output=True))
                wait_until(lambda: fencing_events(lab, alive[0], target).count("failed") > before.count("failed"),
                           300, f"a failed fencing of {target}", 1)
                failed_after = time.monotonic() - frozen
                # The cluster waits: the node keeps its power, nothing is taken over.
                assert lab.lab.state(victim) == "FROZEN"
                assert sql.back_after(frozen) is None, "SQL through the VIP answered before the node was confirmed off"
                report = health(lab, LAB_ALLOW_STOPPED="1")
                assert report.returncode != 0 and f"of {target}" in report.stdout, report.stdout
                # The operator checks the machine, powers it off by hand, then tells the cluster.
                ok(subprocess.run(["lxc-stop", "-k", "-n", lab.lab.container(victim)], text=True, capture_output=True))
                confirmed = time.monotonic()
                ok(lab.ssh(alive[0], f"stonith_admin --confirm {target}"))
                # Lab 5 once acknowledged an INSERT in flight through the frozen node while lxc-stop
                # killed it (before the confirm, the VIPs still there): count from the confirm.
                def acked_since_confirm() -> list[float]:
                    return [end for _, end, acked in sql.records if acked and end > confirmed]

                wait_until(acked_since_confirm, 120, "SQL through the VIP again", 0.2)
                sql_after_confirm = acked_since_confirm()[0] - confirmed
                wait_until(lambda: vip_holder(lab, alive) in alive, 120, "the VIPs on a survivor", 0.5)
                amqp.wait_acks(20, timeout=120)
                sql.wait_acks(20)
        finally:
            if lab.lab.state(victim) == "FROZEN":  # failed before the operator's step: take it (never thaw
                # a node the others may have written off: it would come back partitioned)
                subprocess.run(["lxc-stop", "-k", "-n", lab.lab.container(victim)], check=False)
                lab.ssh(alive[0], f"stonith_admin --confirm {target}")
            lab.lab.ensure_bmc()
            for n in lab.hosts:  # the devices' failed status checks, forgotten once the BMCs answer
                lab.ssh(alive[0], f"crm_resource --cleanup --resource fence-ctrl-{n}-1")
        powered_on = time.monotonic()
        start_all(lab)
        green = wait_healthy(lab, HEALTHY_WITHIN)
        record(lab, "F3", victim=target, failed_fencing_after=failed_after, sql_after_confirm=sql_after_confirm,
               power_on_to_green=time.monotonic() - powered_on, green_wait=green)
        assert_nothing_lost(lab, sql, amqp)
