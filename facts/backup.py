"""Facts about the scheduled backups of a backup node (``deploys/backup.py``).

Example::

    pyinfra inventory.py fact facts.backup.BackupCatalog --json
    pyinfra inventory.py fact facts.backup.BackupCatalog verify=20261201T010000Z --json
"""

from __future__ import annotations

import json
from pathlib import Path

from pyinfra.api import FactBase, FactProcessError, QuoteString, StringCommand
from typing_extensions import override

# The backup node's settings (written by deploys/backup.py, read by the backup and restore
# scripts and by this fact): where the backups are, retention, freshness thresholds.
SETTINGS = "/etc/default/prereqos-backup"
FULL_TIMER = "/etc/systemd/system/prereqos-backup-full.timer"
BACKUP_FIELDS = ("chain", "name", "kind", "good", "started", "finished", "bytes", "rabbitmq",
                 "from_lsn", "to_lsn", "checksum")

_SCRIPT = (Path(__file__).parent / "scripts/backup_catalog.py").read_text()


class BackupCatalog(FactBase["dict | None"]):
    """
    The backups of this node, oldest first, or ``None`` where it takes none (no settings file).
    ``limits``: the freshness limits of group_data (``backup``). ``since``: when the backup timers were installed (mtime of the full timer's unit), the
    freshness reference before any backup exists. With ``verify=<chain>``, each backup of that
    chain also gets ``checksum``: ``"ok"`` or what does not match its ``SHA256SUMS``.

    .. code:: python

        {"dir": "/var/backups/prereqos", "since": 1796155200,
         "limits": {"max_full_age_hours": 26, "max_age_hours": 2},
         "backups": [{"chain": "20261201T010000Z", "name": "20261201T010000Z-full", "kind": "full",
                      "good": True, "started": 1796158800, "finished": 1796158812, "bytes": 2245120,
                      "rabbitmq": True, "from_lsn": 0, "to_lsn": 81234, "checksum": None}]}
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "python3"

    @staticmethod
    def default() -> None:
        return None

    def command(self, verify: str | None = None) -> StringCommand:
        return StringCommand("python3 -c", QuoteString(_SCRIPT), SETTINGS, FULL_TIMER,
                             *([QuoteString(verify)] if verify else []))

    def process(self, output: list[str]) -> "dict | None":
        try:
            catalog = json.loads("\n".join(output))
        except ValueError as error:
            raise FactProcessError(f"BackupCatalog: not JSON ({error}): {output[:2]!r}") from error
        if catalog is None:
            return None
        if not isinstance(catalog, dict) or not isinstance(catalog.get("backups"), list) or any(
                not isinstance(b, dict) or set(b) != set(BACKUP_FIELDS) for b in catalog["backups"]):
            raise FactProcessError(f"BackupCatalog: unexpected JSON {output[:1]!r:.300}")
        return catalog
