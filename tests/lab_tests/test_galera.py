"""MariaDB + Galera on the lab: three Synced members of one Primary component, a row written on
ctrl-1 read on ctrl-2 and ctrl-3, the :9200 check (200 Synced, 503 not, closed to other
addresses), a stopped member rejoined by the deploy, a fully stopped cluster refused (never
re-bootstrapped), idempotence and no secret in the output.

SQL goes through a real client: PyMySQL from the machine to each node's srv address, with a
throwaway account created for the test and dropped after it.
"""

from __future__ import annotations

import secrets as random
import subprocess
import time
import uuid

import pymysql
import pytest

from lib.secrets import load as load_secrets
from tests.lab_tests.conftest import assert_quiet_rerun, changed_ops, galera_check, ok, run_deploy

pytestmark = pytest.mark.lab

DEPLOY = "deploys/galera.py"
STATUS = "facts.galera.WsrepStatus"


def names(lab) -> list[str]:
    return [f"ctrl-{n}" for n in lab.hosts]


def all_synced(lab, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = lab.fact(STATUS)
        synced = [h for h, s in status.items()
                  if s.get("local_state_comment") == "Synced" and s.get("cluster_size") == len(lab.hosts)]
        if sorted(synced) == names(lab):
            return status
        assert time.monotonic() < deadline, f"not every node Synced in a {len(lab.hosts)}-node cluster: {status}"
        time.sleep(3)


def restart_stopped_lab_cluster(lab) -> None:
    """Stopping the lab's hosts stops the whole cluster, which the deploy rightly refuses to
    bootstrap. Until deploys/recover.py exists, do what Debian documents: galera_new_cluster on
    the one node whose grastate.dat says safe_to_bootstrap (the last to leave)."""
    if any(lab.fact(STATUS).values()):
        return
    grastate = lab.fact("facts.galera.GraState")
    if not any(g.get("uuid") for g in grastate.values()):
        return  # no cluster yet: the deploy creates it
    safe = [h for h, g in grastate.items() if g.get("safe_to_bootstrap")]
    assert len(safe) == 1, f"no single node safe to bootstrap: {grastate}; recreate the lab (LAB_FRESH=1)"
    print(f"lab cluster fully stopped: galera_new_cluster on {safe[0]} (safe_to_bootstrap)")
    ok(lab.ssh(int(safe[0].rsplit("-", 1)[1]), "galera_new_cluster"))


@pytest.fixture(scope="module")
def converged(lab):
    """The deploy converged on the lab (a no-op when it already was)."""
    restart_stopped_lab_cluster(lab)
    started = time.monotonic()
    results, _ = run_deploy(lab, DEPLOY)
    print(f"galera deploy: {time.monotonic() - started:.1f}s, changed: {sorted(changed_ops(results))}")
    return lab


@pytest.fixture
def sql_account(converged):
    """A throwaway SQL account for the machine (the srv bridge address), dropped afterwards."""
    user, password = f"labtest_{uuid.uuid4().hex[:8]}", random.token_hex(16)
    machine = converged.address("srv", 1).rsplit(".", 1)[0] + ".1"
    create = (f"CREATE USER '{user}'@'{machine}' IDENTIFIED BY '{password}'; "
              f"GRANT ALL ON prereqos_labtest.* TO '{user}'@'{machine}';")
    ok(converged.ssh(1, "mysql", input=create))  # the password on stdin, never on a command line
    yield user, password
    converged.ssh(1, f"mysql -e \"DROP DATABASE IF EXISTS prereqos_labtest; DROP USER '{user}'@'{machine}'\"")


def connect(lab, n: int, user: str, password: str) -> pymysql.Connection:
    return pymysql.connect(host=lab.address("srv", n), port=3306, user=user, password=password,
                           connect_timeout=10, autocommit=True)


def test_three_synced_members_of_one_primary_component(converged):
    status = all_synced(converged)
    uuids = {s["cluster_state_uuid"] for s in status.values()}
    assert len(uuids) == 1 and "" not in uuids
    for host, s in status.items():
        assert s["cluster_status"] == "Primary" and s["local_state"] == 4, (host, s)
        assert s["ready"] and s["connected"] and s["node_name"] == host, (host, s)
    sizes = converged.fact("facts.galera.WsrepClusterSize")
    assert sizes == {host: len(converged.hosts) for host in names(converged)}  # the seed's check
    for host, grastate in converged.fact("facts.galera.GraState").items():
        assert grastate["uuid"] in uuids and grastate["seqno"] == -1, (host, grastate)  # running


def test_a_row_written_on_ctrl1_is_read_everywhere(converged, sql_account):
    user, password = sql_account
    value = f"written on ctrl-1 {uuid.uuid4()}"
    with connect(converged, 1, user, password) as db, db.cursor() as cursor:
        cursor.execute("CREATE DATABASE IF NOT EXISTS prereqos_labtest")
        cursor.execute("CREATE TABLE IF NOT EXISTS prereqos_labtest.t (id INT PRIMARY KEY AUTO_INCREMENT, v TEXT)")
        cursor.execute("INSERT INTO prereqos_labtest.t (v) VALUES (%s)", (value,))
    for n in converged.hosts[1:]:
        with connect(converged, n, user, password) as db, db.cursor() as cursor:
            cursor.execute("SET SESSION wsrep_sync_wait = 1")  # read after every replicated write
            cursor.execute("SELECT v FROM prereqos_labtest.t WHERE v = %s", (value,))
            assert cursor.fetchall() == ((value,),), f"ctrl-{n}"


def test_mariadb_listens_on_srv_only_and_root_is_local(converged):
    password = load_secrets()["galera_root_password"].unmask()
    for n in converged.hosts:
        listening = ok(converged.ssh(n, "ss -Hltnp '( sport = :3306 or sport = :4567 or sport = :9200 )'"))
        # HAProxy binds the srv VIP's 3306 too (full stack): only MariaDB's own sockets count here.
        local = sorted(line.split()[3] for line in listening.splitlines() if '"haproxy"' not in line)
        srv = converged.address("srv", n)
        assert local == sorted([f"{srv}:3306", f"{srv}:4567", f"{srv}:9200"]), local
        assert [line for line in listening.splitlines() if f"{srv}:9200" in line and '"galera-checkd"' in line], listening
        modes = ok(converged.ssh(n, "stat -c '%n %a %U:%G' /etc/mysql/debian.cnf "
                                    "/etc/mysql/mariadb.conf.d/99-galera.cnf /etc/mysql/galera-check.cnf"))
        assert modes.split("\n")[:3] == [
            "/etc/mysql/debian.cnf 600 root:root",
            "/etc/mysql/mariadb.conf.d/99-galera.cnf 640 root:mysql",
            "/etc/mysql/galera-check.cnf 600 clustercheck:clustercheck",
        ]
    with pytest.raises(pymysql.err.OperationalError):  # no root over the network
        pymysql.connect(host=converged.address("srv", 1), user="root", password=password, connect_timeout=10)
    # root with its password through the local socket, as another OS user (no unix_socket match)
    # (the password goes through stdin into a file 0600 from creation, never on a command line)
    command = ("umask 077 && d=$(mktemp -d) && cat > \"$d/client.cnf\" && chown -R nobody \"$d\" && "
               "runuser -u nobody -- mysql --defaults-extra-file=\"$d/client.cnf\" -uroot -NBe 'SELECT CURRENT_USER()'; "
               "rc=$?; rm -rf \"$d\"; exit $rc")
    out = subprocess.run(converged.lab.ssh_command(1) + [command], input=f"[client]\npassword={password}\n",
                         text=True, capture_output=True, timeout=60)
    assert out.stdout.strip() == "root@localhost", out.stderr


def test_check_200_when_synced_503_when_not_and_closed_to_others(converged):
    lab = converged
    for n in lab.hosts:
        galera_check(lab, n, "HTTP/1.1 200 OK", from_n=2)
    # The machine is no controller: IPAddressDeny=any drops its connection (its ssh still works).
    curl = subprocess.run(["curl", "-s", "--max-time", "5", f"http://{lab.address('srv', 1)}:9200/"],
                          capture_output=True, text=True)
    assert curl.returncode != 0 and curl.stdout == "", curl
    last = lab.hosts[-1]
    try:
        ok(lab.ssh(last, "systemctl stop mariadb"))
        answer = galera_check(lab, last, "HTTP/1.1 503 Service Unavailable")
        assert "not Synced" in answer, answer
        # The deploy starts the stopped member, and only it.
        results, _ = run_deploy(lab, DEPLOY)
        assert changed_ops(results) == {"Start stopped members, one at a time, until Synced": [f"ctrl-{last}"]}
    finally:
        lab.ssh(last, "systemctl start mariadb")
    all_synced(lab)
    galera_check(lab, last, "HTTP/1.1 200 OK")


def test_fully_stopped_cluster_is_never_rebootstrapped(converged):
    lab = converged
    try:
        for n in reversed(lab.hosts):  # ctrl-1 stops last: it is the one safe to bootstrap
            ok(lab.ssh(n, "systemctl stop mariadb"))
        grastate = lab.fact("facts.galera.GraState")
        assert [h for h, g in grastate.items() if g["safe_to_bootstrap"]] == ["ctrl-1"], grastate
        proc = lab.pyinfra(DEPLOY)
        assert proc.returncode != 0
        output = proc.stdout + proc.stderr
        assert "the existing cluster is fully stopped" in output and "deploys/recover.py" in output, output[-2000:]
        assert lab.fact(STATUS) == {h: {} for h in names(lab)}  # nothing was started
    finally:
        # Recovery by hand (Debian's procedure): bootstrap the node that is safe to bootstrap.
        ok(lab.ssh(1, "systemctl is-active -q mariadb || galera_new_cluster"))
    results, _ = run_deploy(lab, DEPLOY)
    joined = changed_ops(results)["Start stopped members, one at a time, until Synced"]
    assert sorted(joined) == names(lab)[1:]
    all_synced(lab)


def test_second_run_changes_nothing_and_prints_no_secret(converged):
    assert_quiet_rerun(converged, DEPLOY, "authentication_string")
