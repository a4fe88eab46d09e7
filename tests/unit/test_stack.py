"""operations/stack.py: the stack's Debian packages, one list built from each component's own,
installed in one transaction that starts none of the components' services."""

from __future__ import annotations

import ast
import subprocess
from types import SimpleNamespace
from unittest.mock import MagicMock

from pyinfra.api import StringCommand
from pyinfra.api.command import FileUploadCommand
from pyinfra.api.util import get_file_sha1
from pyinfra.context import ctx_host, ctx_state
from pyinfra.facts.deb import DebArch, DebPackages
from pyinfra.facts.files import Directory, File, Sha1File

import operations
from facts.component import ComponentState
from operations import stack, steady
from tests.unit.conftest import ROOT
from tests.unit.fakes import FakeHost

COMPONENT_LISTS = ("rabbitmq.PACKAGES", "galera.PACKAGES", "tls.PACKAGES", "haproxy.PACKAGES", "corosync.PACKAGES",
                   "memcached.PACKAGES", "apache.PACKAGES", "buildenv.PACKAGES")


def _resolve(dotted: str) -> list[str]:
    module, name = dotted.split(".")
    return getattr(getattr(operations, module), name)


def _package_steps(source: str) -> list[tuple[ast.AST, bool]]:
    """(the ``packages=`` value, whether under an ``if``) of every ``apt.packages``/``steady.packages`` call."""
    found: list[tuple[ast.AST, bool]] = []

    def walk(node: ast.AST, under_if: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) \
                    and child.func.attr == "packages" and isinstance(child.func.value, ast.Name) \
                    and child.func.value.id in ("apt", "steady"):
                found.extend((k.value, under_if) for k in child.keywords if k.arg == "packages")
            walk(child, under_if or isinstance(child, ast.If) and not _is_topology_if(child))

    walk(ast.parse(source), False)
    return found


def _is_topology_if(node: ast.If) -> bool:
    # `if host.name in backup.nodes(...)`: a backup node's own packages, part of the stack there;
    # `if PART != ...`: the part of deploys/rabbitmq.py an include runs (each runs once a run).
    return "backup.nodes" in ast.unparse(node.test) or ast.unparse(node.test).startswith("PART ")


def test_the_stack_is_every_component_list_in_order_each_once():
    packages = stack.packages(upstream_mariadb=False, backup_node=False)
    expected = list(dict.fromkeys(p for dotted in COMPONENT_LISTS for p in _resolve(dotted)))
    assert packages == expected
    assert packages.count("socat") == 1 and packages[0] == "rabbitmq-server"
    assert "zstd" not in packages and "zstd" in stack.packages(upstream_mariadb=False, backup_node=True)
    upstream = stack.packages(upstream_mariadb=True, backup_node=False)
    assert "mariadb-server" not in upstream and "curl" not in upstream  # galera.py adds MariaDB's repository first


def test_every_deploy_installs_its_components_list_the_stack_is_their_union():
    """One source for each list: a deploy's package step names its component's constant, and the
    stack installs exactly what the component deploys would (the optional repository's tools apart)."""
    named: set[str] = set()
    for path in sorted((ROOT / "deploys").glob("*.py")):
        for value, under_if in _package_steps(path.read_text()):
            if under_if:  # galera.upstream_repo's curl and gpg
                continue
            assert isinstance(value, ast.Attribute) and value.attr.endswith("PACKAGES"), \
                f"{path.name}: a package list written in the deploy: {ast.unparse(value)}"
            named.update(_resolve(ast.unparse(value)))
    assert named == set(stack.packages(upstream_mariadb=False, backup_node=True))


def _state() -> SimpleNamespace:
    return SimpleNamespace(ops={}, current_stage="execute", cwd=str(ROOT), config=SimpleNamespace(DIFF=False),
                           inventory=MagicMock())


