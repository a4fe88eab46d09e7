"""RabbitMQ: facts on real rabbitmqctl/apt output, each operation for each fact state, templates."""

from __future__ import annotations

import json
import subprocess

import pytest
from pyinfra.api import FactProcessError, HiddenValue

from facts.rabbitmq import (
    RabbitmqAppState,
    RabbitmqClusterStatus,
    RabbitmqDistribution,
    RabbitmqPackageVersion,
    RabbitmqDefinitions,
    has_classic_mirroring,
    has_partition_handling,
    definitions_stdin,
    upstream_version,
)
from lib.secrets import unmasked
from lib.sizing import Resources
from lib.topology import Topology
from operations import rabbitmq
from tests.unit.conftest import NAMES, ROOT
from tests.unit.fakes import FakeHost, commands, renderer, run, stdin_of

FIXTURES = ROOT / "tests/fixtures/rabbitmq"
THREE = ["rabbit@ctrl-1", "rabbit@ctrl-2", "rabbit@ctrl-3"]
PASSWORD = "s3cret-Pw"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def status(name: str) -> dict:
    return RabbitmqClusterStatus().process(lines(name))


# --- facts ------------------------------------------------------------------------------------
def test_cluster_status_three_running_disc_nodes():
    assert status("cluster_status_3.10_three_nodes.json") == {
        "cluster_name": "rabbit@ctrl-1",
        "disc_nodes": THREE,
        "ram_nodes": [],
        "running_nodes": THREE,
        "partitions": {},
        "alarms": [],
        "versions": {node: "3.10.8" for node in THREE},
        "version": "3.10.8",
    }


def test_cluster_status_rabbitmq_4_0():
    s = status("cluster_status_4.0_three_nodes.json")  # Debian 13: RabbitMQ 4.0.5, Erlang 27
    assert s["disc_nodes"] == s["running_nodes"] == THREE
    assert s["partitions"] == {} and s["alarms"] == [] and s["ram_nodes"] == []
    assert s["version"] == "4.0.5" and not has_classic_mirroring(upstream_version(s["version"]))


def test_cluster_status_standalone_fresh_node():
    s = status("cluster_status_3.10_standalone.json")
    assert s["disc_nodes"] == s["running_nodes"] == ["rabbit@ctrl-1"]
    assert s["version"] == "3.10.8"


def test_cluster_status_with_a_stopped_member():
    s = status("cluster_status_3.10_one_node_stopped.json")
    assert s["disc_nodes"] == THREE
    assert s["running_nodes"] == ["rabbit@ctrl-1", "rabbit@ctrl-2"]
    assert list(s["versions"]) == ["rabbit@ctrl-1", "rabbit@ctrl-2"]  # only running nodes report


def test_cluster_status_reports_alarms():
    s = status("cluster_status_3.10_memory_alarm.json")
    assert s["alarms"] == [{"node": "rabbit@ctrl-2", "resource": "memory", "type": "resource_limit"}]


def test_cluster_status_partitions_and_lowest_version():
    raw = (FIXTURES / "cluster_status_3.10_three_nodes.json").read_text()
    # Derived from the real output: a partition seen by ctrl-1, and a node on a newer version.
    raw = raw.replace('"partitions":{}', '"partitions":{"rabbit@ctrl-1":["rabbit@ctrl-3"]}')
    raw = raw.replace('"rabbitmq_version":"3.10.8"}}}', '"rabbitmq_version":"3.10.20"}}}')
    s = RabbitmqClusterStatus().process([raw])
    assert s["partitions"] == {"rabbit@ctrl-1": ["rabbit@ctrl-3"]}
    assert s["versions"]["rabbit@ctrl-3"] == "3.10.20"
    assert s["version"] == "3.10.8"  # lowest: what the whole cluster supports


