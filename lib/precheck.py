"""Host prechecks: what each controller must offer before the deploy changes anything.

Pure rules on facts gathered by ``lib/precheck_facts.py`` from every controller; every problem is
one line naming the host, what was found and the fix. ``deploys/base.py`` runs them first, so
every deploy (``prereqos.py`` and each component alone, ``--dry`` included) refuses before any
operation on any host.

Example::

    from lib.precheck import HostState, problems
    problems(topo, data, {"ctrl-1": HostState(addresses={"eth0": ["10.0.1.11"]}, ...)}, {})
    # ["ctrl-1: the srv address 10.0.2.11 is not configured on any interface (found: eth0 10.0.1.11); fix: ..."]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyinfra.api.exceptions import PyinfraError

from facts.rabbitmq import AMQP_PORT, AMQPS_PORT
from lib.cluster import GALERA_CHECK_DAEMON, VIP_RESOURCE
from lib.run import once_per_run
from lib.topology import Topology

NETWORKS = ("api", "srv", "data")
WILDCARDS = ("0.0.0.0", "::", "*")
# Process names (as ss shows them) of the stack's own listeners.
RABBITMQ = ("beam.smp",)
EPMD = ("epmd", "systemd")  # epmd.socket: systemd holds the socket, epmd inherits it
MARIADB = ("mariadbd", "mysqld")
# galera-check.service's responder; systemd: the socket-activated check of earlier versions,
# which the deploy replaces (deploys/galera.py).
GALERA_CHECK = (GALERA_CHECK_DAEMON.rsplit("/", 1)[1], "systemd")
HAPROXY = ("haproxy",)
COROSYNC = ("corosync",)
APACHE = ("apache2",)
MEMCACHED = ("memcached",)
# Source lines base.py removes from /etc/hosts itself.
REMOVED_BY_BASE = "127.0.1.1"


class PrecheckError(PyinfraError):
    pass


@dataclass(frozen=True)
class Bind:
    proto: str
    address: str
    port: int
    owners: tuple[str, ...]
    what: str


@dataclass
class HostState:
    """One controller's facts (None where it could not be reached: then it is not checked)."""

    addresses: dict[str, list[str]]  # hardware.Ipv4Addrs: interface -> IPv4 addresses
    listeners: list[dict[str, Any]]  # server.Ports
    etc_hosts: dict[str, list[str]]  # server.EtcHosts
    lookup: list[str]  # facts.precheck.HostsLookup
    clock: dict[str, Any]  # facts.precheck.ClockState
    clock_offset: float = 0.0  # the host's time minus the deploying machine's (midpoint of the read)
    clock_error: float = 0.0  # half the time the read took: the offset is known to +/- this
    container: str | None = None
    pacemaker_vips: list[str] = field(default_factory=list)  # VIP resources pacemaker runs here


def stack_binds(topo: Topology, data) -> list[Bind]:
    """Every address and port this host's part of the stack binds (from group_data)."""
    api, srv, data_addr = (topo.address(net) for net in NETWORKS)
    rabbitmq = data.rabbitmq
    binds = [
        *([Bind("tcp", srv, AMQP_PORT, RABBITMQ, "RabbitMQ AMQP")] if rabbitmq["plain_amqp"] else []),
        *([Bind("tcp", srv, AMQPS_PORT, RABBITMQ, "RabbitMQ AMQPS")] if rabbitmq["amqps"] else []),
        Bind("tcp", srv, 25672, RABBITMQ, "RabbitMQ Erlang distribution"),
        Bind("tcp", srv, 4369, EPMD, "epmd"),
        Bind("tcp", srv, 3306, MARIADB, "MariaDB"),
        Bind("tcp", srv, 4567, MARIADB, "Galera replication"),
        Bind("tcp", srv, data.galera["check_port"], GALERA_CHECK, "galera['check_port']"),
        Bind("tcp", srv, data.apache["port"], APACHE, "apache['port']"),
        Bind("tcp", srv, data.memcached["port"], MEMCACHED, "memcached['port']"),
        Bind("tcp", api, data.haproxy["stats_port"], HAPROXY, "haproxy['stats_port']"),
        Bind("udp", srv, data.corosync["port"], COROSYNC, "corosync['port'] (link 0)"),
        Bind("udp", data_addr, data.corosync["port"], COROSYNC, "corosync['port'] (link 1)"),
    ]
    for name, service in data.haproxy_services.items():
        if service.get("enabled", True):
            binds += [Bind("tcp", topo.vip(net), service["port"], HAPROXY,
                           f"the {net} VIP: haproxy_services[{name!r}]") for net in service["binds"]]
    return binds


def _addresses(state: HostState) -> dict[str, str]:
    return {address: interface for interface, addresses in state.addresses.items() for address in addresses}


def address_problems(topo: Topology, name: str, state: HostState) -> list[str]:
    configured = _addresses(state)
    found = ", ".join(f"{i} {a}" for a, i in configured.items() if not a.startswith("127.")) or "none"
    return [f"{name}: the {net} address {topo.address(net, name)} (netprefix[{net!r}] + netsuffix[{name!r}]) "
            f"is not configured on any interface (found: {found}); fix: configure it on the {net} "
            f"interface, or correct netprefix/netsuffix in group_data"
            for net in NETWORKS if topo.address(net, name) not in configured]


