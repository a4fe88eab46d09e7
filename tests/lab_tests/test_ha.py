"""Corosync 3 + Pacemaker on the lab, read back from the running cluster.

Runs ``deploys/ha.py`` (a no-op when already converged) and a second time, which must change
nothing; then checks corosync (quorum of 3, both knet links up, crypto on), pacemaker (3 nodes
online, both VIPs on one node with a running HAProxy instance), the VIPs answering ping from
this machine, and a standby drill in which the VIPs move to another HAProxy node.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import time

import pytest

from lib.cluster import HAPROXY_CLONE, VIP_GROUP, VIP_RESOURCE
from lib.secrets import load as load_secrets
from tests.lab_tests.conftest import changed_ops, group_data, ok

# The token the deploy writes: group_data's, whatever it is tuned to.
COROSYNC = group_data()["corosync"]

pytestmark = pytest.mark.lab

DEPLOY = "deploys/ha.py"
NETS = ("api", "srv")


def ping(address: str, timeout: float = 2.0) -> bool:
    """One ICMP echo from this machine (raw socket: the lab runs as root; no ping binary needed)."""
    ident, payload = os.getpid() & 0xFFFF, b"prereqos-ha"

    def checksum(data: bytes) -> int:
        data += b"\0" * (len(data) % 2)
        total = sum(struct.unpack(f"!{len(data) // 2}H", data))
        total = (total >> 16) + (total & 0xFFFF)
        return ~(total + (total >> 16)) & 0xFFFF

    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, 1) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (address, 0))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, (source, _) = sock.recvfrom(1024)
            except socket.timeout:
                return False
            offset = (data[0] & 0x0F) * 4
            kind, _, _, reply_id, _ = struct.unpack("!BBHHH", data[offset:offset + 8])
            if source == address and kind == 0 and reply_id == ident:
                return True
    return False


@pytest.fixture(scope="module")
def runs(lab):
    """The deploy run twice: (first, second) ``--json`` results."""
    started = time.monotonic()
    first = lab.deploy(DEPLOY)
    print(f"deploys/ha.py first run: {time.monotonic() - started:.1f}s")
    return first, lab.deploy(DEPLOY)


@pytest.fixture
def status(lab, runs):
    return lab.fact("facts.pacemaker.CrmMon")["ctrl-1"]


def vip_nodes(status: dict) -> dict[str, list[str]]:
    return {r["id"]: r["nodes"] for r in status["resources"] if r["parent"] == VIP_GROUP}


def haproxy_nodes(status: dict) -> list[str]:
    return sorted(n for r in status["resources"] if r["parent"] == HAPROXY_CLONE and r["role"] == "Started"
                  for n in r["nodes"])


def test_second_run_changes_nothing(runs):
    assert changed_ops(runs[1]) == {}


def test_corosync_quorate_with_every_controller(lab, runs):
    names = [f"ctrl-{n}" for n in lab.hosts]
    for host, quorum in lab.fact("facts.corosync.CorosyncQuorum").items():
        assert quorum["quorate"], (host, quorum)
        assert [m["name"] for m in quorum["members"]] == names, host
        assert quorum["expected_votes"] == quorum["total_votes"] == len(names), host
        assert {"WaitForAll", "LastManStanding"} <= set(quorum["flags"]), host


def test_both_knet_links_up(lab, runs):
    links = lab.fact("facts.corosync.CorosyncLinks")
    for n in lab.hosts:
        mine = links[f"ctrl-{n}"]
        assert mine["transport"] == "knet"
        assert [(link["id"], link["addr"]) for link in mine["links"]] == [
            (0, lab.address("srv", n)), (1, lab.address("data", n))]
        for link in mine["links"]:
            assert link["nodes"] == {str(m): "localhost" if m == n else "connected" for m in lab.hosts}, (n, link)


def test_crypto_on_in_the_running_corosync(lab, runs):
    proc = lab.pyinfra("fact", "facts.corosync.CorosyncCmap", "prefix=totem.", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for host, totem in json.loads(proc.stdout)["facts.corosync.CorosyncCmap (prefix=totem.)"].items():
        assert (totem["totem.crypto_cipher"], totem["totem.crypto_hash"]) == ("aes256", "sha256"), host
        assert totem["totem.transport"] == "knet" and totem["totem.token"] == COROSYNC["token"], host
    for n in lab.hosts:
        assert "crypto_cipher (str) = aes256" in ok(lab.ssh(n, "corosync-cmapctl | grep crypto"))
        ok(lab.ssh(n, "corosync -t"))  # the deployed file, checked by corosync itself


def test_authkey_is_the_secret_root_0400(lab, runs):
    key = base64.b64decode(load_secrets()["corosync_authkey"].unmask())
    for n in lab.hosts:
        stat, digest = ok(lab.ssh(n, "stat -c '%a %U %s' /etc/corosync/authkey; "
                                     "sha256sum /etc/corosync/authkey")).splitlines()
        assert stat == f"400 root {len(key)}"
        assert digest.split()[0] == hashlib.sha256(key).hexdigest()


def test_pacemaker_three_nodes_online_vips_with_haproxy(lab, status):
    names = [f"ctrl-{n}" for n in lab.hosts]
    assert status["dc"] in names and status["quorum"]
    assert status["nodes"] == {"online": names, "offline": [], "standby": []}
    vips = vip_nodes(status)
    srv, api = VIP_RESOURCE["srv"], VIP_RESOURCE["api"]
    assert set(vips) == {srv, api}
    assert vips[srv] == vips[api] and len(vips[srv]) == 1, vips
    assert haproxy_nodes(status) == names
    assert not [r for r in status["resources"] if r["failed"]]


def test_cluster_properties_and_haproxy_owned_by_pacemaker(lab, runs):
    properties = lab.fact("facts.pacemaker.CibConfiguration")["ctrl-1"]["properties"]
    assert properties["stonith-enabled"] == "false" and properties["no-quorum-policy"] == "stop"
    assert properties["cluster-name"] == "prereqos"
    assert properties["pe-input-series-max"] == "1000" and properties["cluster-recheck-interval"] == "5min"
    for n in lab.hosts:
        assert lab.ssh(n, "systemctl is-enabled haproxy").stdout.strip() == "disabled"
        assert lab.ssh(n, "systemctl is-active haproxy").stdout.strip() == "active"


def test_vips_answer_ping_from_the_machine(lab, status):
    [node] = vip_nodes(status)[VIP_RESOURCE["srv"]]
    addresses = ok(lab.ssh(int(node.rsplit("-", 1)[1]), "ip -4 -o addr show"))
    for net in NETS:
        assert f"{lab.vip(net)}/" in addresses, net
        assert ping(lab.vip(net)), f"{net} VIP {lab.vip(net)} does not answer"


def test_vips_move_to_another_haproxy_node_on_standby(lab, status):
    srv, api = VIP_RESOURCE["srv"], VIP_RESOURCE["api"]
    [node] = vip_nodes(status)[srv]
    n = int(node.rsplit("-", 1)[1])
    ok(lab.ssh(n, f"crm_standby --node {node} --update on"))
    try:
        deadline, moved = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            now = lab.fact("facts.pacemaker.CrmMon")["ctrl-1"]
            vips = vip_nodes(now)
            if vips[srv] and vips[srv] != [node] and vips[api] == vips[srv]:
                moved = now
                break
            time.sleep(1)
        assert moved, f"VIPs did not leave {node} within 60s"
        assert vip_nodes(moved)[srv][0] in haproxy_nodes(moved)
        assert all(ping(lab.vip(net)) for net in NETS)
    finally:
        ok(lab.ssh(n, f"crm_standby --node {node} --delete"))
