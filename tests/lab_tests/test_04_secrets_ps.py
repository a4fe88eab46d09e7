"""No secret on any host's command line: every host's process list is sampled every 0.1 s
(``ps_sampler``) while the deploy writes every password back (accounts dropped or drifted
beforehand: the create and set-password paths of MariaDB and RabbitMQ), while the health report
runs, and during a no-change run; no secret, no MariaDB hash and no stored RabbitMQ hash may
appear in any command line.
"""

from __future__ import annotations

import json
import secrets as random
import subprocess
import sys
import time

import pytest

from tests.lab_tests.conftest import ROOT, changed_ops, ok, run_deploy
from tests.lab_tests.drill_load import changes
from tests.lab_tests.ps_sampler import Sampler, leaks, secret_values

pytestmark = pytest.mark.lab

DEPLOY = "deploys/prereqos.py"


def rabbitmq_stored_hashes(lab) -> dict[str, str]:
    """The password hashes RabbitMQ stores (read on the host, never printed by a deploy)."""
    exported = json.loads(ok(lab.ssh(1, "rabbitmqctl -q export_definitions -")))
    return {f"rabbitmq hash of {u['name']}": u["password_hash"] for u in exported["users"] if u.get("password_hash")}


def test_the_sampler_sees_every_host_and_a_value_on_a_command_line(lab):
    marker = f"marker-{random.token_hex(8)}"
    with Sampler(lab.lab) as sampler:
        for n in lab.hosts:
            # Two commands: the shell cannot exec the last one, it stays with the marker for 1 s.
            ok(lab.ssh(n, f"sh -c 'sleep 1; true' {marker}"))
    found = leaks(sampler.seen, {"marker": marker})
    assert sorted({line.split(":")[0] for line in found}) == [f"ctrl-{n}" for n in lab.hosts], found


def test_no_secret_on_a_command_line_while_secrets_are_written_checked_and_reported(lab):
    ok(lab.pyinfra(DEPLOY))  # converged first: the drift below is all there is to repair
    drifted = f"drift-{random.token_hex(12)}"
    # The drift itself goes on stdin too (the sampler is not running yet, but no test leaks).
    ok(lab.ssh(1, "mysql", input="DROP USER 'clustercheck'@'localhost'; "
                                  f"ALTER USER 'sst'@'localhost' IDENTIFIED BY '{drifted}';"))
    ok(lab.ssh(1, "rabbitmqctl -q delete_user admin"))
    # Exactly `change_password USER`: RabbitMQ 4's wrapper gives stdin to no other form.
    ok(lab.ssh(1, "rabbitmqctl change_password openstack", input=drifted))
    timings = {}
    with Sampler(lab.lab) as sampler:
        started = time.monotonic()
        repaired, _ = run_deploy(lab, DEPLOY)
        timings["repairing run"] = time.monotonic() - started
        started = time.monotonic()
        again, _ = run_deploy(lab, DEPLOY)
        timings["no-change run"] = time.monotonic() - started
        started = time.monotonic()
        # Sampled, not judged: HAProxy may still be rising the Galera check of the new account.
        report = subprocess.run([sys.executable, "-m", "lib.health", "tests/lab/inventory.py"], cwd=ROOT,
                                capture_output=True, text=True, env=lab.env(), timeout=300)
        timings["health report"] = time.monotonic() - started
    assert "Galera" in report.stdout and "HEALTHY" in report.stdout, report.stdout + report.stderr
    print({name: f"{seconds:.0f}s" for name, seconds in timings.items()}, "sweeps of /proc per host:", sampler.sweeps)
    changed = {name.split(" | ", 1)[-1]: hosts for name, hosts in changed_ops(repaired).items()}
    for op in ("Health check account (USAGE only)", "SST account"):
        assert changed.get(op) == ["ctrl-1"], (op, changed)
    assert any(name.startswith("RabbitMQ users") for name in changed), changed
    assert changes(again) == {}
    values = secret_values({"drifted password": drifted, **rabbitmq_stored_hashes(lab)})
    assert leaks(sampler.seen, values) == []
    # The sampler did see the set-password commands themselves (an Erlang VM start lasts > 0.1 s).
    lines = set().union(*sampler.seen.values())
    for command in ("rabbitmqctl add_user admin", "rabbitmqctl change_password openstack"):
        assert any(command in line for line in lines), f"{command!r} never sampled"
