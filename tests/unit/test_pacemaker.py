"""Pacemaker: facts on real crm_mon/cibadmin XML from the lab, XML builders, operations per CIB state.

Fixtures (tests/fixtures/pacemaker/) come from lab 3 (pacemaker 2.1.5, Debian 12), whose VIPs
are 10.103.1.10 (api) and 10.103.2.10 (srv).
"""

from __future__ import annotations

import copy
from xml.etree.ElementTree import fromstring, tostring

import pytest
from pyinfra.api import FactProcessError, FunctionCommand, OperationValueError

from facts.pacemaker import CibConfiguration, CrmMon, element_tree
from lib.cluster import (
    HAPROXY_BEFORE_VIPS, HAPROXY_CLONE, HAPROXY_RESOURCE, VIP_GROUP, VIP_RESOURCE, VIPS_WITH_HAPROXY,
)
from lib.topology import Topology
from operations import pacemaker
from operations.common import wait_for
from tests.unit.conftest import NAMES, ROOT
from tests.unit.fakes import FakeHost, run

FIXTURES = ROOT / "tests/fixtures/pacemaker"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def crm_mon(name: str) -> dict:
    return CrmMon().process(lines(name))


CIB = CibConfiguration().process(lines("cib_configuration_converged.xml"))


def lab3_topology(default_data) -> Topology:
    default_data["netprefix"] = {net: {**spec, "prefix": f"10.103.{i}"}
                                 for i, (net, spec) in enumerate(default_data["netprefix"].items(), 1)}
    return Topology.from_data("ctrl-1", default_data, NAMES)


# --- CrmMon -------------------------------------------------------------------------------
def test_crm_mon_converged():
    status = crm_mon("crm_mon_converged.xml")
    assert (status["running"], status["dc"], status["quorum"]) == (True, "ctrl-1", True)
    assert status["nodes"] == {"online": NAMES, "offline": [], "standby": []}
    by_id = {(r["id"], tuple(r["nodes"])): r for r in status["resources"]}
    assert by_id[(VIP_RESOURCE["srv"], ("ctrl-1",))] == {
        "id": VIP_RESOURCE["srv"], "agent": "ocf:heartbeat:IPaddr2", "role": "Started", "active": True,
        "failed": False, "nodes": ["ctrl-1"], "parent": VIP_GROUP}
    assert by_id[(VIP_RESOURCE["api"], ("ctrl-1",))]["parent"] == VIP_GROUP
    haproxy = [r for r in status["resources"] if r["id"] == HAPROXY_RESOURCE]
    assert sorted(n for r in haproxy for n in r["nodes"]) == NAMES
    assert {(r["role"], r["parent"], r["agent"]) for r in haproxy} == {("Started", HAPROXY_CLONE, "systemd:haproxy")}


def test_crm_mon_standby_node_moves_the_vips():
    status = crm_mon("crm_mon_standby_failover.xml")
    assert status["nodes"]["standby"] == ["ctrl-1"] and "ctrl-1" in status["nodes"]["online"]
    vips = {r["id"]: r["nodes"] for r in status["resources"] if r["parent"] == VIP_GROUP}
    assert vips == {VIP_RESOURCE["srv"]: ["ctrl-2"], VIP_RESOURCE["api"]: ["ctrl-2"]}


def test_crm_mon_without_quorum_everything_stopped():
    status = crm_mon("crm_mon_no_quorum.xml")
    assert status["quorum"] is False and status["dc"] == "ctrl-1"
    assert status["nodes"] == {"online": ["ctrl-1"], "offline": ["ctrl-2", "ctrl-3"], "standby": []}
    assert {(r["role"], r["active"], tuple(r["nodes"])) for r in status["resources"]} == {("Stopped", False, ())}


def test_crm_mon_not_running():
    status = crm_mon("crm_mon_not_running.xml")
    assert status == {**CrmMon.default(), "error": "Not connected"}


def test_crm_mon_package_default_single_node():
    status = crm_mon("crm_mon_package_default.xml")
    assert (status["dc"], status["nodes"]["online"], status["resources"]) == ("node1", ["node1"], [])
    assert not pacemaker.cluster_ready(NAMES)(status)


