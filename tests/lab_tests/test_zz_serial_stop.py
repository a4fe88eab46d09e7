"""A one-node-at-a-time step that fails stops there (lib/serial_stop.py), on the lab.

The MariaDB rolling restart (``galera.apply_config``, ``_serial=True``) is made to fail: every
node gets a unit drop-in whose ``ExecStartPre`` refuses the start, and galera.cnf newer than its
server, so every node is due for a restart and every restart would fail. (An unknown option in a
MariaDB config file is no good fault here: mariadbd rejects it only after its IST, with an abort
that systemd's ``Restart=on-abort`` retries, so the node comes back by itself once it is gone.) pyinfra's serial
order is its own (not the inventory's): whichever node it restarts first must be the only one,
the run must end with the message naming it and the untouched nodes, the other nodes' MariaDB
must not have restarted (start times unchanged) and SQL through the srv VIP and AMQP must keep
working during the whole run, losing nothing. Then the fault is removed and the deploy run
again: it starts the failed node (a join) and changes nothing else.
"""

from __future__ import annotations

import time

import pytest

from tests.lab_tests.conftest import ok, run_deploy
from tests.lab_tests.drill_load import (
    AmqpLoad,
    SqlLoad,
    amqp_queue,
    brokers,
    changes,
    running,
    sql_account,
    wait_healthy,
)

pytestmark = pytest.mark.lab

DEPLOY = "deploys/galera.py"
CONFIG = "/etc/mysql/mariadb.conf.d/99-galera.cnf"
FAULT = "/etc/systemd/system/mariadb.service.d/zz-serial-stop-fault.conf"
REFUSE = "[Service]\\nExecStartPre=/bin/sh -c 'echo serial-stop test: start refused; exit 1'\\n"
STEP = "Restart where galera.cnf changed, one node at a time, until Synced"


def started_at(lab, n: int) -> str:
    """MariaDB's last start on ctrl-<n> (monotonic µs; a restart changes it) and its state."""
    return ok(lab.ssh(n, "systemctl show -P ActiveEnterTimestampMonotonic mariadb; "
                         "systemctl is-active mariadb || true")).replace("\n", " ").strip()


def test_a_failed_mariadb_restart_leaves_the_other_nodes_untouched(lab):
    if len(lab.hosts) < 3:
        pytest.skip("needs a lab of 3 controllers or more")
    wait_healthy(lab, 300)
    began = time.monotonic()
    mtimes = {n: ok(lab.ssh(n, f"stat -c %Y {CONFIG}")).strip() for n in lab.hosts}
    before = {n: started_at(lab, n) for n in lab.hosts}
    with sql_account(lab) as account, amqp_queue(lab) as queue:
        sql, amqp = SqlLoad(lab.vip("srv"), account, max_seconds=300), AmqpLoad(brokers(lab), queue, max_seconds=300)
        try:
            for n in lab.hosts:
                ok(lab.ssh(n, f"mkdir -p {FAULT.rsplit('/', 1)[0]}; printf \"{REFUSE}\" > {FAULT}; "
                              f"systemctl daemon-reload; touch {CONFIG}"))
            with running(sql, amqp):
                deployed = time.monotonic()
                proc = lab.pyinfra(DEPLOY)
                failed_at = time.monotonic()
                sql.wait_acks(20, timeout=60)
                amqp.wait_acks(20, timeout=60)
            after = {n: started_at(lab, n) for n in lab.hosts}
        finally:
            for n in lab.hosts:  # the fault gone, galera.cnf as old as it was: nothing stale
                lab.ssh(n, f"rm -f {FAULT}; systemctl daemon-reload; touch -d @{mtimes[n]} {CONFIG}")
            rerun, _ = run_deploy(lab, DEPLOY)  # starts the failed node again
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0, output[-3000:]
        restarted = [n for n in lab.hosts if after[n] != before[n]]
        assert len(restarted) == 1, f"before {before}, after {after}\n{output[-3000:]}"
        failed = restarted[0]
        assert not after[failed].endswith(" active"), after[failed]
        untouched = [n for n in lab.hosts if n != failed]
        assert f'step "{STEP}" stopped at ctrl-{failed}: it failed' in output, output[-3000:]
        assert f"untouched (not run): {', '.join(f'ctrl-{n}' for n in untouched)}" in output, output[-3000:]
        print(f"SERIAL-STOP: deploy failed after {failed_at - deployed:.1f}s at ctrl-{failed}; "
              f"SQL gap {sql.longest_gap(deployed):.1f}s, AMQP gap {amqp.longest_gap(deployed):.1f}s; "
              f"{sql.summary()}; {amqp.summary()}")
        # Through the whole run only the failed node's own stop interrupts SQL, until HAProxy
        # moves the writer (~3 s checks; 16 s seen with the machine at load 90): never two nodes.
        assert sql.longest_gap(deployed) < 30 and amqp.longest_gap(deployed) < 30
        assert amqp.missing(lab) == set()
        # Fault removed, run again: only the failed node starts (joins); nothing else changes.
        assert changes(rerun) == {"Start stopped members, one at a time, until Synced": [f"ctrl-{failed}"]}
        assert sql.missing(lab, list(lab.hosts)) == {}
    assert {n: started_at(lab, n) for n in untouched} == {n: before[n] for n in untouched}
    wait_healthy(lab, 300)
    print(f"SERIAL-STOP: test {time.monotonic() - began:.1f}s")
