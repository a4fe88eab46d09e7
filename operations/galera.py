"""Operations on a MariaDB + Galera cluster: bootstrap a new cluster, join, rolling restart,
SQL accounts; and the cluster decision the deploy takes from every controller's facts.

Galera rules kept here:
- only a **new** cluster is ever bootstrapped (no node has cluster state, none runs), or one
  whose first bootstrap was interrupted before any other node joined (only the first node
  has cluster state: nothing elsewhere to lose);
- an existing cluster that is fully stopped is never bootstrapped by a deploy: that is
  recovery (``deploys/recover.py``), which must first find the most advanced node;
- members start, join and restart one at a time, each waiting until it is ``Synced``.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlparse

from pyinfra import host
from pyinfra.api import HiddenValue, QuoteString, StringCommand, operation
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import File

from facts.galera import (
    GRASTATE,
    SYNCED,
    GraState,
    MariadbAccounts,
    MariadbDatabases,
    MariadbDatabasesGranted,
    WsrepStatus,
    has_cluster_state,
    mysql_with_secret,
    native_password_hash,
    password_is,
    sql_string,
)
from facts.systemd import ServiceConfigState
from lib.cluster import GALERA_CHECK_DAEMON
from lib.run import fact_of_the_run
from lib.sizing import Resources, galera_sizes
from lib.topology import Topology
from operations.common import fail

CONFIG = "/etc/mysql/mariadb.conf.d/99-galera.cnf"  # read after Debian's 50-server.cnf: wins
PEERS_CONFIG = "/etc/mysql/mariadb.conf.d/99-galera-peers.cnf"
LIMITS_DROPIN = "/etc/systemd/system/mariadb.service.d/prereqos-limits.conf"  # wsrep_cluster_address alone
SERVICE = "mariadb"
# Debian packages (no Recommends): the server, Galera, the SST tools, PyMySQL (client of the :9200
# check) and curl.
PACKAGES = ["mariadb-server", "galera-4", "mariadb-backup", "rsync", "socat", "python3-pymysql", "curl"]
SOCKET = "/run/mysqld/mysqld.sock"
# TLS for SQL clients (galera["tls"]): copies of the cluster CA and of this controller's
# certificate and key (lib/tls.py) that MariaDB's user may read (the originals are root's). Not
# settings: a running server takes new ones without a restart (FLUSH_SSL).
TLS_DIR = "/etc/mysql/tls"
TLS_CA = f"{TLS_DIR}/ca.crt"
TLS_CERT = f"{TLS_DIR}/node.crt"
TLS_KEY = f"{TLS_DIR}/node.key"
# MariaDB reads the certificate and key again for new connections, Galera for new replication
# connections (socket.ssl_reload); open ones keep theirs. MariaDB >= 11 (Debian 13) loads Galera
# as a plugin: each provider option is a variable there, wsrep_provider_options is read-only.
FLUSH_SSL = (f"if systemctl is-active -q {SERVICE}; then mysql -e 'FLUSH SSL' && "
             "if mysql -NBe \"SHOW GLOBAL VARIABLES LIKE 'wsrep_provider_socket_ssl_reload'\" | grep -q .; "
             "then mysql -e 'SET GLOBAL wsrep_provider_socket_ssl_reload = 1'; "
             "else mysql -e \"SET GLOBAL wsrep_provider_options = 'socket.ssl_reload=1'\"; fi; fi")
MONITOR_CREDENTIALS = "/etc/mysql/galera-check.cnf"
# The :9200 health check: one persistent responder (templates/galera/galera-checkd.py).
CHECK_SERVICE = "galera-check.service"
CHECK_UNIT = f"/etc/systemd/system/{CHECK_SERVICE}"
# The socket-activated check of earlier versions (a unit, a shell and a mysql client per probe).
SOCKET_CHECK = "galera-check.socket"
SOCKET_CHECK_INSTANCES = "galera-check@*.service"
SOCKET_CHECK_FILES = (f"/etc/systemd/system/{SOCKET_CHECK}", "/etc/systemd/system/galera-check@.service",
                      "/usr/local/sbin/galera-check")
MARIADB_KEYRING = "/etc/apt/keyrings/mariadb.gpg"
MARIADB_KEY_URL = "https://mariadb.org/mariadb_release_signing_key.pgp"
# Long enough for a mariabackup SST of a large database (Debian's TimeoutStartSec is 900 s).
SYNC_TIMEOUT = 900
# What mariabackup needs (SST and the scheduled backups), the same on MariaDB 10.11 and 11.8:
# FLUSH TABLES / BACKUP STAGE, the process list, and the binlog position (BINLOG MONITOR, formerly
# REPLICATION CLIENT). Not SLAVE MONITOR: only --galera-info and --slave-info need it.
MARIABACKUP_PRIVILEGES = ["RELOAD", "PROCESS", "LOCK TABLES", "BINLOG MONITOR"]
RECOVERY_HINT = "run deploys/recover.py (it finds the most advanced node and bootstraps from it)"

# --- the cluster decision ------------------------------------------------------------------


def plan_cluster(nodes: dict[str, dict[str, Any] | None], first: str | None = None) -> str:
    """
    Decide, from every controller's ``{"grastate": GraState, "status": WsrepStatus}`` (``None``
    for an unreachable controller), whether the deploy creates a **new** cluster or works
    with the **existing** one. Raises ``DeployError`` when it must not do either.

    - ``"existing"``: some node runs in a Primary component; stopped members just join it.
    - ``"new"``: every node answered, none has cluster state (grastate.dat uuid) and none runs
      Galera; the first node bootstraps with ``galera_new_cluster``.
    - ``"resume"``: a first bootstrap interrupted before any other node joined: every node
      answered, none runs Galera, and ``first`` (the node that bootstraps a new cluster) is the
      only one with cluster state. It bootstraps again from its own data (no other node has any
      to lose), then the others join as for a new cluster.
    """
    unreachable = sorted(name for name, node in nodes.items() if node is None)
    known = {name: node for name, node in nodes.items() if node is not None}
    primary = sorted(n for n, node in known.items() if node["status"].get("cluster_status") == "Primary")
    if primary:
        return "existing"
    with_state = sorted(n for n, node in known.items() if has_cluster_state(node["grastate"]))
    running = sorted(n for n, node in known.items() if node["status"].get("connected"))
    if unreachable:
        raise DeployError(
            f"Galera: no node runs in a Primary component and {', '.join(unreachable)} could not be "
            f"reached, so whether a cluster exists is unknown; bring every controller back, or, if "
            f"the cluster existed, {RECOVERY_HINT}"
        )
    if first is not None and with_state == [first] and not running:
        return "resume"
    if with_state or running:
        where = ", ".join(
            f"{name} (seqno {known[name]['grastate'].get('seqno', '?')}, "
            f"safe_to_bootstrap {int(bool(known[name]['grastate'].get('safe_to_bootstrap')))})"
            for name in with_state
        ) or "none"
        what = (f"runs without a Primary component (running: {', '.join(running)})" if running
                else "is fully stopped")
        raise DeployError(
            f"Galera: the existing cluster {what}; cluster state on {where}. The deploy never "
            f"re-bootstraps an existing cluster: {RECOVERY_HINT}"
        )
    return "new"


def replication_tls_changes(nodes: dict[str, dict[str, Any] | None], wanted: bool) -> bool:
    """
    Whether a running member's replication TLS (``WsrepStatus`` ``replication_tls``) differs from
    ``wanted`` (``galera['tls']``), ``nodes`` as for ``plan_cluster``. Then members cannot all
    restart straight into the new setting (a TLS node and a plain one do not talk): the deploy
    first accepts plain peers (``socket.dynamic``), restarts each member, then restarts each again
    without.

    .. code:: python

        replication_tls_changes({"ctrl-1": {"grastate": ..., "status": synced_plain}}, True)  # True
    """
    return any(node["status"]["replication_tls"] != wanted for node in nodes.values()
               if node is not None and node["status"].get("connected"))


# --- templates -----------------------------------------------------------------------------


def template_args(topo: Topology, data, resources: Resources) -> dict[str, Any]:
    """Keyword arguments of ``files.template`` for the templates in templates/galera/; the
    sizes (``sizes``) derived from ``resources`` where group_data says "auto"."""
    galera = data.galera
    address = topo.address("srv")
    allowed = sorted({n.addresses["srv"] for n in topo.nodes} | {topo.vip("srv")}, key=ipaddress.IPv4Address)
    return {
        "galera": galera,
        "sizes": galera_sizes(galera, resources),
        "node_name": topo.me,
        "address": address,
        "cluster_addresses": [n.addresses["srv"] for n in topo.nodes],
        "check_allowed": ["127.0.0.1", *allowed],
        "monitor_credentials": MONITOR_CREDENTIALS,
        "socket": SOCKET,
        "tls": {"ca": TLS_CA, "cert": TLS_CERT, "key": TLS_KEY},
        # Replication in TLS; "dynamic" (plain peers accepted) only while it changes (deploys/galera.py).
        "replication": {"tls": galera["tls"], "dynamic": False},
        "daemon": GALERA_CHECK_DAEMON,
        # Plain text for the templates only: files.template never prints it (no --diff).
        "sst_password": data.secrets["galera_sst_password"].unmask(),
        "monitor_password": data.secrets["galera_monitor_password"].unmask(),
    }


def upstream_source(line: str, keyring: str = MARIADB_KEYRING) -> str:
    """The apt source line of the upstream MariaDB repository, signed by ``keyring``."""
    kind, _, rest = line.strip().partition(" ")
    if rest.startswith("["):
        return line.strip()
    return f"{kind} [signed-by={keyring}] {rest}"


def upstream_pin(line: str) -> str:
    """An apt preferences stanza that prefers the upstream repository's packages."""
    url = next(part for part in line.split() if "://" in part)
    return f"Package: *\nPin: origin {urlparse(url).hostname}\nPin-Priority: 600\n"


