"""MariaDB + Galera on every controller, and the HTTP health check HAProxy asks on port 9200.

    pyinfra inventory.py deploys/galera.py

Order: packages and configuration on every controller; then, for a **new** cluster only, the
first node bootstraps (``galera_new_cluster``) and gets the SQL accounts; then the others join
one at a time, each waiting until it is Synced. On an **existing** cluster: members whose
galera.cnf changed restart one at a time, stopped members start and join; a new peer list
(controllers added or removed, ``99-galera-peers.cnf``) restarts nothing. A cluster whose
every node is stopped is never bootstrapped here: that is ``deploys/recover.py``; except a
first bootstrap interrupted before any other node joined (only the first node has cluster
state): the first node bootstraps again from its own data and the others join, as for a new
cluster (docs/operations.md, "Interrupted first bootstrap").
"""

from io import StringIO

from pyinfra import host
from pyinfra.operations import apt, files, mysql, server, systemd
from pyinfra.operations.util import any_changed

from facts.galera import GraState, WsrepStatus
from facts.precheck import HostResources
from facts.systemd import ServiceConfigState
from lib.cluster import GALERA_CHECK_DAEMON
from lib.deploy import prologue
from lib.run import fact_of_the_run, once_per_run, read_ahead
from lib.sizing import Resources
from lib.steps import limit
from lib.topology import controllers
from operations import apt_lists, galera, steady, tls
from operations.common import decide_once, peer_fact

topo = prologue()
conf = host.data.galera
secrets = host.data.secrets
wait = host.data.timeouts["cluster"]  # each wait until Synced (seconds)
args = galera.template_args(topo, host.data, Resources.of(fact_of_the_run(host, HostResources)))
# The files and the check's service below: one reading when nothing changes (operations/steady.py).
snap = steady.Snapshot()

# --- Packages (optionally from MariaDB's own repository, as in the seed) ------------------------
if conf["upstream_repo"]:
    apt.packages(name="Install curl and gpg to fetch MariaDB's signing key", packages=["curl", "gpg"],
                 no_recommends=True, **limit("apt"))
    key = apt.key(name="MariaDB's repository signing key",
                  src=galera.MARIADB_KEY_URL, dest=galera.MARIADB_KEYRING, **limit("apt"))
    repo = apt.repo(name="MariaDB's apt repository", src=galera.upstream_source(conf["upstream_repo"]),
                    filename="mariadb", **limit("apt"))
    pin = files.put(name="Prefer MariaDB's repository for its packages",
                    src=StringIO(galera.upstream_pin(conf["upstream_repo"])),
                    dest="/etc/apt/preferences.d/mariadb.pref", mode="644")
    apt_lists.update_lists(name="Update apt lists for MariaDB's repository",
                           _if=lambda: key.did_change() or repo.did_change() or pin.did_change())

# Before the package: its first start already has the limit; a new limit applies with the
# restart that galera.cnf's open_files_limit (same value) causes.
limits = steady.template(snap, name="MariaDB's open-files limit (LimitNOFILE)", src="templates/galera/mariadb-limits.conf.j2",
                        dest=galera.LIMITS_DROPIN, mode="644", **args)
systemd.daemon_reload(name="systemd reads MariaDB's limits", _if=limits.did_change)

steady.packages(
    snap,
    name="Install MariaDB, Galera, the SST tools, PyMySQL (client of the :9200 check) and curl",
    packages=galera.PACKAGES,
    no_recommends=True,
    **limit("apt"),
)

# --- The cluster's plan -------------------------------------------------------------------------


def decide_plan() -> tuple[str, bool]:
    """``galera.plan_cluster`` from every controller's facts (``None``: unreachable), and whether
    a running member's replication TLS differs from ``galera['tls']``."""
    facts = {}
    for name in topo.names:
        grastate = peer_fact(name, GraState)
        status = peer_fact(name, WsrepStatus) if grastate is not None else None
        facts[name] = None if status is None else {"grastate": grastate, "status": status}
    return galera.plan_cluster(facts, first=topo.firstnode), galera.replication_tls_changes(facts, conf["tls"])


# What this file reads of the controllers before any change: one command per controller.
CHECK_FILES = {"service": galera.CHECK_SERVICE, "paths": [GALERA_CHECK_DAEMON, galera.CHECK_UNIT]}
once_per_run("galera facts", lambda: read_ahead(controllers(host.inventory), [
    (GraState, {}), (WsrepStatus, {}), (ServiceConfigState, CHECK_FILES),
    (ServiceConfigState, {"service": galera.SERVICE, "paths": [galera.CONFIG]})]))
# Decided once per run, before any change, from every controller's facts:
# every host acts on the same plan.
plan, tls_change = decide_once("galera plan", decide_plan)

# --- Configuration -------------------------------------------------------------------------------
# TLS for SQL clients: the cluster CA and this controller's certificate and key, MariaDB's to read
# (its user exists once the package is in), before galera.cnf names them.
certificates = (tls.service_copies(snap, "SQL TLS", "mysql", galera.TLS_CA, galera.TLS_CERT, galera.TLS_KEY, topo)
                if conf["tls"] else [])
