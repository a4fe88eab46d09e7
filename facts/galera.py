"""Facts about MariaDB + Galera on a controller, read as root through the local socket.

Every fact answers with its ``default()`` when MariaDB is not installed or not running, so a
stopped node is an answer (``{}`` / ``0``), never a failed host.

Example::

    pyinfra inventory.py fact facts.galera.WsrepClusterSize --json     # the seed's check
    pyinfra inventory.py fact facts.galera.WsrepStatus --json          # health of each node
    pyinfra inventory.py fact facts.galera.GraState --json             # saved cluster state
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TypeVar

from pyinfra.api import FactBase, FactProcessError, HiddenValue, QuoteString, StringCommand
from typing_extensions import override

from lib.secrets import SecretStdin, unmasked

T = TypeVar("T")

GRASTATE = "/var/lib/mysql/grastate.dat"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
# wsrep_local_state values (Galera's own numbering); 4 is the only state that serves traffic.
SYNCED = 4


def or_no_server(mysql_command: str | StringCommand) -> StringCommand:
    """``mysql_command``'s output; nothing when no server answers on the socket (``ERROR 2002``
    or ``2013``: stopped, or still waiting for a Primary component), which is the fact's default.
    Any other error (access denied, a bad statement...) fails the fact with mysql's message.
    (``facts.recovery.GaleraPosition``'s script reads its SQL through it too.)

    .. code:: python

        or_no_server("mysql -NB -e 'SHOW DATABASES'")
    """
    return StringCommand(
        "{ err=$(", mysql_command, "2>&1 1>&3 3>&-); rc=$?; } 3>&1;",
        '[ $rc -eq 0 ] || case "$err" in *"ERROR 2002 "* | *"ERROR 2013 "*) ;;',
        '*) printf "%s\\n" "$err" >&2; exit $rc ;; esac',
    )


def _mysql(sql: str | StringCommand) -> StringCommand:
    # -N no column names, -B tab-separated, -r raw (no escaping of JSON backslashes).
    return or_no_server(StringCommand("mysql", "-NBr", "-e", QuoteString(sql)))


class MariadbFactBase(FactBase[T]):
    """A fact read with the ``mysql`` client as root through the local socket (as pyinfra's own
    ``MysqlFactBase``); a host without the client gets the fact's ``default()``."""

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "mysql"


def _status_pairs(output: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in output:
        name, sep, value = line.partition("\t")
        if not sep:
            raise FactProcessError(f"not a `SHOW STATUS` line: {line!r}")
        pairs[name] = value
    return pairs


class WsrepClusterSize(MariadbFactBase[int]):
    """
    Number of nodes in this node's cluster component (the seed's check); ``0`` when MariaDB is
    down or runs without Galera.
    """

    @staticmethod
    def default() -> int:
        return 0

    def command(self) -> StringCommand:
        return _mysql("SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'")

    def process(self, output: list[str]) -> int:
        value = _status_pairs(output).get("wsrep_cluster_size")
        if value is None or not value.isdigit():
            raise FactProcessError(f"no wsrep_cluster_size in {output!r}")
        return int(value)


class WsrepStatus(MariadbFactBase[dict]):
    """
    Health of the local Galera node, ``{}`` when MariaDB is not running. A node serves traffic
    when ``cluster_status`` is ``Primary``, ``local_state`` is ``4`` (``Synced``) and ``ready``.

    .. code:: python

        {
            "cluster_size": 3,
            "cluster_status": "Primary",           # Primary | non-Primary | Disconnected
            "local_state": 4,
            "local_state_comment": "Synced",       # Joining | Donor/Desynced | Joined | Synced ...
            "ready": True,
            "connected": True,
            "cluster_state_uuid": "8c5b...",       # "" without Galera
            "node_name": "ctrl-1",                 # None without Galera
            "replication_tls": True,               # Galera's socket.ssl (replication and IST)
        }
    """

    KEYS = {
        "wsrep_cluster_size": "cluster_size",
        "wsrep_cluster_status": "cluster_status",
        "wsrep_local_state": "local_state",
        "wsrep_local_state_comment": "local_state_comment",
        "wsrep_ready": "ready",
        "wsrep_connected": "connected",
        "wsrep_cluster_state_uuid": "cluster_state_uuid",
    }

    @staticmethod
    def default() -> dict:
        return {}

    def command(self) -> StringCommand:
        names = ", ".join(f"'{name}'" for name in self.KEYS)
        return _mysql(
            f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names}); "
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_node_name', 'wsrep_provider_options')"
        )

    def process(self, output: list[str]) -> dict:
        pairs = _status_pairs(output)
        if "wsrep_cluster_status" not in pairs:
            raise FactProcessError(f"no wsrep status in {output!r}")
        status: dict = {key: pairs.get(name) for name, key in self.KEYS.items()}
        for key in ("cluster_size", "local_state"):
            value = status[key]
            # Without Galera some counters are absent or -1 as unsigned (18446744073709551615).
            status[key] = int(value) if value is not None and value.isdigit() and len(value) < 10 else 0
        for key in ("ready", "connected"):
            status[key] = status[key] == "ON"
        status["local_state_comment"] = status["local_state_comment"] or ""
        status["cluster_state_uuid"] = status["cluster_state_uuid"] or ""
        status["node_name"] = pairs.get("wsrep_node_name") or None
        options = (pairs.get("wsrep_provider_options") or "").split(";")
        status["replication_tls"] = any(o.replace(" ", "") == "socket.ssl=YES" for o in options)
        return status