# --- commands ------------------------------------------------------------------------------


def mark_safe_to_bootstrap_command() -> StringCommand:
    """Set ``safe_to_bootstrap: 1`` in grastate.dat (the node chosen to bootstrap from)."""
    return StringCommand("sed", "-i", QuoteString("s/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/"), GRASTATE)


def wait_synced_command(timeout: int = SYNC_TIMEOUT) -> StringCommand:
    """Poll ``wsrep_local_state_comment`` once a second until Synced; fail after ``timeout`` s."""
    query = QuoteString("SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'")
    message = f"Galera node not Synced after {timeout}s (see journalctl -u {SERVICE})"
    return StringCommand(
        "i=0;", "until", "[",
        StringCommand('"$(mysql -NBe ', query, ' 2>/dev/null | cut -f2)"', _separator=""),
        "=", "Synced", "];", "do",
        "i=$((i+1));", "if", "[", "$i", "-gt", str(timeout), "];", "then",
        StringCommand(fail(message), ";", _separator=""), "fi;", "sleep 1;", "done",
    )


def _mysql_execute(sql: StringCommand | str) -> StringCommand:
    return StringCommand("mysql", "-NB", "-e", QuoteString(sql))


def _is_synced(status: dict) -> bool:
    return status.get("cluster_status") == "Primary" and status.get("local_state") == SYNCED


