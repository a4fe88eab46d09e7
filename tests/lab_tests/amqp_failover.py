"""A silent loss of the controller that holds an AMQP queue: how long publisher confirms stop
through the surviving nodes, whether a confirmed message is lost, and how long the clusters take
to be whole again after the network is back.

The queue is declared through a connection to one node only (the victim, or another node when
the drill wants the victim to hold no queue), so its classic master or quorum leader lives there
(``client-local`` placement, RabbitMQ's default; checked with ``rabbitmqctl list_queues``). The publisher lists the surviving nodes only: what it measures is
the queue's failover, not the client's detection of a dead connection (its heartbeat). The
victim is cut with ``tests/lab/lab isolate`` (its veths down on the machine's side: the peers see
no RST and no link change, their packets to it are dropped).

Used by ``test_zz_drills.py`` and, to measure settings by hand, as a command::

    LAB_ID=4 python -m tests.lab_tests.amqp_failover --victim 2 --queue-type quorum
    LAB_ID=4 python -m tests.lab_tests.amqp_failover --victim 2 --queue-type classic --ticktime 15

(``--ticktime`` sets ``net_kernel:set_net_ticktime`` on every running node first: the drills'
way to try a value before group_data's ``rabbitmq["net_ticktime"]`` is changed.)
"""

from __future__ import annotations

import argparse
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pika

from tests.lab_tests.drill_load import AmqpLoad, amqp_parameters, amqp_queue, rabbit_paused, wait_until

# What each controller reports, in one ssh call without an Erlang CLI (rabbitmqctl takes from 1 s
# to minutes on a loaded machine): Galera's state, the pacemaker nodes it sees online.
CLUSTER_STATE = (
    "mysql -NBe \"SHOW STATUS WHERE Variable_name IN ('wsrep_cluster_status', 'wsrep_cluster_size', "
    "'wsrep_local_state_comment')\" 2>/dev/null | tr '\\t\\n' '= '; echo; "
    "echo pacemaker $(crm_mon -1 --output-as=xml 2>/dev/null | grep -c '<node .* online=\"true\"')"
)


def queue_home(lab, queue: str, ask: int) -> int | None:
    """The controller holding ``queue``'s quorum leader or classic master, as ctrl-<ask> sees it
    (the table format: the JSON one prints a pid without its node)."""
    proc = lab.ssh(ask, "rabbitmqctl -q list_queues name leader pid --no-table-headers", timeout=600)
    for line in proc.stdout.splitlines():
        name, _, holders = line.partition("\t")
        if name == queue:
            found = re.search(r"rabbit@ctrl-(\d+)", holders)
            return int(found.group(1)) if found else None
    return None


def amqp_serves(lab, n: int) -> bool:
    """ctrl-<n> accepts an AMQP login (a node paused by pause_minority has no listener)."""
    try:
        pika.BlockingConnection(amqp_parameters([lab.address("srv", n)])).close()
        return True
    except Exception:
        return False


def cluster_state(lab, n: int) -> str:
    """ctrl-<n>'s own view: ``rabbit serving`` or ``rabbit not serving``, then ``CLUSTER_STATE``."""
    state = lab.ssh(n, CLUSTER_STATE, timeout=60).stdout
    return f"rabbit {'serving' if amqp_serves(lab, n) else 'not serving'}\n{state}"


def not_whole(lab) -> str:
    """Why the clusters are not whole yet, or "" when every controller serves AMQP, is Galera
    Primary Synced of full size, and sees every pacemaker node online. (RabbitMQ's partitions are
    read once after, by ``partitions``: its CLI is too slow to poll.)"""
    size = len(lab.hosts)
    with ThreadPoolExecutor(size) as pool:
        states = dict(zip(lab.hosts, pool.map(lambda n: cluster_state(lab, n), lab.hosts)))
    for n, state in states.items():
        wanted = ("rabbit serving", f"wsrep_cluster_size={size}", "wsrep_cluster_status=Primary",
                  "wsrep_local_state_comment=Synced", f"pacemaker {size}")
        missing = [part for part in wanted if part not in state]
        if missing:
            return f"ctrl-{n}: {missing} in {state!r}"
    return ""


def partitions(lab) -> dict[int, str]:
    """Each controller whose RabbitMQ lists a partition or fewer running nodes than the lab's."""
    nodes = sorted(f"rabbit@ctrl-{n}" for n in lab.hosts)

    def status(n: int) -> dict:
        return json.loads(lab.ssh(n, "rabbitmqctl -q cluster_status --formatter json", timeout=600).stdout or "{}")

    with ThreadPoolExecutor(len(lab.hosts)) as pool:
        statuses = dict(zip(lab.hosts, pool.map(status, lab.hosts)))
    return {n: f"partitions {s.get('partitions')}, running {s.get('running_nodes')}" for n, s in statuses.items()
            if s.get("partitions") or sorted(s.get("running_nodes", [])) != nodes}