class GraState(FactBase[dict]):
    """
    The saved Galera state (``grastate.dat``), ``{}`` when the node never ran in a cluster.
    A ``uuid`` other than all zeros means the node belongs to an existing cluster; ``seqno``
    is ``-1`` while it runs (or after a crash).

    .. code:: python

        {"uuid": "8c5b...", "seqno": -1, "safe_to_bootstrap": False}
    """

    @staticmethod
    def default() -> dict:
        return {}

    def command(self, path: str = GRASTATE) -> StringCommand:
        # No grastate.dat (never clustered) is an answer; an unreadable one is an error.
        return StringCommand("[ ! -e", QuoteString(path), "] || cat", QuoteString(path))

    def process(self, output: list[str]) -> dict:
        fields: dict[str, str] = {}
        for line in output:
            if line.startswith("#") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        if "uuid" not in fields:
            raise FactProcessError(f"no uuid in grastate.dat: {output!r}")
        try:
            return {
                "uuid": fields["uuid"],
                "seqno": int(fields.get("seqno", "-1")),
                "safe_to_bootstrap": fields.get("safe_to_bootstrap", "0") == "1",
            }
        except ValueError as error:
            raise FactProcessError(f"bad seqno in grastate.dat: {output!r}") from error


def has_cluster_state(grastate: dict) -> bool:
    """True when a grastate.dat names a real cluster (uuid not empty, not all zeros)."""
    uuid = grastate.get("uuid") or ZERO_UUID
    return uuid != ZERO_UUID


class MariadbAccounts(MariadbFactBase[dict]):
    """
    SQL accounts and how they authenticate, from ``mysql.global_priv``; ``{}`` when MariaDB is
    not running. ``password`` tells whether a ``mysql_native_password`` login is set (hashes
    are never returned: see ``MariadbPasswordIs``).

    .. code:: python

        {
            "root@localhost": {"plugins": ["mysql_native_password", "unix_socket"],
                               "password": True, "locked": False},
        }
    """

    @staticmethod
    def default() -> dict:
        return {}

    def command(self) -> StringCommand:
        # Hashes are blanked to "*" on the server: they never reach pyinfra's output.
        return _mysql("SELECT User, Host, REGEXP_REPLACE(Priv, '[*][0-9A-F]{40}', '*') FROM mysql.global_priv")

    def process(self, output: list[str]) -> dict:
        accounts: dict[str, dict] = {}
        for line in output:
            parts = line.split("\t")
            if len(parts) != 3:
                raise FactProcessError(f"not a `user<TAB>host<TAB>json` line: {line!r}")
            user, hostname, priv = parts
            try:
                data = json.loads(priv)
            except json.JSONDecodeError as error:
                raise FactProcessError(f"bad Priv JSON for {user}@{hostname}: {priv!r}") from error
            methods = [data] + [alt for alt in data.get("auth_or", []) if alt]
            native = [m for m in methods if m.get("plugin", "mysql_native_password") == "mysql_native_password"]
            accounts[f"{user}@{hostname}"] = {
                "plugins": sorted({m.get("plugin", "mysql_native_password") for m in methods}),
                "password": any(m.get("authentication_string") == "*" for m in native),
                "locked": bool(data.get("account_locked", False)),
            }
        return accounts


