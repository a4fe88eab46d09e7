"""Scheduled backups on the backup nodes (group_data ``backup["nodes"]``, firstnode by default):
MariaDB with mariabackup (full on ``full_schedule``, incrementals on ``incremental_schedule``,
zstd), RabbitMQ's definitions with each, each backup verified and marked GOOD, retention by
count and age, one run at a time (flock). See docs/operations.md, "Backups and restore".

    pyinfra inventory.py deploys/backup.py
    systemctl start prereqos-backup@full.service        # on a backup node: a full backup now

The SQL account (``backup["sql_user"]``, password ``galera_backup_password`` of secrets.json) is
created on the first node (it replicates) with only what mariabackup needs; mariabackup gets it
from a 0600 option file. A controller that is no longer a backup node loses its timers and
scripts, never its backups.
"""

from pyinfra import host
from pyinfra.operations import mysql, systemd
from pyinfra.operations.util import any_changed

from facts.backup import SETTINGS
from lib.deploy import prologue
from lib.steps import limit
from operations import backup, galera, steady

topo = prologue()
conf = host.data.backup
args = backup.template_args(topo, host.data)

if topo.is_first:  # replicates to every node
    galera.account(name="Backup SQL account", user=conf["sql_user"],
                   password=host.data.secrets["galera_backup_password"])
    mysql.privileges(name="Backup SQL account privileges (mariabackup's only)", user=conf["sql_user"],
                     privileges=galera.MARIABACKUP_PRIVILEGES)

# The files, timers and package below: one reading when nothing changes (operations/steady.py).
snap = steady.Snapshot()
if host.name in backup.nodes(topo, host.data):
    steady.packages(snap, name="zstd (backup compression)", packages=backup.PACKAGES, no_recommends=True,
                    **limit("apt"))
    steady.directory(snap, name="Backup directory (root only)", path=conf["dir"], user="root", group="root",
                     mode="700")
    steady.template(snap, name="mariabackup's option file (the backup account)",
                    src="templates/backup/mariabackup.cnf.j2", dest=backup.OPTION_FILE, user="root", group="root",
                    mode="600", **args)
    steady.template(snap, name="Backup settings", src="templates/backup/prereqos-backup.default.j2", dest=SETTINGS,
                    mode="644", **args)
    steady.put(snap, name="Backup script", src="templates/backup/prereqos-backup.sh", dest=backup.SCRIPT, mode="755")
    steady.put(snap, name="Restore script", src="templates/backup/prereqos-restore.sh", dest=backup.RESTORE_SCRIPT,
               mode="755")
    unit = steady.template(snap, name="Backup service unit", src="templates/backup/prereqos-backup@.service.j2",
                           dest=backup.UNIT, mode="644", **args)
    timers = [
        steady.template(snap, name=f"Backup timer: {kind}", src="templates/backup/prereqos-backup.timer.j2",
                        dest=backup.TIMERS[kind], mode="644", kind=kind, schedule=conf[f"{kind}_schedule"])
        for kind in ("full", "incremental") if conf[f"{kind}_schedule"]
    ]
    systemd.daemon_reload(name="systemd reads the backup units", _if=any_changed(unit, *timers))
    for kind in ("full", "incremental"):
        if conf[f"{kind}_schedule"]:
            steady.service(snap, name=f"Backup timer running and enabled: {kind}", service=backup.timer(kind),
                           running=True, enabled=True)
        else:
            steady.service(snap, name=f"Backup timer stopped and disabled: {kind} (no schedule)",
                           service=backup.timer(kind), running=False, enabled=False)
            steady.absent(snap, name=f"Backup timer removed: {kind}", path=backup.TIMERS[kind])
else:
    for kind in ("full", "incremental"):
        steady.service(snap, name=f"Backup timer stopped and disabled: {kind} (not a backup node)",
                       service=backup.timer(kind), running=False, enabled=False)
    for path in backup.FILES:
        steady.absent(snap, name=f"Not a backup node: {path} removed (the backups are kept)", path=path)
