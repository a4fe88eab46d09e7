"""Fixtures of the lab tests: a running lab (brought up here if needed) and helpers on it.

The ``lab`` fixture brings the lab up (``LAB_ID`` picks the instance) and stops, at the end of
the session, only the hosts that it had to start itself. It destroys a lab it found only when
``LAB_FRESH=1`` (CI), to prove the deploy from fresh hosts.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lib.secrets import load as load_secrets
from tests.lab.lab import Lab
from tests.lab.revive import revive
from tests.lab_tests.drill_load import wait_until

ROOT = Path(__file__).resolve().parents[2]
PYINFRA = str(Path(sys.executable).with_name("pyinfra"))


@dataclass
class LabHandle:
    lab: Lab

    def run_lab(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(ROOT / "tests/lab/lab"), *args], cwd=ROOT, text=True,
                              capture_output=True, env=self.env())

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "LAB_ID": str(self.lab.lab_id), "LAB_HOSTS": str(self.lab.hosts),
                "LAB_SUITE": self.lab.suite, "PYINFRA_YES": "1", **extra}

    def pyinfra(self, *args: str, timeout: float = 1800, **env: str) -> subprocess.CompletedProcess:
        """pyinfra with the lab inventory, from the project root, non-interactive."""
        cmd = [PYINFRA, "tests/lab/inventory.py", *args]
        if "--dry" not in args and "fact" not in args and "-y" not in args:
            cmd.append("-y")
        return subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env=self.env(**env))

    def deploy(self, *deploy_files: str, **env: str) -> dict:
        """Run deploy files with --json; return the parsed results (raises on failure)."""
        proc = self.pyinfra(*deploy_files, "--json", **env)
        assert proc.returncode == 0, f"deploy failed rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        return json.loads(proc.stdout)

    def fact(self, fact: str, *args: str) -> dict:
        """``pyinfra ... fact X --json``: {host: value}."""
        proc = self.pyinfra("fact", fact, *args, "--json")
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout)[fact]

    def ssh(self, n: int, command: str, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
        """``command`` on ctrl-``n``; ``input`` (e.g. SQL holding a password) on its stdin, never
        on a command line."""
        return subprocess.run(self.lab.ssh_command(n) + [command], text=True, capture_output=True,
                              timeout=timeout, input=input, stdin=None if input is not None else subprocess.DEVNULL)

    def address(self, net: str, n: int) -> str:
        return self.lab.address(net, n)

    def vip(self, net: str) -> str:
        """The virtual IP of ``net``: ``netsuffix["os"]`` on the net's prefix, as group_data builds it."""
        return f"{self.lab.prefix(net)}.{self.lab.describe()['netsuffix']['os']}"

    @property
    def hosts(self) -> range:
        return range(1, self.lab.hosts + 1)


def group_data() -> dict:
    """group_data/all.py's variables as the deploys get them by default, a fresh copy each call (the
    tests change them for ``--data``). Example: ``group_data()["haproxy_services"]["galera"]["port"]``."""
    return runpy.run_path(str(ROOT / "group_data/all.py"))


def ok(proc: subprocess.CompletedProcess) -> str:
    """The stdout of a command that must have succeeded (else its output tails in the failure)."""
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def galera_check(lab: LabHandle, to_n: int, status_line: str, from_n: int = 1, timeout: float = 15) -> str:
    """The :9200 check's whole answer for ctrl-<to_n>, asked with curl from ctrl-<from_n> (a
    controller: allowed), polled until it starts with ``status_line`` (the responder answers from
    a read up to 1 s old: the first answer after a change may be the previous one)."""
    url = f"http://{lab.address('srv', to_n)}:9200/"

    def answer() -> str:
        text = lab.ssh(from_n, f"curl -s -i --max-time 5 {url}").stdout
        return text if text.startswith(status_line) else ""

    return wait_until(answer, timeout, f"{status_line!r} from ctrl-{to_n}'s :9200 check", interval=0.5)


def changed_ops(results: dict) -> dict[str, list[str]]:
    """Operations that changed something in a ``--json`` run: {op name: [hosts]}."""
    return {op["name"]: op["success"] for op in results["results"]["operations"] if op.get("success")}


def run_deploy(lab: LabHandle, deploy: str, *flags: str) -> tuple[dict, str]:
    """``deploy`` run with --json and ``flags``: (results, everything pyinfra printed)."""
    proc = lab.pyinfra(deploy, "--json", *flags)
    ok(proc)
    return json.loads(proc.stdout), proc.stdout + proc.stderr


def assert_quiet_rerun(lab: LabHandle, deploy: str, password_check: str) -> None:
    """A -vv re-run of the converged ``deploy`` changes nothing and fails nowhere; -vv prints
    every command pyinfra runs (facts too), yet no secret shows: the password checks get theirs on
    stdin. ``password_check``: a word of the deploy's password-check command, proving it ran."""
    results, output = run_deploy(lab, deploy, "-vv")
    assert changed_ops(results) == {}
    assert not results["results"].get("failed_hosts")
    for key, secret in load_secrets().items():
        assert secret.unmask() not in output, f"secret {key} appears in the pyinfra output"
    assert password_check in output  # the password checks ran


@pytest.fixture(scope="session")
def lab() -> LabHandle:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    handle = LabHandle(Lab.from_env())
    if os.environ.get("LAB_FRESH") == "1":
        # CI proves the deploy from fresh hosts: recreate them (template and cache are kept).
        assert handle.run_lab("destroy").returncode == 0
    started = [n for n in handle.hosts if handle.lab.state(n) != "RUNNING"]
    up = handle.run_lab("up")
    assert up.returncode == 0, up.stderr
    if started:
        # Hosts stopped together are a full power loss for a deployed stack.
        assert revive(handle.env()) == 0, "deploys/recover.py failed after starting the lab"
    yield handle
    # Leave the lab as it was found: hosts we had to start are stopped again, kept on disk.
    if started and os.environ.get("LAB_KEEP") != "1":
        for n in started:
            subprocess.run(["lxc-stop", "-n", handle.lab.container(n), "-t", "30"], check=False)
