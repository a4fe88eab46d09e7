"""Corosync on Debian 13 (trixie): the facts on real corosync 3.1.9 output from lab 5
(tests/fixtures/corosync/*_trixie_*, ctrl-1 of the converged cluster, srv 10.105.2.0/24,
data 10.105.3.0/24) parse to what corosync 3.1.7 gives on Debian 12."""

from __future__ import annotations

from facts.corosync import CorosyncCmap, CorosyncLinks, CorosyncQuorum
from operations.corosync import quorate
from tests.unit.conftest import ROOT

FIXTURES = ROOT / "tests/fixtures/corosync"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def test_quorum_quorate_three_members_as_on_debian_12():
    quorum = CorosyncQuorum().process(lines("quorumtool_trixie_quorate.txt"))
    assert quorum == CorosyncQuorum().process(lines("quorumtool_quorate.txt")) and quorate(quorum)


def test_links_both_connected_to_every_node():
    links = CorosyncLinks().process(lines("cfgtool_trixie_connected.txt"))
    assert (links["node_id"], links["transport"]) == (1, "knet")
    assert [(link["id"], link["addr"]) for link in links["links"]] == [(0, "10.105.2.11"), (1, "10.105.3.11")]
    for link in links["links"]:
        assert link["nodes"] == {"1": "localhost", "2": "connected", "3": "connected"}


def test_cmap_totem_from_the_rendered_conf():
    totem = CorosyncCmap().process(lines("cmapctl_trixie_totem.txt"))
    assert (totem["totem.crypto_cipher"], totem["totem.crypto_hash"]) == ("aes256", "sha256")
    assert (totem["totem.transport"], totem["totem.link_mode"], totem["totem.cluster_name"]) == (
        "knet", "passive", "prereqos")
    assert totem["totem.token"] == 1000 and totem["totem.interface.1.knet_link_priority"] == 1
