"""Restore the cluster to a backup of the backup nodes (``deploys/backup.py``): MariaDB from a full
backup and its incrementals, then RabbitMQ's definitions, as its own step. See
docs/operations.md, "Backups and restore".

    pyinfra inventory.py deploys/restore.py                                   # says what, refuses
    pyinfra inventory.py deploys/restore.py --data restore_confirm=yes        # the newest good backup
    pyinfra inventory.py deploys/restore.py --data restore_confirm=yes --data restore_backup=20261201T013000Z-incremental
    pyinfra inventory.py deploys/restore.py --data restore_confirm=yes --data restore_parts=rabbitmq

Decided once, before any change: the backup node (``restore_node``, else the first backup node
with a good backup), the backup (``restore_backup``, else its newest good one) and its chain
(the full, then its incrementals), every file of which must match its checksums. Refused,
nothing changed, on a corrupt or unfinished backup, and without ``restore_confirm=yes`` (the
refusal says which backup and from when: every MariaDB change committed after it is lost).

MariaDB: stopped on the other nodes one at a time, then on the restore node (the last to stop
holds the newest data, as deploys/recover.py would choose it, should the restore fail early);
there ``prereqos-restore`` prepares the chain, moves the data directory aside
(``/var/lib/mysql.before-restore-<stamp>``, never deleted) and moves the backup in; the node
bootstraps a new cluster history (``galera_new_cluster``); the others set their Galera state
aside and rejoin one at a time by SST. RabbitMQ: ``rabbitmqctl import_definitions`` of the
backup (users, vhosts, permissions, policies added or updated; nothing deleted).
"""

from pyinfra import host
from pyinfra.operations import server, systemd

from facts.backup import BackupCatalog
from lib.deploy import prologue
from operations import backup, galera, recovery
from operations.common import decide_once, peer_fact

topo = prologue()
wait = host.data.timeouts["cluster"]


def decide() -> backup.RestorePlan:
    backup.parts_of(host.data)  # a bad restore_parts is refused before anything is read
    catalogs = {name: peer_fact(name, BackupCatalog) for name in backup.nodes(topo, host.data)}
    node, chain, _ = backup.choose(catalogs, host.data)
    plan = backup.plan_restore(node, chain, peer_fact(node, BackupCatalog, verify=chain), host.data)
    recovery.log_report("Restore", [plan.report, f"backups: {', '.join(plan.backups)}"])
    return plan


plan = decide_once("restore", decide)
here = host.name == plan.node

if "mariadb" in plan.parts:
    if not here:
        systemd.service(name="Stop MariaDB on the other nodes, one at a time", service=galera.SERVICE,
                        running=False, _serial=True)
    else:
        systemd.service(name=f"Stop MariaDB on {plan.node}, the last", service=galera.SERVICE,
                        running=False, _serial=True)
        server.shell(name=f"Restore {plan.backups[-1]} on {plan.node} (the former data directory set aside)",
                     commands=[backup.restore_command("mariadb", plan.chain, plan.backups)], _serial=True)
        galera.bootstrap(name=f"Bootstrap the cluster from the restored {plan.node}", timeout=wait, _serial=True)
    if not here:
        server.shell(name="Galera state set aside: rejoin by SST", commands=[backup.set_aside_galera_state_command()])
    galera.join(name="The other nodes rejoin by SST, one at a time, until Synced", timeout=wait, _serial=True)

if "rabbitmq" in plan.parts and here:
    server.shell(name=f"Import RabbitMQ definitions of {plan.backups[-1]}",
                 commands=[backup.restore_command("rabbitmq", plan.chain, plan.backups[-1:])], _serial=True)
