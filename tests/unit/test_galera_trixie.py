"""Galera on Debian 13 (trixie): the facts on real MariaDB 11.8.9 output (lab 5, see
tests/fixtures/galera/README.md and tests/fixtures/recovery/README.md) parse to what Debian 12
gives, so the deploy's decisions are the same: a Synced member is left alone, a cleanly stopped
member restarts, recovery reads the same evidence."""

from __future__ import annotations

from facts.galera import GraState, MariadbAccounts, MariadbDatabases, WsrepClusterSize, WsrepStatus
from facts.recovery import GaleraPosition
from operations import galera, recovery
from tests.unit.conftest import ROOT
from tests.unit.fakes import FakeHost, run

FIXTURES = ROOT / "tests/fixtures"
UUID = "3b36c9fb-e914-11f1-9de1-daa647c1a051"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


SYNCED = WsrepStatus().process(lines("galera/wsrep_status_trixie_synced.txt"))
RUNNING = GraState().process(lines("galera/grastate_trixie_running.txt"))
STOPPED = GraState().process(lines("galera/grastate_trixie_stopped_member.txt"))
PRIMARY = GaleraPosition().process(lines("recovery/position_trixie_running_primary.txt"))
STOPPED_POSITION = GaleraPosition().process(lines("recovery/position_trixie_stopped_member.txt"))
WAIT = galera.wait_synced_command(galera.SYNC_TIMEOUT).get_raw_value()


def test_wsrep_status_synced_member():
    assert SYNCED == {
        "cluster_size": 3, "cluster_status": "Primary", "local_state": 4, "local_state_comment": "Synced",
        "ready": True, "connected": True, "cluster_state_uuid": UUID, "node_name": "ctrl-1",
        "replication_tls": False,  # captured before replication TLS: no wsrep_provider_options line
    }
    assert WsrepClusterSize().process(lines("galera/wsrep_cluster_size_trixie_synced.txt")) == 3


def test_grastate_running_and_stopped_member():
    assert RUNNING == {"uuid": UUID, "seqno": -1, "safe_to_bootstrap": False}
    assert STOPPED == {"uuid": UUID, "seqno": 11, "safe_to_bootstrap": False}


def test_accounts_and_databases_as_on_debian_12():
    accounts = MariadbAccounts().process(lines("galera/global_priv_trixie_synced.txt"))
    assert accounts == MariadbAccounts().process(lines("galera/global_priv_synced.txt"))
    assert accounts["root@localhost"]["plugins"] == ["mysql_native_password", "unix_socket"]
    assert MariadbDatabases().process(lines("galera/databases_trixie_synced.txt")) == [
        "information_schema", "mysql", "performance_schema", "sys"]


def test_deploy_decisions_on_trixie_facts():
    nodes = {"ctrl-1": {"grastate": RUNNING, "status": SYNCED}, "ctrl-2": {"grastate": RUNNING, "status": SYNCED},
             "ctrl-3": {"grastate": STOPPED, "status": {}}}
    assert galera.plan_cluster(nodes) == "existing"
    host = FakeHost({WsrepStatus: SYNCED})
    assert run(galera.join, host) == [] and host.noops == ["Synced member of a 3-node cluster"]
    assert run(galera.join, FakeHost({WsrepStatus: {}})) == ["systemctl start mariadb", WAIT]


def test_recovery_position_running_and_stopped_member():
    assert PRIMARY["cluster_status"] == "Primary"
    assert PRIMARY["position"] == {"uuid": UUID, "seqno": 11, "source": "running server"}
    assert STOPPED_POSITION == {
        "service": "inactive", "cluster_status": None,
        "grastate": {"uuid": UUID, "seqno": 11, "safe_to_bootstrap": False},
        "position": {"uuid": UUID, "seqno": 11, "source": "grastate.dat"}, "error": None,
    }
    assert recovery.plan_galera({"ctrl-1": PRIMARY, "ctrl-2": PRIMARY, "ctrl-3": STOPPED_POSITION}).action == "running"
