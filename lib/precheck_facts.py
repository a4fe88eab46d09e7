"""The facts the host prechecks read from every controller, once per run (rules: ``lib/precheck.py``).

Example (what the common base and ``deploys/precheck.py`` run)::

    from lib.precheck_facts import refuse_unless_ready
    refuse_unless_ready()      # PrecheckError naming every problem of every host, or nothing
"""

from __future__ import annotations

from pyinfra import host, logger
from pyinfra.api.exceptions import ConnectError
from pyinfra.facts.hardware import Ipv4Addrs
from pyinfra.facts.server import EtcHosts, Ports

from facts.pacemaker import CrmMon
from facts.precheck import ClockState, HostResources, HostsLookup, VipNeighbour
from lib import precheck
from lib.cluster import VIP_RESOURCE
from lib.run import fact_of_the_run, read_window
from lib.topology import Topology, controllers


# What ``host_state`` reads of every controller: the common base reads them ahead, with its own
# (``lib.deploy.prologue``), one command per controller.
FACTS = [(ClockState, {}), (Ipv4Addrs, {}), (Ports, {}), (EtcHosts, {}), (HostsLookup, {}), (HostResources, {})]


def host_state(peer) -> precheck.HostState:
    clock = fact_of_the_run(peer, ClockState)
    before, after = read_window(peer, ClockState)
    addresses = fact_of_the_run(peer, Ipv4Addrs)
    vips = set(Topology.of(host).vips.values())
    holds_vip = any(vip in found for found in addresses.values() for vip in vips)
    return precheck.HostState(
        addresses=addresses,
        listeners=fact_of_the_run(peer, Ports),
        etc_hosts=fact_of_the_run(peer, EtcHosts),
        lookup=fact_of_the_run(peer, HostsLookup),
        clock=clock,
        clock_offset=clock["epoch"] - (before + after) / 2,
        clock_error=(after - before) / 2,
        container=fact_of_the_run(peer, HostResources)["container"],
        # crm_mon only where a VIP is configured: does pacemaker hold it there?
        pacemaker_vips=[r["id"] for r in peer.get_fact(CrmMon)["resources"]
                        if r["id"] in VIP_RESOURCE.values() and r["active"] and peer.name in r["nodes"]]
        if holds_vip else [],
    )


def check() -> list[str]:
    topo = Topology.of(host)
    states: dict[str, precheck.HostState] = {}
    peers = {}
    for peer in controllers(host.inventory):
        try:
            states[peer.name] = host_state(peer)
            peers[peer.name] = peer
        except ConnectError:
            logger.warning(f"{peer.name}: unreachable, not prechecked")
    neighbours = {}
    prober = next(iter(peers), None)
    for net, vip in topo.vips.items():
        held = any(vip in a for s in states.values() for a in s.addresses.values())
        if prober and not held:
            neighbours[net] = (prober, peers[prober].get_fact(VipNeighbour, address=vip))
    return precheck.problems(topo, host.data, states, neighbours)


def refuse_unless_ready() -> None:
    """Read every reachable controller once per run; raise one refusal listing every problem."""
    precheck.raise_if(precheck.once(check))
