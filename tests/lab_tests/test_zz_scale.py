"""Scale-out and removal: a lab of 3 (CI) grows to 5 hosts for this test and shrinks back.

1. The stack is deployed on the first 3 controllers only (``LAB_INVENTORY_HOSTS=3``).
2. ctrl-4 and ctrl-5 are added to the inventory and ``deploys/prereqos.py`` runs again, under
   SQL and AMQP load, while a watcher checks every second that some old controller is quorate:
   the new nodes join RabbitMQ, Galera, corosync and pacemaker; the old nodes' corosync
   membership (a reload), Galera peer list and HAProxy backends follow, and neither MariaDB nor
   corosync restarts on them. Nothing acknowledged is lost; a second run changes nothing.
3. ctrl-4 and ctrl-5 leave by the procedure of docs/operations.md ('Removing a controller'),
   under load too, and the 3 left are healthy with nothing lost.

On a lab of 3, ctrl-4 and ctrl-5 are created fresh here and destroyed at the end; a lab of 5
(``LAB_HOSTS=5``) is used as it is. Alone:
``LAB_ID=7 .venv/bin/python -m pytest tests/lab_tests/test_zz_scale.py -s``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import threading
import time

import pytest

from tests.lab_tests.conftest import LabHandle, changed_ops, ok
from tests.lab_tests.drill_load import (
    AmqpLoad,
    SqlLoad,
    amqp_queue,
    changes,
    facts,
    health,
    running,
    sql_account,
    wait_until,
)

pytestmark = pytest.mark.lab

PREREQOS = "deploys/prereqos.py"
OLD, ALL = [1, 2, 3], [1, 2, 3, 4, 5]


def deploy(lab, hosts: list[int]) -> tuple[dict, float]:
    started = time.monotonic()
    proc = lab.pyinfra(PREREQOS, "--json", LAB_INVENTORY_HOSTS=str(len(hosts)))
    if proc.returncode != 0:  # the whole output, to find the first failing operation
        (lab.lab.state_dir / "scale-deploy.log").write_text(proc.stderr + proc.stdout)
    ok(proc)
    return json.loads(proc.stdout), time.monotonic() - started


def healthy(lab, hosts: list[int]) -> subprocess.CompletedProcess:
    return health(lab, LAB_INVENTORY_HOSTS=str(len(hosts)))


def service_starts(lab, n: int) -> dict[str, str]:
    """When mariadb and corosync last started on ctrl-n (a restart changes it)."""
    return {unit: ok(lab.ssh(n, f"systemctl show -P ExecMainStartTimestampMonotonic {unit}")).strip()
            for unit in ("mariadb", "corosync")}


def galera_size(lab, hosts: list[int]) -> set[int]:
    return {s.get("cluster_size", 0) for s in facts(lab, "facts.galera.WsrepStatus", hosts).values()}


def wait_green(lab, hosts: list[int], timeout: float = 300) -> None:
    last = None

    def green():
        nonlocal last
        last = healthy(lab, hosts)
        return last.returncode == 0

    try:
        wait_until(green, timeout, "health", 2)
    except AssertionError:
        raise AssertionError(f"not healthy on {hosts}:\n{last.stdout if last else ''}") from None


class QuorumWatch:
    """Every second, corosync's quorum as each of ``hosts`` sees it; ``lost`` lists the moments
    when none of them was quorate."""

    def __init__(self, lab, hosts: list[int]):
        self.lab, self.hosts = lab, hosts
        self.samples, self.lost = 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            quorate = [n for n in self.hosts if self.lab.ssh(
                n, "corosync-quorumtool -s | grep -q '^Quorate: *Yes'", timeout=10).returncode == 0]
            self.samples += 1
            if not quorate:
                self.lost.append(time.strftime("%H:%M:%S"))
            self._stop.wait(1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=60)


@pytest.fixture(scope="module")
def five(lab):
    """The lab with 5 hosts: ctrl-4 and ctrl-5 created fresh when the lab has 3 (and destroyed
    afterwards), so that they join as new machines would."""
    grown = len(lab.hosts) < 5
    if grown:
        lab = LabHandle(dataclasses.replace(lab.lab, hosts=5))
        for n in (4, 5):
            ok(lab.run_lab("destroy", str(n)))  # leftovers of an interrupted run: start fresh
        ok(lab.run_lab("up"))
    try:
        with sql_account(lab) as account:
            yield lab, account
    finally:
        if grown and os.environ.get("LAB_KEEP") != "1":
            for n in (4, 5):
                lab.run_lab("destroy", str(n))


def remove(lab, leaving: list[int]) -> None:
    """docs/operations.md, 'Removing a controller': the node leaves each cluster, then the
    inventory; the deploy makes the others follow; pacemaker forgets it."""
    staying = [n for n in ALL if n not in leaving]
    first = staying[0]
    for n in leaving:
        name = f"ctrl-{n}"
        ok(lab.ssh(first, f"crm_attribute --node {name} --name standby --update on"))
        wait_until(lambda: lab.ssh(first, f"crm_mon --output-as=xml | grep -q "
                                          f"'name=\"{name}\".*resources_running=\"0\"'").returncode == 0,
                   120, f"{name} runs no resource")
        ok(lab.ssh(first, f"rabbitmq-queues shrink rabbit@{name}"))
        ok(lab.ssh(n, "systemctl stop rabbitmq-server"))
        ok(lab.ssh(first, f"rabbitmqctl forget_cluster_node rabbit@{name}"))
        ok(lab.ssh(n, "systemctl stop mariadb"))
        ok(lab.ssh(n, "systemctl stop pacemaker corosync"))
        ok(lab.ssh(n, "systemctl disable --quiet mariadb rabbitmq-server corosync pacemaker"))
    # The remaining nodes' last_man_standing lowers expected votes once the window (10 s) passed.
    wait_until(lambda: all(q.get("quorate") and q.get("expected_votes") == len(staying)
                           for q in facts(lab, "facts.corosync.CorosyncQuorum", staying).values()),
               120, "expected votes down to the remaining nodes")
    deploy(lab, staying)
    forget(lab, first, [f"ctrl-{n}" for n in leaving])
    wait_green(lab, staying)


def forget(lab, on: int, names: list[str], settle: float = 15.0, attempts: int = 4) -> None:
    """docs/operations.md step 7: ``crm_node --force --remove``, again while a membership change
    in the next seconds (corosync's links settling after the reload) brings a node back into the
    CIB from the controller's peer cache."""
    listed = names
    for _ in range(attempts):
        for name in listed:
            ok(lab.ssh(on, f"crm_node --force --remove {name}"))
        time.sleep(settle)
        crm = facts(lab, "facts.pacemaker.CrmMon", [on])[f"ctrl-{on}"]
        known = set(crm["nodes"]["online"]) | set(crm["nodes"]["offline"])
        listed = [name for name in names if name in known]
        if not listed:
            return
    raise AssertionError(f"pacemaker still lists {listed} after {attempts} removals")


def test_scale_out_from_3_to_5(five):
    lab, account = five
    if galera_size(lab, ALL) == {5}:
        remove(lab, [4, 5])  # a previous run left 5 members: back to 3 first
    deploy(lab, OLD)
    wait_green(lab, OLD)
    started_before = {n: service_starts(lab, n) for n in OLD}
    with amqp_queue(lab) as queue:
        sql = SqlLoad(lab.vip("srv"), account, max_seconds=3000, max_count=100000, interval=0.05)
        amqp = AmqpLoad([lab.address("srv", n) for n in OLD], queue, max_seconds=3000, max_count=100000,
                        interval=0.05)
        with running(sql, amqp), QuorumWatch(lab, OLD) as watch:
            started = time.monotonic()
            results, took = deploy(lab, ALL)
            wait_green(lab, ALL)
            to_green = time.monotonic() - started
            sql.wait_acks(20)
            (sql_gap, sql_at), (amqp_gap, amqp_at) = sql.gap(started), amqp.gap(started)
        print(f"DRILL scale-out: deploy {took:.1f}s, to green {to_green:.1f}s, SQL longest gap {sql_gap:.1f}s "
              f"at {sql_at}, AMQP longest gap {amqp_gap:.1f}s at {amqp_at}, quorum samples {watch.samples}, "
              f"lost at {watch.lost}")
        print(f"DRILL scale-out changed: {sorted(changed_ops(results))}")
        print(f"DRILL load: {sql.summary()}; {amqp.summary()}")
        assert watch.lost == [] and watch.samples > 10
        assert sql.missing(lab, ALL) == {} and amqp.missing(lab) == set()

    # The old nodes follow without restarting MariaDB or corosync: the peer list Galera reads at
    # its next start, HAProxy backends, corosync membership (by reload).
    addresses = ",".join(lab.address("srv", n) for n in ALL)
    for n in OLD:
        options = ok(lab.ssh(n, "my_print_defaults --mysqld")).split()
        assert f"--wsrep_cluster_address=gcomm://{addresses}" in options, options
        assert service_starts(lab, n) == started_before[n], f"ctrl-{n} restarted mariadb or corosync"
        assert int(ok(lab.ssh(n, "mysql -NBe \"SHOW STATUS LIKE 'wsrep_cluster_size'\"")).split()[1]) == 5
    for name, backends in facts(lab, "facts.haproxy.HaproxyBackends", OLD).items():
        assert sorted(backends["galera_cluster"]["servers"]) == [f"ctrl-{n}" for n in ALL], name
    for name, quorum in facts(lab, "facts.corosync.CorosyncQuorum", ALL).items():
        assert quorum["quorate"] and sorted(m["name"] for m in quorum["members"]) == [f"ctrl-{n}" for n in ALL]
    assert changes(deploy(lab, ALL)[0]) == {}


def test_remove_two_controllers(five):
    lab, account = five
    if galera_size(lab, ALL) != {5}:
        pytest.skip("needs the 5 members of the scale-out test")
    with amqp_queue(lab) as queue:
        sql = SqlLoad(lab.vip("srv"), account, max_seconds=3000, max_count=100000, interval=0.05)
        amqp = AmqpLoad([lab.address("srv", n) for n in OLD], queue, max_seconds=3000, max_count=100000,
                        interval=0.05)
        with running(sql, amqp):
            started = time.monotonic()
            remove(lab, [4, 5])
            took = time.monotonic() - started
            sql.wait_acks(20)
            (sql_gap, sql_at), (amqp_gap, amqp_at) = sql.gap(started), amqp.gap(started)
        print(f"DRILL removal: {took:.1f}s to green on 3, SQL longest gap {sql_gap:.1f}s at {sql_at}, "
              f"AMQP longest gap {amqp_gap:.1f}s at {amqp_at}")
        print(f"DRILL load: {sql.summary()}; {amqp.summary()}")
        assert sql.missing(lab, OLD) == {} and amqp.missing(lab) == set()
    assert galera_size(lab, OLD) == {3}
    for name, quorum in facts(lab, "facts.corosync.CorosyncQuorum", OLD).items():
        assert sorted(m["name"] for m in quorum["members"]) == ["ctrl-1", "ctrl-2", "ctrl-3"], name
    crm = facts(lab, "facts.pacemaker.CrmMon", OLD)["ctrl-1"]
    assert sorted(crm["nodes"]["online"]) == ["ctrl-1", "ctrl-2", "ctrl-3"] and crm["nodes"]["offline"] == []
    assert changes(deploy(lab, OLD)[0]) == {}
