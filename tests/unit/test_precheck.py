"""lib/precheck.py: one refusal line per problem (host, what was found, the fix); nothing on a
healthy host, nor on the stack's own listeners; facts/precheck.py on real command output."""

from __future__ import annotations

import pytest
from pyinfra.facts.server import Ports

from facts.precheck import ClockState, HostResources, HostsLookup, VipNeighbour
from lib import precheck
from lib.precheck import HostState, problems
from lib.topology import Topology
from tests.unit.conftest import NAMES, ROOT

FIXTURES = ROOT / "tests/fixtures/precheck"


@pytest.fixture
def topo(default_data) -> Topology:
    return Topology.from_data("ctrl-1", default_data, NAMES)


def healthy(topo: Topology, name: str, **changes) -> HostState:
    node = next(n for n in topo.nodes if n.name == name)
    state = HostState(
        addresses={"lo": ["127.0.0.1"], "eth0": [node.addresses["api"]], "eth1": [node.addresses["srv"]],
                   "eth2": [node.addresses["data"]]},
        listeners=[{"port": 22, "ip": "0.0.0.0", "protocol": "tcp", "process": "sshd"}],
        etc_hosts={"127.0.0.1": ["localhost"], "127.0.1.1": [name]},
        lookup=["files", "dns"],
        clock={"synchronized": True, "chrony": "active", "epoch": 0.0},
    )
    for key, value in changes.items():
        setattr(state, key, value)
    return state


def states(topo, **per_host) -> dict[str, HostState]:
    return {name: per_host.get(name.replace("-", "_")) or healthy(topo, name) for name in NAMES}


def test_healthy_fresh_hosts_pass(topo, default_data):
    assert problems(topo, default_data, states(topo), {}) == []


def test_missing_address_names_host_address_and_fix(topo, default_data):
    state = healthy(topo, "ctrl-2", addresses={"eth0": ["10.0.1.12"], "eth1": ["10.0.2.12"]})
    (line,) = problems(topo, default_data, states(topo, ctrl_2=state), {})
    assert line == ("ctrl-2: the data address 10.0.3.12 (netprefix['data'] + netsuffix['ctrl-2']) is not configured "
                    "on any interface (found: eth0 10.0.1.12, eth1 10.0.2.12); fix: configure it on the data "
                    "interface, or correct netprefix/netsuffix in group_data")


def test_vip_on_a_controller_without_pacemaker_is_refused_with_pacemaker_it_is_fine(topo, default_data):
    addresses = healthy(topo, "ctrl-3").addresses | {"eth0": ["10.0.1.13", "10.0.1.10"]}
    (line,) = problems(topo, default_data, states(topo, ctrl_3=healthy(topo, "ctrl-3", addresses=addresses)), {})
    assert line.startswith("ctrl-3: the api VIP 10.0.1.10 is configured on eth0 but pacemaker does not hold it")
    assert line.endswith("fix: `ip addr del 10.0.1.10/24 dev eth0` on ctrl-3 (pacemaker places the VIPs)")
    held = healthy(topo, "ctrl-3", addresses=addresses, pacemaker_vips=["vipapi"])
    assert problems(topo, default_data, states(topo, ctrl_3=held), {}) == []


def test_vip_answering_from_elsewhere_is_refused(topo, default_data):
    found = problems(topo, default_data, states(topo), {"srv": ("ctrl-1", "fe:10:ab:e1:f2:32"), "api": ("ctrl-1", None)})
    assert found == ["ctrl-1: the srv VIP 10.0.2.10 answers ARP from fe:10:ab:e1:f2:32 while no controller holds it: "
                     "another machine uses it; fix: free 10.0.2.10 there, or choose another netsuffix['os'] in "
                     "group_data"]


def test_port_taken_by_another_program_on_the_address_or_a_wildcard(topo, default_data):
    listeners = [{"port": 5672, "ip": "0.0.0.0", "protocol": "tcp", "process": "python3"},
                 {"port": 8080, "ip": "10.0.2.10", "protocol": "tcp", "process": "nc"},
                 {"port": 5405, "ip": "10.0.3.12", "protocol": "udp", "process": "socat"},
                 {"port": 3306, "ip": "127.0.0.1", "protocol": "tcp", "process": "mariadbd"},  # other address
                 {"port": 9000, "ip": "10.0.1.12", "protocol": "udp", "process": "x"}]  # other protocol
    found = problems(topo, default_data, states(topo, ctrl_2=healthy(topo, "ctrl-2", listeners=listeners)), {})
    assert found == [
        "ctrl-2: tcp port 5672 on 10.0.2.12 (RabbitMQ AMQP) is taken by python3 listening on 0.0.0.0:5672; fix: "
        "stop python3 or move it to another port, or change the port in group_data",
        "ctrl-2: udp port 5405 on 10.0.3.12 (corosync['port'] (link 1)) is taken by socat listening on "
        "10.0.3.12:5405; fix: stop socat or move it to another port, or change the port in group_data",
        "ctrl-2: tcp port 8080 on 10.0.2.10 (the srv VIP: haproxy_services['swift_proxy']) is taken by nc listening "
        "on 10.0.2.10:8080; fix: stop nc or move it to another port, or change the port in group_data",
    ]


