"""Corosync 3: the controllers' membership (knet, two links, crypto, votequorum), and Pacemaker
started on a cluster that never ran it.

    pyinfra inventory.py deploys/corosync.py          # alone; deploys/ha.py includes it

1. On every controller: the shared authkey (from secrets.json) and corosync.conf are written
   *before* the packages, so a first install starts corosync straight into the cluster; where
   corosync already ran, controllers added or removed (or a new token) are taken by a reload
   (`corosync-cfgtool -R`, nobody restarts) once the new controllers' corosync runs; a changed
   key, cluster name, crypto or quorum feature restarts it one node at a time, each node back
   in a quorate membership before the next.
2. Pacemaker is started here only where it has never run on any controller (no CIB file, no
   pacemaker running): such a cluster has no resource to start, and its first DC election
   (``dc-deadtime``, 20 s) then goes on while RabbitMQ and Galera are deployed
   (``deploys/prereqos.py`` runs this file first). Anywhere else pacemaker starts in
   ``deploys/ha.py``, after HAProxy's configuration, which ``haproxy-clone`` needs.

Example (a new cluster: corosync, then pacemaker, on every controller)::

    pyinfra inventory.py deploys/corosync.py
"""

from io import BytesIO

from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.facts.systemd import SystemdStatus

from facts.corosync import CorosyncCmap
from facts.systemd import ServiceConfigState
from lib.cluster_keys import COROSYNC_AUTHKEY, key_bytes
from lib.deploy import prologue
from lib.run import fact_of_the_run, once_per_run, read_ahead
from lib.steps import limit
from lib.topology import controllers
from operations import corosync, pacemaker, steady

topo = prologue()
COROSYNC = host.data.corosync
UNITS = [f"{service}.service" for service in corosync.SERVICES]

# --- Corosync: key and configuration first ----------------------------------------------------
# What this file reads of the controllers before any change: one command per controller.
KEY_FILES = {"service": "corosync", "paths": [COROSYNC_AUTHKEY]}
once_per_run("corosync facts", lambda: read_ahead(controllers(host.inventory), [
    (SystemdStatus, {"services": UNITS}), (File, {"path": pacemaker.CIB_FILE}), (CorosyncCmap, {}),
    (ServiceConfigState, KEY_FILES)]))
was_running = fact_of_the_run(host, SystemdStatus, services=UNITS).get("corosync.service", False)
# Pacemaker has never run on any controller: its CIB has no resource yet (none can start).
NEW_CLUSTER = not any(fact_of_the_run(peer, SystemdStatus, services=UNITS).get("pacemaker.service")
                      or fact_of_the_run(peer, File, path=pacemaker.CIB_FILE)
                      for peer in controllers(host.inventory))
# What the running corosync lacks: nothing, a reload (controllers added or removed, token) or a restart.
change = corosync.change_needed(fact_of_the_run(host, CorosyncCmap) if was_running else {}, COROSYNC, topo.nodes)
# A key an earlier run wrote without the restart that applies it (its one-node-at-a-time restart
# stopped at another node): the running corosync started before it, it restarts below.
key_stale = was_running and fact_of_the_run(host, ServiceConfigState, **KEY_FILES) == "stale"

# The key, the configuration and the services below: one reading when nothing changes
# (operations/steady.py).
snap = steady.Snapshot()
authkey = steady.put(
    snap,
    name="Corosync authkey (from secrets, 0400)",
    src=BytesIO(key_bytes(COROSYNC_AUTHKEY, host.data.secrets)),
    dest=COROSYNC_AUTHKEY,
    user="root",
    group="root",
    mode="400",
)
conf = steady.template(
    snap,
    name="Corosync configuration (knet, two links, crypto, votequorum)",
    src=corosync.TEMPLATE,
    dest="/etc/corosync/corosync.conf",
    user="root",
    group="root",
    mode="644",
    **corosync.template_args(topo, host.data),
)

steady.packages(
    snap,
    name="Install corosync, pacemaker and resource agents (no Recommends)",
    packages=corosync.PACKAGES,
    no_recommends=True,
    **limit("apt"),
)

steady.service(snap, name="corosync: running, enabled at boot", service="corosync", running=True, enabled=True)
if NEW_CLUSTER:
    steady.service(snap, name="pacemaker: running, enabled at boot (a new cluster: its first DC election starts now)",
                   service="pacemaker", running=True, enabled=True)
# Where corosync ran: controllers added or removed, or a reloadable setting, taken without a
# restart. After the new controllers' corosync started: the reload makes one membership of all
# of them at once (5 votes of 5 on a scale-out from 3, never 3 of 5 while they start). One
# node's reload reloads every member; the next ones find it done.
corosync.reload(
    name="Reload corosync's configuration where it runs (nodes added or removed, token, window)",
    corosync=COROSYNC,
    nodes=topo.nodes,
    _serial=True,
    _if=lambda: was_running and not key_stale and not authkey.did_change() and change != "restart"
    and (change == "reload" or conf.did_change()),
)
# Where corosync ran before this deploy with an old key or a setting a reload cannot change (a
# first install or a start above already uses the new ones).
corosync.restart(
    name="Restart corosync where its key or a non-reloadable setting changed (one node at a time)",
    nodes=topo.names,
    _serial=True,
    _if=lambda: was_running and (key_stale or authkey.did_change() or change == "restart"),
)
