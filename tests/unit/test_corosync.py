"""Corosync: facts on real output captured from the lab, the rendered corosync.conf, the restart op.

Fixtures (tests/fixtures/corosync/) come from lab hosts running corosync 3.1.7 (Debian 12).
"""

from __future__ import annotations

import shutil
import socket
import subprocess

import jinja2
import pytest
from pyinfra.api import FactProcessError, FunctionCommand, OperationError
from pyinfra.context import ctx_host

from facts.corosync import CorosyncCmap, CorosyncLinks, CorosyncQuorum
from lib.topology import Topology
from operations import corosync as corosync_ops
from operations.common import wait_for
from tests.unit.conftest import NAMES, ROOT
from tests.unit.fakes import FakeHost, answers, run

FIXTURES = ROOT / "tests/fixtures/corosync"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


# --- facts --------------------------------------------------------------------------------
def test_quorum_quorate_three_members():
    quorum = CorosyncQuorum().process(lines("quorumtool_quorate.txt"))
    assert quorum == {
        "running": True, "quorate": True, "node_id": 1, "nodes": 3, "expected_votes": 3,
        "total_votes": 3, "quorum": 2, "activity_blocked": False,
        "flags": ["Quorate", "WaitForAll", "LastManStanding"],
        "members": [
            {"nodeid": 1, "votes": 1, "name": "ctrl-1", "local": True},
            {"nodeid": 2, "votes": 1, "name": "ctrl-2", "local": False},
            {"nodeid": 3, "votes": 1, "name": "ctrl-3", "local": False},
        ],
    }


def test_quorum_alone_is_not_quorate_and_blocked():
    quorum = CorosyncQuorum().process(lines("quorumtool_alone_not_quorate.txt"))
    assert quorum["quorate"] is False and quorum["activity_blocked"] is True
    assert (quorum["quorum"], quorum["total_votes"], quorum["expected_votes"]) == (2, 1, 3)
    assert [m["name"] for m in quorum["members"]] == ["ctrl-1"]


def test_quorum_fact_command_and_default():
    fact = CorosyncQuorum()
    assert fact.requires_command() == "corosync-quorumtool"
    # Exit 2 (not quorate) is an answer; exit 1 only when no corosync runs (stopped), else an error.
    assert fact.command() == "corosync-quorumtool -s || [ $? -eq 2 ] || ! pgrep -x corosync >/dev/null"
    assert fact.default() == {"running": False, "quorate": False, "members": []}


def test_quorum_unexpected_output_raises():
    with pytest.raises(FactProcessError):
        CorosyncQuorum().process(["Cannot initialize QUORUM service"])


def test_links_all_connected():
    links = CorosyncLinks().process(lines("cfgtool_connected.txt"))
    assert links["node_id"] == 2 and links["transport"] == "knet"
    assert [(link["id"], link["addr"]) for link in links["links"]] == [(0, "10.103.2.12"), (1, "10.103.3.12")]
    for link in links["links"]:
        assert link["nodes"] == {"1": "connected", "2": "localhost", "3": "connected"}


def test_links_one_link_down_to_one_node():
    links = CorosyncLinks().process(lines("cfgtool_link1_down_to_node3.txt"))
    assert links["links"][0]["nodes"]["3"] == "connected"
    assert links["links"][1]["nodes"] == {"1": "localhost", "2": "connected", "3": "disconnected"}


def test_links_peers_stopped():
    links = CorosyncLinks().process(lines("cfgtool_peers_down.txt"))
    assert {state for link in links["links"] for state in link["nodes"].values()} == {"localhost", "disconnected"}


def test_links_unexpected_output_raises():
    with pytest.raises(FactProcessError):
        CorosyncLinks().process(["Could not initialize corosync configuration API error 2"])


def test_cmap_totem_types():
    totem = CorosyncCmap().process(lines("cmapctl_totem.txt"))
    assert totem["totem.crypto_cipher"] == "aes256" and totem["totem.crypto_hash"] == "sha256"
    assert totem["totem.transport"] == "knet" and totem["totem.link_mode"] == "passive"
    assert totem["totem.token"] == 3000 and totem["totem.interface.0.mcastport"] == 5405


def test_cmap_command_quotes_prefix():
    assert CorosyncCmap().command(prefix="totem.").get_raw_value() == \
        "corosync-cmapctl -b totem. || ! pgrep -x corosync >/dev/null"
    assert CorosyncCmap().command(prefix="a b").get_raw_value().startswith("corosync-cmapctl -b 'a b'")


def test_cmap_unexpected_line_raises():
    with pytest.raises(FactProcessError):
        CorosyncCmap().process(["Failed to initialize the cmap API. Error CS_ERR_LIBRARY"])


