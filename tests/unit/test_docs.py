"""The documentation copy-pastes: every fenced command resolves, and the values it quotes are the code's."""

from __future__ import annotations

import pytest

from lib.cluster import HAPROXY_CLONE, VIP_GROUP, VIP_RESOURCE
from tests.docs_commands import DocCommand, doc_commands, lab_argv, missing
from tests.unit.conftest import ROOT

COMMANDS = doc_commands()


def test_each_doc_with_commands_is_read():
    docs = {command.doc for command in COMMANDS}
    assert {"README.md", "docs/operations.md"} <= docs
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("command", COMMANDS, ids=[c.where for c in COMMANDS])
def test_documented_command_resolves(command):
    assert missing(command) == [], f"{command.where}: {command.line}"


@pytest.mark.parametrize(("line", "problem"), [
    ("pyinfra inventory.py fact facts.galera.GaleraStatus --json", "fact facts.galera.GaleraStatus does not exist"),
    ("pyinfra inventory.py deploys/nothing.py", "deploys/nothing.py does not exist"),
    ("pyinfra inventory.py deploys/recover.py --data rabbitmq_forceboot=ctrl-2",
     "--data rabbitmq_forceboot=ctrl-2: no deploy or operation reads rabbitmq_forceboot"),
    ("python -m lib.healthz inventory.py", "module lib.healthz does not exist"),
    ("./dev lab-up", "./dev has no subcommand ['lab-up']"),
    ("tests/lab/lab reboot 1", "tests/lab/lab has no command ['reboot']"),
])
def test_a_wrong_command_is_caught(line, problem):
    assert problem in missing(DocCommand("README.md", 1, line))


def test_safe_commands_run_against_the_lab_and_deploys_only_plan():
    runs = {" ".join(c.argv): lab_argv(c, "pyinfra") for c in COMMANDS}
    assert runs[".venv/bin/pyinfra inventory.py deploys/galera.py"] == [
        "pyinfra", "tests/lab/inventory.py", "deploys/galera.py", "--dry"]
    assert runs["./dev test"] is None
    assert sum(argv is not None for argv in runs.values()) >= 8


def test_quoted_values_are_the_code_s(default_data):
    """Values README.md and docs/operations.md quote, against group_data and lib/cluster.py."""
    readme = (ROOT / "README.md").read_text()
    operations = (ROOT / "docs/operations.md").read_text()
    corosync, galera, haproxy = default_data.corosync, default_data.galera, default_data.haproxy
    assert f"`token: {corosync['token']}`" in readme
    assert f"`crypto_cipher: {corosync['crypto_cipher']}`, `crypto_hash: {corosync['crypto_hash']}`" in readme
    assert f"group `{VIP_GROUP}` ({VIP_RESOURCE['srv']} + {VIP_RESOURCE['api']}) colocated with `{HAPROXY_CLONE}`" in readme
    assert f"HAProxy stats {haproxy['stats_port']}" in readme and f"Apache {default_data.apache['port']}" in readme
    assert f":{galera['check_port']} health check" in readme and f"corosync {corosync['port']}/udp" in readme
    assert f"`{default_data.pacemaker['no_quorum_policy']}`" in readme or \
        f"no-quorum-policy={default_data.pacemaker['no_quorum_policy']}" in operations
    assert f"gcache of {galera['gcache_size'].rstrip('M')} MB" in operations
    assert f"about {corosync['last_man_standing_window'] // 1000} s (`last_man_standing_window`)" in operations
    retired = sorted(name for name, s in default_data.haproxy_services.items() if s.get("retired"))
    assert len(retired) == 4 and "Four of them no longer exist upstream" in readme
    assert all(f"{default_data.haproxy_services[n]['port']}" in readme for n in retired)
    backends = len([s for s in default_data.haproxy_services.values() if s.get("enabled", True)]) + 1  # + stats
    assert f"2/{backends} backends UP" in operations
