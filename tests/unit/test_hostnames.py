"""Hostnames become the inventory names: the facts that decide whether that can hold, the refusals
when it cannot, and the files a site behind a proxy gets (apt drop-in, the venv's pip.conf)."""

from __future__ import annotations

import configparser

import pytest
from pyinfra.api import FactProcessError

from facts.identity import MachineIdentity, RabbitmqNodeData
from lib.hostnames import one_machine_twice, rabbitmq_under_another_name
from tests.unit.conftest import ROOT
from tests.unit.fakes import renderer

FIXTURES = ROOT / "tests/fixtures/identity"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def test_machine_identity_from_a_lab_host():
    assert MachineIdentity().process(lines("machine_identity.txt")) == (
        "5b6782eea4f92665f507b06baf19fd94 c9d73b8a-59a1-4ce1-9567-e8d8f4d0e890")


@pytest.mark.parametrize("output", [
    ["5b6782eea4f92665f507b06baf19fd94"],                      # no boot id
    ["", "c9d73b8a-59a1-4ce1-9567-e8d8f4d0e890"],               # empty machine-id (a template)
    ["uninitialized", "c9d73b8a-59a1-4ce1-9567-e8d8f4d0e890"],  # systemd's first-boot marker
])
def test_machine_identity_refuses_what_identifies_nothing(output):
    with pytest.raises(FactProcessError):
        MachineIdentity().process(output)


def test_rabbitmq_node_data_from_a_lab_host():
    # find's output on a converged bookworm host: the node's data and its unpacked plugins.
    assert RabbitmqNodeData().process(lines("rabbitmq_mnesia_dirs.txt")) == ["rabbit@ctrl-1"]


def test_rabbitmq_node_data_before_the_first_start():
    assert RabbitmqNodeData().process([]) == [] == RabbitmqNodeData.default()


def test_distinct_machines_pass():
    assert one_machine_twice({"ctrl-1": "m1 b1", "ctrl-2": "m2 b2", "ctrl-3": "m1 b3"}) is None


def test_unreachable_hosts_are_not_compared():
    assert one_machine_twice({"ctrl-1": None, "ctrl-2": None, "ctrl-3": "m3 b3"}) is None


def test_one_machine_under_two_names_is_refused():
    refusal = one_machine_twice({"ctrl-1": "m1 b1", "ctrl-2": "m2 b2", "ctrl-3": "m1 b1"})
    assert refusal is not None
    assert refusal.startswith("ctrl-1 and ctrl-3 are one machine")
    assert "fix: list each controller once in the inventory" in refusal


def test_rabbitmq_of_this_name_or_none_passes():
    assert rabbitmq_under_another_name("ctrl-1", "debian", []) is None
    assert rabbitmq_under_another_name("ctrl-1", "ctrl-1", ["rabbit@ctrl-1"]) is None
    # A leftover of an earlier name beside the node's own data loses nothing more.
    assert rabbitmq_under_another_name("ctrl-1", "ctrl-1", ["rabbit@ctrl-1", "rabbit@debian"]) is None


def test_rabbitmq_under_another_name_is_refused():
    refusal = rabbitmq_under_another_name("ctrl-1", "debian", ["rabbit@debian"])
    assert refusal is not None
    assert refusal.startswith("ctrl-1: RabbitMQ on this host (hostname 'debian') holds the data of node rabbit@debian")
    assert "fix: name this controller 'debian' in the inventory" in refusal


render_base = renderer("templates/base")
render_buildenv = renderer("templates/buildenv")


def test_apt_proxy_drop_in():
    conf = render_base("apt-proxy.conf.j2", apt_proxy="http://10.106.2.1:3142")
    assert [line for line in conf.splitlines() if not line.startswith("//")] == [
        'Acquire::http::Proxy "http://10.106.2.1:3142";',
        'Acquire::https::Proxy "http://10.106.2.1:3142";',
    ]


@pytest.mark.parametrize("settings, expected", [
    ({"pip_proxy": "http://10.106.2.1:3142", "pip_index_url": None,
      "pip_cert": "/etc/ssl/certs/ca-certificates.crt"},
     {"proxy": "http://10.106.2.1:3142", "cert": "/etc/ssl/certs/ca-certificates.crt"}),
    ({"pip_proxy": None, "pip_index_url": "https://pypi.example/simple", "pip_cert": None},
     {"index-url": "https://pypi.example/simple"}),
])
def test_pip_conf_holds_only_what_is_set(settings, expected):
    parser = configparser.ConfigParser()
    parser.read_string(render_buildenv("pip.conf.j2", **settings))
    assert dict(parser["global"]) == expected
