"""No dead end (issue 11): ``--diff`` refused before any output; a second deploy refused while
one runs, the lock released when the holder is killed; a RabbitMQ app left stopped brought back;
a first Galera bootstrap interrupted before any join finished by the next deploy, nothing lost.

Each test ends with the lab healthy (the drills after it and a later run rely on that).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import pytest

from lib.lock import LOCK
from lib.secrets import load as load_secrets
from tests.lab_tests.conftest import PYINFRA, ROOT, ok
from tests.lab_tests.drill_load import wait_healthy, wait_until

pytestmark = pytest.mark.lab


def test_diff_is_refused_by_the_whole_stack_before_any_output(lab):
    proc = lab.pyinfra("deploys/prereqos.py", "--diff")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-2000:]
    assert "--diff is refused" in output
    assert "Starting operation" not in output and "Detected changes" not in output
    leaked = [name for name, secret in load_secrets().items() if secret.unmask() in output]
    assert not leaked, f"the --diff run printed {leaked}"


def lock_is_free(lab) -> bool:
    return lab.ssh(1, f"flock -n {LOCK} true").returncode == 0


def test_a_second_deploy_is_refused_naming_the_holder_and_a_kill_releases_the_lock(lab):
    first = subprocess.Popen([PYINFRA, "tests/lab/inventory.py", "deploys/prereqos.py", "-y"], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                             env=lab.env())
    try:
        wait_until(lambda: not lock_is_free(lab), 300, "the first deploy holds the lock", interval=0.5)
        second = lab.pyinfra("deploys/openrc.py")
        output = second.stdout + second.stderr
        assert second.returncode == 1, output[-2000:]
        assert "Another deploy holds the cluster lock on ctrl-1:" in output
        assert f"pid {first.pid} (from " in output and "running deploys/prereqos.py" in output
        assert "Starting operation" not in output
    finally:
        os.kill(first.pid, signal.SIGKILL)  # a crash: no clean disconnect, no cleanup code
        first.wait(timeout=30)
    started = time.monotonic()
    wait_until(lambda: lock_is_free(lab), 60, "the lock released after kill -9", interval=0.5)
    print(f"\nlock released {time.monotonic() - started:.1f}s after kill -9")
    ok(lab.pyinfra("deploys/openrc.py"))
    assert lock_is_free(lab), "the lock outlived a deploy that ended normally"


def test_rabbitmq_app_left_stopped_or_reset_comes_back_clustered(lab):
    """ctrl-2: ``stop_app`` left behind (still a member); ctrl-3: what a failed ``join_cluster``
    leaves (stopped and reset: standalone). systemd says active on both."""
    ok(lab.ssh(2, "rabbitmqctl -q stop_app"))
    ok(lab.ssh(3, "rabbitmqctl -q stop_app && rabbitmqctl -q reset"))
    assert lab.fact("facts.rabbitmq.RabbitmqAppState") == {"ctrl-1": "running", "ctrl-2": "stopped",
                                                           "ctrl-3": "stopped"}
    ok(lab.pyinfra("deploys/rabbitmq.py"))
    status = lab.fact("facts.rabbitmq.RabbitmqClusterStatus")["ctrl-1"]
    everyone = ["rabbit@ctrl-1", "rabbit@ctrl-2", "rabbit@ctrl-3"]
    assert status["running_nodes"] == everyone and status["disc_nodes"] == everyone
    wait_healthy(lab, 300)


def sql(lab, n: int, statement: str) -> str:
    return ok(lab.ssh(n, f"mysql -NB -e {statement!r}")).strip()


def test_interrupted_first_bootstrap_is_finished_by_the_next_deploy(lab):
    """The state a first deploy leaves when it stops after the first node bootstrapped and before
    any other joined: ctrl-1 alone has cluster state (a row written), ctrl-2 and ctrl-3 hold
    only the package's fresh data directory (no grastate.dat), nothing runs."""
    token = uuid.uuid4().hex
    sql(lab, 1, "CREATE DATABASE IF NOT EXISTS dead_ends; CREATE TABLE IF NOT EXISTS dead_ends.t "
                f"(id INT PRIMARY KEY, v CHAR(32)); REPLACE INTO dead_ends.t VALUES (1, '{token}')")
    for n in (3, 2, 1):  # ctrl-1 last: it alone holds the last state
        ok(lab.ssh(n, "systemctl stop mariadb"))
    for n in (2, 3):  # what the package's postinst leaves (its own command): no cluster state
        ok(lab.ssh(n, "rm -rf /var/lib/mysql/* && TMPDIR= mysql_install_db --rpm --cross-bootstrap "
                      "--user=mysql --disable-log-bin --skip-test-db >/dev/null 2>&1 "
                      "&& test ! -e /var/lib/mysql/grastate.dat"))
    started = time.monotonic()
    proc = lab.pyinfra("deploys/galera.py")
    print(f"\ninterrupted bootstrap finished by deploys/galera.py in {time.monotonic() - started:.0f}s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for n in (1, 2, 3):
        assert sql(lab, n, "SELECT v FROM dead_ends.t WHERE id = 1") == token
        assert sql(lab, n, "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'").split() == ["wsrep_cluster_size", "3"]
    sql(lab, 1, "DROP DATABASE dead_ends")
    wait_healthy(lab, 300)
