"""Fencing from group_data: devices, validation (one line per refusal), CIB objects, packages, the
operator's password entry."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from facts.pacemaker import CibConfiguration, FencingState
from lib.fencing import IPMITOOL_WRAPPER, fence_devices, fence_levels, packages
from lib.secrets import SecretsFileError, set_operator_secret
from lib.validate import validate
from operations import pacemaker
from tests.unit.conftest import NAMES, ROOT
from tests.unit.fakes import FakeHost, run

IPMI = {"agent": "fence_ipmilan", "address": "10.0.9.11", "user": "fence"}


def fencing_data(default_data, devices: dict) -> object:
    default_data["fencing"] = {**default_data["fencing"], "devices": devices}
    for node, listed in devices.items():
        for level, _ in enumerate(listed if isinstance(listed, list) else [], 1):
            default_data["secrets"][f"fence_{node}_{level}"] = "bmc-password"
    return default_data


def every_node(port_base: int = 6230) -> dict:
    return {name: [{**IPMI, "address": "10.0.9.1", "port": port_base + n}] for n, name in enumerate(NAMES, 1)}


def test_no_devices_is_valid_and_fencing_off(default_data):
    assert default_data["fencing"]["devices"] == {}
    assert validate(NAMES, default_data) == []
    assert pacemaker.cluster_property_values(default_data["pacemaker"], "prereqos", fencing=False)["stonith-enabled"] is False
    assert "stonith-enabled" not in pacemaker.cluster_property_values(default_data["pacemaker"], "prereqos", fencing=True)


def test_devices_for_every_controller_are_valid(default_data):
    assert validate(NAMES, fencing_data(default_data, every_node())) == []


def test_refusals_one_line_each(default_data):
    data = fencing_data(default_data, {
        "ctrl-1": [{**IPMI, "agent": "fence_virsh"}],
        "ctrl-2": [{"agent": "fence_redfish", "address": "10.0.9.12", "user": "fence",
                    "options": {"password": "x"}}],
        "ctrl-9": [IPMI],
    })
    problems = [p for p in validate(NAMES, data) if p.startswith("fencing")]
    assert problems == [
        "fencing['devices']['ctrl-1'][0]['agent']='fence_virsh' is invalid; fix: set it to fence_ipmilan or fence_redfish",
        "fencing['devices']['ctrl-2'][0]['options']={'password': 'x'} is invalid; fix: set it to a dict of other "
        "agent parameters (e.g. {'ssl_insecure': 1}); address, user and password are set by the deploy",
        "fencing['devices']['ctrl-9']: 'ctrl-9' is not a controller of the inventory; fix: choose among "
        "['ctrl-1', 'ctrl-2', 'ctrl-3']",
        "fencing['devices'] has no device for ctrl-3: with fencing on, every controller needs one; fix: add its "
        "BMC, or set fencing['devices'] = {} to turn fencing off",
    ]


def test_missing_password_and_shared_bmc_are_refused(default_data):
    devices = every_node()
    devices["ctrl-2"] = [dict(devices["ctrl-1"][0])]
    data = fencing_data(default_data, devices)
    del data["secrets"]["fence_ctrl-3_1"]
    assert [p for p in validate(NAMES, data) if p.startswith("fencing")] == [
        "fencing: fence-ctrl-2-1 and fence-ctrl-1-1 both use 10.0.9.1 port 6231; fix: one device per BMC address and port",
        "fencing: no password for fence-ctrl-3-1 in secrets.json (key 'fence_ctrl-3_1'); fix: "
        ".venv/bin/python -m lib.secrets set fence_ctrl-3_1 (reads it on stdin)",
    ]


def test_too_long_ipmi_password_is_refused(default_data):
    data = fencing_data(default_data, every_node())
    data["secrets"]["fence_ctrl-2_1"] = "x" * 21
    assert [p for p in validate(NAMES, data) if p.startswith("fencing")] == [
        "fencing: the password of fence-ctrl-2-1 (secrets.json 'fence_ctrl-2_1') is longer than 20 bytes, "
        "IPMI 2.0's limit; fix: a shorter BMC password"]


def test_old_stonith_enabled_setting_is_refused(default_data):
    default_data["pacemaker"]["stonith_enabled"] = True
    assert validate(NAMES, default_data) == [
        "pacemaker['stonith_enabled'] is no longer a setting: stonith is on exactly when fencing['devices'] "
        "defines devices; fix: remove it (and define fencing devices)"]


def test_stonith_resources_hold_no_password_and_avoid_their_node(default_data):
    devices = fence_devices({"devices": {"ctrl-1": [IPMI, {"agent": "fence_redfish", "address": "bmc1.example",
                                                          "user": "admin", "options": {"ssl_insecure": 1}}]},
                             "monitor_interval": "60s"})
    objects = dict((obj.get("id"), obj) for _, obj in pacemaker.fence_objects(devices, "60s"))
    ipmi, redfish = objects["fence-ctrl-1-1"], objects["fence-ctrl-1-2"]
    params = {nv.get("name"): nv.get("value") for nv in ipmi.iter("nvpair")}
    assert (ipmi.get("class"), ipmi.get("type")) == ("stonith", "fence_ipmilan")
    assert params == {"ip": "10.0.9.11", "ipport": "623", "username": "fence", "pcmk_host_list": "ctrl-1",
                      "lanplus": "1", "ipmitool_path": IPMITOOL_WRAPPER}
    redfish_params = {nv.get("name"): nv.get("value") for nv in redfish.iter("nvpair")}
    assert redfish_params["password_script"] == "cat /etc/prereqos/fence/bmc1.example-443"
    assert redfish_params["ssl_insecure"] == "1" and redfish_params["ipport"] == "443"
    assert objects["fence-ctrl-1-1-not-on-ctrl-1"].attrib == {
        "id": "fence-ctrl-1-1-not-on-ctrl-1", "rsc": "fence-ctrl-1-1", "node": "ctrl-1", "score": "-INFINITY"}
    assert fence_levels(devices) == {"ctrl-1": ["fence-ctrl-1-1", "fence-ctrl-1-2"]}
    levels = pacemaker.fencing_topology(fence_levels(devices))
    assert [(lv.get("target"), lv.get("index"), lv.get("devices")) for lv in levels] == [
        ("ctrl-1", "1", "fence-ctrl-1-1"), ("ctrl-1", "2", "fence-ctrl-1-2")]
    assert pacemaker.fencing_topology({"ctrl-1": ["fence-ctrl-1-1"]}) is None


def test_stale_devices_are_deleted_constraints_first(default_data):
    devices = fence_devices({"devices": every_node(), "monitor_interval": "60s"})
    cib = CibConfiguration.default()
    for _, obj in pacemaker.fence_objects(devices, "60s"):
        cib[pacemaker.SCOPES[obj.tag]][obj.get("id")] = pacemaker.element_tree(obj)
    kept = [obj for _, obj in pacemaker.fence_objects(devices[:2], "60s")]
    assert pacemaker.stale_fence_objects(cib, kept) == [
        ("rsc_location", "fence-ctrl-3-1-not-on-ctrl-3"), ("primitive", "fence-ctrl-3-1")]
    host = FakeHost({CibConfiguration: cib})
    assert run(pacemaker.absent, host, "fence-ctrl-3-1", "primitive") == [
        "cibadmin --delete --scope resources --xml-text '<primitive id=\"fence-ctrl-3-1\" />'"]
    assert run(pacemaker.absent, FakeHost({CibConfiguration: cib}), "fence-ctrl-9-1", "primitive") == []


def test_packages_per_debian_release():
    ipmi = fence_devices({"devices": {"ctrl-1": [IPMI]}})
    redfish = fence_devices({"devices": {"ctrl-1": [{**IPMI, "agent": "fence_redfish"}]}})
    assert packages(12, ipmi) == ["fence-agents", "ipmitool"]
    assert packages(13, ipmi + redfish) == ["fence-agents-ipmilan", "fence-agents-redfish"]
    assert packages(12, []) == []


def test_operator_secret_enters_by_stdin_0600(tmp_path):
    path = tmp_path / "secrets.json"
    env = {**os.environ, "PREREQOS_SECRETS": str(path)}
    proc = subprocess.run([sys.executable, "-m", "lib.secrets", "set", "fence_ctrl-1_1"], input="s3cret\n",
                          text=True, capture_output=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "s3cret" not in proc.stdout + proc.stderr
    assert json.loads(path.read_text()) == {"fence_ctrl-1_1": "s3cret"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(SecretsFileError, match="generated by the deploy"):
        set_operator_secret("corosync_authkey", "x", path)
    with pytest.raises(SecretsFileError, match="control character"):
        set_operator_secret("fence_ctrl-1_1", "a\nb", path)


# --- On the lab's real output (lab 3, pacemaker 2.1.5, fence_ipmilan against tests/lab/bmc.py) ---------
LAB3_DEVICES = {f"ctrl-{n}": [{"agent": "fence_ipmilan", "address": "10.103.2.1", "port": 6230 + n, "user": "fence"}]
                for n in (1, 2, 3)}


def fixture_lines(name: str) -> list[str]:
    return (ROOT / "tests/fixtures/pacemaker" / name).read_text().splitlines()


def test_converged_fenced_cib_needs_no_change():
    cib = CibConfiguration().process(fixture_lines("cib_configuration_fenced.xml"))
    assert cib["properties"]["stonith-enabled"] == "true"
    assert cib["fencing_topology"] is None
    wanted = pacemaker.fence_objects(fence_devices({"devices": LAB3_DEVICES}), "60s")
    for _, obj in wanted:
        host = FakeHost({CibConfiguration: cib})
        assert run(pacemaker.configure, host, obj) == [], obj.get("id")
    assert pacemaker.stale_fence_objects(cib, [obj for _, obj in wanted]) == []
    assert run(pacemaker.levels, FakeHost({CibConfiguration: cib}), None) == []
    assert run(pacemaker.cluster_properties, FakeHost({CibConfiguration: cib}), {"stonith-enabled": True}) == []
    # Fencing turned off: the devices and their constraints go, constraints first.
    assert pacemaker.stale_fence_objects(cib, []) == [
        *[("rsc_location", f"fence-ctrl-{n}-1-not-on-ctrl-{n}") for n in (1, 2, 3)],
        *[("primitive", f"fence-ctrl-{n}-1") for n in (1, 2, 3)]]


def test_fencing_state_of_running_devices():
    state = FencingState().process(fixture_lines("fencing_state_devices.xml"))
    assert [(d["id"], d["agent"], d["active"], d["failed"], d["check"]["rc_text"]) for d in state["devices"]] == [
        (f"fence-ctrl-{n}-1", "stonith:fence_ipmilan", True, False, "ok") for n in (1, 2, 3)]
    assert all(f"ctrl-{n}" not in d["nodes"] for n, d in zip((1, 2, 3), state["devices"]))
    assert state["history"] == []
    assert FencingState().process(fixture_lines("fencing_state_no_devices.xml")) == {
        "devices": [], "history": [], "online": NAMES}


def test_health_shows_the_devices_and_the_last_fencing():
    from lib.health import Report, check_fencing

    state = FencingState().process(fixture_lines("fencing_state_after_fencing.xml"))
    report = Report(NAMES)
    check_fencing(report, {name: state for name in NAMES})
    assert report.problems == []
    assert [e["target"] for e in state["history"]] == ["ctrl-3", "ctrl-1"]  # F2b, then F1: newest first
    assert report.lines[-1] == "  ok  last fencing: reboot of ctrl-3 by ctrl-2: success at 2026-12-02 00:17:39Z"
    # fence-ctrl-2-1 moved from ctrl-1 to ctrl-3 when ctrl-3 came back: its check is ctrl-3's.
    assert report.lines[1] == "  ok  fence-ctrl-2-1 (fence_ipmilan) on ctrl-3, status check ok since Wed Dec  2 00:18:00 2026"
    # Pacemaker 3 (Debian 13) writes rc_text "OK": the check is its rc, 0.
    pacemaker3 = FencingState().process([line.replace('rc_text="ok"', 'rc_text="OK"')
                                         for line in fixture_lines("fencing_state_after_fencing.xml")])
    report = Report(NAMES)
    check_fencing(report, {name: pacemaker3 for name in NAMES})
    assert report.problems == [] and "status check OK since" in report.lines[1]
    # A failed fencing of a node that is a member again (the operator confirmed it off, it booted):
    # its fate is known.
    state["history"][0]["status"] = "failed"
    report = Report(NAMES)
    check_fencing(report, {name: state for name in NAMES})
    assert report.problems == [] and report.lines[-1].endswith("failed at 2026-12-02 00:17:39Z; ctrl-3 is online again")
    state["devices"][1]["check"].update(rc="1", rc_text="error")
    state["online"].remove("ctrl-3")
    report = Report(NAMES)
    check_fencing(report, {name: state for name in NAMES})
    assert len(report.problems) == 2