def test_a_disabled_service_port_is_not_checked(topo, default_data):
    default_data.haproxy_services["swift_proxy"]["enabled"] = False
    listeners = [{"port": 8080, "ip": "0.0.0.0", "protocol": "tcp", "process": "python3"}]
    assert problems(topo, default_data, states(topo, ctrl_2=healthy(topo, "ctrl-2", listeners=listeners)), {}) == []


def test_amqp_ports_follow_the_rabbitmq_switches(topo, default_data):
    def amqp_ports():
        return sorted(b.port for b in precheck.stack_binds(topo, default_data) if b.what.startswith("RabbitMQ AMQP"))

    assert amqp_ports() == [5671, 5672]
    default_data["rabbitmq"]["plain_amqp"] = False
    assert amqp_ports() == [5671]
    default_data["rabbitmq"].update(plain_amqp=True, amqps=False)
    assert amqp_ports() == [5672]


def test_names_pointing_elsewhere_and_dns_before_files(topo, default_data):
    state = healthy(topo, "ctrl-1", etc_hosts={"10.9.9.9": ["ctrl-2", "other"], "10.0.2.12": ["ctrl-2"]},
                    lookup=["dns", "files"])
    found = problems(topo, default_data, states(topo, ctrl_1=state), {})
    assert found == [
        "ctrl-1: host names are looked up in dns before /etc/hosts (/etc/nsswitch.conf hosts: dns files), so the "
        "controllers' names may not resolve to their srv addresses; fix: put 'files' first on the hosts: line",
        "ctrl-1: /etc/hosts maps ctrl-2 to 10.9.9.9, not to its srv address 10.0.2.12 (deploys/base.py writes the "
        "srv line only); fix: delete ctrl-2 from the 10.9.9.9 line of /etc/hosts on ctrl-1",
    ]


def test_time_sync_stopped_or_unsynchronized_and_softened_in_a_container(topo, default_data):
    stopped = healthy(topo, "ctrl-2", clock={"synchronized": True, "chrony": "inactive", "epoch": 0.0})
    (line,) = problems(topo, default_data, states(topo, ctrl_2=stopped), {})
    assert line.startswith("ctrl-2: chrony is installed but inactive") and "`systemctl enable --now chrony`" in line
    unsynced = {"synchronized": False, "chrony": "active", "epoch": 0.0}
    (line,) = problems(topo, default_data, states(topo, ctrl_2=healthy(topo, "ctrl-2", clock=unsynced)), {})
    assert line.startswith("ctrl-2: chrony runs but the clock is not synchronized")
    in_lxc = healthy(topo, "ctrl-2", clock=unsynced, container="lxc")
    assert problems(topo, default_data, states(topo, ctrl_2=in_lxc), {}) == []
    fresh = healthy(topo, "ctrl-2", clock={"synchronized": False, "chrony": None, "epoch": 0.0})
    assert problems(topo, default_data, states(topo, ctrl_2=fresh), {}) == []  # base installs chrony


def test_clock_skew_beyond_its_uncertainty(topo, default_data):
    ahead = healthy(topo, "ctrl-3", clock_offset=3.0, clock_error=0.2)
    (line,) = problems(topo, default_data, states(topo, ctrl_3=ahead), {})
    assert line == ("ctrl-3: its clock is at least 2.8 s ahead of ctrl-1's (allowed: prechecks['max_clock_skew']=1.0 "
                    "s); fix: synchronize both clocks (chrony) before deploying")
    unsure = healthy(topo, "ctrl-3", clock_offset=1.5, clock_error=0.6)  # could be 0.9 s: not refused
    assert problems(topo, default_data, states(topo, ctrl_3=unsure), {}) == []


def lab_data(default_data, lab: int = 7):
    """group_data with lab ``lab``'s networks (10.10<lab>.{1,2,3}.0/24), as tests/lab/inventory.py sets them."""
    for index, net in enumerate(("api", "srv", "data"), 1):
        default_data.netprefix[net] = {"prefix": f"10.{100 + lab}.{index}", "network": f"10.{100 + lab}.{index}.0",
                                       "class": 24}
    return default_data


