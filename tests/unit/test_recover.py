"""Recovery: GaleraPosition on real output of each node state (captured on lab 6, MariaDB 10.11.19,
see tests/fixtures/recovery/README.md), the Galera and RabbitMQ decisions (every refusal), each
recovery operation for each fact state."""

from __future__ import annotations

import json
import subprocess

import pytest
from pyinfra.api import FactProcessError, FunctionCommand
from pyinfra.api.exceptions import DeployError

from facts.galera import GRASTATE, GraState, WsrepStatus
from facts.pacemaker import CrmMon
from facts.rabbitmq import RabbitmqClusterStatus
from facts.recovery import LOCK, SCRIPT, GaleraPosition
from facts.systemd import ServiceState
from lib.cluster import VIP_RESOURCE
from operations import recovery
from tests.unit.conftest import ROOT
from tests.unit.fakes import FakeHost, run

FIXTURES = ROOT / "tests/fixtures/recovery"
UUID = "c11aa82c-e90e-11f1-b2d7-03e080162cf3"
OTHER = "7f3e0d2a-0000-11f1-8000-0123456789ab"


def position(name: str) -> dict:
    return GaleraPosition().process((FIXTURES / f"position_{name}.txt").read_text().splitlines())


CLEAN = position("stopped_clean")              # ctrl-1, last to stop: grastate seqno 11, safe
CRASHED = position("crashed_recovered")        # ctrl-2 stopped while waiting: wsrep-recover 10
WAITING = position("waiting_for_primary")      # ctrl-2 activating: start position 10
PRIMARY = position("running_primary")
ISOLATED = position("isolated_non_primary")
FAILED = position("recovery_failed")


# --- facts ------------------------------------------------------------------------------------
def test_position_from_a_clean_shutdown_is_grastate():
    assert CLEAN == {
        "service": "inactive", "cluster_status": None,
        "grastate": {"uuid": UUID, "seqno": 11, "safe_to_bootstrap": True},
        "position": {"uuid": UUID, "seqno": 11, "source": "grastate.dat"}, "error": None,
    }


def test_position_after_a_crash_is_recovered_by_wsrep_recover():
    assert CRASHED["grastate"] == {"uuid": UUID, "seqno": -1, "safe_to_bootstrap": False}
    assert CRASHED["position"] == {"uuid": UUID, "seqno": 10, "source": "wsrep-recover"}
    assert CRASHED["service"] == "failed"


def test_position_of_a_server_waiting_for_a_primary_component_is_its_start_position():
    assert WAITING["service"] == "activating" and WAITING["cluster_status"] is None
    assert WAITING["position"] == {"uuid": UUID, "seqno": 10, "source": "start position"}


def test_position_of_a_running_server_is_its_last_committed():
    assert PRIMARY["cluster_status"] == "Primary"
    assert PRIMARY["position"] == {"uuid": UUID, "seqno": 14, "source": "running server"}
    assert ISOLATED["cluster_status"] == "non-Primary"
    assert ISOLATED["position"] == {"uuid": UUID, "seqno": 14, "source": "running server"}


def test_failed_recovery_is_no_position_with_the_first_error():
    assert FAILED["position"] is None
    assert FAILED["error"] == "InnoDB: The data file './ibdata1' must be writable"


def test_position_without_any_evidence():
    assert GaleraPosition().process(["service: inactive"])["error"].startswith("no grastate.dat")
    fresh = GaleraPosition().process(["service: active", f"grastate_uuid: {'0' * 8}-0000-0000-0000-{'0' * 12}",
                                      "grastate_seqno: -1", "wsrep_cluster_status: Disconnected",
                                      "wsrep_local_state_uuid: ", "wsrep_last_committed: -1"])
    assert fresh["position"] is None and fresh["error"].startswith("no cluster state")


def test_position_rejects_garbage():
    with pytest.raises(FactProcessError):
        GaleraPosition().process(["ERROR 2002 (HY000): Can't connect"])
    with pytest.raises(FactProcessError):
        GaleraPosition().process(["service: inactive", "recovered: not-a-position"])
    with pytest.raises(FactProcessError):
        GaleraPosition().process(["grastate_uuid: x"])  # no service line


