"""Hosts that start with another hostname (every lab host starts as ``debian``, as the Debian
installer names it) end with their inventory names, and RabbitMQ's nodes with them; the proxies
the hosts use are the ones the deploy wrote from the inventory. A second inventory name for one
machine, or a name that would orphan RabbitMQ's data, is refused before any change."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.lab_tests.conftest import PYINFRA, ROOT, changed_ops, ok

pytestmark = pytest.mark.lab

VENV = "/opt/openstack/venv"


def test_each_host_is_named_after_its_inventory_name(lab, rabbit_converged):
    for n in lab.hosts:
        name = f"ctrl-{n}"
        assert ok(lab.ssh(n, "hostname; cat /etc/hostname")).split() == [name, name], n
        # Resolves to its srv address; the installer's 127.0.1.1 line is gone.
        assert ok(lab.ssh(n, f"getent hosts {name}")).split() == [lab.address("srv", n), name]
        assert ok(lab.ssh(n, "grep -c '^127.0.1.1' /etc/hosts || true")).strip() == "0"


def test_proxies_are_the_deploys(lab, rabbit_converged):
    proxy = lab.lab.proxy_url
    for n in lab.hosts:
        apt = ok(lab.ssh(n, "apt-config shell HTTP Acquire::http::Proxy HTTPS Acquire::https::Proxy"))
        assert apt.split() == [f"HTTP='{proxy}'", f"HTTPS='{proxy}'"], n
        pip = ok(lab.ssh(n, f"{VENV}/bin/pip config list"))
        assert sorted(pip.split()) == ["global.cert='/etc/ssl/certs/ca-certificates.crt'",
                                       f"global.proxy='{proxy}'"], n


@pytest.fixture
def rabbit_converged(lab):
    status = ok(lab.ssh(1, "rabbitmqctl -q cluster_status --formatter json"))
    assert all(f"rabbit@ctrl-{n}" in status for n in lab.hosts), status


def refused_with(lab, tmp_path: Path, hosts: str) -> str:
    """The deploy with an inventory whose controllers are ``hosts`` (Python, over the lab's
    ``lab_hosts`` dict): its output, after checking that it failed before any operation."""
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.lab.inventory import controllers as _lab\n"
        "lab_hosts = dict(_lab)\n"
        f"controllers = {hosts}\n"
    )
    proc = subprocess.run([PYINFRA, str(inventory), "deploys/prereqos.py", "-y"], cwd=ROOT, text=True,
                          capture_output=True, timeout=300, stdin=subprocess.DEVNULL, env=lab.env())
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-2000:]
    assert "Starting operation" not in output and "Detected changes" not in output
    return output


def test_one_machine_under_two_names_is_refused(lab, tmp_path, rabbit_converged):
    output = refused_with(lab, tmp_path, "[('ctrl-1', lab_hosts['ctrl-1']), ('ctrl-2', lab_hosts['ctrl-2']), "
                                         "('ctrl-3', {**lab_hosts['ctrl-3'], "
                                         "'ssh_hostname': lab_hosts['ctrl-1']['ssh_hostname']})]")
    assert "ctrl-1 and ctrl-3 are one machine (same /etc/machine-id and boot id)" in output
    assert "fix: list each controller once in the inventory" in output


def test_renaming_a_rabbitmq_node_is_refused(lab, tmp_path, rabbit_converged):
    """ctrl-3's machine listed as node-3: its RabbitMQ data belongs to rabbit@ctrl-3."""
    suffixes = "{**lab_hosts['ctrl-3']['netsuffix'], 'node-3': lab_hosts['ctrl-3']['netsuffix']['ctrl-3']}"
    output = refused_with(lab, tmp_path, f"[(name, {{**data, 'netsuffix': {suffixes}}}) for name, data in "
                                         "[('ctrl-1', lab_hosts['ctrl-1']), ('ctrl-2', lab_hosts['ctrl-2']), "
                                         "('node-3', lab_hosts['ctrl-3'])]]")
    assert ("node-3: RabbitMQ on this host (hostname 'ctrl-3') holds the data of node rabbit@ctrl-3; "
            "the deploy names the host 'node-3'") in output
    assert "fix: name this controller 'ctrl-3' in the inventory" in output
    assert ok(lab.ssh(3, "hostname")).strip() == "ctrl-3"


def test_apt_proxy_none_removes_the_drop_in(lab, rabbit_converged):
    drop_in = "/etc/apt/apt.conf.d/90prereqos-proxy"
    removed = changed_ops(lab.deploy("deploys/base.py", "--data", "apt_proxy=null"))
    assert [name.rsplit("| ", 1)[-1] for name in removed] == ["No apt proxy"], removed
    for n in lab.hosts:
        assert ok(lab.ssh(n, f"test -e {drop_in} && echo present || echo absent")).strip() == "absent", n
    restored = changed_ops(lab.deploy("deploys/base.py"))
    assert [name.rsplit("| ", 1)[-1] for name in restored] == ["apt proxy (apt_proxy)"], restored
    for n in lab.hosts:
        ok(lab.ssh(n, f"grep -qF {lab.lab.proxy_url} {drop_in}"))
