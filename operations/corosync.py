"""Corosync operations: a reload or a restart that keeps the cluster quorate; the arguments of
templates/corosync/corosync.conf.j2 and what a running corosync needs to take it.

Example (decide from the running configuration map, then reload or restart one node at a time)::

    how = corosync.change_needed(host.get_fact(CorosyncCmap), host.data.corosync, topo.nodes)
    corosync.reload(name="Reload corosync", corosync=host.data.corosync, nodes=topo.nodes,
                    _serial=True, _if=lambda: how == "reload")
    corosync.restart(name="Restart corosync", nodes=names, _serial=True, _if=lambda: how == "restart")
"""

from __future__ import annotations

from typing import Any

from pyinfra import host
from pyinfra.api import FunctionCommand, operation

from facts.corosync import CorosyncCmap, CorosyncQuorum
from lib.topology import Node, Topology
from operations.common import wait_for

TEMPLATE = "templates/corosync/corosync.conf.j2"
# Debian packages of the HA stack (deploys/ha.py, no Recommends): corosync, pacemaker, its tools
# and the resource agents (IPaddr2).
PACKAGES = ["corosync", "pacemaker", "pacemaker-cli-utils", "resource-agents"]
SERVICES = ("corosync", "pacemaker")  # in their start order


def template_args(topo: Topology, data) -> dict[str, Any]:
    """Keyword arguments of ``files.template`` for TEMPLATE: this node, group_data ``corosync``,
    every controller (node ids and addresses, inventory order)."""
    return {"me": topo.me, "corosync": data.corosync, "nodes": topo.nodes}


def quorate(quorum: dict[str, Any]) -> bool:
    return bool(quorum.get("quorate"))


# Settings a running corosync cannot take by `corosync-cfgtool -R` (corosync wiki, "Config file
# values"): changing one needs a restart of every node. Node ids and addresses too (below).
RESTART_KEYS = ("totem.cluster_name", "totem.transport", "totem.crypto_cipher", "totem.crypto_hash",
                "totem.interface.0.mcastport", "totem.interface.1.mcastport",
                "quorum.wait_for_all", "quorum.last_man_standing", "quorum.two_node")
RELOAD_KEYS = ("totem.token", "quorum.last_man_standing_window", "quorum.expected_votes")


def wanted_cmap(corosync: dict[str, Any], nodes) -> dict[str, Any]:
    """The configuration-map keys that templates/corosync/corosync.conf.j2 sets, for comparison
    with the running map (``CorosyncCmap``)."""
    return {
        "totem.cluster_name": corosync["cluster_name"], "totem.transport": "knet",
        "totem.crypto_cipher": corosync["crypto_cipher"], "totem.crypto_hash": corosync["crypto_hash"],
        "totem.interface.0.mcastport": corosync["port"], "totem.interface.1.mcastport": corosync["port"],
        "totem.token": corosync["token"], "quorum.expected_votes": len(nodes),
        "quorum.two_node": 1 if len(nodes) == 2 else None,
        "quorum.wait_for_all": int(corosync["wait_for_all"]),
        "quorum.last_man_standing": int(corosync["last_man_standing"]),
        "quorum.last_man_standing_window": corosync["last_man_standing_window"],
    }


def running_nodes(cmap: dict[str, Any]) -> dict[str, tuple]:
    """``{name: (nodeid, ring0_addr, ring1_addr)}`` from the running map's ``nodelist.node.N.*``."""
    nodes: dict[str, tuple] = {}
    for key, name in cmap.items():
        if key.startswith("nodelist.node.") and key.endswith(".name"):
            base = key[: -len("name")]
            nodes[name] = (cmap.get(base + "nodeid"), cmap.get(base + "ring0_addr"), cmap.get(base + "ring1_addr"))
    return nodes