# --- operations ----------------------------------------------------------------------------


@operation()
def bootstrap(timeout: int = SYNC_TIMEOUT, resume: bool = False):
    """
    Bootstrap a **new** Galera cluster on this node with Debian's ``galera_new_cluster``, then
    wait until it is Synced. Nothing happens when the node already runs in a Primary component.
    Refused (the operation fails) when the node has cluster state (grastate.dat): bootstrapping
    an existing cluster from an arbitrary node loses transactions; that is recovery. With
    ``resume`` (``plan_cluster`` said ``"resume"``: this node is the only one with cluster state)
    it bootstraps from its own data, marked ``safe_to_bootstrap`` first when a crash left it 0.

    + timeout: seconds to wait for Synced
    + resume: the first bootstrap was interrupted before any other node joined

    **Example:**

    .. code:: python

        if plan == "new" and topo.is_first:
            galera.bootstrap(name="Bootstrap the new Galera cluster on the first node")
    """
    status = fact_of_the_run(host, WsrepStatus)
    if status.get("cluster_status") == "Primary":
        host.noop(f"already in a Primary component ({status.get('local_state_comment')})")
        return
    grastate = host.get_fact(GraState)
    if resume and has_cluster_state(grastate):
        if not grastate.get("safe_to_bootstrap"):
            yield mark_safe_to_bootstrap_command()
    elif has_cluster_state(grastate):
        refusal = (f"{host.name} has Galera cluster state (uuid {grastate['uuid']}, seqno "
                   f"{grastate['seqno']}): not bootstrapping an existing cluster; {RECOVERY_HINT}")
        yield fail(refusal)
        return
    # Restarts the package's standalone server, if it runs, as the first node of a new cluster.
    yield "galera_new_cluster"
    yield wait_synced_command(timeout)