def test_crm_mon_command_and_errors():
    assert CrmMon().requires_command() == "crm_mon"
    assert CrmMon().command() == "crm_mon --output-as=xml || [ $? -eq 102 ]"  # only "not connected"
    assert CibConfiguration().command() == "cibadmin --query --scope configuration || [ $? -eq 102 ]"
    with pytest.raises(FactProcessError):
        CrmMon().process(["Connection to cluster failed"])
    with pytest.raises(FactProcessError):
        CrmMon().process(["<cib/>"])


# --- CibConfiguration ----------------------------------------------------------------------
def test_cib_configuration_converged():
    assert CIB["properties"]["stonith-enabled"] == "false"
    assert CIB["properties"]["no-quorum-policy"] == "stop"
    assert CIB["properties"]["cluster-recheck-interval"] == "5min"
    assert list(CIB["resources"]) == [VIP_GROUP, HAPROXY_CLONE]
    assert list(CIB["constraints"]) == [VIPS_WITH_HAPROXY, HAPROXY_BEFORE_VIPS]
    vips = CIB["resources"][VIP_GROUP]
    assert vips["tag"] == "group" and [c["attrs"]["id"] for c in vips["children"]] == [
        f"{VIP_GROUP}-meta_attributes", VIP_RESOURCE["srv"], VIP_RESOURCE["api"]]
    assert vips["children"][0]["children"][0]["attrs"]["value"] == "100"  # resource-stickiness


def test_cib_configuration_errors():
    assert CibConfiguration().default() == {"properties": {}, "resources": {}, "constraints": {}, "fencing_topology": None}
    with pytest.raises(FactProcessError):
        CibConfiguration().process(["Could not connect to the CIB"])
    with pytest.raises(FactProcessError):
        CibConfiguration().process(["<cib/>"])


# --- builders -------------------------------------------------------------------------------
def test_builders_reproduce_what_pacemaker_stored(default_data):
    """The seed's objects, built from group_data, equal the real CIB of the lab: no change."""
    objects = pacemaker.resources_and_constraints(lab3_topology(default_data), default_data["pacemaker"])
    built = {obj.get("id"): element_tree(obj) for _, obj in objects}
    assert built == {**CIB["resources"], **CIB["constraints"]}


def test_primitive_xml():
    xml = tostring(pacemaker.primitive("vip", "ocf:heartbeat:IPaddr2", params={"ip": "10.0.2.10"},
                                       ops=[{"name": "monitor", "interval": "10s"}], meta={"target-role": "Started"}),
                   encoding="unicode")
    assert xml == (
        '<primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">'
        '<instance_attributes id="vip-instance_attributes">'
        '<nvpair id="vip-instance_attributes-ip" name="ip" value="10.0.2.10" /></instance_attributes>'
        '<meta_attributes id="vip-meta_attributes">'
        '<nvpair id="vip-meta_attributes-target-role" name="target-role" value="Started" /></meta_attributes>'
        '<operations><op id="vip-monitor-interval-10s" name="monitor" interval="10s" /></operations>'
        '</primitive>')


def test_primitive_rejects_bad_agent():
    with pytest.raises(OperationValueError):
        pacemaker.primitive("x", "IPaddr2")


def test_cib_value():
    assert [pacemaker.cib_value(v) for v in (False, True, 1000, "5min")] == ["false", "true", "1000", "5min"]


# --- operations -------------------------------------------------------------------------------
@pytest.fixture
def properties(default_data):
    return pacemaker.cluster_property_values(default_data["pacemaker"], default_data["corosync"]["cluster_name"],
                                             fencing=False)


def test_cluster_property_values_from_data(properties):
    assert properties == {"cluster-name": "prereqos", "stonith-enabled": False, "no-quorum-policy": "stop",
                          "pe-warn-series-max": 1000, "pe-input-series-max": 1000, "pe-error-series-max": 1000,
                          "cluster-recheck-interval": "5min"}


def test_properties_noop_when_set(properties):
    host = FakeHost({CibConfiguration: CIB})
    assert run(pacemaker.cluster_properties, host, properties) == []
    assert host.noops and host.noops[0].startswith("cluster properties already set")