steady.template(snap, name="debian.cnf (root through the local socket)", src="templates/galera/debian.cnf.j2",
                             dest="/etc/mysql/debian.cnf", user="root", group="root", mode="600", **args)
# galera.cnf, written here and, when replication TLS changes, once more below.
GALERA_CNF = dict(src="templates/galera/galera.cnf.j2", dest=galera.CONFIG, user="root", group="mysql", mode="640")
# Replication TLS turned on or off over a running cluster (tls_change): first with plain peers
# still accepted (socket.dynamic) and a rolling restart; then without, and a second one (below).
steady.template(snap, name="galera.cnf" + (" (replication TLS changes: plain peers accepted meanwhile)"
                                           if tls_change else ""),
                **GALERA_CNF,
                **{**args, "replication": {"tls": True, "dynamic": True} if tls_change else args["replication"]})
# Controllers added or removed change only this file: no restart (members learn members from the
# cluster), the list serves the next start.
steady.template(snap, name="Galera peers to contact at start (wsrep_cluster_address)",
               src="templates/galera/galera-peers.cnf.j2", dest=galera.PEERS_CONFIG,
               user="root", group="mysql", mode="644", **args)

# --- The cluster ---------------------------------------------------------------------------------


def accounts() -> None:
    """SQL accounts, set on the first node: they replicate to the whole cluster."""
    if not topo.is_first:
        return
    galera.account(name="root: local socket (unix_socket) or password, never over the network",
                   user="root", password=secrets["galera_root_password"], unix_socket=True)
    galera.account(name="SST account", user=conf["sst_user"], password=secrets["galera_sst_password"])
    mysql.privileges(name="SST account privileges (mariabackup)", user=conf["sst_user"],
                     privileges=galera.MARIABACKUP_PRIVILEGES)
    galera.account(name="Health check account (USAGE only)", user=conf["monitor_user"],
                   password=secrets["galera_monitor_password"])
    galera.secure_installation(name="No anonymous account, network root or test database")


if plan in ("new", "resume"):
    if topo.is_first:
        galera.bootstrap(name="Bootstrap the new Galera cluster (galera_new_cluster)", resume=plan == "resume",
                         timeout=wait)
    accounts()  # before the joins: joiners need the SST account
    galera.join(name="Join the new cluster, one node at a time, until Synced", _serial=True, timeout=wait)
else:
    galera.apply_config(name="Restart where galera.cnf changed, one node at a time, until Synced",
                        _serial=True, timeout=wait)
    if tls_change:
        files.template(name="galera.cnf: replication TLS changed everywhere, plain peers refused again",
                       **GALERA_CNF, **args)
        galera.apply_config(name="Restart again without plain peers, one node at a time, until Synced",
                            _serial=True, timeout=wait)
    galera.join(name="Start stopped members, one at a time, until Synced", _serial=True, timeout=wait)
    accounts()  # after the joins: the first node may have been stopped

# A renewed certificate or key: new SQL connections get it at once, no restart (a server started in
# this run has read them already; a stopped one reads them at its start).
server.shell(name="MariaDB serves the new certificate to new TLS clients (FLUSH SSL, no restart)",
             commands=[galera.FLUSH_SSL], _if=any_changed(*certificates))

# --- HTTP health check on :9200 for HAProxy ------------------------------------------------------
# One persistent responder (galera-check.service), at most one query a second however many
# HAProxys probe; it replaces the socket-activated check of earlier versions.
steady.user(snap, name="Health check system user", user=conf["monitor_user"], system=True,
            home="/nonexistent", shell="/usr/sbin/nologin", ensure_home=False)
steady.template(snap, name="Health check SQL credentials (its user only)", src="templates/galera/galera-check.cnf.j2",
                      dest=galera.MONITOR_CREDENTIALS, user=conf["monitor_user"], group=conf["monitor_user"],
                      mode="600", **args)
# Read before any change: a responder that started before its files (a run stopped between
# them and its restart) restarts too.
check_stale = fact_of_the_run(host, ServiceConfigState, **CHECK_FILES) == "stale"
daemon = steady.put(snap, name="Health check responder", src="templates/galera/galera-checkd.py", dest=GALERA_CHECK_DAEMON,
                   user="root", group="root", mode="755")
unit = steady.template(snap, name="Health check service unit", src="templates/galera/galera-check.service.j2",
                      dest=galera.CHECK_UNIT, mode="644", **args)
systemd.daemon_reload(name="systemd reads the health check's unit", _if=unit.did_change)
replaced = galera.replace_socket_check(name="The socket-activated health check replaced by the responder")
systemd.service(name="Restart the health check after a change of its files (this run's or one left unapplied)",
                service=galera.CHECK_SERVICE, running=True, restarted=True,
                _if=lambda: (check_stale or any_changed(daemon, unit)()) and not replaced.did_change())
steady.service(snap, name="Health check running and enabled", service=galera.CHECK_SERVICE, running=True, enabled=True)
