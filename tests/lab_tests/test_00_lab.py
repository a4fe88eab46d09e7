"""The lab itself: Debian on every host, three networks between them, nothing outside,
and the fault controls (kill/start, isolate/heal) that the drills rely on."""

from __future__ import annotations

import subprocess
import time

import pytest

pytestmark = pytest.mark.lab

NETS = ("api", "srv", "data")


def test_every_host_answers_debian(lab):
    distros = lab.fact("server.LinuxDistribution")
    assert sorted(distros) == [f"ctrl-{n}" for n in lab.hosts]
    for name, distro in distros.items():
        assert distro["name"] == "Debian", name
        assert distro["major"] == {"bookworm": 12, "trixie": 13}[lab.lab.suite], name


def test_hosts_reach_each_other_on_all_networks(lab):
    for n in lab.hosts:
        targets = " ".join(lab.address(net, m) for net in NETS for m in lab.hosts if m != n)
        proc = lab.ssh(n, f"for a in {targets}; do ping -c1 -W2 $a >/dev/null || echo FAIL $a; done")
        assert proc.returncode == 0 and "FAIL" not in proc.stdout, (n, proc.stdout, proc.stderr)


def test_hosts_come_as_an_installer_leaves_them(lab):
    """The lab prepares nothing the deploy must do: each host boots named `debian` (LXC's uts name;
    the deploy's /etc/hostname renames it), and the only file in /etc naming the package proxy is
    the deploy's own apt drop-in (absent before the first deploy)."""
    from tests.lab.lab import INSTALLER_HOSTNAME, LXC_PATH

    recreate = "a host made by an older lab, which prepared it: `tests/lab/lab destroy` once"
    for n in lab.hosts:
        config = (LXC_PATH / lab.lab.container(n) / "config").read_text().splitlines()
        assert f"lxc.uts.name = {INSTALLER_HOSTNAME}" in config, (n, recreate)
        found = lab.ssh(n, f"grep -rlF {lab.lab.proxy_url} /etc").stdout.split()
        assert set(found) <= {"/etc/apt/apt.conf.d/90prereqos-proxy"}, (n, found, recreate)


def test_hosts_cannot_reach_outside(lab):
    # Asked of the routing table: no packet is sent anywhere.
    for n in lab.hosts:
        routes = lab.ssh(n, "ip route show default; ip route get 1.1.1.1 2>&1; ip route get 192.0.2.1 2>&1")
        assert "default" not in routes.stdout.splitlines()[0:1], routes.stdout
        assert routes.stdout.count("unreachable") == 2, routes.stdout


def test_machine_never_routes_lab_subnets_out():
    # An address of the lab's supernet that no bridge owns hits the guard route, not eth0.
    from tests.lab.lab import Lab

    lab = Lab.from_env()
    probe = lab.supernet.replace("0.0/16", "250.9")
    out = subprocess.run(["ip", "route", "get", probe], capture_output=True, text=True)
    assert out.returncode != 0 and "no route to host" in out.stderr.lower(), out
    guard = subprocess.run(["ip", "route", "show", "type", "unreachable"], capture_output=True, text=True)
    assert lab.supernet in guard.stdout


def test_kill_and_start(lab):
    n = lab.lab.hosts  # the last host
    assert lab.run_lab("kill", str(n)).returncode == 0
    assert lab.lab.state(n) == "STOPPED"
    refused = lab.run_lab("ssh", str(n), "true")
    assert refused.returncode != 0 and "not running" in refused.stderr
    started = time.monotonic()
    assert lab.run_lab("start", str(n)).returncode == 0
    assert lab.ssh(n, "systemctl is-system-running --wait").stdout.strip() in ("running", "degraded")
    assert time.monotonic() - started < 60


def test_isolate_and_heal(lab):
    n = lab.lab.hosts
    other = 1
    assert lab.run_lab("isolate", str(n)).returncode == 0
    try:
        for net in NETS:
            cut = lab.ssh(other, f"ping -c1 -W1 {lab.address(net, n)}")
            assert cut.returncode != 0, f"ctrl-{n} still reachable on {net}"
        assert lab.run_lab("status").returncode == 1  # status reports the isolated host
    finally:
        assert lab.run_lab("heal", str(n)).returncode == 0
    for net in NETS:
        back = lab.ssh(other, f"ping -c3 -i0.3 -W2 {lab.address(net, n)}")
        assert back.returncode == 0, f"ctrl-{n} unreachable on {net} after heal"
