"""Pacemaker operations: cluster properties and CIB objects, applied from the CIB's state.

Each operation reads ``CibConfiguration`` and writes only what differs: a missing object is
created (``cibadmin --create``), a differing one replaced whole (``cibadmin --replace``), an
equal one left alone. Objects are built as XML with the helpers below (``primitive``,
``group``, ``clone``, ``colocation``, ``order``), the same form the fact compares.

Example (on one node, once the cluster is formed)::

    pacemaker.wait_for_cluster(name="Wait for pacemaker", nodes=["ctrl-1", "ctrl-2", "ctrl-3"])
    pacemaker.cluster_properties(name="Properties", properties={"stonith-enabled": False})
    pacemaker.configure(
        name="HAProxy clone",
        obj=pacemaker.clone(HAPROXY_CLONE, pacemaker.primitive(
            HAPROXY_RESOURCE, "systemd:haproxy", ops=[{"name": "monitor", "interval": "5s"}])),
    )
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping
from xml.etree.ElementTree import Element, SubElement, tostring

from pyinfra import host
from pyinfra.api import OperationValueError, QuoteString, StringCommand, operation

from facts.pacemaker import CibConfiguration, CrmMon, element_tree
from lib.fencing import RESOURCE_PREFIX as FENCE_PREFIX
from lib.fencing import FenceDevice
from lib.cluster import HAPROXY_BEFORE_VIPS, HAPROXY_CLONE, HAPROXY_RESOURCE, VIP_GROUP, VIP_RESOURCE, VIPS_WITH_HAPROXY
from lib.run import fact_of_the_run
from operations.common import wait_unless_ready

# Where each kind of top-level object lives in the CIB.
# Where pacemaker keeps the cluster's configuration: absent on a controller where it never ran.
CIB_FILE = "/var/lib/pacemaker/cib/cib.xml"

SCOPES = {
    "primitive": "resources",
    "group": "resources",
    "clone": "resources",
    "rsc_colocation": "constraints",
    "rsc_order": "constraints",
    "rsc_location": "constraints",
}


def cib_value(value: Any) -> str:
    """A Python value as the CIB writes it (``False`` -> ``"false"``, ``1000`` -> ``"1000"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- XML builders ------------------------------------------------------------------------
def _nvpairs(parent: Element, owner: str, kind: str, values: Mapping[str, Any] | None) -> None:
    if not values:
        return
    block = SubElement(parent, kind, id=f"{owner}-{kind}")
    for key, value in values.items():
        SubElement(block, "nvpair", id=f"{owner}-{kind}-{key}", name=key, value=cib_value(value))


def primitive(rsc_id: str, agent: str, params: Mapping[str, Any] | None = None,
              ops: Iterable[Mapping[str, Any]] = (), meta: Mapping[str, Any] | None = None) -> Element:
    """``<primitive>`` from ``class:provider:type`` (or ``class:type``), params, ops, meta."""
    parts = agent.split(":")
    if len(parts) == 3:
        attrs = {"id": rsc_id, "class": parts[0], "provider": parts[1], "type": parts[2]}
    elif len(parts) == 2:
        attrs = {"id": rsc_id, "class": parts[0], "type": parts[1]}
    else:
        raise OperationValueError(f"resource agent {agent!r}: expected class:provider:type or class:type")
    element = Element("primitive", attrs)
    _nvpairs(element, rsc_id, "instance_attributes", params)
    _nvpairs(element, rsc_id, "meta_attributes", meta)
    ops = list(ops)
    if ops:
        operations = SubElement(element, "operations")
        for op in ops:
            values = {key: cib_value(value) for key, value in op.items()}
            SubElement(operations, "op", id=f"{rsc_id}-{op['name']}-interval-{op.get('interval', '0s')}", **values)
    return element


def group(group_id: str, *members: Element, meta: Mapping[str, Any] | None = None) -> Element:
    """``<group>``: members run on one node, started in order."""
    element = Element("group", id=group_id)
    _nvpairs(element, group_id, "meta_attributes", meta)
    element.extend(members)
    return element


def clone(clone_id: str, member: Element, meta: Mapping[str, Any] | None = None) -> Element:
    """``<clone>``: one instance of ``member`` per node."""
    element = Element("clone", id=clone_id)
    _nvpairs(element, clone_id, "meta_attributes", meta)
    element.append(member)
    return element


def colocation(constraint_id: str, rsc: str, with_rsc: str, score: str = "INFINITY") -> Element:
    """``rsc`` may only run where ``with_rsc`` runs (for INFINITY)."""
    return Element("rsc_colocation", {"id": constraint_id, "rsc": rsc, "with-rsc": with_rsc, "score": score})


def order(constraint_id: str, first: str, then: str, kind: str = "Mandatory") -> Element:
    """Start ``first`` before ``then``."""
    return Element("rsc_order", {"id": constraint_id, "first": first, "then": then, "kind": kind})


def location(constraint_id: str, rsc: str, node: str, score: str = "-INFINITY") -> Element:
    """``rsc`` prefers (``score`` > 0) or avoids (-INFINITY: never runs on) ``node``."""
    return Element("rsc_location", {"id": constraint_id, "rsc": rsc, "node": node, "score": score})


def cluster_property_values(settings: Mapping[str, Any], cluster_name: str, fencing: bool) -> dict[str, Any]:
    """The cluster properties ``cluster_properties`` sets first: the seed's, from group_data
    ``pacemaker``, plus corosync's cluster name (pacemaker keeps the name it first saw, e.g. the
    package's default ``debian``). Without fencing devices, ``stonith-enabled=false`` (the seed's);
    with devices, ``stonith-enabled`` is left to ``deploys/ha.py``, which sets it true once the
    devices are in the CIB."""
    return {
        "cluster-name": cluster_name,
        **({} if fencing else {"stonith-enabled": False}),
        "no-quorum-policy": settings["no_quorum_policy"],
        **settings["properties"],
    }


def resources_and_constraints(topo, settings: Mapping[str, Any]) -> list[tuple[str, Element]]:
    """The VIP group, the HAProxy clone and the constraints binding them (the seed's resources
    and constraints), as ``(description, object)`` in creation order; ids from ``lib.cluster``.

    + topo: a ``lib.topology.Topology`` (VIP addresses and netmasks)
    + settings: group_data ``pacemaker`` (monitor intervals, the VIPs' stickiness)

    The seed's ``colocation vip-with-haproxy inf: vipsrv vipapi haproxy-clone`` becomes the
    group ``vips`` (vipsrv and vipapi together) colocated with ``haproxy-clone``; its order is
    turned around to what the colocation needs (HAProxy first) and made Optional, so that a
    HAProxy restart on another node does not restart the VIPs.
    """

    def vip(net: str) -> Element:
        return primitive(
            VIP_RESOURCE[net],
            "ocf:heartbeat:IPaddr2",
            params={"ip": topo.vip(net), "cidr_netmask": topo.netmasks[net]},
            ops=[{"name": "monitor", "interval": settings["vip_monitor_interval"], "timeout": "20s"}],
        )

    haproxy = primitive(
        HAPROXY_RESOURCE,
        "systemd:haproxy",
        ops=[{"name": "monitor", "interval": settings["haproxy_monitor_interval"], "timeout": "20s"}],
    )
    vips = " and ".join(VIP_RESOURCE[net] for net in ("srv", "api"))
    return [
        (f"VIP group {VIP_GROUP}: {vips} (IPaddr2) together, staying where they run",
         group(VIP_GROUP, vip("srv"), vip("api"), meta={"resource-stickiness": settings["vip_stickiness"]})),
        (f"HAProxy on every node: {HAPROXY_CLONE} (systemd:haproxy)", clone(HAPROXY_CLONE, haproxy)),
        ("Constraint: the VIPs only where HAProxy runs",
         colocation(VIPS_WITH_HAPROXY, VIP_GROUP, HAPROXY_CLONE, "INFINITY")),
        ("Constraint: HAProxy started before the VIPs",
         order(HAPROXY_BEFORE_VIPS, HAPROXY_CLONE, VIP_GROUP, "Optional")),
    ]


def fencing_topology(levels: Mapping[str, list[str]]) -> Element | None:
    """``<fencing-topology>``: for each node, its devices tried one after the other (index 1
    first); None when no node has more than one device (no levels needed)."""
    if all(len(devices) < 2 for devices in levels.values()):
        return None
    element = Element("fencing-topology")
    for node, devices in sorted(levels.items()):
        for index, device in enumerate(devices, 1):
            SubElement(element, "fencing-level",
                       {"id": f"fl-{node}-{index}", "target": node, "index": str(index), "devices": device})
    return element


def fence_objects(devices: list[FenceDevice], monitor_interval: str) -> list[tuple[str, Element]]:
    """Each fence device's stonith resource and the constraint keeping it off the node it fences,
    as ``(description, object)``. The resource holds no password (``FenceDevice.params``)."""
    objects = []
    for device in devices:
        objects += [
            (f"Fence device {device.rsc_id}: {device.agent} powering {device.node} off ({device.address}:{device.port})",
             primitive(device.rsc_id, f"stonith:{device.agent}", params=device.params(),
                       ops=[{"name": "monitor", "interval": monitor_interval, "timeout": "60s"}])),
            (f"Constraint: {device.rsc_id} never runs on {device.node}",
             location(f"{device.rsc_id}-not-on-{device.node}", device.rsc_id, device.node)),
        ]
    return objects


def stale_fence_objects(cib: Mapping[str, Any], wanted: list[Element]) -> list[tuple[str, str]]:
    """``(tag, id)`` of the fence devices (stonith resources named ``fence-*``) and their location
    constraints in ``cib`` (``CibConfiguration``) that ``wanted`` no longer holds, constraints first."""
    keep = {obj.get("id") for obj in wanted}
    constraints = [("rsc_location", obj_id) for obj_id, obj in cib["constraints"].items()
                   if obj["tag"] == "rsc_location" and obj["attrs"].get("rsc", "").startswith(FENCE_PREFIX)
                   and obj_id not in keep]
    resources = [("primitive", obj_id) for obj_id, obj in cib["resources"].items()
                 if obj["tag"] == "primitive" and obj["attrs"].get("class") == "stonith"
                 and obj_id.startswith(FENCE_PREFIX) and obj_id not in keep]
    return constraints + resources


# --- Operations --------------------------------------------------------------------------
def cluster_ready(nodes: Iterable[str]) -> Callable[[dict[str, Any]], bool]:
    """Predicate on ``CrmMon``: a DC is elected, the partition is quorate, ``nodes`` are online."""
    wanted = set(nodes)

    def ready(status: dict[str, Any]) -> bool:
        return bool(status.get("dc")) and bool(status.get("quorum")) and wanted <= set(status["nodes"]["online"])

    return ready


@operation()
def wait_for_cluster(nodes: list[str], timeout: int = 180):
    """
    Wait until pacemaker has a DC, quorum, and every one of ``nodes`` online.

    + nodes: node names that must be online
    + timeout: seconds to wait; then the host fails with the last status read and where to look
      (a corosync ring stuck retransmitting one message never lets pacemaker form:
      docs/operations.md section 23)

    **Example:**

    .. code:: python

        pacemaker.wait_for_cluster(name="Wait for the cluster", nodes=["ctrl-1", "ctrl-2", "ctrl-3"])
    """
    yield from wait_unless_ready(
        CrmMon, cluster_ready(nodes), timeout,
        f"pacemaker with {', '.join(nodes)} online (if `journalctl -u corosync` repeats 'Retransmit List' "
        "with the same number: docs/operations.md section 23)",
        lambda status: f"cluster formed: DC {status['dc']}, online {', '.join(status['nodes']['online'])}")


@operation()
def cluster_properties(properties: Mapping[str, Any]):
    """
    Set cluster properties (``crm_config``, ``cib-bootstrap-options``) that differ.

    + properties: ``{name: value}``; booleans are written ``true``/``false``

    **Example:**

    .. code:: python

        pacemaker.cluster_properties(
            name="Cluster properties",
            properties={"stonith-enabled": False, "cluster-recheck-interval": "5min"},
        )
    """
    current = fact_of_the_run(host, CibConfiguration)["properties"]
    wanted = {name: cib_value(value) for name, value in properties.items()}
    differing = {name: value for name, value in wanted.items() if current.get(name) != value}
    if not differing:
        host.noop(f"cluster properties already set: {', '.join(wanted)}")
        return
    for name, value in differing.items():
        yield StringCommand("crm_attribute", "--type", "crm_config", "--name", QuoteString(name),
                            "--update", QuoteString(value))


@operation()
def configure(obj: Element):
    """
    Create a top-level CIB object (resource or constraint), or replace it when it differs.

    + obj: the object, built with ``primitive``/``group``/``clone``/``colocation``/``order``

    **Example:**

    .. code:: python

        pacemaker.configure(
            name="VIPs only where HAProxy runs",
            obj=pacemaker.colocation(VIPS_WITH_HAPROXY, VIP_GROUP, HAPROXY_CLONE),
        )
    """
    if obj.tag not in SCOPES:
        raise OperationValueError(f"cannot configure <{obj.tag}>: one of {', '.join(SCOPES)}")
    scope, obj_id = SCOPES[obj.tag], obj.get("id")
    current = fact_of_the_run(host, CibConfiguration)[scope].get(obj_id)
    if current == element_tree(obj):
        host.noop(f"{obj.tag} {obj_id} is configured")
        return
    action = "--create" if current is None else "--replace"
    yield StringCommand("cibadmin", action, "--scope", scope, "--xml-text",
                        QuoteString(tostring(obj, encoding="unicode")))


@operation()
def absent(obj_id: str, tag: str):
    """
    Delete a top-level CIB object (resource or constraint) if it is there.

    + obj_id: its id
    + tag: its kind (``primitive``, ``rsc_location``...)

    **Example:**

    .. code:: python

        pacemaker.absent(name="No fence device for ctrl-4", obj_id="fence-ctrl-4-1", tag="primitive")
    """
    if tag not in SCOPES:
        raise OperationValueError(f"cannot delete <{tag}>: one of {', '.join(SCOPES)}")
    if obj_id not in fact_of_the_run(host, CibConfiguration)[SCOPES[tag]]:
        host.noop(f"{tag} {obj_id} is absent")
        return
    yield StringCommand("cibadmin", "--delete", "--scope", SCOPES[tag], "--xml-text",
                        QuoteString(tostring(Element(tag, id=obj_id), encoding="unicode")))


@operation()
def levels(topology: Element | None):
    """
    Set the fencing levels (``<fencing-topology>``, from ``fencing_topology``), or remove them (None).

    + topology: the element, or None for no levels

    **Example:**

    .. code:: python

        pacemaker.levels(name="Fencing levels", topology=pacemaker.fencing_topology(
            {"ctrl-1": ["fence-ctrl-1-1", "fence-ctrl-1-2"]}))
    """
    current = fact_of_the_run(host, CibConfiguration)["fencing_topology"]
    wanted = element_tree(topology) if topology is not None else None
    if current == wanted or (wanted is None and current is not None and not current["children"]):
        host.noop("fencing levels are set" if wanted else "no fencing levels")
        return
    if current is None:
        yield StringCommand("cibadmin", "--create", "--scope", "configuration", "--xml-text",
                            QuoteString(tostring(topology, encoding="unicode")))
        return
    # Emptied rather than deleted when levels go: an empty section means no levels.
    yield StringCommand("cibadmin", "--replace", "--scope", "fencing-topology", "--xml-text",
                        QuoteString(tostring(topology if topology is not None else Element("fencing-topology"),
                                             encoding="unicode")))


@operation(is_idempotent=False)
def cleanup(rsc_id: str):
    """
    Forget a resource's failures on every node (``crm_resource --cleanup``), so that pacemaker
    tries it again where it failed. Run it only when something changed (``_if=``).

    + rsc_id: the resource

    **Example:**

    .. code:: python

        pacemaker.cleanup(name="Retry fence-ctrl-1-1", rsc_id="fence-ctrl-1-1", _if=password.did_change)
    """
    yield StringCommand("crm_resource", "--cleanup", "--resource", QuoteString(rsc_id))
