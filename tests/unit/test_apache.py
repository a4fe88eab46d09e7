"""Apache: the a2query fact on real output, the module operation, ports.conf and the site."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pyinfra.api import FactProcessError
from pyinfra.api.util import get_template

from facts.apache import ApacheModules
from lib.topology import Topology
from operations import apache
from tests.unit.conftest import NAMES, ROOT
from tests.unit.fakes import FakeHost, run

FIXTURES = ROOT / "tests/fixtures/apache"


# --- fact: `a2query -m` captured on a lab host after the deploy -----------------------------------
def test_fact_lists_enabled_modules_sorted():
    modules = ApacheModules().process((FIXTURES / "a2query-m.txt").read_text().splitlines())
    assert {"wsgi", "proxy", "proxy_uwsgi", "mpm_event"} <= set(modules)
    assert modules == sorted(modules) and len(modules) == 22


@pytest.mark.parametrize("output", [
    ["No module matches proxy"],  # a2query writes this on stderr; on stdout it is not a list
    ["proxy (enabled by site administrator)", "garbage"],
    ["proxy"],
])
def test_fact_refuses_what_is_not_a_module_list(output):
    with pytest.raises(FactProcessError):
        ApacheModules().process(output)


def test_fact_treats_no_module_as_empty_not_error():
    fact = ApacheModules()
    assert fact.command() == "a2query -m || [ $? -eq 32 ]"
    assert fact.requires_command() == "a2query" and fact.default() == []


# --- operation: modules -----------------------------------------------------------------------------
def run_modules(present: list[str], *args, **kwargs) -> tuple[list[str], FakeHost]:
    """apache.modules on a host where ``present`` are enabled (ApacheModules takes no argument)."""
    host = FakeHost({ApacheModules: lambda: present})
    return run(apache.modules, host, *args, **kwargs), host


def test_modules_enabled_when_missing_in_one_command():
    assert run_modules(["wsgi"], ["wsgi", "proxy", "proxy_uwsgi"])[0] == ["a2enmod -q proxy proxy_uwsgi"]


def test_modules_noop_when_enabled():
    commands, host = run_modules(["proxy", "proxy_uwsgi", "wsgi"], ["proxy_uwsgi", "wsgi"])
    assert commands == [] and host.noops == ["Apache modules proxy_uwsgi, wsgi: enabled"]


def test_modules_disabled_when_present_only():
    assert run_modules(["status", "wsgi"], ["status", "info"], enabled=False)[0] == ["a2dismod -q status"]
    commands, host = run_modules(["wsgi"], ["status"], enabled=False)
    assert commands == [] and host.noops == ["Apache modules status: disabled"]


def test_module_names_are_quoted():
    assert run_modules([], ["x; rm -rf /"])[0] == ["a2enmod -q 'x; rm -rf /'"]


# --- templates: ports.conf and the default site, as deploys/apache.py renders them ----------------
def render(template: str, data, me: str) -> str:
    topo = Topology.from_data(me, data, NAMES)
    args = {"host": SimpleNamespace(name=me), **apache.template_args(topo, data)}
    return get_template(str(ROOT / "templates/apache" / template)).render(args)


def directives(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("me, address", [("ctrl-1", "10.0.2.11"), ("ctrl-3", "10.0.2.13")])
def test_ports_conf_listens_on_the_srv_address_only(default_data, me, address):
    listens = [d for d in directives(render("ports.conf.j2", default_data, me)) if d.startswith("Listen")]
    assert listens == [f"Listen {address}:80"]  # no *:80, no VIP, no 443 (HAProxy's)


def test_ports_conf_follows_the_port(default_data):
    default_data.apache["port"] = 8080
    assert "Listen 10.0.2.11:8080" in directives(render("ports.conf.j2", default_data, "ctrl-1"))


def test_default_site_is_bound_to_the_same_address(default_data):
    lines = directives(render("000-default.conf.j2", default_data, "ctrl-2"))
    assert lines[0] == "<VirtualHost 10.0.2.12:80>" and lines[-1] == "</VirtualHost>"
    assert "ServerName ctrl-2" in lines and "DocumentRoot /var/www/html" in lines
