"""memcached on the lab: each node answers ``stats`` on its srv address and nowhere else, with the
sizes derived from the host; a hand-edited configuration is put back and applied (restart); a
re-run changes nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from facts.memcached import ASK
from facts.memcached import MemcachedStats
from tests.lab_tests.conftest import changed_ops, ok
from tests.lab_tests.drill_load import health

pytestmark = pytest.mark.lab

PORT = 11211  # group_data memcached["port"]
DEPLOY = "deploys/memcached.py"


def stats(address: str) -> dict[str, str] | str:
    """memcached's ``stats`` at address:PORT asked from the lab machine (the fact's own client),
    or "no answer"."""
    answer = subprocess.run([sys.executable, "-c", ASK, address, str(PORT)], capture_output=True, text=True,
                            timeout=30).stdout.splitlines()
    return MemcachedStats().process([f"at {address} {PORT}", *answer])["stats"] or "no answer"


def test_each_node_answers_on_srv_only(lab):
    for n in lab.hosts:
        answer = stats(lab.address("srv", n))
        assert isinstance(answer, dict) and int(answer["pid"]) > 0, (n, answer)
        for net in ("api", "data"):
            assert stats(lab.address(net, n)) == "no answer", (n, net)
        listening = ok(lab.ssh(n, f"ss -Hltnu 'sport = :{PORT}'")).split()
        assert [w for w in listening if w.endswith(f":{PORT}")] == [f"{lab.address('srv', n)}:{PORT}"]


def test_sizes_derived_from_the_host(lab):
    """Lab containers: 2 vCPUs, PID 1's hard nofile 20000: -c 2048; -m 1/16 of the RAM the fact reads."""
    resources = lab.fact("facts.precheck.HostResources")
    for n in lab.hosts:
        answer = stats(lab.address("srv", n))
        mem_mb = resources[f"ctrl-{n}"]["mem_mb"]
        assert answer["max_connections"] == "2048"
        assert int(answer["limit_maxbytes"]) == min(max(mem_mb // 16, 64), 2048) * 1024 * 1024


def test_health_report_lists_memcached(lab):
    report = health(lab)
    assert report.returncode == 0, report.stdout
    section = report.stdout.split("memcached\n", 1)[1]
    for n in lab.hosts:
        assert f"ctrl-{n}: answers stats on {lab.address('srv', n)}:{PORT}" in section


def test_a_changed_configuration_is_put_back_and_applied_then_no_change(lab):
    pid = stats(lab.address("srv", 2))["pid"]
    ok(lab.ssh(2, "sed -i 's/^-l .*/-l 127.0.0.1/' /etc/memcached.conf && systemctl restart memcached"))
    assert stats(lab.address("srv", 2)) == "no answer"
    results = lab.deploy(DEPLOY)
    changed = changed_ops(results)
    assert set(changed) == {"memcached on the srv address only (/etc/memcached.conf)",
                            "Restart memcached after a configuration change"}, changed
    assert all(hosts == ["ctrl-2"] for hosts in changed.values()), changed
    answer = stats(lab.address("srv", 2))
    assert isinstance(answer, dict) and answer["pid"] != pid
    assert changed_ops(lab.deploy(DEPLOY)) == {}
