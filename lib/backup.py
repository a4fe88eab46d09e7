"""The backup rules shared by the deploys, the restore and the health report: which controllers
take backups, which backups a restore uses, how fresh the backups are.

Example::

    from lib.backup import backup_nodes, restore_chain, freshness
    backup_nodes("first", ["ctrl-1", "ctrl-2", "ctrl-3"], "ctrl-1")     # ["ctrl-1"]
    restore_chain(catalog["backups"])             # ("20261201T010000Z", ["...-full", "...-incremental"])
    freshness(catalog)                            # (True, "newest good full 3.1 h (limit 26 h), ...")
"""

from __future__ import annotations

import time
from collections.abc import Sequence


class BackupChoiceError(ValueError):
    """The backup asked for cannot be restored (message: why, and what to do)."""


def backup_nodes(setting: str | Sequence[str], names: Sequence[str], firstnode: str) -> list[str]:
    """The controllers that take backups: ``"first"`` (``firstnode``), ``"all"``, or the listed ones
    in inventory order."""
    if setting == "first":
        return [firstnode]
    if setting == "all":
        return list(names)
    return [name for name in names if name in setting]


def restore_chain(backups: list[dict], name: str | None = None) -> tuple[str, list[str]]:
    """The chain and backups (its full, then its incrementals in order) that restore the backup
    ``name`` (default: the newest good one). Raises ``BackupChoiceError`` when there is none, when
    ``name`` is unknown or not good, or when the chain's LSNs do not follow each other."""
    good = [b for b in backups if b["good"]]
    if name is None:
        if not good:
            raise BackupChoiceError("no good backup (finished and verified) exists on the backup node")
        target = max(good, key=lambda b: b["name"])
    else:
        found = [b for b in backups if b["name"] == name]
        if not found:
            known = ", ".join(b["name"] for b in good[-5:]) or "none"
            raise BackupChoiceError(f"restore_backup={name!r} is not a backup of the backup node (newest good: {known})")
        target = found[0]
        if not target["good"]:
            raise BackupChoiceError(f"backup {name} never finished or was not verified (no GOOD mark)")
    chain = [b for b in good if b["chain"] == target["chain"] and b["name"] <= target["name"]]
    chain.sort(key=lambda b: (b["kind"] != "full", b["name"]))
    if not chain or chain[0]["kind"] != "full":
        raise BackupChoiceError(f"backup {target['name']}: its chain {target['chain']} has no good full backup")
    for before, after in zip(chain, chain[1:]):
        if after["from_lsn"] != before["to_lsn"]:
            raise BackupChoiceError(
                f"backup {after['name']} starts at LSN {after['from_lsn']}, not where {before['name']} ends "
                f"({before['to_lsn']}): the chain is broken; restore an earlier backup (restore_backup=...)")
    return target["chain"], [b["name"] for b in chain]


def _age(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def freshness(catalog: dict, now: float | None = None) -> tuple[bool, str]:
    """Whether the newest good full backup and the newest good backup of either kind are younger
    than the catalog's ``limits`` (group_data's ``backup["max_full_age_hours"]`` and
    ``["max_age_hours"]``, from the node's settings file), and one line saying so. Before the
    first backup, the age of the timers (``since``) stands for both."""
    now = time.time() if now is None else now
    max_full_age_hours, max_age_hours = catalog["limits"]["max_full_age_hours"], catalog["limits"]["max_age_hours"]
    good = [b for b in catalog["backups"] if b["good"]]
    fulls = [b["finished"] for b in good if b["kind"] == "full"]
    incrementals = [b["finished"] for b in good if b["kind"] == "incremental"]
    since = catalog.get("since") or now
    full_age = now - (max(fulls) if fulls else since)
    any_age = now - max([*fulls, *incrementals] or [since])
    ok = full_age <= max_full_age_hours * 3600 and any_age <= max_age_hours * 3600
    line = (f"newest good full {_age(full_age) if fulls else 'none'} (limit {max_full_age_hours} h), "
            f"incremental {_age(now - max(incrementals)) if incrementals else 'none'}, "
            f"newest of either {_age(any_age) if good else 'none'} (limit {max_age_hours} h)"
            f"{'' if good else f'; timers installed {_age(now - since)} ago'}")
    return ok, line
