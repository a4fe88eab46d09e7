"""RabbitMQ: facts on real rabbitmqctl/apt output, each operation for each fact state, templates."""

from __future__ import annotations

import pytest
from pyinfra.api import FactProcessError, HiddenValue

from facts.rabbitmq import (
    RabbitmqClusterStatus,
    RabbitmqPackageVersion,
    RabbitmqPermissions,
    RabbitmqPolicies,
    RabbitmqUserAuthenticates,
    RabbitmqUsers,
    has_classic_mirroring,
    has_partition_handling,
    upstream_version,
)
from lib.topology import Topology
from operations import rabbitmq
from tests.unit.conftest import NAMES, ROOT
from tests.unit.fakes import FakeHost, renderer, run

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
    # A stopped node exits 69 with an empty stdout: pyinfra then gives default() == {}.
    assert fact.command() == "rabbitmqctl -q cluster_status --formatter json 2>/dev/null || true"
    assert fact.requires_command == "rabbitmqctl" and fact.default() == {}


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


def test_users_permissions_policies():
    assert RabbitmqUsers().process(lines("list_users_3.10.json")) == {"admin": ["administrator"], "openstack": []}
    assert RabbitmqUsers().process(lines("list_users_3.10_fresh.json")) == {"guest": ["administrator"]}
    assert RabbitmqPermissions().process(lines("list_permissions_3.10.json")) == {
        user: {"configure": ".*", "write": ".*", "read": ".*"} for user in ("admin", "openstack")}
    assert RabbitmqPolicies().process(lines("list_policies_3.10_ha_all.json")) == {
        "ha-all": {"pattern": r"^(?!amq\.).*", "apply_to": "all", "definition": {"ha-mode": "all"}, "priority": 0}}
    assert RabbitmqPolicies().process(lines("list_policies_3.10_none.json")) == {}
    assert RabbitmqPolicies().process(lines("list_policies_4.0_quorum_limit.json")) == {
        "qq-limit": {"pattern": "^x", "apply_to": "quorum_queues", "definition": {"delivery-limit": 10}, "priority": 0}}
    assert RabbitmqUsers().process(lines("list_users_4.0.json")) == RabbitmqUsers().process(lines("list_users_3.10.json"))
    assert RabbitmqPermissions().process(lines("list_permissions_4.0.json")) == \
        RabbitmqPermissions().process(lines("list_permissions_3.10.json"))
    assert RabbitmqPermissions().command(vhost="/os").get_raw_value() == \
        "rabbitmqctl -q list_permissions -p /os --formatter json"
    with pytest.raises(FactProcessError):
        RabbitmqUsers().process(['[{"name": "guest"}]'])


def test_authenticate_fact_masks_the_password_and_reads_the_exit_status():
    command = RabbitmqUserAuthenticates().command(user="admin", password=HiddenValue(PASSWORD))
    assert command.get_raw_value() == f"rabbitmqctl -q authenticate_user admin {PASSWORD} >/dev/null 2>&1; echo $?"
    assert PASSWORD not in command.get_masked_value() and "*MASKED*" in command.get_masked_value()
    assert RabbitmqUserAuthenticates().process(["0"]) is True
    assert RabbitmqUserAuthenticates().process(["65"]) is False
    with pytest.raises(FactProcessError, match="69"):
        RabbitmqUserAuthenticates().process(["69"])  # node down: never guess


# --- operations -------------------------------------------------------------------------------
def users_host(users: dict, authenticates: bool = True) -> FakeHost:
    return FakeHost({RabbitmqUsers: users, RabbitmqUserAuthenticates: lambda user, password: authenticates})


def test_user_added_with_masked_password():
    host = users_host(RabbitmqUsers().process(lines("list_users_3.10_fresh.json")))
    secret = HiddenValue(PASSWORD)
    assert run(rabbitmq.user, host, "admin", secret, tags=["administrator"]) == [
        f"rabbitmqctl -q add_user admin {PASSWORD}", "rabbitmqctl -q set_user_tags admin administrator"]
    assert run(rabbitmq.user, host, "admin", secret, tags=["administrator"], masked=True)[0] == \
        "rabbitmqctl -q add_user admin '*MASKED*'"
    assert not any(cls is RabbitmqUserAuthenticates for cls, _ in host.asked)  # new user: nothing to check


def test_user_unchanged_when_password_authenticates_and_tags_match():
    host = users_host(RabbitmqUsers().process(lines("list_users_3.10.json")), authenticates=True)
    assert run(rabbitmq.user, host, "admin", HiddenValue(PASSWORD), tags=["administrator"]) == []
    assert host.noops == ["RabbitMQ user admin exists with its password and tags ['administrator']"]
    (_, kwargs), = [a for a in host.asked if a[0] is RabbitmqUserAuthenticates]
    assert isinstance(kwargs["password"], HiddenValue) and kwargs["user"] == "admin"


