"""Backups that restore (issue 14), drilled on the converged lab with real clients.

One drill, in order (each step needs the previous one): rows written through the srv VIP, a full
backup (the timer's unit started now), more rows, an incremental, more rows, a second
incremental that is then corrupted; a RabbitMQ user and policy deleted, the table dropped
through the VIP. ``deploys/restore.py`` refuses without ``restore_confirm``, refuses the corrupt
backup, then (corrupt one removed) restores the newest good one: every row up
to it is back, the later ones are gone, the user and policy are back, the former data directory
is kept aside, the cluster is 3/3 Synced and healthy, and a deploy afterwards changes nothing.
Every host's process list is sampled throughout (``ps_sampler``): no secret on a command line.
The times are printed (``DRILL B1`` line, pytest ``-s``) and kept in the lab's drills.json.
"""

from __future__ import annotations

import time
import uuid

import pymysql
import pytest

from tests.lab_tests.conftest import ok
from tests.lab_tests.drill_load import TABLE, changes, insert_tokens, sql_account, wait_healthy
from tests.lab_tests.ps_sampler import Sampler, leaks, secret_values
from tests.lab_tests.test_zz_drills import record

pytestmark = pytest.mark.lab

RESTORE = "deploys/restore.py"
PREREQOS = "deploys/prereqos.py"
BACKUP_NODE = 1  # group_data's default: the first node
TIMERS = "prereqos-backup-full.timer prereqos-backup-incremental.timer"
RABBIT_USER, RABBIT_POLICY = "drill-backup-user", "drill-backup-policy"


def stored(lab, account) -> set[str]:
    with pymysql.connect(host=lab.vip("srv"), port=3306, user=account.user, password=account.password,
                         autocommit=True, connect_timeout=5) as db, db.cursor() as cursor:
        cursor.execute(f"SELECT token FROM {TABLE}")
        return {row[0] for row in cursor.fetchall()}


def take(lab, kind: str) -> tuple[float, dict]:
    """The timer's unit started now; (seconds, the new backup of the catalog)."""
    started = time.monotonic()
    ok(lab.ssh(BACKUP_NODE, f"systemctl start prereqos-backup@{kind}.service", timeout=600))
    took = time.monotonic() - started
    newest = max(catalog(lab)["backups"], key=lambda b: b["name"])
    assert newest["kind"] == kind and newest["good"] and newest["rabbitmq"], newest
    return took, newest


def catalog(lab, **args: str) -> dict:
    return lab.fact("facts.backup.BackupCatalog", *(f"{k}={v}" for k, v in args.items()))[f"ctrl-{BACKUP_NODE}"]


def restore(lab, *data: str):
    return lab.pyinfra(RESTORE, *(arg for item in data for arg in ("--data", item)))


def test_backup_and_restore_drill(lab):
    if len(lab.hosts) != 3:
        pytest.skip("the drill expects a lab of 3 controllers")
    wait_healthy(lab, 300)
    # A timer firing in the middle would add a backup on top of the corrupt one.
    ok(lab.ssh(BACKUP_NODE, f"systemctl stop {TIMERS}"))
    try:
        # Every host's process list sampled through the backups and the restores: no secret.
        with sql_account(lab) as account, Sampler(lab.lab) as sampler:
            run(lab, account)
        assert leaks(sampler.seen, secret_values()) == []
        print(f"backups and restore sampled: {sum(map(len, sampler.seen.values()))} distinct command lines, "
              f"{min(sampler.sweeps.values())} sweeps of /proc per host or more, no secret")
    finally:
        lab.ssh(BACKUP_NODE, f"systemctl start {TIMERS}")
        lab.ssh(BACKUP_NODE, f"rabbitmqctl -q delete_user {RABBIT_USER}; "
                             f"rabbitmqctl -q clear_policy {RABBIT_POLICY}")
    assert changes(lab.deploy(PREREQOS)) == {}