def test_cluster_status_command_and_default_when_stopped():
    fact = RabbitmqClusterStatus()
    # A stopped node exits 69 (a stopped app 64) with an empty stdout: pyinfra then gives
    # default() == {}. Any other status (75 timeout, 1 not root: seen on the lab) fails the fact.
    assert fact.command() == \
        "rabbitmqctl -q cluster_status --formatter json || { rc=$?; [ $rc -eq 69 ] || [ $rc -eq 64 ]; }"
    assert fact.requires_command() == "rabbitmqctl" and fact.default() == {}


@pytest.mark.parametrize("output", [
    ["Error: unable to perform an operation on node 'rabbit@ctrl-3'."],
    ['{"alarms": []}'],  # JSON, but not a cluster status
    ["[]"],
])
def test_cluster_status_refuses_other_output(output):
    with pytest.raises(FactProcessError):
        RabbitmqClusterStatus().process(output)


def test_package_version_before_and_after_install():
    assert RabbitmqPackageVersion().process(lines("apt_policy_not_installed.txt")) == {
        "installed": None, "candidate": "3.10.8-1.1+deb12u1"}
    assert RabbitmqPackageVersion().process(lines("apt_policy_installed.txt")) == {
        "installed": "3.10.8-1.1+deb12u1", "candidate": "3.10.8-1.1+deb12u1"}
    with pytest.raises(FactProcessError):
        RabbitmqPackageVersion().process(["N: Unable to locate package rabbitmq-server"])
    assert RabbitmqPackageVersion.default() == {"installed": None, "candidate": None}
    assert RabbitmqPackageVersion().process(lines("apt_policy_4.0_installed.txt"))["installed"] == "4.0.5-6+deb13u2"


@pytest.mark.parametrize("text, version, mirroring, partition_handling", [
    ("3.10.8-1.1+deb12u1", (3, 10, 8), True, True),   # Debian 12
    ("4.0.5-6", (4, 0, 5), False, True),              # Debian 13
    ("1:4.3.0-1", (4, 3, 0), False, False),           # epoch, upstream 4.3
    (None, (), False, False),
])
def test_versions_decide_the_settings(text, version, mirroring, partition_handling):
    assert upstream_version(text) == version
    assert has_classic_mirroring(version) is mirroring
    assert has_partition_handling(version) is partition_handling


@pytest.mark.parametrize("fixture, policies", [
    ("list_policies_3.10_ha_all.json", {"ha-all": {
        "pattern": r"^(?!amq\.).*", "apply_to": "all", "definition": {"ha-mode": "all"}, "priority": 0}}),
    ("list_policies_3.10_none.json", {}),
    ("list_policies_4.0_none.json", {}),
    ("list_policies_4.0_quorum_limit.json", {"qq-limit": {
        "pattern": "^x", "apply_to": "quorum_queues", "definition": {"delivery-limit": 10}, "priority": 0}}),
])
def test_definitions_normalise_policies_as_rabbitmq_3_and_4_print_them(fixture, policies):
    """Real ``list_policies`` rows (the fields the node filter keeps, ``definition`` as a JSON
    string) read by RabbitmqDefinitions: the one policy normalisation."""
    rows = (FIXTURES / fixture).read_text()
    output = f'{{"users": {{}}, "permissions": [], "policies": {rows}}}'.splitlines()
    assert RabbitmqDefinitions().process(output)["policies"].get("/", {}) == policies


# --- one read for users, permissions and policies ------------------------------------------------
EXPORT = FIXTURES / "export_definitions_3.10.json"  # real export; admin/openstack hashes blanked


@pytest.fixture
def node_filter(tmp_path):
    """The fact's command run here as the node runs it, against a stand-in ``rabbitmqctl`` that
    prints the real export (or nothing: a stopped node): ``node_filter(passwords)`` -> process."""
    export = tmp_path / "export.json"
    script = tmp_path / "bin/rabbitmqctl"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\n[ "$*" = "-q export_definitions -" ] || exit 64\ncat {export}\n')
    script.chmod(0o755)
    env = {"PATH": f"{script.parent}:/usr/bin:/bin"}

    def run_filter(passwords: dict, exported: str = EXPORT.read_text()) -> subprocess.CompletedProcess:
        export.write_text(exported)
        return subprocess.run(["sh", "-c", RabbitmqDefinitions().command().get_raw_value()], env=env,
                              input=definitions_stdin(passwords), capture_output=True, text=True)

    return run_filter