# --- corosync.conf ----------------------------------------------------------------------------
def render(data, names=NAMES, me="ctrl-1") -> str:
    topo = Topology.from_data(me, data, names)
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        (ROOT / corosync_ops.TEMPLATE).read_text())
    return template.render(**corosync_ops.template_args(topo, data))


def test_conf_knet_two_links_crypto_votequorum(default_data):
    conf = render(default_data)
    assert "transport: knet" in conf
    assert "crypto_cipher: aes256" in conf and "crypto_hash: sha256" in conf
    assert "token: 1000" in conf and "cluster_name: prereqos" in conf
    assert conf.count("linknumber:") == 2 and conf.count("mcastport: 5405") == 2
    for n, name in enumerate(NAMES, 1):
        assert (f"name: {name}\n        nodeid: {n}\n        ring0_addr: 10.0.2.1{n}\n"
                f"        ring1_addr: 10.0.3.1{n}\n") in conf
    for line in ("expected_votes: 3", "wait_for_all: 1", "last_man_standing: 1",
                 "last_man_standing_window: 10000"):
        assert line in conf
    # corosync 1/2-era settings are gone; no two_node with three nodes.
    settings = "\n".join(line for line in conf.splitlines() if not line.lstrip().startswith("#"))
    for old in ("secauth", "service {", "amf", "aisexec", "bindnetaddr", "mcastaddr", "two_node"):
        assert old not in settings


def test_conf_values_come_from_data(default_data):
    default_data["corosync"] = {**default_data["corosync"], "token": 10000, "crypto_hash": "sha512"}
    conf = render(default_data)
    assert "token: 10000" in conf and "crypto_hash: sha512" in conf


def test_conf_two_nodes_sets_two_node(default_data):
    conf = render(default_data, names=["ctrl-1", "ctrl-2"])
    assert "expected_votes: 2" in conf and "two_node: 1" in conf


@pytest.mark.skipif(shutil.which("corosync") is None, reason="corosync is not installed on this machine")
def test_conf_accepted_by_corosync(default_data, tmp_path):
    """``corosync -t`` parses the rendered file; this machine poses as ctrl-1 (its node name)."""
    key = tmp_path / "authkey"
    key.write_bytes(bytes(range(256)))
    key.chmod(0o400)

    def check(conf: str) -> subprocess.CompletedProcess:
        path = tmp_path / "corosync.conf"
        path.write_text(conf.replace("totem {", f"totem {{\n    keyfile: {key}", 1))
        return subprocess.run(["corosync", "-t", "-c", str(path)], capture_output=True, text=True)

    names = [socket.gethostname(), "ctrl-2", "ctrl-3"]
    default_data["netsuffix"] = {**default_data["netsuffix"], names[0]: 11}
    good = check(render(default_data, names=names, me=names[0]))
    assert good.returncode == 0, good.stderr
    bad = check(render(default_data, names=names, me=names[0]).replace("crypto_cipher: aes256", "crypto_cipher: rot13"))
    assert bad.returncode != 0 and "Invalid cipher type" in bad.stderr


# --- operations ---------------------------------------------------------------------------
QUORATE = CorosyncQuorum().process(lines("quorumtool_quorate.txt"))
ALONE = CorosyncQuorum().process(lines("quorumtool_alone_not_quorate.txt"))
DEBIAN_DEFAULT = {**ALONE, "quorate": True, "members": [{"nodeid": 1, "votes": 1, "name": "node1", "local": True}]}


def quorum_host(*values) -> FakeHost:
    """A host whose CorosyncQuorum fact answers one value per lookup, the last one repeated."""
    return FakeHost({CorosyncQuorum: answers(*values)})


def test_restart_member_waits_for_quorum():
    commands = run(corosync_ops.restart, quorum_host(QUORATE), NAMES)
    assert commands[0] == "systemctl restart corosync.service pacemaker.service"
    assert isinstance(commands[1], FunctionCommand) and commands[1].function is wait_for
    assert commands[1].args[0] is CorosyncQuorum and len(commands) == 2


@pytest.mark.parametrize("before", [ALONE, DEBIAN_DEFAULT, CorosyncQuorum.default()],
                         ids=["not-quorate", "package-default-cluster", "stopped"])
def test_restart_without_quorum_to_keep_does_not_wait(before):
    assert run(corosync_ops.restart, quorum_host(before), NAMES) == [
        "systemctl restart corosync.service pacemaker.service"]


def test_wait_for_polls_until_ready():
    host = quorum_host(CorosyncQuorum.default(), ALONE, QUORATE)
    with ctx_host.use(host):
        wait_for(CorosyncQuorum, corosync_ops.quorate, 10, "quorum", interval=0)
    assert len(host.asked) == 3


