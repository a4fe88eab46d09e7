"""Recovery of a stopped cluster (``deploys/recover.py``): the decisions, taken once from every
controller's facts, and the operations that carry them out.

Galera (the algorithm of ClusterLabs' galera agent and kolla-ansible's ``mariadb-recovery``):
every node's last committed position (``facts.recovery.GaleraPosition``); the most advanced
node is marked ``safe_to_bootstrap`` and started with ``galera_new_cluster``; the others then
join one at a time. The decision fails closed: any node without evidence, or two nodes with
different cluster UUIDs, and nothing is started.

RabbitMQ: stopped nodes are started together (each waits for the last node that stopped);
``rabbitmqctl force_boot`` only on the node an operator names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from pyinfra import host, logger
from pyinfra.api import operation
from pyinfra.api.exceptions import DeployError

from facts.galera import GraState, WsrepStatus
from facts.pacemaker import CrmMon
from facts.rabbitmq import RabbitmqClusterStatus
from facts.recovery import GaleraPosition
from facts.systemd import ServiceState
from lib.cluster import HAPROXY_RESOURCE
from operations.common import fail, wait_unless_ready
from operations.galera import SERVICE, SYNC_TIMEOUT, mark_safe_to_bootstrap_command, wait_synced_command

DOCS = "docs/operations.md"
RUNNING_STATES = ("active", "activating", "deactivating", "reloading")


# --- Galera: the decision -------------------------------------------------------------------
@dataclass(frozen=True)
class GaleraPlan:
    """``action``: ``"running"`` (a Primary component exists: stopped members just join it) or
    ``"bootstrap"`` (from ``node``, at ``uuid:seqno``). ``report``: one line per node."""

    action: str
    node: str | None = None
    uuid: str | None = None
    seqno: int | None = None
    report: list[str] = field(default_factory=list)


def _describe(name: str, evidence: dict | None) -> str:
    if evidence is None:
        return f"{name}: unreachable"
    if not evidence:
        return f"{name}: MariaDB not installed"
    position = evidence.get("position")
    where = f"MariaDB {evidence['service'] or 'unknown'}"
    if evidence.get("cluster_status"):
        where += f", {evidence['cluster_status']}"
    if not position:
        return f"{name}: {where}, NO POSITION ({evidence.get('error')})"
    safe = ", safe_to_bootstrap" if evidence.get("grastate", {}).get("safe_to_bootstrap") else ""
    return f"{name}: {where}, {position['uuid']}:{position['seqno']} ({position['source']}{safe})"


def plan_galera(evidence: dict[str, dict | None]) -> GaleraPlan:
    """
    Decide the Galera recovery from every controller's ``GaleraPosition`` (``None``: unreachable),
    in inventory order. Raises ``DeployError`` when the evidence does not name one node safely.

    The most advanced node has the highest ``seqno`` of the one cluster UUID; on a tie, the
    node ``grastate.dat`` marks safe to bootstrap, then the first in inventory order.
    """
    report = [_describe(name, node) for name, node in evidence.items()]
    listing = "\n  ".join(report)
    primary = [name for name, node in evidence.items() if node and node.get("cluster_status") == "Primary"]
    if primary:
        return GaleraPlan("running", report=report)
    missing = [name for name, node in evidence.items() if not node or not node.get("position")]
    if missing:
        raise DeployError(
            f"Galera recovery refused: no node runs in a Primary component and the last committed "
            f"position of {', '.join(missing)} is unknown, so the most advanced node cannot be known "
            f"(bootstrapping another one would lose its transactions):\n  {listing}\n"
            f"Bring {'it' if len(missing) == 1 else 'them'} back and run again; a node that is gone for "
            f"good must first leave the inventory ({DOCS}, 'Removing a controller')."
        )
    uuids = {node["position"]["uuid"] for node in evidence.values()}
    if len(uuids) > 1:
        raise DeployError(
            f"Galera recovery refused: the nodes disagree on the cluster UUID ({', '.join(sorted(uuids))}), "
            f"so they do not hold one cluster's history:\n  {listing}\n"
            f"Decide by hand which data to keep ({DOCS}, 'Galera nodes disagree')."
        )
    order = list(evidence)

    def rank(name: str) -> tuple:
        node = evidence[name]
        return (node["position"]["seqno"], bool(node["grastate"].get("safe_to_bootstrap")), -order.index(name))

    best = max(order, key=rank)
    seqno = evidence[best]["position"]["seqno"]
    if seqno < 0:
        raise DeployError(
            f"Galera recovery refused: no node knows a committed position (every seqno is -1):\n  {listing}\n"
            f"Restore from a backup ({DOCS}, 'Galera nodes disagree')."
        )
    return GaleraPlan("bootstrap", best, uuids.pop(), seqno, report)


# --- Galera: the operations -----------------------------------------------------------------
@operation()
def galera_stop_without_primary(stop_timeout: int = 60):
    """
    Stop MariaDB where it runs outside a Primary component (after a full stop, servers started
    at boot wait for one forever), so that the chosen node can bootstrap and the others join it
    one at a time. A member of a Primary component is never stopped.

    A server still trying to reach its peers can ignore SIGTERM for many minutes (seen on the lab
    with unreachable addresses in ``wsrep_cluster_address``); after ``stop_timeout`` seconds it
    is killed. That loses nothing: outside a Primary component it cannot commit, and InnoDB
    recovers its files at the next start.

    + stop_timeout: seconds a clean stop may take before the server is killed

    **Example:**

    .. code:: python

        recovery.galera_stop_without_primary(name="Stop MariaDB where it waits for a Primary component")
    """
    status = host.get_fact(WsrepStatus)
    if status.get("cluster_status") == "Primary":
        host.noop("member of a Primary component: left running")
        return
    state = host.get_fact(ServiceState, service=SERVICE)
    if state not in RUNNING_STATES:
        host.noop(f"MariaDB is {state}")
        return
    yield (f"timeout {stop_timeout} systemctl stop {SERVICE} || "
           f"{{ systemctl kill --signal=KILL {SERVICE}; systemctl stop {SERVICE}; }}")


@operation()
def galera_bootstrap_from_position(uuid: str, seqno: int, timeout: int = SYNC_TIMEOUT):
    """
    Bootstrap the cluster again from this node, the most advanced one: mark it
    ``safe_to_bootstrap`` in ``grastate.dat``, start it with ``galera_new_cluster``, wait until
    it is Synced. Refused (this host fails) when the node's position is no longer the one the
    decision was taken on. Nothing happens when it already runs in a Primary component.

    + uuid, seqno: the position the decision was taken on
    + timeout: seconds to wait for Synced

    **Example:**

    .. code:: python

        if host.name == plan.node:
            recovery.galera_bootstrap_from_position(name="Bootstrap from the most advanced node",
                                                    uuid=plan.uuid, seqno=plan.seqno)
    """
    if host.get_fact(WsrepStatus).get("cluster_status") == "Primary":
        host.noop("already runs in a Primary component")
        return
    position = host.get_fact(GaleraPosition).get("position") or {}
    if (position.get("uuid"), position.get("seqno")) != (uuid, seqno):
        yield fail(f"{host.name}: Galera position is now {position.get('uuid')}:{position.get('seqno')}, "
                    f"not {uuid}:{seqno} as when the recovery was decided: nothing started; run the recovery again")
        return
    if not host.get_fact(GraState).get("safe_to_bootstrap"):
        yield mark_safe_to_bootstrap_command()
    yield "galera_new_cluster"
    yield wait_synced_command(timeout)


# --- RabbitMQ ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RabbitmqPlan:
    """``running``: nodes whose broker runs; ``stopped``: reachable nodes to start;
    ``force_boot``: the node to force-boot (``None`` unless the operator named one and no
    node runs)."""

    running: list[str]
    stopped: list[str]
    force_boot: str | None
    report: list[str]


def plan_rabbitmq(statuses: dict[str, dict | None], force_boot: str | None) -> RabbitmqPlan:
    """
    Decide the RabbitMQ recovery from every controller's ``RabbitmqClusterStatus`` (``None``:
    unreachable, ``{}``: not running) and the operator's ``rabbitmq_force_boot`` choice. Raises
    ``DeployError`` when that choice names no controller, or one that cannot be reached.
    """
    running = [name for name, status in statuses.items() if status]
    stopped = [name for name, status in statuses.items() if status == {}]
    unreachable = [name for name, status in statuses.items() if status is None]
    report = [f"{name}: {'running' if name in running else 'unreachable' if name in unreachable else 'stopped'}"
              for name in statuses]
    if force_boot is not None:
        if force_boot not in statuses:
            raise DeployError(f"rabbitmq_force_boot={force_boot!r} is not a controller of the inventory "
                              f"({', '.join(statuses)}); give the name of the node to boot first")
        if force_boot in unreachable:
            raise DeployError(f"rabbitmq_force_boot={force_boot}: that node cannot be reached")
        if running:
            report.append(f"rabbitmq_force_boot={force_boot} ignored: RabbitMQ runs on {', '.join(running)}")
            force_boot = None
    return RabbitmqPlan(running, stopped, force_boot, report)


@operation()
def rabbitmq_force_boot():
    """
    ``rabbitmqctl force_boot``: this stopped node boots next time without waiting for the
    nodes that stopped after it. An operator's choice only (those nodes' later changes are lost
    if they are never started again); nothing happens when RabbitMQ runs here.

    **Example:**

    .. code:: python

        recovery.rabbitmq_force_boot(name="Force-boot RabbitMQ on ctrl-2 (operator's choice)")
    """
    if host.get_fact(RabbitmqClusterStatus):
        host.noop("RabbitMQ runs: force_boot not needed")
        return
    yield "rabbitmqctl force_boot"


def rabbitmq_all_running(nodes: list[str]) -> Callable[[dict], bool]:
    """Predicate on ``RabbitmqClusterStatus``: every one of ``nodes`` runs, no partition."""
    wanted = {f"rabbit@{name}" for name in nodes}
    return lambda status: wanted <= set(status.get("running_nodes", [])) and not status.get("partitions")


@operation()
def wait_rabbitmq(nodes: list[str], timeout: int = 600):
    """
    Wait until this node sees every one of ``nodes`` running in its RabbitMQ cluster.

    + nodes: controller names
    + timeout: seconds

    **Example:**

    .. code:: python

        recovery.wait_rabbitmq(name="Wait for RabbitMQ", nodes=["ctrl-1", "ctrl-2", "ctrl-3"])
    """
    yield from wait_unless_ready(
        RabbitmqClusterStatus, rabbitmq_all_running(nodes), timeout, f"RabbitMQ running on {', '.join(nodes)}",
        lambda status: f"RabbitMQ runs on {', '.join(status['running_nodes'])}")


# --- Pacemaker ----------------------------------------------------------------------------------
def vips_placed(vips: list[str]) -> Callable[[dict], bool]:
    """Predicate on ``CrmMon``: quorum, and every one of ``vips`` started on one node that runs
    an HAProxy instance."""

    def ready(status: dict) -> bool:
        resources = status.get("resources", [])
        placed = {tuple(r["nodes"]) for r in resources if r["id"] in vips and r["role"] == "Started"}
        found = {r["id"] for r in resources if r["id"] in vips and r["role"] == "Started"}
        haproxy = {n for r in resources if r["id"] == HAPROXY_RESOURCE and r["role"] == "Started" for n in r["nodes"]}
        return (bool(status.get("quorum")) and found == set(vips) and len(placed) == 1
                and len(next(iter(placed))) == 1 and next(iter(placed))[0] in haproxy)

    return ready


@operation()
def wait_vips(vips: list[str], timeout: int = 180):
    """
    Wait until pacemaker has quorum and runs ``vips`` on one node with HAProxy.

    + vips: resource ids of the virtual IPs
    + timeout: seconds

    **Example:**

    .. code:: python

        recovery.wait_vips(name="Wait for the VIPs", vips=list(VIP_RESOURCE.values()))
    """
    yield from wait_unless_ready(
        CrmMon, vips_placed(vips), timeout, f"{', '.join(vips)} placed with HAProxy",
        lambda status: f"{', '.join(vips)} on "
                       f"{next(r['nodes'][0] for r in status['resources'] if r['id'] == vips[0])}")


def log_report(title: str, lines: list[str]) -> None:
    logger.info(f"--> {title}:\n    " + "\n    ".join(lines))