def test_definitions_filter_checks_passwords_on_the_node_and_drops_hashes(node_filter):
    output = node_filter({"prereqos_fixture": HiddenValue(PASSWORD), "admin": "not-the-password"}).stdout.splitlines()
    assert "password_hash" not in output[0] and "hash" not in output[0]
    definitions = RabbitmqDefinitions().process(output)
    users = definitions["users"]
    assert users["prereqos_fixture"] == {"tags": [], "password_ok": True}
    assert users["admin"] == {"tags": ["administrator"], "password_ok": False}
    assert users["openstack"] == {"tags": [], "password_ok": None}  # not asked
    assert definitions["permissions"]["/"]["openstack"] == {"configure": ".*", "write": ".*", "read": ".*"}
    assert definitions["policies"]["/"]["ha-all"] == {
        "pattern": r"^(?!amq\.).*", "apply_to": "all", "definition": {"ha-mode": "all"}, "priority": 0}
    wrong = RabbitmqDefinitions().process(node_filter({"prereqos_fixture": PASSWORD + "x"}).stdout.splitlines())
    assert wrong["users"]["prereqos_fixture"]["password_ok"] is False
    nobody = RabbitmqDefinitions().process(node_filter({}).stdout.splitlines())
    assert all(user["password_ok"] is None for user in nobody["users"].values())


def test_definitions_filter_fails_when_the_node_printed_nothing(node_filter):
    proc = node_filter({}, exported="")
    assert proc.returncode != 0 and "is the node running?" in proc.stderr


def test_definitions_passwords_go_on_stdin_never_in_the_command():
    command = RabbitmqDefinitions().command().get_raw_value()
    assert command.startswith("python3 -c ") and PASSWORD not in command
    assert json.loads(definitions_stdin({"admin": HiddenValue(PASSWORD), "openstack": PASSWORD})) == {
        "admin": PASSWORD, "openstack": PASSWORD}
    with pytest.raises(FactProcessError):
        RabbitmqDefinitions().process(['{"users": {}}'])


# --- operations -------------------------------------------------------------------------------
EVERYTHING = {"configure": ".*", "write": ".*", "read": ".*"}
HA_ALL = {"ha-all": {"pattern": r"^(?!amq\.).*", "definition": {"ha-mode": "all"}}}
SET_HA_ALL = "rabbitmqctl -q set_policy -p / --apply-to all --priority 0 ha-all '^(?!amq\\.).*' '{\"ha-mode\": \"all\"}'"


def wanted_users(admin_tags=("administrator",)) -> dict:
    return {"admin": {"password": HiddenValue(PASSWORD), "tags": list(admin_tags), "permissions": EVERYTHING},
            "openstack": {"password": HiddenValue(PASSWORD), "tags": [], "permissions": EVERYTHING}}


def definitions_host(users=None, permissions=None, policies=None) -> FakeHost:
    value = {"users": users or {}, "permissions": {"/": permissions or {}}, "policies": {"/": policies or {}}}
    return FakeHost({RabbitmqDefinitions: lambda _stdin: value})


FRESH = {"guest": {"tags": ["administrator"], "password_ok": None}}
CONVERGED = {name: {"tags": tags, "password_ok": True} for name, tags in (("admin", ["administrator"]), ("openstack", []))}


def test_access_on_a_fresh_node_one_read_passwords_on_stdin():
    host = definitions_host(users=FRESH)
    args = dict(users=wanted_users(), absent_users=["guest"], policies=HA_ALL)
    assert run(rabbitmq.access, host, **args) == [
        "rabbitmqctl -q delete_user guest",
        "rabbitmqctl add_user admin", "rabbitmqctl -q set_user_tags admin administrator",
        "rabbitmqctl -q set_permissions -p / admin '.*' '.*' '.*'",
        "rabbitmqctl add_user openstack", "rabbitmqctl -q set_permissions -p / openstack '.*' '.*' '.*'",
        SET_HA_ALL]
    yielded = commands(rabbitmq.access, definitions_host(users=FRESH), **args)
    assert [stdin_of(c) for c in yielded] == [None, PASSWORD, None, None, PASSWORD, None, None]
    (cls, kwargs), = host.asked
    assert cls is RabbitmqDefinitions and json.loads(unmasked(kwargs["_stdin"])) == {"admin": PASSWORD, "openstack": PASSWORD}


