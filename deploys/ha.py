"""Pacemaker: the seed's HA stack, with the two virtual IPs and HAProxy as a clone.

    pyinfra inventory.py deploys/haproxy.py deploys/ha.py     # HAProxy first (see below)

1. Corosync, the membership, is ``deploys/corosync.py``'s: included here unless this run
   already gave it (``deploys/prereqos.py`` runs it first, so that a new cluster's first DC
   election overlaps RabbitMQ's and Galera's deploys).
2. On every controller: pacemaker running, enabled at boot.
3. On ``firstnode``, once pacemaker shows every controller online: cluster properties, the
   VIP group ``vips`` (vipsrv + vipapi, IPaddr2), ``haproxy-clone`` (systemd:haproxy), and
   the constraints keeping the VIPs where HAProxy runs. Each is written only if the CIB
   differs.
4. Fencing (group_data ``fencing``, ``lib/fencing.py``): with devices, on every controller the
   agents' packages and each device's password file (0600); on ``firstnode`` a stonith
   resource per device that never runs on the node it fences, the levels, then
   ``stonith-enabled=true``. Without devices: ``stonith-enabled=false`` first, then the devices
   an earlier run created are deleted (with their constraints, levels and password files).

Requires ``deploys/haproxy.py`` first: HAProxy's package, its boot setting (disabled: pacemaker
starts it) and configuration are that deploy's, as is the ``net.ipv4.ip_nonlocal_bind`` sysctl
that lets it bind the VIPs on every node; ``haproxy-clone`` cannot start HAProxy before.
``deploys/prereqos.py`` runs it before this one.
"""

from io import BytesIO

from pyinfra import host, logger
from pyinfra.facts.server import LinuxDistribution

from facts.pacemaker import CibConfiguration
from lib.deploy import include_once, prologue
from lib.fencing import IPMITOOL_WRAPPER, SECRET_DIR, fence_devices, fence_levels
from lib.fencing import packages as fence_packages
from lib.secrets import unmasked
from lib.steps import limit
from operations import pacemaker, steady

topo = prologue()
include_once("deploys/corosync.py")
COROSYNC = host.data.corosync
PACEMAKER = host.data.pacemaker
FENCE_DEVICES = fence_devices(host.data.fencing)
# The fencing files and pacemaker's service below: one reading when nothing changes.
snap = steady.Snapshot()

# --- Fencing: what each controller needs to run any device (lib/fencing.py) -------------------
if FENCE_DEVICES:
    steady.packages(
        snap,
        name="Install the fence agents of the devices (no Recommends)",
        packages=fence_packages(host.get_fact(LinuxDistribution)["major"], FENCE_DEVICES),
        no_recommends=True,
        **limit("apt"),
    )
steady.directory(snap, name="Fence device passwords: directory (0700; removed without devices)", path=SECRET_DIR,
                 present=bool(FENCE_DEVICES), user="root", group="root", mode="700")
password_puts = {}
for device in FENCE_DEVICES:
    password_puts[device.rsc_id] = steady.put(
        snap,
        name=f"Fence device {device.rsc_id}: its password (from secrets, 0600)",
        src=BytesIO(unmasked(host.data.secrets[device.secret_key]).encode() + b"\n"),
        dest=device.password_file,
        user="root",
        group="root",
        mode="600",
    )
if any(d.agent == "fence_ipmilan" for d in FENCE_DEVICES):
    steady.put(
        snap,
        name="fence_ipmilan's ipmitool: the password from its file, in ipmitool's environment (-E)",
        src="templates/fencing/prereqos-fence-ipmitool",
        dest=IPMITOOL_WRAPPER,
        user="root",
        group="root",
        mode="755",
    )
else:
    steady.absent(snap, name="fence_ipmilan's ipmitool wrapper: absent (no IPMI device)", path=IPMITOOL_WRAPPER)

steady.service(snap, name="pacemaker: running, enabled at boot", service="pacemaker", running=True, enabled=True)

# --- Pacemaker: cluster-wide configuration, on the first node --------------------------------
if topo.is_first:
    if not FENCE_DEVICES:
        logger.warning(
            "pacemaker: stonith-enabled=false (no devices in group_data fencing['devices']): no fencing, "
            "as in the seed. A node that stops answering is assumed dead, not fenced.",
        )
    pacemaker.wait_for_cluster(
        name="Wait for pacemaker: DC elected, quorum, every controller online",
        nodes=topo.names,
        timeout=host.data.timeouts["cluster"],
    )
    pacemaker.cluster_properties(
        name="Pacemaker cluster properties",
        properties=pacemaker.cluster_property_values(PACEMAKER, COROSYNC["cluster_name"], bool(FENCE_DEVICES)),
    )
    # haproxy-clone runs the HAProxy that deploys/haproxy.py installed (see the docstring).
    for description, obj in pacemaker.resources_and_constraints(topo, PACEMAKER):
        pacemaker.configure(name=description, obj=obj)

    # Fencing: devices and levels first, stonith-enabled=true only then; without devices,
    # stonith-enabled=false came first (above), then what an earlier run created goes.
    wanted = pacemaker.fence_objects(FENCE_DEVICES, host.data.fencing["monitor_interval"])
    for description, obj in wanted:
        pacemaker.configure(name=description, obj=obj)
    pacemaker.levels(name="Fencing levels (a controller with several devices)",
                     topology=pacemaker.fencing_topology(fence_levels(FENCE_DEVICES)))
    for rsc_id, put in password_puts.items():
        # A device that failed with the old password is banned from the nodes where it failed.
        pacemaker.cleanup(name=f"Fence device {rsc_id}: failures forgotten (its password changed)", rsc_id=rsc_id,
                          _if=put.did_change)
    if FENCE_DEVICES:
        pacemaker.cluster_properties(name="Fencing on: stonith-enabled=true", properties={"stonith-enabled": True})
    for tag, obj_id in pacemaker.stale_fence_objects(host.get_fact(CibConfiguration), [obj for _, obj in wanted]):
        pacemaker.absent(name=f"Fence {tag} {obj_id}: removed (not in group_data fencing)", obj_id=obj_id, tag=tag)