def test_position_command_is_serialised_and_runs_the_script_file():
    command = GaleraPosition().command().get_raw_value()
    assert command.startswith(f"flock -w 300 {LOCK} sh -c ") and command.endswith(f" galera_position {GRASTATE}")
    assert "|| true" not in command  # a lock timeout or an SQL error fails the fact, never looks like "no evidence"
    assert "galera_recovery" in command and GaleraPosition().requires_command() == "galera_recovery"
    assert GaleraPosition.default() == {}
    assert subprocess.run(["sh", "-n", "-c", SCRIPT], capture_output=True, text=True).returncode == 0
    assert "@" not in SCRIPT and '*"ERROR 2002 "* | *"ERROR 2013 "*) ;;' in SCRIPT  # or_no_server's rule


def test_position_script_accepts_only_no_server_from_mysql(tmp_path):
    """The script on this machine with stub tools: "can't connect" is no SQL evidence, any other
    mysql error (access denied) fails, with its message on stderr."""
    script = tmp_path / "galera_position.sh"
    script.write_text(SCRIPT)
    (tmp_path / "grastate.dat").write_text("uuid:    c11a\nseqno:   11\nsafe_to_bootstrap: 1\n")
    stubs = {"systemctl": "echo inactive; exit 3", "pgrep": "exit 1"}
    # mysql's own messages (lab 1, MariaDB 10.11): a wrong socket path, and a user without access;
    # then the same after a warning line on stderr (MariaDB 11 warns about the name `mysql`).
    no_server = "ERROR 2002 (HY000): Can't connect to local server through socket '/nonexistent' (2)"
    denied = "ERROR 1698 (28000): Access denied for user 'nobody'@'localhost'"
    warning = "mysql: Deprecated program name."
    for error, code in ((no_server, 0), (denied, 1), (f"{warning}\n{no_server}", 0), (f"{warning}\n{denied}", 1)):
        stubs["mysql"] = f"printf '%s\\n' \"{error}\" >&2; exit 1"
        for name, body in stubs.items():
            (tmp_path / name).write_text(f"#!/bin/sh\n{body}\n")
            (tmp_path / name).chmod(0o755)
        proc = subprocess.run(["sh", str(script), str(tmp_path / "grastate.dat")], capture_output=True, text=True,
                              env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
        assert proc.returncode == code, (error, proc)
        if code == 0:
            assert GaleraPosition().process(proc.stdout.splitlines())["position"] == {
                "uuid": "c11a", "seqno": 11, "source": "grastate.dat"}
        else:
            assert "Access denied" in proc.stderr and "Access denied" not in proc.stdout
    # No grastate.dat (never clustered) is an answer, not an error.
    (tmp_path / "grastate.dat").unlink()
    (tmp_path / "mysql").write_text(f"#!/bin/sh\necho \"{no_server}\" >&2; exit 1\n")
    proc = subprocess.run(["sh", str(script), str(tmp_path / "grastate.dat")], capture_output=True, text=True,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert proc.returncode == 0 and proc.stdout == "service: inactive\n", proc
    assert GaleraPosition().process(proc.stdout.splitlines())["error"].startswith("no grastate.dat")
    # A server answering, with that warning on stderr: only its rows reach the output.
    rows = f"wsrep_cluster_status\tPrimary\nwsrep_last_committed\t14\nwsrep_local_state_uuid\t{UUID}"
    (tmp_path / "mysql").write_text(f"#!/bin/sh\necho '{warning}' >&2\nprintf '{rows}\\n'\n")
    proc = subprocess.run(["sh", str(script), str(tmp_path / "grastate.dat")], capture_output=True, text=True,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert "Deprecated" not in proc.stdout
    assert GaleraPosition().process(proc.stdout.splitlines())["position"] == {
        "uuid": UUID, "seqno": 14, "source": "running server"}


def test_service_state():
    assert ServiceState().process(["activating"]) == "activating"
    assert ServiceState().command("mariadb").get_raw_value() == "systemctl is-active mariadb || [ $? -eq 3 ]"
    with pytest.raises(FactProcessError):
        ServiceState().process(["Failed to connect to bus"])


# --- the Galera decision ------------------------------------------------------------------------
def test_bootstrap_from_the_most_advanced_node():
    plan = recovery.plan_galera({"ctrl-1": CRASHED, "ctrl-2": CLEAN, "ctrl-3": WAITING})
    assert (plan.action, plan.node, plan.uuid, plan.seqno) == ("bootstrap", "ctrl-2", UUID, 11)
    assert plan.report == [
        f"ctrl-1: MariaDB failed, {UUID}:10 (wsrep-recover)",
        f"ctrl-2: MariaDB inactive, {UUID}:11 (grastate.dat, safe_to_bootstrap)",
        f"ctrl-3: MariaDB activating, {UUID}:10 (start position)",
    ]


def test_tie_prefers_safe_to_bootstrap_then_inventory_order():
    clean_10 = {**CLEAN, "position": {**CLEAN["position"], "seqno": 10}}
    assert recovery.plan_galera({"ctrl-1": WAITING, "ctrl-2": clean_10, "ctrl-3": CRASHED}).node == "ctrl-2"
    assert recovery.plan_galera({"ctrl-1": WAITING, "ctrl-2": CRASHED, "ctrl-3": WAITING}).node == "ctrl-1"


def test_a_primary_component_means_no_bootstrap():
    plan = recovery.plan_galera({"ctrl-1": PRIMARY, "ctrl-2": None, "ctrl-3": FAILED})
    assert plan.action == "running" and plan.node is None
    assert plan.report[1] == "ctrl-2: unreachable"


@pytest.mark.parametrize("ctrl3, reason", [
    (None, "ctrl-3: unreachable"),
    ({}, "ctrl-3: MariaDB not installed"),
    (FAILED, "ctrl-3: MariaDB failed, NO POSITION (InnoDB: The data file './ibdata1' must be writable)"),
])
def test_refused_when_a_node_has_no_evidence(ctrl3, reason):
    with pytest.raises(DeployError) as refused:
        recovery.plan_galera({"ctrl-1": CLEAN, "ctrl-2": CRASHED, "ctrl-3": ctrl3})
    message = str(refused.value)
    assert "position of ctrl-3 is unknown" in message and reason in message
    assert "docs/operations.md" in message


def test_refused_when_nodes_disagree_on_the_cluster_uuid():
    stranger = {**CRASHED, "position": {**CRASHED["position"], "uuid": OTHER}}
    with pytest.raises(DeployError, match=f"disagree on the cluster UUID \\({OTHER}, {UUID}\\)"):
        recovery.plan_galera({"ctrl-1": CLEAN, "ctrl-2": stranger, "ctrl-3": WAITING})


def test_refused_when_no_node_knows_a_committed_position():
    lost = {**CRASHED, "position": {**CRASHED["position"], "seqno": -1}}
    with pytest.raises(DeployError, match="every seqno is -1"):
        recovery.plan_galera({"ctrl-1": lost, "ctrl-2": lost, "ctrl-3": lost})


# --- the RabbitMQ decision ----------------------------------------------------------------------
def rabbit(name: str) -> dict:
    return RabbitmqClusterStatus().process((ROOT / "tests/fixtures/rabbitmq" / name).read_text().splitlines())


RUNNING = rabbit("cluster_status_3.10_three_nodes.json")


def test_rabbitmq_starts_the_stopped_nodes():
    plan = recovery.plan_rabbitmq({"ctrl-1": {}, "ctrl-2": RUNNING, "ctrl-3": None}, None)
    assert (plan.running, plan.stopped, plan.force_boot) == (["ctrl-2"], ["ctrl-1"], None)
    assert plan.report == ["ctrl-1: stopped", "ctrl-2: running", "ctrl-3: unreachable"]


def test_force_boot_only_when_named_and_nothing_runs():
    assert recovery.plan_rabbitmq({"ctrl-1": {}, "ctrl-2": {}, "ctrl-3": {}}, "ctrl-2").force_boot == "ctrl-2"
    ignored = recovery.plan_rabbitmq({"ctrl-1": RUNNING, "ctrl-2": {}, "ctrl-3": {}}, "ctrl-2")
    assert ignored.force_boot is None and ignored.report[-1].startswith("rabbitmq_force_boot=ctrl-2 ignored")
    with pytest.raises(DeployError, match="'ctrl-9' is not a controller"):
        recovery.plan_rabbitmq({"ctrl-1": {}, "ctrl-2": {}, "ctrl-3": {}}, "ctrl-9")
    with pytest.raises(DeployError, match="cannot be reached"):
        recovery.plan_rabbitmq({"ctrl-1": {}, "ctrl-2": {}, "ctrl-3": None}, "ctrl-3")


# --- operations ---------------------------------------------------------------------------------
SYNCED_STATUS = {"cluster_status": "Primary", "local_state": 4}


def test_stop_only_servers_running_without_primary():
    def host(status, state):
        return FakeHost({WsrepStatus: status, ServiceState: lambda service: state})

    stop = "timeout 60 systemctl stop mariadb || { systemctl kill --signal=KILL mariadb; systemctl stop mariadb; }"
    assert run(recovery.galera_stop_without_primary, host({}, "activating")) == [stop]
    assert run(recovery.galera_stop_without_primary, host({"cluster_status": "non-Primary"}, "active")) == [stop]
    stopped = host({}, "failed")
    assert run(recovery.galera_stop_without_primary, stopped) == [] and stopped.noops == ["MariaDB is failed"]
    member = host(SYNCED_STATUS, "active")
    assert run(recovery.galera_stop_without_primary, member) == []
    assert member.noops == ["member of a Primary component: left running"]


def test_bootstrap_marks_safe_starts_new_cluster_and_waits():
    host = FakeHost({WsrepStatus: {}, GaleraPosition: CRASHED, GraState: CRASHED["grastate"]}, name="ctrl-2")
    commands = run(recovery.galera_bootstrap_from_position, host, UUID, 10)
    assert commands[:2] == ["sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' /var/lib/mysql/grastate.dat",
                            "galera_new_cluster"]
    assert "Synced" in commands[2] and len(commands) == 3
    safe = FakeHost({WsrepStatus: {}, GaleraPosition: CLEAN, GraState: CLEAN["grastate"]})
    assert run(recovery.galera_bootstrap_from_position, safe, UUID, 11)[0] == "galera_new_cluster"


def test_bootstrap_refused_when_the_position_moved():
    host = FakeHost({WsrepStatus: {}, GaleraPosition: CRASHED, GraState: CRASHED["grastate"]}, name="ctrl-2")
    (command,) = run(recovery.galera_bootstrap_from_position, host, UUID, 11)
    assert command.startswith(f"echo 'ctrl-2: Galera position is now {UUID}:10, not {UUID}:11")
    assert command.endswith(">&2; exit 1")


def test_bootstrap_noop_when_primary():
    host = FakeHost({WsrepStatus: SYNCED_STATUS})
    assert run(recovery.galera_bootstrap_from_position, host, UUID, 11) == []
    assert host.noops == ["already runs in a Primary component"]


def test_force_boot_only_on_a_stopped_node():
    assert run(recovery.rabbitmq_force_boot, FakeHost({RabbitmqClusterStatus: {}})) == ["rabbitmqctl force_boot"]
    running = FakeHost({RabbitmqClusterStatus: RUNNING})
    assert run(recovery.rabbitmq_force_boot, running) == [] and running.noops == ["RabbitMQ runs: force_boot not needed"]


def test_wait_rabbitmq():
    names = ["ctrl-1", "ctrl-2", "ctrl-3"]
    assert run(recovery.wait_rabbitmq, FakeHost({RabbitmqClusterStatus: RUNNING}), names) == []
    one_down = rabbit("cluster_status_3.10_one_node_stopped.json")
    (command,) = run(recovery.wait_rabbitmq, FakeHost({RabbitmqClusterStatus: one_down}), names)
    assert isinstance(command, FunctionCommand)
    assert not recovery.rabbitmq_all_running(names)(one_down) and recovery.rabbitmq_all_running(names)(RUNNING)


def crm(name: str) -> dict:
    return CrmMon().process((ROOT / "tests/fixtures/pacemaker" / name).read_text().splitlines())


def test_wait_vips():
    vips = list(VIP_RESOURCE.values())
    converged = crm("crm_mon_converged.xml")
    assert recovery.vips_placed(vips)(converged)
    host = FakeHost({CrmMon: converged})
    assert run(recovery.wait_vips, host, vips) == [] and host.noops[0].startswith(f"{', '.join(vips)} on ctrl-")
    for name in ("crm_mon_no_quorum.xml", "crm_mon_not_running.xml"):
        assert not recovery.vips_placed(vips)(crm(name))
        (command,) = run(recovery.wait_vips, FakeHost({CrmMon: crm(name)}), vips)
        assert isinstance(command, FunctionCommand)


def test_fixtures_readme_lists_every_fixture():
    readme = (FIXTURES / "README.md").read_text()
    for path in FIXTURES.glob("*.txt"):
        assert path.name in readme, path.name
    json.dumps([CLEAN, CRASHED, WAITING, PRIMARY, ISOLATED, FAILED])  # facts are plain data