def test_access_converged_changes_nothing():
    host = definitions_host(CONVERGED, {"admin": EVERYTHING, "openstack": EVERYTHING},
                            {"ha-all": {**HA_ALL["ha-all"], "apply_to": "all", "priority": 0}})
    assert run(rabbitmq.access, host, users=wanted_users(), absent_users=["guest"], policies=HA_ALL) == []
    assert host.noops == ["RabbitMQ users ['admin', 'openstack'], their permissions and the policies of / are as wanted"]


def test_access_fixes_only_what_differs():
    users = {**CONVERGED, "openstack": {"tags": ["management"], "password_ok": False}}
    host = definitions_host(users, {"admin": {**EVERYTHING, "read": "^$"}, "openstack": EVERYTHING})
    assert run(rabbitmq.access, host, users=wanted_users(), policies=HA_ALL) == [
        "rabbitmqctl -q set_permissions -p / admin '.*' '.*' '.*'",
        "rabbitmqctl change_password openstack", "rabbitmqctl -q set_user_tags openstack",
        SET_HA_ALL]
    assert stdin_of(commands(rabbitmq.access, host, users=wanted_users(), policies=HA_ALL)[1]) == PASSWORD


def test_leftover_ha_all_cleared_on_rabbitmq_4():
    ha_all = {"ha-all": {**HA_ALL["ha-all"], "apply_to": "all", "priority": 0}}
    assert run(rabbitmq.access, definitions_host(policies=ha_all), absent_policies=["ha-all"]) == [
        "rabbitmqctl -q clear_policy -p / ha-all"]
    assert run(rabbitmq.access, definitions_host(), absent_policies=["ha-all"]) == []


def test_join_only_a_standalone_node():
    standalone = {**status("cluster_status_3.10_standalone.json"),
                  "disc_nodes": ["rabbit@ctrl-2"], "running_nodes": ["rabbit@ctrl-2"]}
    assert run(rabbitmq.join_cluster, FakeHost({RabbitmqClusterStatus: standalone}), "rabbit@ctrl-1") == [
        "rabbitmqctl -q stop_app", "rabbitmqctl -q join_cluster rabbit@ctrl-1", "rabbitmqctl -q start_app"]


@pytest.mark.parametrize("fixture", ["cluster_status_3.10_three_nodes.json", "cluster_status_3.10_one_node_stopped.json"])
def test_join_noop_for_a_member_even_when_a_node_is_down(fixture):
    host = FakeHost({RabbitmqClusterStatus: status(fixture)})
    assert run(rabbitmq.join_cluster, host, "rabbit@ctrl-1") == []
    assert host.noops == ["already a member of the cluster of rabbit@ctrl-1"]


def test_join_refused_for_a_stopped_node_or_another_cluster():
    (stopped,) = run(rabbitmq.join_cluster, FakeHost({RabbitmqClusterStatus: {}}, name="ctrl-2"), "rabbit@ctrl-1")
    assert stopped.startswith("echo 'RabbitMQ is not running on ctrl-2") and stopped.endswith(">&2; exit 1")
    other = {**status("cluster_status_3.10_three_nodes.json"), "disc_nodes": ["rabbit@ctrl-2", "rabbit@ctrl-9"]}
    (refused,) = run(rabbitmq.join_cluster, FakeHost({RabbitmqClusterStatus: other}), "rabbit@ctrl-1")
    assert "refusing to reset it" in refused and refused.endswith("exit 1")


# --- templates --------------------------------------------------------------------------------
render = renderer("templates/rabbitmq")


