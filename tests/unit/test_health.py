"""The health report's evaluation, on facts parsed from real command output of the lab."""

from __future__ import annotations

import datetime
import time

import pytest
from pyinfra.api import FactProcessError

from facts.backup import BackupCatalog
from facts.corosync import CorosyncLinks, CorosyncQuorum
from facts.galera import WsrepStatus
from facts.haproxy import HaproxyBackends
from facts.memcached import MemcachedStats
from facts.pacemaker import CrmMon, FencingState
from facts.rabbitmq import RabbitmqClusterStatus
from facts.tls import CertificateExpiry
from lib.health import COROSYNC_TEMPLATE, Report, check_backups, check_certificates, corosync_link_count, evaluate
from tests.unit.conftest import ROOT
from tests.unit.test_corosync import render

HOSTS = ["ctrl-1", "ctrl-2", "ctrl-3"]
FIXTURES = ROOT / "tests/fixtures"


def parsed(fact, name: str) -> dict:
    return fact().process((FIXTURES / name).read_text().splitlines())


def converged(**replace: dict) -> dict[str, dict]:
    """Every host answering the converged lab's outputs (``replace``: one component's facts)."""
    one = {
        "rabbitmq": parsed(RabbitmqClusterStatus, "rabbitmq/cluster_status_3.10_three_nodes.json"),
        "galera": parsed(WsrepStatus, "galera/wsrep_status_synced.txt"),
        "quorum": parsed(CorosyncQuorum, "corosync/quorumtool_quorate.txt"),
        "links": parsed(CorosyncLinks, "corosync/cfgtool_connected.txt"),
        "crm": parsed(CrmMon, "pacemaker/crm_mon_converged.xml"),
        "haproxy": parsed(HaproxyBackends, "haproxy/show_stat.csv"),
        "memcached": parsed(MemcachedStats, "memcached/stats-ctrl-1.txt"),
        "fencing": parsed(FencingState, "pacemaker/fencing_state_no_devices.xml"),
    }
    one["certificates"] = certificates()
    facts = {key: replace.get(key, {host: value for host in HOSTS}) for key, value in one.items()}
    # The backup node (ctrl-1) just after its backups; the others take none.
    backups = {"ctrl-1": fresh_catalog(), "ctrl-2": parsed(BackupCatalog, "backup/catalog_not_a_backup_node.json"),
               "ctrl-3": parsed(BackupCatalog, "backup/catalog_not_a_backup_node.json")}
    return {**facts, "backups": replace.get("backups", backups)}


# When tls/certificate_expiry.txt was captured (ctrl-1 of lab 2, by the fact's command, after the first deploy).
CERTIFICATES_CAPTURED = datetime.datetime(2026, 12, 2, 0, 5, 5, tzinfo=datetime.timezone.utc)


def certificates(days_left: int | None = None) -> dict:
    """ctrl-1's certificates, their ends moved as if captured now (``days_left``: the node's and the
    VIPs' certificates end that many days from now, the CA as captured)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    found = {}
    for path, end in parsed(CertificateExpiry, "tls/certificate_expiry.txt").items():
        end = datetime.datetime.fromisoformat(end) + (now - CERTIFICATES_CAPTURED)
        if days_left is not None and not path.endswith("/ca.crt"):
            end = now + datetime.timedelta(days=days_left, hours=1)
        found[path] = end.isoformat()
    return found


def fresh_catalog(hours_ago: float = 0.0) -> dict:
    """The backup node's catalog, its backups moved to ``hours_ago`` before now."""
    catalog = parsed(BackupCatalog, "backup/catalog_verified.json")
    shift = time.time() - hours_ago * 3600 - catalog["backups"][-1]["finished"]
    for item in catalog["backups"]:
        item["started"] += shift
        item["finished"] += shift
    return catalog


def test_converged_cluster_is_healthy():
    report = evaluate(converged(), HOSTS)
    assert report.problems == [], report.lines
    assert [line for line in report.lines if not line.startswith(" ")] == [
        "RabbitMQ", "Galera", "Corosync", "Pacemaker", "HAProxy", "Backups", "memcached", "Fencing",
        "TLS certificates"]
    assert "  ok  ctrl-3: ca 3649 days left, node 364 days left, vip 364 days left" in report.lines
    assert not [line for line in report.lines if line.startswith("  WRN")]
    assert "  ok  ctrl-2: answers stats on 10.103.2.11:11211, up " in "\n".join(report.lines)


def test_link_count_comes_from_the_corosync_template(default_data):
    """One knet link per interface block; every node of the rendered nodelist has an address on each."""
    links = corosync_link_count(COROSYNC_TEMPLATE)
    conf = render(default_data)
    assert links == 2 and conf.count("linknumber:") == links
    assert conf.count("ring0_addr") == conf.count(f"ring{links - 1}_addr") == 3 and f"ring{links}_addr" not in conf


def test_a_link_down_to_one_node_is_unhealthy():
    down = parsed(CorosyncLinks, "corosync/cfgtool_link1_down_to_node3.txt")
    report = evaluate(converged(links={host: down for host in HOSTS}), HOSTS)
    assert report.problems == [f"{host}: quorate, 3/3 members, 1/2 links connected to all" for host in HOSTS]