def test_wait_for_times_out():
    with ctx_host.use(quorum_host(ALONE)), pytest.raises(OperationError, match="quorum not reached"):
        wait_for(CorosyncQuorum, corosync_ops.quorate, 0, "quorum", interval=0)


# --- reload or restart: decided from the running configuration map --------------------------------
RUNNING = CorosyncCmap().process(lines("cmapctl_all.txt"))  # ctrl-1 of a 3-node lab (10.100.x)


def lab_nodes(data, names):
    data["netprefix"] = {net: {**value, "prefix": f"10.100.{n}"}
                         for n, (net, value) in enumerate(data["netprefix"].items(), 1)}
    return Topology.from_data(names[0], data, names).nodes


@pytest.fixture
def lab_data(default_data):
    assert list(default_data["netprefix"]) == ["api", "srv", "data"]
    return default_data


def test_change_none_when_running_what_data_says(lab_data):
    assert corosync_ops.change_needed(RUNNING, lab_data.corosync, lab_nodes(lab_data, NAMES)) is None


def test_change_not_running_is_none(lab_data):
    assert corosync_ops.change_needed({}, lab_data.corosync, lab_nodes(lab_data, NAMES)) is None


@pytest.mark.parametrize("names", [NAMES + ["ctrl-4", "ctrl-5"], NAMES[:1]], ids=["added", "removed"])
def test_change_controllers_added_or_removed_is_a_reload(lab_data, names):
    lab_data["netsuffix"] = {**lab_data["netsuffix"], "ctrl-4": 14, "ctrl-5": 15}
    assert corosync_ops.change_needed(RUNNING, lab_data.corosync, lab_nodes(lab_data, names)) == "reload"


def test_change_token_is_a_reload(lab_data):
    corosync = {**lab_data.corosync, "token": 3000}
    assert corosync_ops.change_needed(RUNNING, corosync, lab_nodes(lab_data, NAMES)) == "reload"


@pytest.mark.parametrize("setting", [{"crypto_cipher": "aes128"}, {"cluster_name": "other"},
                                     {"wait_for_all": 0}, {"port": 5407}])
def test_change_non_reloadable_setting_is_a_restart(lab_data, setting):
    corosync = {**lab_data.corosync, **setting}
    assert corosync_ops.change_needed(RUNNING, corosync, lab_nodes(lab_data, NAMES)) == "restart"


def test_change_node_renumbered_or_moved_is_a_restart(lab_data):
    lab_data["netsuffix"] = {**lab_data["netsuffix"], "ctrl-4": 14}
    renumbered = ["ctrl-1", "ctrl-2", "ctrl-4", "ctrl-3"]  # ctrl-3 would become nodeid 4
    assert corosync_ops.change_needed(RUNNING, lab_data.corosync, lab_nodes(lab_data, renumbered)) == "restart"
    lab_data["netsuffix"] = {**lab_data["netsuffix"], "ctrl-2": 22}
    assert corosync_ops.change_needed(RUNNING, lab_data.corosync, lab_nodes(lab_data, NAMES)) == "restart"


def reload_host(quorum, cmap) -> FakeHost:
    """A host whose CorosyncQuorum answers ``quorum`` and CorosyncCmap ``cmap``."""
    return FakeHost({CorosyncQuorum: answers(quorum), CorosyncCmap: answers(cmap)})


@pytest.fixture
def five(lab_data):
    """The lab's controllers after two were added: what ``reload`` must bring to RUNNING."""
    lab_data["netsuffix"] = {**lab_data["netsuffix"], "ctrl-4": 14, "ctrl-5": 15}
    return lab_data.corosync, lab_nodes(lab_data, NAMES + ["ctrl-4", "ctrl-5"])


def test_reload_member_waits_for_quorum(five):
    host = reload_host(QUORATE, RUNNING)
    commands = run(corosync_ops.reload, host, *five)
    assert commands[0] == "corosync-cfgtool -R" and commands[1].function is wait_for
    assert len(commands) == 2 and host.noops == []


def test_reload_without_quorum_does_not_wait(five):
    assert run(corosync_ops.reload, reload_host(ALONE, RUNNING), *five) == ["corosync-cfgtool -R"]


def test_reload_already_applied_by_another_node_does_nothing(lab_data):
    """The map a member runs once an earlier node's reload applied the node list: no second reload
    (each one makes knet reconfigure every link)."""
    host = reload_host(QUORATE, RUNNING)
    assert run(corosync_ops.reload, host, lab_data.corosync, lab_nodes(lab_data, NAMES)) == []
    assert host.noops and "already runs" in host.noops[0]


def test_reload_where_corosync_is_stopped_does_nothing(five):
    assert run(corosync_ops.reload, reload_host(CorosyncQuorum.default(), CorosyncCmap.default()), *five) == []