@pytest.fixture
def args(default_data):
    """``template_args(version)`` of ctrl-2, as deploys/rabbitmq.py builds them."""
    topo = Topology.from_data("ctrl-2", default_data, NAMES)
    return lambda version=(3, 10, 8): rabbitmq.template_args(topo, default_data, version, LAB)


# A lab host: 2 vCPUs, 24105 MiB, nofile hard limit 20000 (HostResources on lab 7).
LAB = Resources(mem_mb=24105, cpus=2, nofile_hard=20000)


def test_rabbitmq_conf_from_group_data(args):
    text = render("rabbitmq.conf.j2", **args((3, 10, 8)))
    settings = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert settings == ["listeners.tcp.1 = 10.0.2.12:5672",
                        "listeners.ssl.1 = 10.0.2.12:5671",
                        "ssl_options.cacertfile = /etc/rabbitmq/tls/ca.crt",
                        "ssl_options.certfile = /etc/rabbitmq/tls/node.crt",
                        "ssl_options.keyfile = /etc/rabbitmq/tls/node.key",
                        "ssl_options.verify = verify_none",
                        "ssl_options.fail_if_no_peer_cert = false",
                        "ssl_options.versions.1 = tlsv1.3",
                        "ssl_options.versions.2 = tlsv1.2",
                        "ssl_options.honor_cipher_order = true",
                        "vm_memory_high_watermark.absolute = 5055184896",
                        "cluster_partition_handling = pause_minority"]
    text = render("rabbitmq.conf.j2", **args((4, 3, 0)))
    assert "cluster_partition_handling =" not in text and "RabbitMQ 4.3.0 no longer has the setting" in text


def test_amqp_listeners_follow_the_two_switches(default_data, args):
    default_data.rabbitmq["plain_amqp"] = False
    text = render("rabbitmq.conf.j2", **args())
    assert "listeners.tcp = none" in text.splitlines() and "listeners.tcp.1" not in text
    assert "listeners.ssl.1 = 10.0.2.12:5671" in text.splitlines()
    default_data.rabbitmq.update(plain_amqp=True, amqps=False)
    text = render("rabbitmq.conf.j2", **args())
    assert "listeners.tcp.1 = 10.0.2.12:5672" in text.splitlines()
    assert "listeners.ssl" not in text and "ssl_options" not in text


def test_erlang_distribution_and_epmd_on_the_srv_address(args):
    plain = render("rabbitmq-env.conf.j2", **args())  # group_data's default: inter_node_tls False
    assert 'SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {10,0,2,12} -kernel net_ticktime 60 -aten poll_interval 2000 +S 2:2"' in plain.splitlines()
    assert "CTL_ERL_ARGS" not in plain and "inet_tls" not in plain
    socket = [line for line in render("epmd.socket.conf.j2", **args()).splitlines()
              if line and not line.startswith("#")]
    assert socket == ["[Socket]", "ListenStream=", "ListenStream=127.0.0.1:4369", "ListenStream=10.0.2.12:4369",
                      "FreeBind=true"]


def test_erlang_distribution_in_tls_for_the_node_and_the_cli(args):
    """rabbitmq['inter_node_tls']: the node and the CLI tools start their distribution with
    inet_tls and the options file, where each side shows its certificate and verifies the peer's."""
    env = render("rabbitmq-env.conf.j2", **{**args(), "inter_node_tls": True}).splitlines()
    tls_args = "-proto_dist inet_tls -ssl_dist_optfile /etc/rabbitmq/inter_node_tls.config"
    assert f'CTL_ERL_ARGS="{tls_args}"' in env
    assert f'SERVER_ADDITIONAL_ERL_ARGS="{tls_args} -kernel inet_dist_use_interface {{10,0,2,12}}' in "\n".join(env)
    options = render("inter_node_tls.config.j2", **args())
    body = "".join(line for line in options.splitlines() if not line.startswith("%%")).replace(" ", "")
    for side in ("server", "client"):
        assert (f'{{{side},[{{cacertfile,"/etc/rabbitmq/tls/ca.crt"}},{{certfile,"/etc/rabbitmq/tls/node.crt"}},'
                f'{{keyfile,"/etc/rabbitmq/tls/node.key"}},{{secure_renegotiate,true}},{{verify,verify_peer}}') in body
    assert "{fail_if_no_peer_cert,true}" in body and body.endswith("].")


