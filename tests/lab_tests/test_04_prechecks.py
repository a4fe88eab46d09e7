"""Host prechecks on real hosts: each problem made by hand on one host is refused before any
operation on any host, with its one line (host, what was found, the fix); then put back.

Cheap: refusals come before any change, so each test costs one connect and the facts (the
lab may be converged or fresh). Nothing changed is shown twice: no operation started, and
/etc/hosts (the first file the deploy writes) kept its mtime on every host.
"""

from __future__ import annotations

import json
import subprocess
from contextlib import contextmanager

import pytest

from tests.lab_tests.conftest import group_data, ok

pytestmark = pytest.mark.lab

DEFAULTS = group_data()
# A VIP suffix no controller holds (pacemaker holds .10 on a converged lab): the VIP tests use it,
# so that occupying it never disturbs the lab's real VIPs.
FREE_VIP_SUFFIX = 99


def mtimes(lab) -> dict[int, str]:
    return {n: ok(lab.ssh(n, "stat -c %Y.%Z /etc/hosts")).strip() for n in lab.hosts}


def refused(lab, *args: str) -> str:
    before = mtimes(lab)
    proc = lab.pyinfra("deploys/prereqos.py", *args)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-3000:]
    assert "host prechecks failed, nothing was changed" in output, output[-3000:]
    assert "Starting operation" not in output and "Detected changes" not in output
    assert mtimes(lab) == before
    return output


@contextmanager
def on_host(lab, n: int, do: str, undo: str):
    ok(lab.ssh(n, do))
    try:
        yield
    finally:
        ok(lab.ssh(n, undo))


def free_vip_data(lab) -> list[str]:
    suffixes = {**json.loads(json.dumps(lab.lab.describe()["netsuffix"])), "os": FREE_VIP_SUFFIX}
    return ["--data", f"netsuffix={json.dumps(suffixes)}"]


def test_missing_address_is_refused(lab):
    address = lab.address("data", 2)
    device = ok(lab.ssh(2, f"ip -o -4 addr show to {address} | cut -d' ' -f2")).strip()
    with on_host(lab, 2, f"ip addr del {address}/24 dev {device}", f"ip addr add {address}/24 dev {device}"):
        output = refused(lab)
    assert (f"ctrl-2: the data address {address} (netprefix['data'] + netsuffix['ctrl-2']) is not configured on "
            f"any interface") in output


def test_vip_held_by_hand_on_a_controller_is_refused(lab):
    vip = f"{lab.lab.prefix('api')}.{FREE_VIP_SUFFIX}"
    device = ok(lab.ssh(3, f"ip -o -4 addr show to {lab.address('api', 3)} | cut -d' ' -f2")).strip()
    with on_host(lab, 3, f"ip addr add {vip}/24 dev {device}", f"ip addr del {vip}/24 dev {device}"):
        output = refused(lab, *free_vip_data(lab))
    assert (f"ctrl-3: the api VIP {vip} is configured on {device} but pacemaker does not hold it there (vipapi not "
            f"running on ctrl-3); fix: `ip addr del {vip}/24 dev {device}` on ctrl-3") in output


def test_vip_answering_from_another_machine_is_refused(lab):
    """The machine itself takes the srv VIP on the lab's srv bridge: a host outside the cluster."""
    vip = f"{lab.lab.prefix('srv')}.{FREE_VIP_SUFFIX}"
    bridge = lab.lab.bridge("srv")
    subprocess.run(["ip", "addr", "add", f"{vip}/32", "dev", bridge], check=True)
    try:
        output = refused(lab, *free_vip_data(lab))
    finally:
        subprocess.run(["ip", "addr", "del", f"{vip}/32", "dev", bridge], check=True)
    assert f"ctrl-1: the srv VIP {vip} answers ARP from " in output
    assert "while no controller holds it: another machine uses it" in output


def test_occupied_port_is_refused(lab):
    """Apache's port moved by --data to a port a stray server holds on ctrl-3 (all of the stack's
    ports are the stack's own on a converged lab)."""
    port = 8089
    with on_host(lab, 3, f"(setsid python3 -m http.server {port} >/dev/null 2>&1 &) ; sleep 1",
                 f"kill $(ss -Hltnp 'sport = :{port}' | grep -o 'pid=[0-9]*' | cut -d= -f2)"):
        output = refused(lab, "--data", f"apache={json.dumps({**DEFAULTS['apache'], 'port': port})}")
    assert (f"ctrl-3: tcp port {port} on {lab.address('srv', 3)} (apache['port']) is taken by python3 listening on "
            f"0.0.0.0:{port}; fix: stop python3") in output


def test_name_resolving_elsewhere_is_refused(lab):
    with on_host(lab, 1, "echo '10.9.9.9 ctrl-2' >> /etc/hosts", "sed -i '/^10.9.9.9 ctrl-2$/d' /etc/hosts"):
        output = refused(lab)
    assert "ctrl-1: /etc/hosts maps ctrl-2 to 10.9.9.9, not to its srv address" in output


def test_stopped_time_sync_is_refused(lab):
    """chrony is installed by the base deploy; stopped, the clock drifts unchecked. (In the lab's
    containers chrony runs with -x: the clock is the machine's, the refusal is the same.)"""
    if not lab.ssh(2, "command -v chronyd").stdout.strip():
        pytest.skip("chrony not installed yet (fresh lab): the base deploy installs it")
    with on_host(lab, 2, "systemctl stop chrony", "systemctl start chrony"):
        output = refused(lab)
    assert "ctrl-2: chrony is installed but inactive: the clock is not kept in sync" in output