class MariadbDatabases(MariadbFactBase[list]):
    """Names of the databases, ``[]`` when MariaDB is not running."""

    @staticmethod
    def default() -> list:
        return []

    def command(self) -> StringCommand:
        return _mysql("SHOW DATABASES")

    def process(self, output: list[str]) -> list:
        return sorted(line.strip() for line in output if line.strip())


class MariadbDatabasesGranted(MariadbFactBase[list]):
    """
    The databases on which the account ``user@hostname`` holds ``ALL PRIVILEGES`` (``SHOW
    GRANTS``, only those lines: the one with the password hash never leaves the host); ``[]`` when
    the account does not exist or MariaDB is down. Any host part works, a network such as
    ``10.0.2.0/255.255.255.0`` too (pyinfra's ``MysqlUserGrants`` does not parse one).

    .. code:: python

        ["keystone"]
    """

    @staticmethod
    def default() -> list:
        return []

    def command(self, user: str, hostname: str) -> StringCommand:
        account = f"'{sql_string(user)}'@'{sql_string(hostname)}'"
        exists = f"SELECT COUNT(*) FROM mysql.global_priv WHERE User = '{sql_string(user)}' AND Host = '{sql_string(hostname)}'"
        return StringCommand(
            'if [ "$(', _mysql(exists), ')" = 1 ]; then {', _mysql(f"SHOW GRANTS FOR {account}"),
            "; } | { grep '^GRANT ALL PRIVILEGES ON `' || true; }; fi",
        )

    def process(self, output: list[str]) -> list:
        found = []
        for line in output:
            match = re.match(r"^GRANT ALL PRIVILEGES ON `((?:[^`]|``)+)`\.\* TO ", line)
            if match:
                found.append(match[1].replace("``", "`").replace("\\_", "_"))
        return sorted(found)


class MariadbPasswordIs(MariadbFactBase[bool]):
    """
    Whether the account ``user@hostname`` has the ``mysql_native_password`` hash of a password
    (``False`` when it has not, does not exist, or MariaDB is down). The hash reaches the server
    on standard input, never on a command line: ask through :func:`password_is`.

    .. code:: python

        password_is(host, "sst", "localhost", host.data.secrets["galera_sst_password"])  # True
    """

    @staticmethod
    def default() -> bool:
        return False

    def command(self, user: str, hostname: str) -> StringCommand:
        check = mysql_with_secret(
            "SELECT COUNT(*) FROM mysql.global_priv WHERE "
            f"User = '{sql_string(user)}' AND Host = '{sql_string(hostname)}' AND "
            "INSTR(Priv, '\"authentication_string\":\"",
            "\"') > 0",
            options="-NBr",
        )
        return or_no_server(check)

    def process(self, output: list[str]) -> bool:
        if output not in (["0"], ["1"]):
            raise FactProcessError(f"unexpected output {output!r}")
        return output == ["1"]


def password_is(host, user: str, hostname: str, password: str | HiddenValue) -> bool:
    """Whether ``user@hostname`` logs in with ``password`` (``MariadbPasswordIs``, its hash on stdin)."""
    return host.get_fact(MariadbPasswordIs, user=user, hostname=hostname,
                         _stdin=SecretStdin(native_password_hash(password)))


def native_password_hash(password: str | HiddenValue) -> str:
    """MariaDB's ``mysql_native_password`` hash: ``*`` + upper hex SHA1(SHA1(password))."""
    return "*" + hashlib.sha1(hashlib.sha1(unmasked(password).encode()).digest()).hexdigest().upper()


def mysql_with_secret(sql_before: str, sql_after: str, options: str = "-NB") -> StringCommand:
    """
    ``mysql`` running ``sql_before`` + its standard input + ``sql_after``: the
    secret (a password hash) goes on stdin (``_stdin=``), the SQL around it on the command line.
    Only ``*`` and hex digits of stdin are kept: a hash, safe inside a quoted SQL string.

    .. code:: python

        StringCommand(mysql_with_secret("ALTER USER 'sst'@'localhost' IDENTIFIED BY PASSWORD '", "'"),
                      _stdin=native_password_hash(password))
    """
    return StringCommand(
        "{ printf %s", QuoteString(sql_before), "&& tr -cd '*0-9A-F' && printf %s",
        QuoteString(sql_after), "; } | mysql", options,
    )


def sql_string(value: str) -> str:
    """``value`` escaped for a single-quoted SQL string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
