"""Bring the stack back after every controller stopped (power loss, planned full stop), losing no
committed transaction. Safe to run any time: on a running cluster it changes nothing.

    pyinfra inventory.py deploys/recover.py                                  # decide and recover
    pyinfra inventory.py deploys/recover.py --data rabbitmq_force_boot=ctrl-2  # operator's choice

1. Pacemaker and corosync: running (they start at boot by themselves).
2. Galera, decided once from every controller's last committed position
   (``facts.recovery.GaleraPosition``: running server, waiting server's start position,
   ``grastate.dat``, or ``mariadbd --wsrep-recover``). If a Primary component runs, stopped
   members only join it. Otherwise the servers waiting for a Primary component are stopped, the
   most advanced node is marked ``safe_to_bootstrap`` and started with ``galera_new_cluster``,
   and the others join it one at a time, each until Synced. **Refused**, before anything is
   changed, when a node cannot be reached or has no position, or when two nodes disagree on
   the cluster UUID (see docs/operations.md).
3. RabbitMQ: the stopped nodes are started together (each waits for the last node that
   stopped; systemd starts it again if it timed out). ``rabbitmqctl force_boot`` only on the
   node the operator names with ``--data rabbitmq_force_boot=<node>``, and only if no node runs.
4. Waits for every node in RabbitMQ, pacemaker quorum with every node online, and the VIPs on
   one node with HAProxy.
"""

from pyinfra import host
from pyinfra.operations import systemd

from facts.rabbitmq import RabbitmqClusterStatus
from facts.recovery import GaleraPosition
from lib.cluster import VIP_RESOURCE
from lib.deploy import prologue
from operations import galera, pacemaker, recovery
from operations.common import decide_once, peer_fact

topo = prologue()
names = topo.names


def decide_galera() -> recovery.GaleraPlan:
    plan = recovery.plan_galera({name: peer_fact(name, GaleraPosition) for name in names})
    outcome = ("a Primary component runs: stopped members join it" if plan.action == "running" else
               f"bootstrap from {plan.node} ({plan.uuid}:{plan.seqno}), then the others one at a time")
    recovery.log_report(f"Galera recovery: {outcome}", plan.report)
    return plan


def decide_rabbitmq() -> recovery.RabbitmqPlan:
    statuses = {name: peer_fact(name, RabbitmqClusterStatus) for name in names}
    plan = recovery.plan_rabbitmq(statuses, host.data.get("rabbitmq_force_boot"))
    recovery.log_report("RabbitMQ recovery", plan.report)
    return plan


# Both decisions before any change: a refusal leaves every node as it was.
galera_plan = decide_once("galera recovery", decide_galera)
rabbitmq_plan = decide_once("rabbitmq recovery", decide_rabbitmq)

# --- 1. corosync and pacemaker ------------------------------------------------------------------
for service in ("corosync", "pacemaker"):
    systemd.service(name=f"{service}: running", service=service, running=True)

# --- 2. Galera ----------------------------------------------------------------------------------
if galera_plan.action == "bootstrap":
    recovery.galera_stop_without_primary(name="Stop MariaDB where it waits for a Primary component")
    if host.name == galera_plan.node:
        recovery.galera_bootstrap_from_position(
            name=f"Bootstrap Galera from the most advanced node ({galera_plan.node}, seqno {galera_plan.seqno})",
            uuid=galera_plan.uuid,
            seqno=galera_plan.seqno,
        )
galera.join(name="Start the other Galera members, one at a time, until Synced", _serial=True)

# --- 3. RabbitMQ --------------------------------------------------------------------------------
if host.name == rabbitmq_plan.force_boot:
    recovery.rabbitmq_force_boot(name=f"RabbitMQ force_boot on {host.name} (operator's choice)")
systemd.service(
    name="Start the stopped RabbitMQ nodes together (each waits for the last one that stopped)",
    service="rabbitmq-server",
    running=True,
    _retries=2,
    _retry_delay=5,
)
recovery.wait_rabbitmq(name="Wait for every RabbitMQ node in the cluster", nodes=names)

# --- 4. Pacemaker: quorum, every node online, the VIPs placed -------------------------------------
pacemaker.wait_for_cluster(name="Wait for pacemaker: quorum, every controller online", nodes=names)
recovery.wait_vips(name="Wait for the VIPs on one node with HAProxy", vips=list(VIP_RESOURCE.values()))
