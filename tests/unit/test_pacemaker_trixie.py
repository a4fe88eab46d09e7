"""Pacemaker on Debian 13 (trixie): crm_mon and cibadmin XML of pacemaker 3.0.0 (api-version
2.38) from lab 5, whose VIPs are 10.105.1.10 (api) and 10.105.2.10 (srv). The XML only gains
attributes over 2.1.5; the facts read the same data, and the objects the deploy builds equal the
CIB pacemaker 3.0 stored (a re-run changes nothing)."""

from __future__ import annotations

from facts.pacemaker import CibConfiguration, CrmMon, element_tree
from lib.cluster import HAPROXY_CLONE, HAPROXY_RESOURCE, VIP_GROUP, VIP_RESOURCE
from lib.topology import Topology
from operations import pacemaker
from tests.unit.conftest import NAMES, ROOT
from tests.unit.fakes import FakeHost, run

FIXTURES = ROOT / "tests/fixtures/pacemaker"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


CONVERGED = CrmMon().process(lines("crm_mon_trixie_converged.xml"))
CIB = CibConfiguration().process(lines("cib_configuration_trixie_converged.xml"))


def lab5_topology(default_data) -> Topology:
    default_data["netprefix"] = {net: {**spec, "prefix": f"10.105.{i}"}
                                 for i, (net, spec) in enumerate(default_data["netprefix"].items(), 1)}
    return Topology.from_data("ctrl-1", default_data, NAMES)


def test_crm_mon_converged():
    assert (CONVERGED["running"], CONVERGED["dc"], CONVERGED["quorum"]) == (True, "ctrl-2", True)
    assert CONVERGED["nodes"] == {"online": NAMES, "offline": [], "standby": []}
    assert [(r["id"], r["parent"], r["nodes"]) for r in CONVERGED["resources"]] == [
        (VIP_RESOURCE["srv"], VIP_GROUP, ["ctrl-1"]), (VIP_RESOURCE["api"], VIP_GROUP, ["ctrl-1"]),
        (HAPROXY_RESOURCE, HAPROXY_CLONE, ["ctrl-2"]), (HAPROXY_RESOURCE, HAPROXY_CLONE, ["ctrl-3"]),
        (HAPROXY_RESOURCE, HAPROXY_CLONE, ["ctrl-1"])]
    assert {(r["agent"], r["role"], r["active"], r["failed"]) for r in CONVERGED["resources"]} == {
        ("ocf:heartbeat:IPaddr2", "Started", True, False), ("systemd:haproxy", "Started", True, False)}
    assert pacemaker.cluster_ready(NAMES)(CONVERGED)


def test_crm_mon_not_running():
    status = CrmMon().process(lines("crm_mon_trixie_not_running.xml"))
    assert status == {**CrmMon.default(), "error": "Not connected"}
    assert not pacemaker.cluster_ready(NAMES)(status)


def test_properties_set_by_the_deploy(default_data):
    properties = pacemaker.cluster_property_values(default_data["pacemaker"], default_data["corosync"]["cluster_name"],
                                             fencing=False)
    assert CIB["properties"]["dc-version"] == "3.0.0-3.0.0"
    host = FakeHost({CibConfiguration: CIB})
    assert run(pacemaker.cluster_properties, host, properties) == []


def test_builders_reproduce_what_pacemaker_3_stored(default_data):
    objects = pacemaker.resources_and_constraints(lab5_topology(default_data), default_data["pacemaker"])
    built = {obj.get("id"): element_tree(obj) for _, obj in objects}
    assert built == {**CIB["resources"], **CIB["constraints"]}
    for _, obj in objects:
        host = FakeHost({CibConfiguration: CIB})
        assert run(pacemaker.configure, host, obj) == [] and host.noops == [f"{obj.tag} {obj.get('id')} is configured"]
