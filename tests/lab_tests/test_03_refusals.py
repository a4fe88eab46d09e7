"""Bad input on the real CLI: refused with a message naming the variable and the fix, before
any operation runs on any host (``--dry`` included)."""

from __future__ import annotations

import json

import pytest

from tests.lab_tests.conftest import group_data

pytestmark = pytest.mark.lab

DEFAULTS = group_data()


def refused(lab, *args: str) -> str:
    proc = lab.pyinfra("deploys/prereqos.py", *args)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-2000:]
    assert "Starting operation" not in output and "Detected changes" not in output
    assert "invalid data, nothing was changed" in output
    return output


@pytest.mark.parametrize("mode", [["-y"], ["--dry"]])
def test_unknown_firstnode_is_refused(lab, mode):
    output = refused(lab, *mode, "--data", "firstnode=ctrl-9")
    assert "firstnode='ctrl-9' is not a controller in the inventory; fix: set firstnode to one of" in output


def test_bad_corosync_token_and_typo_are_refused_together(lab):
    corosync = {**DEFAULTS["corosync"], "token": 0, "tokn": 5000}
    output = refused(lab, "--data", f"corosync={json.dumps(corosync)}")
    assert "corosync['token']=0 is invalid; fix: set it to a positive integer of milliseconds" in output
    assert "corosync['tokn'] is not a known setting (did you mean 'token'?)" in output


def test_duplicate_vip_port_is_refused(lab):
    services = json.loads(json.dumps(DEFAULTS["haproxy_services"]))
    services["swift_proxy"]["port"] = 3306
    output = refused(lab, "--data", f"haproxy_services={json.dumps(services)}")
    assert "haproxy_services['swift_proxy'] binds the srv VIP port 3306 already bound by" in output


def test_another_secrets_file_is_refused_before_any_change(lab, tmp_path):
    """A regenerated secrets.json (other corosync authkey and Erlang cookie) would split the
    running cluster: refused on every host, naming both keys, nothing run."""
    proc = lab.pyinfra("deploys/prereqos.py", PREREQOS_SECRETS=str(tmp_path / "secrets.json"))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-2000:]
    assert "Starting operation" not in output and "Detected changes" not in output
    assert "/etc/corosync/authkey (secrets.json: corosync_authkey), /var/lib/rabbitmq/.erlang.cookie " \
           "(secrets.json: rabbitmq_cookie) differs from this secrets.json" in output
