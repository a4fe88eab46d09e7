"""Facts about Keystone: its database's schema state and what ``keystone-manage bootstrap`` left.

Example::

    host.get_fact(KeystoneDbState, manage="/opt/openstack/venv/bin/keystone-manage")   # "current"
    host.get_fact(KeystoneBootstrap, database="keystone", user="admin")
    # {"user": True, "endpoints": {"public": "http://10.0.1.10:5000/v3", ...}}
"""

from __future__ import annotations

from pyinfra.api import FactBase, FactProcessError, QuoteString, StringCommand
from typing_extensions import override

from facts.galera import MariadbFactBase, _mysql, sql_string

CONFIG = "/etc/keystone/keystone.conf"
# `keystone-manage db_sync --check` exit status -> state (keystone/cmd/cli.py check_db_sync_status).
# 1: it failed (no database yet, no configuration yet after an interrupted run...): "unknown".
DB_STATES = {0: "current", 1: "unknown", 2: "expand", 3: "migrate", 4: "contract"}


class KeystoneDbState(FactBase[str | None]):
    """
    Whether Keystone's database schema is at the installed Keystone's head, from
    ``keystone-manage db_sync --check`` (run as the keystone user: its log file stays the
    keystone user's): ``"current"``, or the step it needs (``"expand"``: includes a database
    never synced, ``"migrate"``, ``"contract"``), ``"unknown"`` when the check itself failed (its
    log says why); ``None`` where keystone-manage is not installed.

    + manage: the keystone-manage to run, e.g. ``/opt/openstack/venv/bin/keystone-manage``

    .. code:: python

        "current"
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return kwargs.get("manage", "keystone-manage")

    @staticmethod
    def default() -> str | None:
        return None

    def command(self, manage: str = "keystone-manage") -> StringCommand:
        return StringCommand("runuser -u keystone --", QuoteString(manage), "--config-file", CONFIG,
                             "db_sync --check >/dev/null 2>&1; echo rc=$?")

    def process(self, output: list[str]) -> str:
        line = output[-1].strip() if output else ""
        code = int(line[3:]) if line.startswith("rc=") and line[3:].isdigit() else None
        if code not in DB_STATES:
            raise FactProcessError(f"keystone-manage db_sync --check: unexpected result {line!r}")
        return DB_STATES[code]


class KeystoneBootstrap(MariadbFactBase[dict]):
    """
    What ``keystone-manage bootstrap`` created, read from Keystone's tables as root through the
    local socket: whether the admin ``user`` exists (any domain), and the identity service's
    enabled endpoints by interface. ``{"user": False, "endpoints": {}}`` before ``db_sync`` (no
    tables yet) or where MariaDB does not run here.

    + database: Keystone's database
    + user: the admin user bootstrap creates

    .. code:: python

        {"user": True, "endpoints": {"admin": "http://10.0.2.10:5000/v3",
                                     "internal": "http://10.0.2.10:5000/v3",
                                     "public": "http://10.0.1.10:5000/v3"}}
    """

    @staticmethod
    def default() -> dict:
        return {"user": False, "endpoints": {}}

    def command(self, database: str = "keystone", user: str = "admin") -> StringCommand:
        db, name = sql_string(database), sql_string(user)
        tables = (f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{db}' "
                  f"AND table_name IN ('endpoint', 'service', 'local_user')")
        query = (f"SELECT 'user', name, domain_id FROM `{db}`.local_user WHERE name = '{name}' UNION ALL "
                 f"SELECT 'endpoint', e.interface, e.url FROM `{db}`.endpoint e JOIN `{db}`.service s "
                 f"ON e.service_id = s.id WHERE s.type = 'identity' AND e.enabled = 1")
        return StringCommand("if [ \"$(mysql -NB -e", QuoteString(tables), '2>/dev/null)" = 3 ]; then',
                             _mysql(query), "; fi")

    def process(self, output: list[str]) -> dict:
        found = {"user": False, "endpoints": {}}
        for line in output:
            parts = line.split("\t")
            if len(parts) != 3 or parts[0] not in ("user", "endpoint"):
                raise FactProcessError(f"KeystoneBootstrap: unexpected line {line!r}")
            if parts[0] == "user":
                found["user"] = True
            else:
                found["endpoints"][parts[1]] = parts[2]
        return found