@pytest.mark.parametrize(("component", "fact", "fixture"), [
    ("rabbitmq", RabbitmqClusterStatus, "rabbitmq/cluster_status_3.10_one_node_stopped.json"),
    ("galera", WsrepStatus, "galera/wsrep_status_nonprimary.txt"),
    ("quorum", CorosyncQuorum, "corosync/quorumtool_alone_not_quorate.txt"),
    ("crm", CrmMon, "pacemaker/crm_mon_no_quorum.xml"),
])
def test_each_component_failure_is_reported(component, fact, fixture):
    bad = parsed(fact, fixture)
    report = evaluate(converged(**{component: {host: bad for host in HOSTS}}), HOSTS)
    assert report.problems


def test_a_silent_host_is_unhealthy():
    facts = converged()
    del facts["galera"]["ctrl-3"]
    assert evaluate(facts, HOSTS).problems == ["ctrl-3: size - down  ready=False"]


@pytest.mark.parametrize(("hours_ago", "healthy"), [(1.5, True), (2.5, False)])
def test_backups_past_their_age_are_unhealthy(hours_ago, healthy):
    report = evaluate(converged(backups={"ctrl-1": fresh_catalog(hours_ago), "ctrl-2": None}), HOSTS)
    assert (report.problems == []) is healthy, report.lines
    assert [line for line in report.lines if "ctrl-1: newest good full" in line]


def test_no_backup_node_is_said():
    report = Report(HOSTS)
    check_backups(report, {host: None for host in HOSTS})
    assert report.problems == [] and "no backup node answered" in report.lines[0]


def test_a_memcached_that_does_not_answer_is_unhealthy():
    silent = MemcachedStats().process(["at 10.0.2.13 11211"])
    facts = converged()
    facts["memcached"]["ctrl-3"] = silent
    assert evaluate(facts, HOSTS).problems == ["ctrl-3: no answer on 10.0.2.13:11211"]
    del facts["memcached"]["ctrl-3"]
    assert evaluate(facts, HOSTS).problems == ["ctrl-3: no answer on ?:?"]


def test_certificate_expiry_warns_under_30_days_and_fails_under_7():
    warned = evaluate(converged(certificates={host: certificates(20) for host in HOSTS}), HOSTS)
    assert warned.problems == []
    assert "  WRN ctrl-1: node, vip under 30 days: run the deploy (it issues them again) or renew the operator's" \
        in warned.lines
    failing = evaluate(converged(certificates={**converged()["certificates"], "ctrl-2": certificates(5)}), HOSTS)
    assert failing.problems == ["ctrl-2: ca 3649 days left, node 5 days left, vip 5 days left"]


def test_missing_certificates_are_a_problem():
    facts = converged()
    facts["certificates"]["ctrl-3"] = CertificateExpiry().process([])
    del facts["certificates"]["ctrl-2"]
    assert evaluate(facts, HOSTS).problems == ["ctrl-2: no certificate (run deploys/tls.py)",
                                               "ctrl-3: no certificate (run deploys/tls.py)"]
    one_gone = {path: end for path, end in certificates().items() if not path.endswith("/vip.crt")}
    facts = converged(certificates={**converged()["certificates"], "ctrl-1": one_gone})
    assert evaluate(facts, HOSTS).problems == ["ctrl-1: ca 3649 days left, node 364 days left"]


def test_certificate_expiry_fact_refuses_other_output():
    with pytest.raises(FactProcessError):
        CertificateExpiry().process(["/etc/prereqos/tls/ca.crt Could not open file"])



def test_during_a_ca_rotation_each_trusted_ca_is_reported():
    """The CA file holds two CAs during a rotation (lib/tls.py): the fact reads both, the report
    gives the days of each and says a rotation is in progress."""
    lines = ["/etc/prereqos/tls/ca.crt notAfter=Nov 29 23:52:10 2036 GMT",
             "/etc/prereqos/tls/ca.crt notAfter=Dec  1 01:02:03 2036 GMT",
             "/etc/prereqos/tls/node.crt notAfter=Dec  1 23:52:10 2027 GMT",
             "/etc/prereqos/tls/vip.crt notAfter=Dec  1 23:52:10 2027 GMT"]
    expiry = CertificateExpiry().process(lines)
    assert list(expiry) == ["/etc/prereqos/tls/ca.crt", "/etc/prereqos/tls/ca.crt#2", "/etc/prereqos/tls/node.crt",
                            "/etc/prereqos/tls/vip.crt"]
    assert expiry["/etc/prereqos/tls/ca.crt#2"] == "2036-12-01T01:02:03+00:00"
    now = datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc)
    report = Report(["ctrl-1"])
    check_certificates(report, {"ctrl-1": expiry}, now)
    assert report.problems == []
    assert any("ctrl-1: ca 3649 days left, ca#2 3651 days left, node 363 days left, vip 363 days left" in line
               for line in report.lines), report.lines
    assert "      ctrl-1: two CAs trusted: a rotation of the CA in progress (python -m lib.tls rotate-ca status)" \
        in report.lines