def vip_problems(topo: Topology, states: dict[str, HostState], neighbours: dict[str, tuple[str, str | None]]) -> list[str]:
    """``neighbours``: net -> (probing host, link-layer address answering for the VIP or None),
    for the VIPs no controller holds."""
    problems = []
    for net, vip in topo.vips.items():
        for name, state in states.items():
            interface = _addresses(state).get(vip)
            if interface and VIP_RESOURCE[net] not in state.pacemaker_vips:
                problems.append(f"{name}: the {net} VIP {vip} is configured on {interface} but pacemaker does "
                                f"not hold it there ({VIP_RESOURCE[net]} not running on {name}); fix: "
                                f"`ip addr del {vip}/{topo.netmasks[net]} dev {interface}` on {name} "
                                f"(pacemaker places the VIPs)")
        prober, answer = neighbours.get(net, (None, None))
        if answer:
            problems.append(f"{prober}: the {net} VIP {vip} answers ARP from {answer} while no controller holds "
                            f"it: another machine uses it; fix: free {vip} there, or choose another "
                            f"netsuffix['os'] in group_data")
    return problems


def process_name(listed: str) -> str:
    """The program behind a listener as ``ss`` names it. A child that systemd forked and that has
    not exec-ed yet shows as ``(name`` (ss cuts at the quote): until it closes them it holds every
    socket systemd holds, whatever it is about to become (``(sd-accept``, ``(agetty`` at boot,
    ``(epmd``), so it is systemd.

    >>> process_name("(agetty"), process_name("nc")
    ('systemd', 'nc')
    """
    return "systemd" if listed.startswith("(") else listed


def port_problems(name: str, binds: list[Bind], state: HostState) -> list[str]:
    problems = []
    for bind in binds:
        for listener in state.listeners:
            if (listener["protocol"] == bind.proto and listener["port"] == bind.port
                    and listener["ip"] in (bind.address, *WILDCARDS) and process_name(listener["process"]) not in bind.owners):
                problems.append(f"{name}: {bind.proto} port {bind.port} on {bind.address} ({bind.what}) is taken "
                                f"by {listener['process']} listening on {listener['ip']}:{listener['port']}; fix: "
                                f"stop {listener['process']} or move it to another port, or change the port in "
                                f"group_data")
                break
    return problems


def name_problems(topo: Topology, name: str, state: HostState) -> list[str]:
    problems = []
    before_files = state.lookup[: state.lookup.index("files")] if "files" in state.lookup else state.lookup
    if before_files:
        problems.append(f"{name}: host names are looked up in {' '.join(before_files)} before /etc/hosts "
                        f"(/etc/nsswitch.conf hosts: {' '.join(state.lookup)}), so the controllers' names may "
                        f"not resolve to their srv addresses; fix: put 'files' first on the hosts: line")
    for node in topo.nodes:
        srv = node.addresses["srv"]
        for ip, names in state.etc_hosts.items():
            if node.name in names and ip not in (srv, REMOVED_BY_BASE):
                problems.append(f"{name}: /etc/hosts maps {node.name} to {ip}, not to its srv address {srv} "
                                f"(deploys/base.py writes the srv line only); fix: delete {node.name} from the "
                                f"{ip} line of /etc/hosts on {name}")
    return problems


def clock_problems(name: str, state: HostState) -> list[str]:
    chrony, container = state.clock.get("chrony"), state.container
    if chrony is not None and chrony != "active":
        return [f"{name}: chrony is installed but {chrony}: the clock is not kept in sync (Galera, corosync and "
                f"RabbitMQ misbehave on skewed clocks); fix: `systemctl enable --now chrony` on {name}"]
    if chrony == "active" and not container and not state.clock.get("synchronized"):
        return [f"{name}: chrony runs but the clock is not synchronized (timedatectl NTPSynchronized=no); fix: "
                f"give chrony a reachable time source (`chronyc sources` on {name}) and wait for it"]
    return []


def skew_problems(states: dict[str, HostState], max_skew: float) -> list[str]:
    """The controllers' clocks differ by more than ``max_skew`` seconds, with certainty."""
    if len(states) < 2:
        return []
    ahead = max(states, key=lambda n: states[n].clock_offset - states[n].clock_error)
    behind = min(states, key=lambda n: states[n].clock_offset + states[n].clock_error)
    skew = ((states[ahead].clock_offset - states[ahead].clock_error)
            - (states[behind].clock_offset + states[behind].clock_error))
    if skew <= max_skew:
        return []
    return [f"{ahead}: its clock is at least {skew:.1f} s ahead of {behind}'s (allowed: "
            f"prechecks['max_clock_skew']={max_skew} s); fix: synchronize both clocks (chrony) before deploying"]


def problems(topo: Topology, data, states: dict[str, HostState],
             neighbours: dict[str, tuple[str, str | None]]) -> list[str]:
    """Every problem of every reachable controller, in inventory order."""
    found: list[str] = []
    for name, state in states.items():
        host_topo = Topology.from_data(name, data, list(topo.names))
        found += address_problems(topo, name, state)
        found += port_problems(name, stack_binds(host_topo, data), state)
        found += name_problems(topo, name, state)
        found += clock_problems(name, state)
    found += vip_problems(topo, states, neighbours)
    found += skew_problems(states, data.prechecks["max_clock_skew"])
    return found


def once(check) -> list[str]:
    """``check()`` (the problems of every controller) computed on the first call of the run only:
    every host's base then raises the same refusal, from the same facts."""
    return once_per_run("precheck", check)


def raise_if(found: list[str]) -> None:
    if found:
        raise PrecheckError("host prechecks failed, nothing was changed:\n  - " + "\n  - ".join(found))
