"""Build env: the `pip index versions` fact on real output, the current-packages operation."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from pyinfra.api import FactProcessError, OperationValueError, StringCommand
from pyinfra.context import ctx_host, ctx_state
from pyinfra.facts.pip import PipPackages

from facts.buildenv import PipLatestVersion
from operations import buildenv
from tests.unit.conftest import ROOT

FIXTURES = ROOT / "tests/fixtures/buildenv"
VENV = "/opt/openstack/venv"
PIP = f"{VENV}/bin/pip"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


# --- fact: captured on lab hosts (fresh venvs: pip 23.0.1 on Debian 12, 25.1.1 on 13; pip 26.3) ---
@pytest.mark.parametrize("fixture, latest", [
    ("pip-23.0.1-index-versions-pip.txt", "26.3"),
    ("pip-25.1.1-trixie-index-versions-pip.txt", "26.3"),
    ("pip-26.3-index-versions-pip.txt", "26.3"),
    ("pip-26.3-index-versions-uwsgi.txt", "2.0.31"),
])
def test_fact_reads_the_latest_version(fixture, latest):
    assert PipLatestVersion().process(lines(fixture)) == latest


@pytest.mark.parametrize("output", [
    ["ERROR: No matching distribution found for pip"],
    ["Available versions: 26.3, 26.2.1"],
    ["pip 26.3"],
])
def test_fact_refuses_other_output(output):
    with pytest.raises(FactProcessError):
        PipLatestVersion().process(output)


def test_fact_asks_the_venv_pip_and_fails_when_the_index_is_unreachable():
    fact = PipLatestVersion()
    command = fact.command(pip=PIP, package="uwsgi").get_raw_value()
    # No `|| true`: an unreachable index must fail the host, not read as "nothing newer".
    assert command == f"{PIP} index versions --disable-pip-version-check uwsgi"
    assert fact.requires_command(pip=PIP, package="uwsgi") == PIP and fact.default() is None


# --- operation: current_packages ------------------------------------------------------------------
FRESH_VENV = {"pip": {"23.0.1"}, "setuptools": {"66.1.1"}}  # python3 -m venv on Debian 12
CONVERGED = PipPackages().process(lines("pip-freeze-all.txt"))  # real `pip freeze --all`


class FakeHost:
    def __init__(self, installed: dict[str, set[str]], latest: dict[str, str]):
        self.installed, self.latest, self.asked, self.noops = installed, latest, [], []

    def get_fact(self, cls, **kwargs):
        assert kwargs["pip"] == PIP
        if cls is PipPackages:
            return self.installed
        assert cls is PipLatestVersion
        self.asked.append(kwargs["package"])
        return self.latest[kwargs["package"]]

    def noop(self, description):
        self.noops.append(description)


def run_op(host: FakeHost, packages: list[str]) -> list[str]:
    with ctx_state.use(MagicMock()), ctx_host.use(host):
        commands = list(buildenv.current_packages._inner(packages, virtualenv=VENV + "/"))
    return [c.get_raw_value() if isinstance(c, StringCommand) else c for c in commands]


def test_new_venv_gets_pip_upgraded_and_uwsgi_installed():
    host = FakeHost(FRESH_VENV, {"pip": "26.3"})
    assert run_op(host, ["pip", "uwsgi"]) == [f"{PIP} install --upgrade pip uwsgi"]
    assert host.asked == ["pip"]  # uwsgi is missing: no need to ask the index


def test_empty_venv_installs_everything_without_asking():
    host = FakeHost({}, {})
    assert run_op(host, ["pip", "uwsgi"]) == [f"{PIP} install --upgrade pip uwsgi"] and host.asked == []


def test_converged_venv_is_a_noop():
    assert CONVERGED == {"pip": {"26.3"}, "setuptools": {"66.1.1"}, "uWSGI": {"2.0.31"}}
    host = FakeHost(CONVERGED, {"pip": "26.3", "uwsgi": "2.0.31"})
    assert run_op(host, ["pip", "uwsgi"]) == []
    assert host.asked == ["pip", "uwsgi"]  # uWSGI as pip freeze spells it, found by its canonical name
    assert host.noops == [f"pip, uwsgi current in {VENV}/"]


def test_newer_release_on_the_index_is_installed():
    host = FakeHost(CONVERGED, {"pip": "26.3", "uwsgi": "2.0.32"})
    assert run_op(host, ["pip", "uwsgi"]) == [f"{PIP} install --upgrade uwsgi"]


def test_older_version_on_the_index_changes_nothing():
    # A mirror that lags behind what is installed must not downgrade.
    assert run_op(FakeHost(CONVERGED, {"pip": "25.0", "uwsgi": "2.0.31"}), ["pip", "uwsgi"]) == []


def test_specifiers_are_compared_not_matched():
    host = FakeHost(CONVERGED, {})
    assert run_op(host, ["pip>=25", "uwsgi==2.0.31"]) == [] and host.asked == []
    assert run_op(host, ["pip>=27", "uWSGI==2.0.30"]) == [f"{PIP} install --upgrade 'pip>=27' uWSGI==2.0.30"]


def test_invalid_requirement_is_refused():
    with pytest.raises(OperationValueError, match="invalid pip requirement"):
        run_op(FakeHost(CONVERGED, {}), ["uwsgi=2"])
