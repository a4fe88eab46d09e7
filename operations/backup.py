"""The scheduled backups (``deploys/backup.py``) and the restore (``deploys/restore.py``): remote
paths, template arguments, and the restore decision taken once from the backup nodes' catalogs.

Example::

    from operations import backup
    backup.nodes(topo, host.data)                  # ["ctrl-1"]: the controllers that take backups
    plan = backup.plan_restore({"ctrl-1": catalog}, verified, host.data)   # or DeployError
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pyinfra.api import QuoteString, StringCommand
from pyinfra.api.exceptions import DeployError

from facts.backup import FULL_TIMER, SETTINGS
from facts.galera import GRASTATE
from lib.backup import BackupChoiceError, backup_nodes, restore_chain
from lib.topology import Topology

SCRIPT = "/usr/local/sbin/prereqos-backup"
RESTORE_SCRIPT = "/usr/local/sbin/prereqos-restore"
OPTION_FILE = "/etc/mysql/prereqos-backup.cnf"  # the backup account, 0600 root
UNIT = "/etc/systemd/system/prereqos-backup@.service"
TIMERS = {"full": FULL_TIMER, "incremental": "/etc/systemd/system/prereqos-backup-incremental.timer"}
LOCK = "/run/lock/prereqos-backup.lock"  # one backup or restore at a time (flock)
DATADIR = "/var/lib/mysql"
PACKAGES = ["zstd"]  # Debian packages of a backup node (compression)
FILES = (SCRIPT, RESTORE_SCRIPT, OPTION_FILE, SETTINGS, UNIT, *TIMERS.values())
# What restore.py restores unless restore_parts says otherwise.
PARTS = ("mariadb", "rabbitmq")
CONFIRM = "restore_confirm"  # the confirmation variable: --data restore_confirm=yes


def service(kind: str) -> str:
    """The unit a timer starts: ``service("full") == "prereqos-backup@full.service"``."""
    return f"prereqos-backup@{kind}.service"


def timer(kind: str) -> str:
    """``timer("incremental") == "prereqos-backup-incremental.timer"``."""
    return f"prereqos-backup-{kind}.timer"


def nodes(topo: Topology, data) -> list[str]:
    """The controllers that take backups (group_data ``backup["nodes"]``)."""
    return backup_nodes(data.backup["nodes"], topo.names, topo.firstnode)


def template_args(topo: Topology, data) -> dict:
    """Keyword arguments of the templates in templates/backup/."""
    return {
        "backup": data.backup,
        "option_file": OPTION_FILE,
        "lock": LOCK,
        "datadir": DATADIR,
        "script": SCRIPT,
        "sql_user": data.backup["sql_user"],
        # Plain text for the 0600 option file only (secret_files.template; never printed).
        "password": data.secrets["galera_backup_password"].unmask(),
    }


def set_aside_galera_state_command() -> StringCommand:
    """``grastate.dat`` renamed (kept): the node has no cluster position and rejoins by SST."""
    return StringCommand("[ ! -e", GRASTATE, "] || mv -f", GRASTATE, f"{GRASTATE}.before-restore")


def restore_command(part: str, chain: str, backups: list[str]) -> StringCommand:
    """``prereqos-restore mariadb|rabbitmq <chain> <backup>...`` (templates/backup/prereqos-restore.sh)."""
    return StringCommand(RESTORE_SCRIPT, part, chain, *(QuoteString(b) for b in backups))


# --- the restore decision ---------------------------------------------------------------------
@dataclass(frozen=True)
class RestorePlan:
    """Restore ``backups`` (a full, then its incrementals) of ``chain`` on ``node``; ``parts``:
    "mariadb" and/or "rabbitmq"; ``report``: what will be lost, for the log."""

    node: str
    chain: str
    backups: list[str]
    parts: tuple[str, ...]
    report: str


def _utc(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def parts_of(data) -> tuple[str, ...]:
    """``restore_parts`` ("mariadb,rabbitmq" by default) as a tuple; DeployError when unknown."""
    asked = tuple(p.strip() for p in str(data.get("restore_parts") or ",".join(PARTS)).split(",") if p.strip())
    if not asked or any(p not in PARTS for p in asked):
        raise DeployError(f"restore refused: restore_parts={data.get('restore_parts')!r}; fix: "
                          f"{', '.join(PARTS)} or both, comma-separated")
    return asked


def choose(catalogs: dict[str, dict | None], data) -> tuple[str, str, list[str]]:
    """(node, chain, backups) to restore from the backup nodes' catalogs (``None``: unreachable
    or not a backup node), in backup-node order: ``restore_node`` or the first with a good
    backup; ``restore_backup`` or its newest good one."""
    wanted = data.get("restore_node")
    if wanted is not None and wanted not in catalogs:
        raise DeployError(f"restore refused: restore_node={wanted!r} is not a backup node "
                          f"({', '.join(catalogs)}); fix: name one of them")
    candidates = [wanted] if wanted else [n for n, c in catalogs.items() if c and any(b["good"] for b in c["backups"])]
    if not candidates or catalogs.get(candidates[0]) is None:
        where = ", ".join(f"{n}: {'unreachable or not set up' if c is None else 'no good backup'}"
                          for n, c in catalogs.items())
        raise DeployError(f"restore refused: no backup node has a good backup ({where})")
    node = candidates[0]
    try:
        chain, backups = restore_chain(catalogs[node]["backups"], data.get("restore_backup"))
    except BackupChoiceError as error:
        raise DeployError(f"restore refused: {node}: {error}") from None
    return node, chain, backups


def plan_restore(node: str, chain: str, verified: dict | None, data) -> RestorePlan:
    """The plan, from ``verified`` (the node's catalog read with ``verify=chain``); DeployError
    when a backup of the chain fails its checksums, when the RabbitMQ part has no definitions,
    or without the confirmation (``restore_confirm=yes``)."""
    parts = parts_of(data)
    if verified is None:
        raise DeployError(f"restore refused: {node} cannot be reached")
    chain_backups = {b["name"]: b for b in verified["backups"] if b["chain"] == chain}
    _, backups = restore_chain(list(chain_backups.values()), data.get("restore_backup"))
    for name in backups:
        if chain_backups[name]["checksum"] != "ok":
            raise DeployError(f"restore refused: backup {name} on {node} is corrupt "
                              f"({chain_backups[name]['checksum']}); nothing was changed; restore an earlier "
                              f"backup with --data restore_backup=<name>")
    last = chain_backups[backups[-1]]
    if "rabbitmq" in parts and not last["rabbitmq"]:
        raise DeployError(f"restore refused: backup {last['name']} holds no RabbitMQ definitions; "
                          f"fix: --data restore_parts=mariadb, or another restore_backup")
    report = (f"{', '.join(parts)} of {node}:{last['name']} (chain {chain}: {len(backups)} backup(s)), taken "
              f"{_utc(last['started'])} to {_utc(last['finished'])}"
              + (": every MariaDB change committed after it is LOST" if "mariadb" in parts else "")
              + ("; RabbitMQ definitions imported (added or updated, none deleted)" if "rabbitmq" in parts else ""))
    if data.get("restore_confirm") != "yes":
        raise DeployError(f"restore refused, nothing was changed: restoring {report}. "
                          f"To do it, run again with --data {CONFIRM}=yes")
    return RestorePlan(node, chain, backups, parts, report)
