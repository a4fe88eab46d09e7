"""Corosync 3 + Pacemaker: the seed's HA stack, with the two virtual IPs and HAProxy as a clone.

    pyinfra inventory.py deploys/haproxy.py deploys/ha.py     # HAProxy first (see below)

1. On every controller: the shared authkey (from secrets.json) and corosync.conf are written
   *before* the packages, so a first install starts corosync straight into the cluster; where
   corosync already ran, controllers added or removed (or a new token) are taken by a reload
   (`corosync-cfgtool -R`, nobody restarts); a changed key, cluster name, crypto or quorum
   feature restarts it one node at a time, each node back in a quorate membership before the next.
2. On ``firstnode``, once pacemaker shows every controller online: cluster properties, the
   VIP group ``vips`` (vipsrv + vipapi, IPaddr2), ``haproxy-clone`` (systemd:haproxy), and
   the constraints keeping the VIPs where HAProxy runs. Each is written only if the CIB
   differs.

Requires ``deploys/haproxy.py`` first: HAProxy's package, its boot setting (disabled: pacemaker
starts it) and configuration are that deploy's, as is the ``net.ipv4.ip_nonlocal_bind`` sysctl
that lets it bind the VIPs on every node; ``haproxy-clone`` cannot start HAProxy before.
``deploys/prereqos.py`` runs it before this one.
"""

from io import BytesIO

from pyinfra import host, logger
from pyinfra.facts.systemd import SystemdStatus

from facts.corosync import CorosyncCmap
from facts.systemd import ServiceConfigState
from lib.cluster_keys import COROSYNC_AUTHKEY, key_bytes
from lib.deploy import prologue
from lib.steps import limit
from operations import corosync, pacemaker, steady

PACKAGES = ["corosync", "pacemaker", "pacemaker-cli-utils", "resource-agents"]

topo = prologue()
COROSYNC = host.data.corosync
PACEMAKER = host.data.pacemaker

# --- Corosync: key and configuration first ----------------------------------------------------
was_running = host.get_fact(SystemdStatus, services=["corosync.service"]).get("corosync.service", False)
# What the running corosync lacks: nothing, a reload (controllers added or removed, token) or a restart.
change = corosync.change_needed(host.get_fact(CorosyncCmap) if was_running else {}, COROSYNC, topo.nodes)
# A key an earlier run wrote without the restart that applies it (its one-node-at-a-time restart
# stopped at another node): the running corosync started before it, it restarts below.
key_stale = was_running and host.get_fact(ServiceConfigState, service="corosync", paths=[COROSYNC_AUTHKEY]) == "stale"

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

# Before the new controllers' corosync starts: the old ones learn them without restarting,
# so they stay one quorate membership that the new ones join.
corosync.reload(
    name="Reload corosync's configuration where it runs (nodes added or removed, token, window)",
    nodes=topo.names,
    _serial=True,
    _if=lambda: was_running and not key_stale and not authkey.did_change() and change != "restart"
    and (change == "reload" or conf.did_change()),
)

steady.packages(
    snap,
    name="Install corosync, pacemaker and resource agents (no Recommends)",
    packages=PACKAGES,
    no_recommends=True,
    **limit("apt"),
)

for service in ("corosync", "pacemaker"):
    steady.service(snap, name=f"{service}: running, enabled at boot", service=service, running=True, enabled=True)
# Where corosync ran before this deploy with an old key or a setting a reload cannot change (a
# first install or a start above already uses the new ones).
corosync.restart(
    name="Restart corosync where its key or a non-reloadable setting changed (one node at a time)",
    nodes=topo.names,
    _serial=True,
    _if=lambda: was_running and (key_stale or authkey.did_change() or change == "restart"),
)

# --- Pacemaker: cluster-wide configuration, on the first node --------------------------------
if topo.is_first:
    if not PACEMAKER["stonith_enabled"]:
        logger.warning(
            "pacemaker: stonith-enabled=false (group_data pacemaker.stonith_enabled): no fencing, "
            "as in the seed. A node that stops answering is assumed dead, not fenced.",
        )
    pacemaker.wait_for_cluster(
        name="Wait for pacemaker: DC elected, quorum, every controller online",
        nodes=topo.names,
        timeout=host.data.timeouts["cluster"],
    )
    pacemaker.cluster_properties(
        name="Pacemaker cluster properties",
        properties=pacemaker.cluster_property_values(PACEMAKER, COROSYNC["cluster_name"]),
    )
    # haproxy-clone runs the HAProxy that deploys/haproxy.py installed (see the docstring).
    for description, obj in pacemaker.resources_and_constraints(topo, PACEMAKER):
        pacemaker.configure(name=description, obj=obj)