def change_needed(cmap: dict[str, Any], corosync: dict[str, Any], nodes) -> str | None:
    """How a running corosync (its configuration map ``cmap``) takes the configuration rendered
    for ``nodes`` from ``corosync`` (group_data): ``None`` (it already runs it), ``"reload"``
    (token, last-man-standing window, controllers added or removed) or ``"restart"`` (cluster
    name, transport, crypto, quorum features, or a node's id or address changed).

    Example: the running map of a 3-node cluster, the topology of 5 controllers::

        change_needed(host.get_fact(CorosyncCmap), host.data.corosync, topo.nodes)  # "reload"
    """
    if not cmap:
        return None  # not running: its start reads the new file
    wanted = wanted_cmap(corosync, nodes)
    running = running_nodes(cmap)
    listed = {n.name: (n.nodeid, n.addresses["srv"], n.addresses["data"]) for n in nodes}
    if any(cmap.get(key) != wanted[key] for key in RESTART_KEYS):
        return "restart"
    if any(running[name] != listed[name] for name in running.keys() & listed.keys()):
        return "restart"
    if running.keys() != listed.keys() or any(cmap.get(key) != wanted[key] for key in RELOAD_KEYS):
        return "reload"
    return None


def _then_keep_quorum(command: str, nodes: list[str], timeout: int):
    """Body of ``reload``/``restart``: ``command``, then, if this host was in a quorate membership
    of ``nodes`` before it, a wait until it is in one again (a membership of others, e.g. the
    package's default single-node cluster, or no quorum at all, leaves nothing to keep)."""
    before = host.get_fact(CorosyncQuorum)
    yield command
    if quorate(before) and {m["name"] for m in before["members"]} <= set(nodes):
        yield FunctionCommand(wait_for, (CorosyncQuorum, quorate, timeout, "corosync quorum"), {})


@operation(is_idempotent=False)
def reload(corosync: dict[str, Any], nodes: list[Node], timeout: int = 120):
    """
    Make every running corosync of the cluster re-read its corosync.conf (``corosync-cfgtool -R``)
    and, if this host was in a quorate membership of ``nodes``, wait until it is in one again.
    Nothing restarts: membership and quorum stay (used when controllers are added or removed:
    a restart would let an old node form a membership with the new nodes, without quorum).
    One reload reloads every member: run one node at a time, a node whose running
    configuration map already matches (another node's reload applied it) does nothing.

    + corosync: group_data ``corosync`` (what the reload must bring)
    + nodes: the cluster's nodes (``Topology.nodes``), after the change
    + timeout: seconds to wait for quorum after the reload

    **Example:**

    .. code:: python

        corosync.reload(
            name="Reload corosync's configuration (controllers added)",
            corosync=host.data.corosync,
            nodes=topo.nodes,
            _serial=True,
            _if=lambda: how == "reload",
        )
    """
    if change_needed(host.get_fact(CorosyncCmap), corosync, nodes) is None:
        host.noop("corosync already runs this configuration (an earlier node's reload, or not running)")
        return
    yield from _then_keep_quorum("corosync-cfgtool -R", [node.name for node in nodes], timeout)


@operation(is_idempotent=False)
def restart(nodes: list[str], timeout: int = 120):
    """
    Restart corosync and pacemaker on this host; if the host was in a quorate membership of
    ``nodes``, wait until it is back in one. Run it with ``_serial=True`` so that only one
    node is ever down: the next restart starts once this node has rejoined.

    + nodes: the cluster's node names (a membership of others, such as the package's
      default single-node cluster, is not waited for)
    + timeout: seconds to wait for quorum after the restart

    **Example:**

    .. code:: python

        corosync.restart(
            name="Restart corosync where its configuration changed",
            nodes=["ctrl-1", "ctrl-2", "ctrl-3"],
            _serial=True,
            _if=any_changed(conf, authkey),
        )
    """
    # pacemaker Requires= corosync: name both so that pacemaker is surely started again.
    yield from _then_keep_quorum("systemctl restart corosync.service pacemaker.service", nodes, timeout)