@operation()
def join(timeout: int = SYNC_TIMEOUT):
    """
    Make this node a Synced member of the running cluster: start MariaDB (the node joins
    through IST or SST) and wait until it is Synced. A node running outside any Primary
    component (the package's standalone server, or a partitioned node) is restarted; a node
    still joining is only waited for. Nothing happens on a Synced node. Run it with
    ``_serial=True``: one joiner at a time (a second joiner could interrupt the first's SST).

    + timeout: seconds to wait for Synced

    **Example:**

    .. code:: python

        galera.join(name="Join the cluster one node at a time", _serial=True)
    """
    status = fact_of_the_run(host, WsrepStatus)
    if _is_synced(status):
        host.noop(f"Synced member of a {status['cluster_size']}-node cluster")
        return
    if status.get("cluster_status") == "Primary":
        yield wait_synced_command(timeout)
        return
    yield f"systemctl {'restart' if status else 'start'} {SERVICE}"
    yield wait_synced_command(timeout)


@operation()
def apply_config(config: str = CONFIG, timeout: int = SYNC_TIMEOUT):
    """
    Restart a running member whose configuration file is newer than its server, then wait
    until it is Synced again. Run it with ``_serial=True`` so members restart one at a time.
    A stopped member is left to ``join`` (it starts with the new file). The only member of
    its component is never restarted (the cluster would stop): it is reported and left.

    + config: the configuration file the server must have started with
    + timeout: seconds to wait for Synced

    **Example:**

    .. code:: python

        galera.apply_config(name="Rolling restart where galera.cnf changed", _serial=True)
    """
    state = fact_of_the_run(host, ServiceConfigState, service=SERVICE, paths=[config])
    if state != "stale":
        host.noop(f"server {'not running' if state == 'stopped' else 'runs with ' + config}")
        return
    status = fact_of_the_run(host, WsrepStatus)
    if status.get("cluster_size", 0) < 2:
        host.noop(f"{config} is newer than the server, but this node is the only member of its "
                  f"component: not restarted (restart it once the others have joined)")
        return
    yield f"systemctl restart {SERVICE}"
    yield wait_synced_command(timeout)