def _run(host: FakeHost, packages: list[str]) -> list:
    host.current_op_global_arguments = None
    host.get_temp_filename = lambda *args, **kwargs: "/tmp/pyinfra-upload"
    with ctx_state.use(_state()), ctx_host.use(host):
        commands = list(stack._install._inner(snapshot=_snapshot(), packages=packages))
    return [c.get_raw_value() if isinstance(c, StringCommand) else c for c in commands]


def _snapshot() -> steady.Snapshot:
    snapshot = steady.Snapshot()
    snapshot.packages = True
    return snapshot




def sbin_only(path: str) -> dict | None:
    """The Directory fact: /usr/sbin exists, nothing under it is a directory."""
    return {"user": "root", "group": "root", "mode": 755} if path == "/usr/sbin" else None


INSTALLED = {"files": {}, "running": {}, "enabled": {}, "packages": {"apache2": {"2.4.66-1~deb12u1"}}}


def test_installed_is_one_reading_and_no_change():
    host = FakeHost({ComponentState: INSTALLED})
    assert _run(host, ["apache2"]) == []
    assert host.noops == ["package apache2 is installed (2.4.66-1~deb12u1)"]  # apt.packages' own word
    assert [cls for cls, _ in host.asked] == [ComponentState]


def test_missing_packages_install_in_one_apt_get_holding_the_services_then_the_policy_goes():
    host = FakeHost({ComponentState: INSTALLED, Sha1File: None, File: None, Directory: sbin_only,
                     DebPackages: INSTALLED["packages"], DebArch: "amd64"})
    commands = _run(host, ["apache2", "rsync", "socat"])
    assert isinstance(commands[0], FileUploadCommand) and commands[0].dest == "/usr/sbin/policy-rc.d"
    installs = [c for c in commands if isinstance(c, str) and " install " in c]
    assert len(installs) == 1 and installs[0].startswith(
        "PREREQOS_HELD_SERVICES='rabbitmq-server epmd epmd.socket mariadb haproxy corosync pacemaker memcached "
        "apache2' DEBIAN_FRONTEND=noninteractive apt-get ")
    assert installs[0].endswith("rsync socat") and "--no-install-recommends" in installs[0]
    assert commands[-1] == "rm -f /usr/sbin/policy-rc.d"
    assert commands.index(installs[0]) > 0


def test_a_policy_of_the_hosts_own_is_left_to_it():
    host = FakeHost({ComponentState: INSTALLED, Sha1File: "0" * 40})
    assert _run(host, ["apache2", "rsync"]) == []
    assert host.noops[-1] == ("/usr/sbin/policy-rc.d is this host's own: each component installs its packages, "
                              "its files first")


def test_ours_left_by_an_interrupted_install_is_replaced():
    ours = get_file_sha1(str(ROOT / stack.POLICY_SOURCE))
    host = FakeHost({ComponentState: INSTALLED, Sha1File: ours, File: None, Directory: sbin_only,
                     DebPackages: INSTALLED["packages"], DebArch: "amd64"})
    assert _run(host, ["apache2", "rsync"])[-1] == "rm -f /usr/sbin/policy-rc.d"


def test_the_policy_refuses_the_held_services_only_inside_the_transaction():
    policy = str(ROOT / stack.POLICY_SOURCE)
    held = {stack.HELD_SERVICES: " ".join(stack.HELD)}

    def answer(env: dict[str, str], *args: str) -> int:
        return subprocess.run([policy, *args], env=env).returncode

    # As deb-systemd-invoke and invoke-rc.d (--quiet, init script name) ask it.
    for unit in ("mariadb.service", "epmd.socket", "epmd.service", "rabbitmq-server", "apache2.service"):
        assert answer(held, unit, "start") == 101, unit
        assert answer({}, unit, "start") == 0, unit  # outside the transaction: as if absent
    assert answer(held, "--quiet", "rabbitmq-server", "start") == 101
    for unit in ("logrotate.timer", "logrotate.service", "apache-htcacheclean.service", "logd.service", "mariadb-x"):
        assert answer(held, unit, "start") == 0, unit