def test_distribution_read_from_the_running_vm():
    assert [RabbitmqDistribution().process([answer]) for answer in ("tls", "plain", "stopped")] == [
        "tls", "plain", "stopped"]
    with pytest.raises(FactProcessError):
        RabbitmqDistribution().process(["Failed to get unit"])


def wrapper_stdin(tmp_path, command: str) -> str:
    """What the CLI reads from standard input when ``command`` runs through RabbitMQ 4.0's real
    wrapper (``rabbitmqctl_wrapper_4.0.sh``) with a stand-in ``rabbitmq-env`` whose ``run_escript``
    reads stdin only where the wrapper gives it (``input``; ``noinput``: the real CLI's read hangs)."""
    (tmp_path / "rabbitmqctl").write_bytes((FIXTURES / "rabbitmqctl_wrapper_4.0.sh").read_bytes())
    (tmp_path / "rabbitmqctl").chmod(0o755)
    (tmp_path / "rabbitmq-env").write_text(
        'ESCRIPT_DIR=/nonexistent\nrun_escript() { [ "$2" = input ] && cat || echo "$2"; }\n')
    return subprocess.run(["sh", "-c", command], input=PASSWORD, capture_output=True, text=True, timeout=10,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"}).stdout


@pytest.mark.parametrize("subcommand", ["add_user", "change_password"])
def test_rabbitmq_4_wrapper_gives_the_password_command_its_stdin(tmp_path, subcommand):
    command = rabbitmq.password_on_stdin(subcommand, "admin", HiddenValue(PASSWORD))
    assert stdin_of(command) == PASSWORD
    assert wrapper_stdin(tmp_path, command.get_raw_value()) == PASSWORD
    # One argument more (say -q) and the CLI runs with -noinput: its password read hangs for ever.
    assert wrapper_stdin(tmp_path, f"rabbitmqctl -q {subcommand} admin") == "noinput\n"


# --- the app stopped inside a running VM (issue 11: no dead end) --------------------------------
def app_state(tmp_path, stdout: str, exit_code: int) -> tuple[int, str]:
    """The fact's real shell command against a stand-in rabbitmqctl printing ``stdout`` and
    exiting ``exit_code``."""
    fake = tmp_path / "rabbitmqctl"
    fake.write_text(f"#!/bin/sh\nprintf '%s' '{stdout}'\nexit {exit_code}\n")
    fake.chmod(0o755)
    proc = subprocess.run(["sh", "-c", RabbitmqAppState().command()], capture_output=True, text=True,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    return proc.returncode, proc.stdout


@pytest.mark.parametrize("answer, state", [
    ("app_state_3.10_running.txt", "running"), ("app_state_3.10_stopped.txt", "stopped")])
def test_app_state_from_real_answers(answer, state):
    assert RabbitmqAppState().process(lines(answer)) == state


def test_app_state_is_running_from_beams_amqp_listener_without_rabbitmqctl(tmp_path):
    ss = tmp_path / "ss"
    ss.write_text("#!/bin/sh\necho 'LISTEN 0 128 10.0.2.11:5671 0.0.0.0:* users:((\"beam.smp\",pid=9,fd=40))'\n")
    ss.chmod(0o755)
    assert app_state(tmp_path, "{false,false}", 0) == (0, "{true,false}\n")  # rabbitmqctl never asked
    ss.write_text("#!/bin/sh\necho 'LISTEN 0 128 10.0.2.10:5671 0.0.0.0:* users:((\"haproxy\",pid=9,fd=4))'\n")
    assert app_state(tmp_path, "{false,false}", 0) == (0, "{false,false}")  # another listener: asked


def test_app_state_exit_codes(tmp_path):
    assert app_state(tmp_path, "{false,false}", 0) == (0, "{false,false}")
    # 69: the VM is not running (nothing answers): "down", an answer, not an error.
    code, out = app_state(tmp_path, "", 69)
    assert code == 0 and RabbitmqAppState().process(out.splitlines()) == "down"
    # Any other code is not an answer: the fact fails (pyinfra fails the host).
    assert app_state(tmp_path, "", 70)[0] == 70
    with pytest.raises(FactProcessError):
        RabbitmqAppState().process(["Error: something else"])


def test_app_running_starts_only_a_stopped_app():
    host = FakeHost({RabbitmqAppState: "stopped"})
    assert run(rabbitmq.app_running, host) == ["rabbitmqctl -q start_app"]
    for state in ("running", "booting", "down"):
        host = FakeHost({RabbitmqAppState: state})
        assert run(rabbitmq.app_running, host) == [] and len(host.noops) == 1


def test_unit_drop_in_carries_the_open_files_limit(args):
    text = render("rabbitmq-server.service.conf.j2", **args())
    assert text.splitlines()[-2:] == ["[Service]", "LimitNOFILE=20000"]


def run_watchdog(tmp_path, script: str, *, listening: bool, peers_answer: bool, now: int) -> list[str]:
    """The rendered watchdog run with stand-ins for systemctl (active; kill and restart recorded),
    ss, timeout (the peers' AMQP connection) and date; its state in ``tmp_path``. Returns what
    systemctl was asked."""
    stubs = {
        "systemctl": f'echo "$*" >> {tmp_path}/systemctl.log; exit 0',
        "ss": "echo 'LISTEN 0 128 10.0.2.12:5672 0.0.0.0:*'" if listening else "exit 0",
        "timeout": "exit 0" if peers_answer else "exit 1",
        "date": f"echo {now}",
    }
    for name, body in stubs.items():
        (tmp_path / name).write_text(f"#!/bin/sh\n{body}\n")
        (tmp_path / name).chmod(0o755)
    (tmp_path / "watchdog").write_text(script.replace("/run/prereqos", str(tmp_path / "run")))
    subprocess.run(["bash", str(tmp_path / "watchdog")], check=True, timeout=10,
                   env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    log = tmp_path / "systemctl.log"
    asked = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [line for line in asked if not line.startswith("is-active")]


def test_watchdog_restarts_only_a_node_without_its_application_beside_running_peers(args, tmp_path):
    script = render("prereqos-rabbitmq-watchdog.j2", **args())
    assert "for peer in 10.0.2.11 10.0.2.13; do" in script and '"$running" -lt 1 ]' in script
    assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0
    restart = ["kill -s KILL rabbitmq-server", "restart rabbitmq-server"]
    # Healthy: nothing. Cut off or paused in a minority (no peer answers): nothing, ever.
    assert run_watchdog(tmp_path, script, listening=True, peers_answer=True, now=1000) == []
    assert run_watchdog(tmp_path, script, listening=False, peers_answer=False, now=1000) == []
    assert run_watchdog(tmp_path, script, listening=False, peers_answer=False, now=5000) == []
    # Without its application beside running peers: restarted once 120 s (group_data) went by.
    assert run_watchdog(tmp_path, script, listening=False, peers_answer=True, now=6000) == []
    assert run_watchdog(tmp_path, script, listening=False, peers_answer=True, now=6119) == []
    assert run_watchdog(tmp_path, script, listening=False, peers_answer=True, now=6120) == restart
    # Running again in between starts the count again; switched off: nothing.
    assert run_watchdog(tmp_path, script, listening=False, peers_answer=True, now=7000) == []
    assert run_watchdog(tmp_path, script, listening=True, peers_answer=True, now=7100) == []
    assert run_watchdog(tmp_path, script, listening=False, peers_answer=True, now=7200) == []
    assert run_watchdog(tmp_path, script, listening=False, peers_answer=True, now=7300) == []
    (tmp_path / "run" / "rabbitmq-watchdog.off").touch()
    assert run_watchdog(tmp_path, script, listening=False, peers_answer=True, now=9000) == []