@operation()
def account(user: str, password: HiddenValue, user_hostname: str = "localhost", unix_socket: bool = False):
    """
    Create a SQL account, or set its password and authentication when they differ. The
    password is checked by its ``mysql_native_password`` hash, masked in every output.
    With ``unix_socket`` the OS user of the same name logs in without password (``root``).
    On a Galera node the statement replicates to the whole cluster.

    + user, user_hostname: the account (``'user'@'user_hostname'``)
    + password: a HiddenValue (secret); shown masked in every output
    + unix_socket: also accept the OS user of the same name through the local socket

    **Example:**

    .. code:: python

        galera.account(name="SST account", user="sst", password=host.data.secrets["galera_sst_password"])
    """
    current = fact_of_the_run(host, MariadbAccounts).get(f"{user}@{user_hostname}")
    plugins = sorted({"mysql_native_password", *(["unix_socket"] if unix_socket else [])})
    if current and current["plugins"] == plugins and password_is(host, user, user_hostname, password):
        host.noop(f"account {user}@{user_hostname} is up to date")
        return
    via = "unix_socket OR mysql_native_password" if unix_socket else "mysql_native_password"
    # The hash, not the password, and on stdin: never on a command line.
    yield StringCommand(mysql_with_secret(
        f"{'ALTER' if current else 'CREATE'} USER '{sql_string(user)}'@'{sql_string(user_hostname)}' "
        f"IDENTIFIED VIA {via} USING '", "'"), _stdin=native_password_hash(password))


@operation()
def database_access(user: str, user_hostname: str, database: str):
    """
    Grant an account every privilege on one database (``GRANT ALL ON `db`.*``), unless it has
    them. The account must exist (``account``); the statement replicates to the whole cluster.

    + user, user_hostname: the account (``'user'@'user_hostname'``, a network such as
      ``10.0.2.0/255.255.255.0`` too)
    + database: the database

    **Example:**

    .. code:: python

        galera.database_access(name="keystone: its database", user="keystone",
                               user_hostname="10.0.2.0/255.255.255.0", database="keystone")
    """
    if database in host.get_fact(MariadbDatabasesGranted, user=user, hostname=user_hostname):
        host.noop(f"{user}@{user_hostname} has all privileges on {database}")
        return
    yield _mysql_execute(f"GRANT ALL ON `{database.replace('`', '``')}`.* TO "
                         f"'{sql_string(user)}'@'{sql_string(user_hostname)}'")


@operation()
def secure_installation():
    """
    Drop what ``mysql_secure_installation`` drops: anonymous accounts (``''@host``), ``root``
    accounts for other hosts than ``localhost`` (root never logs in over the network) and the
    ``test`` database. Debian 12 and 13 create none of them: normally nothing happens.

    **Example:**

    .. code:: python

        galera.secure_installation(name="No anonymous account, network root or test database")
    """
    unwanted = sorted(
        key for key in fact_of_the_run(host, MariadbAccounts)
        if key.startswith("@") or (key.startswith("root@") and key != "root@localhost")
    )
    has_test = "test" in fact_of_the_run(host, MariadbDatabases)
    if not unwanted and not has_test:
        host.noop("no anonymous account, network root or test database")
        return
    for key in unwanted:
        user, _, hostname = key.partition("@")
        yield _mysql_execute(f"DROP USER '{sql_string(user)}'@'{sql_string(hostname)}'")
    if has_test:
        yield _mysql_execute("DROP DATABASE test")


@operation()
def replace_socket_check():
    """
    Replace the socket-activated health check of earlier versions (``galera-check.socket``: a
    unit, a shell and a ``mysql`` client per probe) by the responder ``galera-check.service``
    (its files already in place): the socket stopped and disabled, its files deleted, the
    responder started, in one go, so that HAProxy's checks (down after 2 failures 1 s apart)
    see no gap; its failed probe units forgotten. Nothing where the socket unit is absent.

    **Example:**

    .. code:: python

        galera.replace_socket_check(name="The socket-activated check replaced by the responder")
    """
    if host.get_fact(File, path=SOCKET_CHECK_FILES[0]) is None:
        host.noop(f"no {SOCKET_CHECK}")
        return
    yield StringCommand("systemctl", "disable", "--now", SOCKET_CHECK)
    yield StringCommand("rm", "-f", *SOCKET_CHECK_FILES)
    yield "systemctl daemon-reload"
    # Probes that failed (timed out under load) stay listed as failed units until reset.
    yield StringCommand("systemctl", "reset-failed", QuoteString(SOCKET_CHECK_INSTANCES))
    yield StringCommand("systemctl", "restart", CHECK_SERVICE)  # restart: running or not, on its files