def run(lab, account) -> None:
    ok(lab.ssh(BACKUP_NODE, f"rabbitmqctl -q add_user {RABBIT_USER}", input="drill-password\n"))
    ok(lab.ssh(BACKUP_NODE, f"rabbitmqctl -q set_policy {RABBIT_POLICY} '^drill-backup\\.' "
                            "'{\"max-length\": 10}' --apply-to queues"))
    run_id = uuid.uuid4().hex[:8]  # the table may hold an earlier run's rows
    before = [f"{run_id}-before-{i}" for i in range(200)]
    between = [f"{run_id}-between-{i}" for i in range(50)]
    after = [f"{run_id}-after-{i}" for i in range(50)]
    insert_tokens(lab.vip("srv"), account, before)
    full_took, full = take(lab, "full")
    insert_tokens(lab.vip("srv"), account, between)
    inc_took, incremental = take(lab, "incremental")
    insert_tokens(lab.vip("srv"), account, after)
    _, corrupt = take(lab, "incremental")
    assert incremental["from_lsn"] == full["to_lsn"] and corrupt["from_lsn"] == incremental["to_lsn"]
    ok(lab.ssh(BACKUP_NODE, f"rabbitmqctl -q delete_user {RABBIT_USER} && rabbitmqctl -q clear_policy {RABBIT_POLICY}"))
    with pymysql.connect(host=lab.vip("srv"), port=3306, user=account.user, password=account.password,
                         connect_timeout=5) as db, db.cursor() as cursor:
        cursor.execute(f"DROP TABLE {TABLE}")

    unconfirmed = restore(lab)
    output = unconfirmed.stdout + unconfirmed.stderr
    assert unconfirmed.returncode != 0 and "restore_confirm=yes" in output, output[-3000:]
    assert "every MariaDB change committed after it is LOST" in output and corrupt["name"] in output
    path = f"/var/backups/prereqos/{corrupt['chain']}/{corrupt['name']}"
    flip = "import sys; f = open(sys.argv[1], 'r+b'); f.seek(100); b = f.read(1); f.seek(100); f.write(bytes([b[0] ^ 255]))"
    ok(lab.ssh(BACKUP_NODE, f"python3 -c \"{flip}\" {path}/mariadb.xbstream.zst"))  # one byte flipped

    refused = restore(lab, "restore_confirm=yes")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0 and f"backup {corrupt['name']} on ctrl-{BACKUP_NODE} is corrupt" in output, \
        output[-3000:]
    assert lab.ssh(BACKUP_NODE, "systemctl is-active mariadb").stdout.strip() == "active"  # nothing touched

    ok(lab.ssh(BACKUP_NODE, f"rm -rf {path}"))
    started = time.monotonic()
    proc = restore(lab, "restore_confirm=yes")
    restore_took = time.monotonic() - started
    ok(proc)
    assert f"{incremental['name']}" in proc.stdout + proc.stderr
    to_green = wait_healthy(lab, 300)

    rows = stored(lab, account)
    assert set(before + between) <= rows, "rows up to the backup are missing"
    assert not rows & set(after), "rows written after the backup came back"
    for n in lab.hosts:
        wsrep = ok(lab.ssh(n, "mysql -NBe \"SHOW STATUS WHERE Variable_name IN "
                              "('wsrep_cluster_size', 'wsrep_local_state_comment')\""))
        assert dict(line.split("\t") for line in wsrep.splitlines()) == {
            "wsrep_cluster_size": "3", "wsrep_local_state_comment": "Synced"}, wsrep
    users = ok(lab.ssh(BACKUP_NODE, "rabbitmqctl -q list_users --formatter json"))
    policies = ok(lab.ssh(BACKUP_NODE, "rabbitmqctl -q list_policies --formatter json"))
    assert RABBIT_USER in users and RABBIT_POLICY in policies
    aside = ok(lab.ssh(BACKUP_NODE, "ls -d /var/lib/mysql.before-restore-*")).split()
    assert aside, "the former data directory was not kept"
    ok(lab.ssh(BACKUP_NODE, "rm -rf /var/lib/mysql.before-restore-*"))  # the lab's disk
    size = ok(lab.ssh(BACKUP_NODE, f"du -sh /var/backups/prereqos/{full['chain']}/{full['name']}")).split()[0]
    record(lab, "B1", full_backup=full_took, full_size=size, full_bytes=full["bytes"],
           incremental_backup=inc_took, incremental_bytes=incremental["bytes"], restore_deploy=restore_took,
           restore_to_green=to_green)


def test_backup_files_account_and_timers(lab):
    """The option file holding the password is root's 0600, the backups root's 0700; the SQL account
    has mariabackup's privileges only; both timers are scheduled on the backup node only."""
    stat = ok(lab.ssh(BACKUP_NODE, "stat -c '%n %a %U %G' /etc/mysql/prereqos-backup.cnf /var/backups/prereqos"))
    assert stat.split("\n")[:2] == ["/etc/mysql/prereqos-backup.cnf 600 root root", "/var/backups/prereqos 700 root root"]
    grants = ok(lab.ssh(BACKUP_NODE, "mysql -NBe \"SHOW GRANTS FOR 'mariabackup'@'localhost'\""))
    grants = [line.split(" IDENTIFIED")[0] for line in grants.strip().splitlines()]  # no password hash shown
    assert grants == ["GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO `mariabackup`@`localhost`"]
    timers = ok(lab.ssh(BACKUP_NODE, f"systemctl is-enabled {TIMERS}; systemctl is-active {TIMERS}")).split()
    assert timers == ["enabled", "enabled", "active", "active"]
    for n in lab.hosts:
        if n != BACKUP_NODE:
            assert lab.ssh(n, "test -e /etc/mysql/prereqos-backup.cnf || test -e /usr/local/sbin/prereqos-backup").returncode == 1


def chains(lab) -> list[str]:
    return ok(lab.ssh(BACKUP_NODE, "ls /var/backups/prereqos")).split()


def test_retention_by_age_and_count(lab):
    """After a good backup: a chain whose full is older than max_age_days goes, and so does one
    that never got a good full; then only keep_fulls chains stay, the newest."""
    settings = "/etc/default/prereqos-backup"
    old, unfinished = "20200101T000000Z", "20200102T000000Z"
    ok(lab.ssh(BACKUP_NODE, f"cp -p {settings} {settings}.test && "
                            f"mkdir -p /var/backups/prereqos/{old}/{old}-full /var/backups/prereqos/{unfinished} && "
                            f"printf 'kind=full\\nstarted=0\\nfinished=0\\n' > /var/backups/prereqos/{old}/{old}-full/GOOD"))
    try:
        ok(lab.ssh(BACKUP_NODE, f"sed -i 's/^KEEP_FULLS=.*/KEEP_FULLS=100/' {settings} && "
                                "systemctl start prereqos-backup@full.service", timeout=600))
        by_age = chains(lab)
        ok(lab.ssh(BACKUP_NODE, f"sed -i 's/^KEEP_FULLS=.*/KEEP_FULLS=2/' {settings} && "
                                "systemctl start prereqos-backup@full.service", timeout=600))
        by_count = chains(lab)
    finally:
        lab.ssh(BACKUP_NODE, f"mv -f {settings}.test {settings}")  # as the deploy wrote it
    assert old not in by_age and unfinished not in by_age and len(by_age) >= 2, by_age
    assert by_count == sorted(by_age)[-1:] + [max(by_count)] and len(by_count) == 2, (by_age, by_count)
