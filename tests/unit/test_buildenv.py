"""Build env: the `pip index versions` fact on real output, the current-packages operation."""

from __future__ import annotations

import pytest
from pyinfra.api import FactProcessError, OperationValueError
from pyinfra.facts.pip import PipPackages

from facts.buildenv import PipLatestVersion
from operations import buildenv
from tests.unit.conftest import ROOT
from tests.unit.fakes import FakeHost, run

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


def venv_host(installed: dict[str, set[str]], latest: dict[str, str]) -> FakeHost:
    """A host whose venv has ``installed`` and whose index offers ``latest``; only the venv's pip is asked."""
    def packages(pip: str) -> dict[str, set[str]]:
        assert pip == PIP
        return installed

    def latest_version(pip: str, package: str) -> str:
        assert pip == PIP
        return latest[package]

    return FakeHost({PipPackages: packages, PipLatestVersion: latest_version})


def index_asks(host: FakeHost) -> list[str]:
    """The packages whose latest version was asked of the index, in order."""
    return [kwargs["package"] for cls, kwargs in host.asked if cls is PipLatestVersion]


def run_op(host: FakeHost, packages: list[str]) -> list[str]:
    return run(buildenv.current_packages, host, packages, virtualenv=VENV + "/")


def test_new_venv_gets_pip_upgraded_and_uwsgi_installed():
    host = venv_host(FRESH_VENV, {"pip": "26.3"})
    assert run_op(host, ["pip", "uwsgi"]) == [f"{PIP} install --upgrade pip uwsgi"]
    assert index_asks(host) == ["pip"]  # uwsgi is missing: no need to ask the index


def test_empty_venv_installs_everything_without_asking():
    host = venv_host({}, {})
    assert run_op(host, ["pip", "uwsgi"]) == [f"{PIP} install --upgrade pip uwsgi"] and index_asks(host) == []


def test_converged_venv_is_a_noop():
    assert CONVERGED == {"pip": {"26.3"}, "setuptools": {"66.1.1"}, "uWSGI": {"2.0.31"}}
    host = venv_host(CONVERGED, {"pip": "26.3", "uwsgi": "2.0.31"})
    assert run_op(host, ["pip", "uwsgi"]) == []
    assert index_asks(host) == ["pip", "uwsgi"]  # uWSGI as pip freeze spells it, found by its canonical name
    assert host.noops == [f"pip, uwsgi current in {VENV}/"]


def test_newer_release_on_the_index_is_installed():
    host = venv_host(CONVERGED, {"pip": "26.3", "uwsgi": "2.0.32"})
    assert run_op(host, ["pip", "uwsgi"]) == [f"{PIP} install --upgrade uwsgi"]


def test_older_version_on_the_index_changes_nothing():
    # A mirror that lags behind what is installed must not downgrade.
    assert run_op(venv_host(CONVERGED, {"pip": "25.0", "uwsgi": "2.0.31"}), ["pip", "uwsgi"]) == []


def test_specifiers_are_compared_not_matched():
    host = venv_host(CONVERGED, {})
    assert run_op(host, ["pip>=25", "uwsgi==2.0.31"]) == [] and index_asks(host) == []
    assert run_op(host, ["pip>=27", "uWSGI==2.0.30"]) == [f"{PIP} install --upgrade 'pip>=27' uWSGI==2.0.30"]


def test_invalid_requirement_is_refused():
    with pytest.raises(OperationValueError, match="invalid pip requirement"):
        run_op(venv_host(CONVERGED, {}), ["uwsgi=2"])
