"""memcached: sizes from the host, the configuration file as deploys/memcached.py renders it, the
``stats`` fact on real output, its place in the prechecks and the health report."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pyinfra.api import FactProcessError
from pyinfra.api.util import get_template

from facts.memcached import MemcachedStats
from lib.precheck import stack_binds
from lib.sizing import Resources, memcached_connections, memcached_memory, memcached_sizes
from lib.topology import Topology
from operations import memcached
from tests.unit.conftest import NAMES, ROOT

FIXTURES = ROOT / "tests/fixtures/memcached"
LAB = Resources(mem_mb=24105, cpus=2, nofile_hard=20000)  # HostResources of a lab container


@pytest.mark.parametrize(("mem_mb", "expected"), [(512, 64), (4096, 256), (24105, 1506), (65536, 2048)])
def test_memory_is_a_sixteenth_of_ram_64_mib_to_2_gib(mem_mb, expected):
    assert memcached_memory(Resources(mem_mb=mem_mb, cpus=2)) == expected


@pytest.mark.parametrize(("cpus", "nofile", "expected"), [(1, None, 1024), (2, 20000, 2048), (4, None, 4096),
                                                         (32, None, 8192), (8, 2000, 2000)])
def test_connections_follow_the_vcpus_within_the_open_files_allowed(cpus, nofile, expected):
    assert memcached_connections(Resources(mem_mb=8192, cpus=cpus, nofile_hard=nofile)) == expected


def test_auto_derives_a_set_value_is_kept():
    assert memcached_sizes({"memory_mb": "auto", "max_connections": None}, LAB) == {
        "memory_mb": 1506, "max_connections": 2048}
    assert memcached_sizes({"memory_mb": 512, "max_connections": "auto"}, LAB) == {
        "memory_mb": 512, "max_connections": 2048}


def options(default_data, me: str, resources: Resources = LAB) -> list[str]:
    topo = Topology.from_data(me, default_data, NAMES)
    args = {"host": SimpleNamespace(name=me), **memcached.template_args(topo, default_data, resources)}
    text = get_template(str(ROOT / memcached.TEMPLATE)).render(args)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("me, address", [("ctrl-1", "10.0.2.11"), ("ctrl-3", "10.0.2.13")])
def test_config_listens_on_the_srv_address_only_without_udp(default_data, me, address):
    lines = options(default_data, me)
    assert [line for line in lines if line.startswith("-l")] == [f"-l {address}"]
    assert "-p 11211" in lines and "-U 0" in lines and "-u memcache" in lines
    assert "-m 1506" in lines and "-c 2048" in lines


def test_config_takes_the_sizes_from_group_data(default_data):
    default_data.memcached.update(memory_mb=128, max_connections=500, port=11311)
    lines = options(default_data, "ctrl-2")
    assert {"-m 128", "-c 500", "-p 11311", "-l 10.0.2.12"} <= set(lines)


def test_servers_are_every_controller_srv_address(default_data):
    topo = Topology.from_data("ctrl-2", default_data, NAMES)
    assert memcached.servers(topo, default_data) == ["10.0.2.11:11211", "10.0.2.12:11211", "10.0.2.13:11211"]


def test_the_prechecks_know_its_port_and_its_owner(default_data):
    topo = Topology.from_data("ctrl-1", default_data, NAMES)
    (bind,) = [b for b in stack_binds(topo, default_data) if b.what == "memcached['port']"]
    assert (bind.proto, bind.address, bind.port, bind.owners) == ("tcp", "10.0.2.11", 11211, ("memcached",))


# --- fact: `stats` captured on a lab host, and nothing listening --------------------------------------
def test_stats_of_a_lab_node():
    found = MemcachedStats().process((FIXTURES / "stats-ctrl-1.txt").read_text().splitlines())
    assert found["address"] == "10.103.2.11" and found["port"] == 11211
    assert int(found["stats"]["pid"]) > 0 and found["stats"]["max_connections"] == "2048"
    assert int(found["stats"]["limit_maxbytes"]) == 1506 * 1024 * 1024


def test_no_answer_is_no_stats():
    assert MemcachedStats().process(["at 127.0.0.1 11211"]) == {"address": "127.0.0.1", "port": 11211, "stats": {}}


@pytest.mark.parametrize("output", [["garbage"], ["at 10.0.2.11 11211", "ERROR"], ["at 10.0.2.11 x"]])
def test_what_is_not_an_answer_is_refused(output):
    with pytest.raises(FactProcessError):
        MemcachedStats().process(output)


def test_command_asks_the_configured_address_or_the_one_given():
    default = MemcachedStats().command().get_raw_value()
    assert "sed -n 's/^-l[[:space:]]*//p' /etc/memcached.conf" in default and "stats" in default
    assert MemcachedStats().command(address="127.0.0.1", port=11211).get_raw_value().startswith(
        "a=127.0.0.1; p=11211; ")