def test_user_password_changed_only_when_it_fails_and_tags_fixed():
    host = users_host({"openstack": ["management"]}, authenticates=False)
    assert run(rabbitmq.user, host, "openstack", PASSWORD) == [
        f"rabbitmqctl -q change_password openstack {PASSWORD}", "rabbitmqctl -q set_user_tags openstack"]
    host = users_host({"openstack": []}, authenticates=False)
    masked = run(rabbitmq.user, host, "openstack", PASSWORD, masked=True)
    assert masked == ["rabbitmqctl -q change_password openstack '*MASKED*'"]


def test_guest_deleted_once():
    fresh = RabbitmqUsers().process(lines("list_users_3.10_fresh.json"))
    assert run(rabbitmq.user, users_host(fresh), "guest", present=False) == ["rabbitmqctl -q delete_user guest"]
    host = users_host(RabbitmqUsers().process(lines("list_users_3.10.json")))
    assert run(rabbitmq.user, host, "guest", present=False) == []
    assert host.noops == ["RabbitMQ user guest is absent"]


def test_permissions():
    permissions = RabbitmqPermissions().process(lines("list_permissions_3.10.json"))
    host = FakeHost({RabbitmqPermissions: lambda vhost: permissions if vhost == "/" else {}})
    assert run(rabbitmq.permissions, host, "openstack", vhost="/") == []
    assert run(rabbitmq.permissions, host, "openstack", vhost="/os") == [
        "rabbitmqctl -q set_permissions -p /os openstack '.*' '.*' '.*'"]
    assert run(rabbitmq.permissions, host, "admin", vhost="/", read="^$") == [
        "rabbitmqctl -q set_permissions -p / admin '.*' '.*' '^$'"]


HA_ARGS = {"pattern": r"^(?!amq\.).*", "definition": {"ha-mode": "all"}}


def test_ha_all_policy_set_once():
    none = FakeHost({RabbitmqPolicies: RabbitmqPolicies().process(lines("list_policies_3.10_none.json"))})
    assert run(rabbitmq.policy, none, "ha-all", **HA_ARGS) == [
        "rabbitmqctl -q set_policy -p / --apply-to all --priority 0 ha-all '^(?!amq\\.).*' '{\"ha-mode\": \"all\"}'"]
    present = FakeHost({RabbitmqPolicies: RabbitmqPolicies().process(lines("list_policies_3.10_ha_all.json"))})
    assert run(rabbitmq.policy, present, "ha-all", **HA_ARGS) == []
    assert present.noops == ["RabbitMQ policy ha-all is set on /"]
    assert run(rabbitmq.policy, present, "ha-all", pattern="^x", definition={"ha-mode": "all"}) != []


def test_leftover_ha_all_removed_on_rabbitmq_4():
    present = FakeHost({RabbitmqPolicies: RabbitmqPolicies().process(lines("list_policies_3.10_ha_all.json"))})
    assert run(rabbitmq.policy, present, "ha-all", present=False) == ["rabbitmqctl -q clear_policy -p / ha-all"]
    none = FakeHost({RabbitmqPolicies: {}})
    assert run(rabbitmq.policy, none, "ha-all", present=False) == []


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
def address(default_data) -> str:
    return Topology.from_data("ctrl-2", default_data, NAMES).address("srv")


def test_rabbitmq_conf_from_group_data(default_data, address):
    text = render("rabbitmq.conf.j2", address=address, port=5672, version="3.10.8",
                  partition_handling=default_data.rabbitmq["partition_handling"])
    settings = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert settings == ["listeners.tcp.1 = 10.0.2.12:5672", "cluster_partition_handling = pause_minority"]
    text = render("rabbitmq.conf.j2", address=address, port=5672, version="4.3.0", partition_handling=None)
    assert "cluster_partition_handling =" not in text and "RabbitMQ 4.3.0 no longer has the setting" in text


def test_erlang_distribution_and_epmd_on_the_srv_address(address):
    env = render("rabbitmq-env.conf.j2", address=address)
    assert 'SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {10,0,2,12}"' in env.splitlines()
    socket = [line for line in render("epmd.socket.conf.j2", address=address).splitlines()
              if line and not line.startswith("#")]
    assert socket == ["[Socket]", "ListenStream=", "ListenStream=127.0.0.1:4369", "ListenStream=10.0.2.12:4369",
                      "FreeBind=true"]
