"""secrets.json is written only by a deploy that executes: never by --dry, fact, debug-inventory or
the health report; then created 0600, with every existing value kept."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

from lib.deploy import BASE
from lib.secrets import GENERATORS, secrets_path
from tests.lab_tests.conftest import ROOT, ok

pytestmark = pytest.mark.lab

SAVE = "Save the generated secrets to secrets.json (0600)"


def plan(lab, **env: str) -> list[str]:
    """The operations ``deploys/base.py --dry`` plans, without the base's ``deploys/base.py | `` prefix."""
    return [op["name"].removeprefix(f"{BASE} | ")
            for op in json.loads(ok(lab.pyinfra("deploys/base.py", "--dry", "--json", **env)))["plan"]]


def test_reading_commands_never_create_the_file(lab, tmp_path):
    path = tmp_path / "secrets.json"
    env = {"PREREQOS_SECRETS": str(path)}
    ok(lab.pyinfra("fact", "facts.galera.WsrepStatus", "--json", **env))
    ok(lab.pyinfra("debug-inventory", **env))
    health = subprocess.run([sys.executable, "-m", "lib.health", "tests/lab/inventory.py"], cwd=ROOT, text=True,
                            capture_output=True, timeout=300, env=lab.env(**env))
    assert "HEALTHY: " in health.stdout, health.stderr[-2000:]  # a report (green or not: not the point here)
    # A deploy plan with another cluster's (here: new) keys is refused by deploys/base.py; nothing written.
    dry = lab.pyinfra("deploys/prereqos.py", "--dry", **env)
    assert dry.returncode == 1 and "differs from this secrets.json" in dry.stdout + dry.stderr
    assert not path.exists()


def test_only_an_executing_deploy_adds_a_missing_key_0600(lab, tmp_path):
    kept = json.loads(secrets_path().read_text())
    del kept["openstack_admin_password"]  # used by deploys/openrc.py only: base.py may run with it new
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(kept))
    path.chmod(0o600)
    before = path.read_bytes()
    env = {"PREREQOS_SECRETS": str(path)}

    assert SAVE in plan(lab, **env) and path.read_bytes() == before

    ok(lab.pyinfra("deploys/base.py", **env))  # -y: executes
    saved = json.loads(path.read_text())
    assert set(saved) == set(GENERATORS) and {k: saved[k] for k in kept} == kept
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    assert SAVE not in plan(lab, **env) and json.loads(path.read_text()) == saved