def set_net_ticktime(lab, seconds: int) -> None:
    """Every node's Erlang ``net_ticktime``, changed at run time (measurements only)."""
    for n in lab.hosts:
        lab.ssh(n, f"rabbitmqctl -q eval 'net_kernel:set_net_ticktime({seconds}, 5).'")
    wait_until(lambda: all(lab.ssh(n, "rabbitmqctl -q eval 'net_kernel:get_net_ticktime().'").stdout.strip()
                           == str(seconds) for n in lab.hosts), 120, f"net_ticktime {seconds} everywhere")


def isolate_under_load(lab, victim: int, queue: str, home: int) -> dict:
    """Cut ctrl-<victim> under a confirmed-publish load to ``queue`` (whose leader or master is on
    ctrl-<home>: the victim or another node) through the other nodes; heal it once its RabbitMQ
    paused. Returns the longest confirm gap after the cut
    (``amqp_gap``, s, and when it began), when the cut-off node paused (``paused_after``), the
    heal-to-whole time (``rejoin``) and what each poll after the heal still missed
    (``rejoin_trace``), the RabbitMQ partitions left after it (``partitions``, read once), the
    confirmed messages missing afterwards (``lost``), how many were confirmed, the load's
    ``summary``."""
    survivors = [n for n in lab.hosts if n != victim]
    assert queue_home(lab, queue, survivors[0]) == home, f"{queue} does not live on ctrl-{home}"
    amqp = AmqpLoad([lab.address("srv", n) for n in survivors], queue, max_seconds=600)
    amqp.start()
    try:
        amqp.wait_acks(20)
        cut = time.monotonic()
        assert lab.run_lab("isolate", str(victim)).returncode == 0
        try:
            amqp.wait_acks(20, timeout=180)  # confirms flow again (or the test fails here)
            wait_until(lambda: rabbit_paused(lab, victim), 180, f"RabbitMQ on cut-off ctrl-{victim} paused", 1)
            paused_after = time.monotonic() - cut
            amqp.wait_acks(5, timeout=60)
        finally:
            healed = time.monotonic()
            lab.run_lab("heal", str(victim))
        trace: list[str] = []  # what was still missing, at each poll (seconds after the heal)

        def whole() -> bool:
            why = not_whole(lab)
            trace.append(f"{time.monotonic() - healed:.1f}s {why or 'whole'}")
            return not why

        wait_until(whole, 300, "clusters whole after the heal", 0.5)
        rejoin = time.monotonic() - healed
        split = partitions(lab)
        amqp_gap, gap_began = amqp.gap(cut)
    finally:
        amqp.stop()
    return {"amqp_gap": amqp_gap, "gap_began": gap_began, "paused_after": paused_after, "rejoin": rejoin,
            "rejoin_trace": trace, "partitions": split, "lost": sorted(amqp.missing(lab)),
            "confirmed": len(amqp.acked), "summary": amqp.summary()}


def main() -> None:
    from tests.lab.lab import Lab
    from tests.lab_tests.conftest import LabHandle

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--victim", type=int, default=2)
    parser.add_argument("--queue-type", choices=["classic", "quorum"], default="quorum")
    parser.add_argument("--ticktime", type=int, help="set this net_ticktime on every node first")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    lab = LabHandle(Lab.from_env())
    if args.ticktime:
        set_net_ticktime(lab, args.ticktime)
    running = lab.ssh(1, "rabbitmqctl -q eval '{net_kernel:get_net_ticktime(), "
                         "application:get_env(aten, poll_interval)}.'", timeout=600).stdout.strip()
    for _ in range(args.runs):
        wait_until(lambda: not not_whole(lab), 300, "clusters whole before the cut", 2)
        with amqp_queue(lab, args.victim, args.queue_type) as queue:
            result = isolate_under_load(lab, args.victim, queue, args.victim)
            result["new_home"] = queue_home(lab, queue, 1)
        numbers = {key: round(value, 1) if isinstance(value, float) else value for key, value in result.items()}
        print(json.dumps({"queue_type": args.queue_type, "victim": args.victim,
                          "net_ticktime_and_aten_poll_interval": running,
                          "at": time.strftime("%H:%M:%S"), **numbers}), flush=True)


if __name__ == "__main__":
    main()