@pytest.mark.parametrize("lab, capture, check_owner", [
    (7, "ss-lpuntn-ctrl-2-converged.txt", "systemd"),  # the socket-activated check of earlier versions
    (3, "ss-lpuntn-ctrl-2-lab3-responder.txt", "galera-checkd"),  # galera-check.service
])
def test_the_stack_own_listeners_pass(default_data, lab, capture, check_owner):
    """Every listener of a converged lab controller (``ss -lpuntn`` on ctrl-2, through pyinfra's
    own Ports fact) is the stack's own: no refusal; a stray one on a stack port is."""
    data = lab_data(default_data, lab)
    topo = Topology.from_data("ctrl-1", data, NAMES)
    fact = Ports()
    fact._tool = "ss"
    listeners = fact.process((FIXTURES / capture).read_text().splitlines())
    assert {"port": 5405, "ip": f"10.{100 + lab}.3.12", "protocol": "udp", "process": "corosync"} in listeners
    assert {"port": 9200, "ip": f"10.{100 + lab}.2.12", "protocol": "tcp", "process": check_owner} in listeners
    assert problems(topo, data, states(topo, ctrl_2=healthy(topo, "ctrl-2", listeners=listeners)), {}) == []
    stray = [*listeners, {"port": 25672, "ip": "::", "protocol": "tcp", "process": "nc"}]
    (line,) = problems(topo, data, states(topo, ctrl_2=healthy(topo, "ctrl-2", listeners=stray)), {})
    assert line.startswith(f"ctrl-2: tcp port 25672 on 10.{100 + lab}.2.12 (RabbitMQ Erlang distribution) is taken by nc")
    squatter = [{**x, "process": "nc"} if x["port"] == 9200 else x for x in listeners]
    (line,) = problems(topo, data, states(topo, ctrl_2=healthy(topo, "ctrl-2", listeners=squatter)), {})
    assert line.startswith(f"ctrl-2: tcp port 9200 on 10.{100 + lab}.2.12 (galera['check_port']) is taken by nc")


@pytest.mark.parametrize("child", ["(sd-accept", "(agetty", "(epmd"])
def test_a_child_systemd_has_not_exec_ed_yet_is_systemd(default_data, child):
    """Seen on lab 1 during a health probe (``(sd-accept``) and in CI after a full stop, at boot
    (``(agetty``): ss names the listener of galera-check.socket and epmd.socket after systemd's
    not yet exec-ed child, which holds all of systemd's sockets for that moment."""
    data = lab_data(default_data)
    topo = Topology.from_data("ctrl-1", data, NAMES)
    srv = topo.address("srv", "ctrl-2")
    accepting = [{"port": port, "ip": srv, "protocol": "tcp", "process": child} for port in (4369, 9200)]
    assert problems(topo, data, states(topo, ctrl_2=healthy(topo, "ctrl-2", listeners=accepting)), {}) == []
    assert precheck.process_name(child) == "systemd" and precheck.process_name("nc") == "nc"


def test_refusal_raised_once_with_every_line():
    with pytest.raises(precheck.PrecheckError, match="host prechecks failed, nothing was changed:\n  - a\n  - b"):
        precheck.raise_if(["a", "b"])
    precheck.raise_if([])


# --- facts on real output (lab 7 containers, Debian 12) ------------------------------------------

def test_host_resources_of_a_lab_container():
    output = ["cpus=2", "mem_kb=24683652", "cgroup_bytes=9223372036854771712", "nofile_hard=20000",
              "container=lxc"]
    assert HostResources().process(output) == {"cpus": 2, "mem_mb": 24105, "nofile_hard": 20000, "container": "lxc"}
    limited = ["cpus=4", "mem_kb=24683652", "cgroup_bytes=4294967296", "nofile_hard=1048576", "container=none"]
    assert HostResources().process(limited) == {"cpus": 4, "mem_mb": 4096, "nofile_hard": 1048576, "container": None}


def test_clock_state_lookup_and_neighbour():
    assert ClockState().process(["synchronized=no", "chrony=", "epoch=1796131624.70097"]) == {
        "synchronized": False, "chrony": None, "epoch": 1796131624.70097}
    assert HostsLookup().process(["hosts:          files dns"]) == ["files", "dns"]
    assert HostsLookup().process(["hosts: files mdns4_minimal [NOTFOUND=return] dns"]) == [
        "files", "mdns4_minimal", "dns"]
    assert VipNeighbour().process(["10.107.2.1 dev eth1 lladdr fe:10:ab:e1:f2:32 REACHABLE"]) == "fe:10:ab:e1:f2:32"
    assert VipNeighbour().process(["10.107.1.10 dev eth0 INCOMPLETE"]) is None
    assert VipNeighbour().process([]) is None