def test_properties_on_the_package_default_cib(properties):
    """A CIB first written under the package's default corosync.conf (cluster "debian")."""
    cib = CibConfiguration().process(lines("cib_configuration_package_default.xml"))
    assert cib["resources"] == {} and cib["constraints"] == {}
    commands = run(pacemaker.cluster_properties, FakeHost({CibConfiguration: cib}), properties)
    assert commands[:2] == ["crm_attribute --type crm_config --name cluster-name --update prereqos",
                            "crm_attribute --type crm_config --name stonith-enabled --update false"]
    assert len(commands) == len(properties)


def test_properties_only_the_differing_one(properties):
    cib = copy.deepcopy(CIB)
    cib["properties"]["stonith-enabled"] = "true"
    assert run(pacemaker.cluster_properties, FakeHost({CibConfiguration: cib}), properties) == [
        "crm_attribute --type crm_config --name stonith-enabled --update false"]


@pytest.fixture
def objects(default_data):
    return dict((obj.get("id"), obj) for _, obj in
                pacemaker.resources_and_constraints(lab3_topology(default_data), default_data["pacemaker"]))


def test_configure_noop_when_equal(objects):
    for obj_id, obj in objects.items():
        host = FakeHost({CibConfiguration: CIB})
        assert run(pacemaker.configure, host, obj) == []
        assert host.noops == [f"{obj.tag} {obj_id} is configured"]


def test_configure_creates_missing(objects):
    [command] = run(pacemaker.configure, FakeHost({CibConfiguration: CibConfiguration.default()}), objects[VIP_GROUP])
    assert command.startswith(f"cibadmin --create --scope resources --xml-text '<group id=\"{VIP_GROUP}\">")
    xml = command.split("--xml-text ", 1)[1].strip("'")
    assert element_tree(fromstring(xml)) == CIB["resources"][VIP_GROUP]
    [command] = run(pacemaker.configure, FakeHost({CibConfiguration: CibConfiguration.default()}),
                       objects[VIPS_WITH_HAPROXY])
    assert command == ("cibadmin --create --scope constraints --xml-text "
                       f"'<rsc_colocation id=\"{VIPS_WITH_HAPROXY}\" rsc=\"{VIP_GROUP}\" with-rsc=\"{HAPROXY_CLONE}\" "
                       "score=\"INFINITY\" />'")


def test_configure_replaces_differing(objects, default_data):
    settings = {**default_data["pacemaker"], "haproxy_monitor_interval": "2s"}
    changed = dict((obj.get("id"), obj) for _, obj in
                   pacemaker.resources_and_constraints(lab3_topology(default_data), settings))[HAPROXY_CLONE]
    [command] = run(pacemaker.configure, FakeHost({CibConfiguration: CIB}), changed)
    assert command.startswith(f"cibadmin --replace --scope resources --xml-text '<clone id=\"{HAPROXY_CLONE}\">")
    assert 'interval="2s"' in command


def test_configure_rejects_unknown_tag():
    with pytest.raises(OperationValueError):
        run(pacemaker.configure, FakeHost({CibConfiguration: CIB}), fromstring("<node id='x'/>"))


def test_wait_for_cluster_noop_when_formed():
    host = FakeHost({CrmMon: crm_mon("crm_mon_converged.xml")})
    assert run(pacemaker.wait_for_cluster, host, NAMES) == []
    assert host.noops == ["cluster formed: DC ctrl-1, online ctrl-1, ctrl-2, ctrl-3"]


@pytest.mark.parametrize("fixture", ["crm_mon_no_quorum.xml", "crm_mon_not_running.xml"])
def test_wait_for_cluster_waits_otherwise(fixture):
    [command] = run(pacemaker.wait_for_cluster, FakeHost({CrmMon: crm_mon(fixture)}), NAMES)
    assert isinstance(command, FunctionCommand) and command.function is wait_for
    fact, ready, timeout, what = command.args
    assert fact is CrmMon and not ready(crm_mon(fixture)) and ready(crm_mon("crm_mon_converged.xml"))
    # its failure says where to look when a stuck corosync ring is the cause
    assert what.startswith("pacemaker with ctrl-1, ctrl-2, ctrl-3 online") and "section 23" in what


def test_cluster_ready_needs_every_node():
    assert pacemaker.cluster_ready(NAMES)(crm_mon("crm_mon_standby_failover.xml"))
    assert not pacemaker.cluster_ready([*NAMES, "ctrl-4"])(crm_mon("crm_mon_converged.xml"))
