"""operations/steady.py and facts/component.py: one reading of a component's files and services
serves every operation that changes nothing; anything else is secret_files' or systemd.service's
own path, unchanged."""

from __future__ import annotations

import hashlib
from io import StringIO
from types import SimpleNamespace
from unittest.mock import MagicMock

from pyinfra.api import StringCommand
from pyinfra.api.command import FileUploadCommand
from pyinfra.context import ctx_host, ctx_state
from pyinfra.facts.deb import DebArch, DebPackages
from pyinfra.facts.files import Directory, File, Sha1File
from pyinfra.facts.server import Groups, Os, Users, Which
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus

from facts.component import ComponentState, _parts, parse
from operations import secret_files, steady
from tests.unit.conftest import ROOT
from tests.unit.fakes import FakeHost

FIXTURE = ROOT / "tests/fixtures/component/ctrl-1-apache.txt"
# The paths and services of that capture (a converged lab host; /etc/prereqos-absent does not exist).
PATHS = ["/etc/apache2/ports.conf", "/etc/prereqos-absent"]
SERVICES = ["apache2.service", "haproxy.service"]

CONTENT = "Listen 10.0.0.1:80\n"
SHA1 = hashlib.sha1(CONTENT.encode()).hexdigest()
AS_ASKED = {"files": {"/etc/x.conf": {"file": {"user": "root", "group": "root", "mode": 644, "size": 19},
                                      "sha1": SHA1}},
            "running": {"apache2.service": True}, "enabled": {"apache2.service": True}}


def fake_state(executed: int = 0) -> SimpleNamespace:
    """A run's state: ``executed`` operations already executed a command, on some host."""
    ops = {"ctrl-2": {f"op{i}": SimpleNamespace(operation_meta=SimpleNamespace(executed=True))
                      for i in range(executed)}}
    return SimpleNamespace(ops=ops, current_stage="execute", cwd=str(ROOT), config=SimpleNamespace(DIFF=False),
                           inventory=MagicMock())


def run(op, host: FakeHost, state: SimpleNamespace, **kwargs) -> list:
    with ctx_state.use(state), ctx_host.use(host):
        return list(op._inner(**kwargs))


def file_host(component: dict) -> FakeHost:
    """The snapshot says ``component``; pyinfra's own facts say the file is absent."""
    host = FakeHost({ComponentState: component, File: None, Sha1File: None, Directory: None})
    host.current_op_global_arguments = None
    host.get_temp_filename = lambda *args, **kwargs: "/tmp/pyinfra-upload"
    return host


def test_the_component_state_of_a_converged_host_parses_as_pyinfra_facts_would():
    parts = _parts(PATHS, SERVICES)
    value = parse(FIXTURE.read_text().splitlines(), parts)
    ports = value["files"]["/etc/apache2/ports.conf"]
    assert (ports["file"]["user"], ports["file"]["group"], ports["file"]["mode"]) == ("root", "root", 644)
    assert len(ports["sha1"]) == 40
    assert value["files"]["/etc/prereqos-absent"] == {"file": None, "sha1": None}
    assert value["running"] == {"apache2.service": True, "haproxy.service": True}
    assert value["enabled"] == {"apache2.service": True, "haproxy.service": False}


def test_a_failed_part_is_unknown_and_left_to_the_operation():
    parts = _parts(["/etc/x.conf"], ["apache2.service"])
    value = parse(["##part 0", "##end 0 1", "##part 1", "##end 1 0", "##part 2", "##end 2 1"], parts)
    assert value["files"]["/etc/x.conf"] == {"file": None, "sha1": None}
    assert value["files"]["/etc/x.conf"]["file"] is None
    assert value["running"] is None and value["enabled"] is None


def test_one_command_reads_every_file_and_service():
    command = ComponentState().command(paths=PATHS, services=SERVICES)
    assert isinstance(command, StringCommand)
    raw = command.get_raw_value()
    assert raw.count("##part") == 5 and "systemctl show --all" in raw and "sha1sum" in raw


def test_a_file_as_asked_is_no_change_from_the_one_reading():
    host = file_host(AS_ASKED)
    snap = steady.Snapshot()
    snap.paths.append("/etc/x.conf")
    state = fake_state()
    for _ in range(2):  # two operations, one reading
        assert run(steady._put, host, state, snapshot=snap, src=StringIO(CONTENT), dest="/etc/x.conf",
                   mode="644") == []
    assert [cls for cls, _ in host.asked] == [ComponentState]
    assert host.noops == ["/etc/x.conf is up to date"] * 2


def test_another_content_owner_or_mode_is_secret_files_own_path():
    for src, user, mode in ((StringIO("other\n"), "root", "644"), (StringIO(CONTENT), "www-data", "644"),
                            (StringIO(CONTENT), "root", "600")):
        host = file_host(AS_ASKED)
        snap = steady.Snapshot()
        commands = run(steady._put, host, fake_state(), snapshot=snap, src=src, dest="/etc/x.conf",
                       user=user, mode=mode)
        upload = next(i for i, c in enumerate(commands) if isinstance(c, FileUploadCommand))
        assert commands[upload - 1].get_raw_value() == secret_files.owner_only_command("/etc/x.conf").get_raw_value()
        assert File in [cls for cls, _ in host.asked]


def test_after_a_command_executed_the_operation_reads_for_itself():
    host = file_host(AS_ASKED)
    snap = steady.Snapshot()
    state = fake_state(executed=0)
    assert run(steady._put, host, state, snapshot=snap, src=StringIO(CONTENT), dest="/etc/x.conf", mode="644") == []
    later = fake_state(executed=1)  # an operation executed since the reading
    commands = run(steady._put, host, later, snapshot=snap, src=StringIO(CONTENT), dest="/etc/x.conf", mode="644")
    assert any(isinstance(c, FileUploadCommand) for c in commands)  # File says absent: pyinfra's own path
    assert [cls for cls, _ in host.asked].count(ComponentState) == 1


def test_a_template_as_rendered_is_no_change():
    rendered = (ROOT / "templates/galera/galera-checkd.py").read_text()
    component = {"files": {"/usr/local/bin/x": {"file": {"user": "root", "group": "root", "mode": 755},
                                                "sha1": hashlib.sha1(rendered.encode()).hexdigest()}},
                 "running": {}, "enabled": {}}
    host = file_host(component)
    assert run(steady._put, host, fake_state(), snapshot=steady.Snapshot(), src="templates/galera/galera-checkd.py",
               dest="/usr/local/bin/x", mode="755") == []


def test_a_service_as_asked_is_no_change_otherwise_systemd_service():
    host = FakeHost({ComponentState: AS_ASKED, SystemdStatus: {"apache2.service": False},
                     SystemdEnabled: {"apache2.service": True}})
    assert run(steady._service, host, fake_state(), snapshot=steady.Snapshot(), service="apache2",
               running=True, enabled=True) == []
    commands = run(steady._service, host, fake_state(), snapshot=steady.Snapshot(), service="apache2",
                   running=False, enabled=True)
    assert commands == [] and SystemdStatus in [cls for cls, _ in host.asked]  # pyinfra's own: stopped already
    stopped = FakeHost({ComponentState: {**AS_ASKED, "running": {"apache2.service": False}},
                        SystemdStatus: {"apache2.service": False}, SystemdEnabled: {"apache2.service": True}})
    commands = run(steady._service, stopped, fake_state(), snapshot=steady.Snapshot(), service="apache2",
                   running=True, enabled=True)
    assert [c.get_raw_value() for c in commands] == ["systemctl start apache2.service"]


def test_unit_names_as_systemd_service_makes_them():
    assert steady.unit_name("apache2") == "apache2.service"
    assert steady.unit_name("epmd.socket") == "epmd.socket"


def test_a_template_renders_with_its_jinja_settings_as_files_template_does():
    # pyinfra caches a template by file name: read once without the settings, it would stay so.
    with ctx_state.use(fake_state()), ctx_host.use(FakeHost()):
        assert steady.render("tests/fixtures/component/trim.j2",
                             {"jinja_env_kwargs": {"trim_blocks": True}}).read() == "x\n"


def test_packages_installed_are_no_change_otherwise_apt_packages():
    component = {**AS_ASKED, "packages": {"apache2": {"2.4.66-1~deb12u1"}}}
    host = FakeHost({ComponentState: component})
    assert run(steady._packages, host, fake_state(), snapshot=steady.Snapshot(), packages=["apache2"],
               no_recommends=True) == []
    assert host.noops == ["apache2 installed"]
    missing = FakeHost({ComponentState: component, DebPackages: {"apache2": {"2.4.66-1~deb12u1"}}, DebArch: "amd64"})
    commands = run(steady._packages, missing, fake_state(), snapshot=steady.Snapshot(), packages=["apache2", "rsync"],
                   no_recommends=True)
    assert DebPackages in [cls for cls, _ in missing.asked]  # apt.packages' own reading
    lines = [c.get_raw_value() if isinstance(c, StringCommand) else c for c in commands]
    assert any("install" in line and "rsync" in line for line in lines), lines


def test_dpkg_list_parses_as_debpackages():
    parts = _parts([], [], packages=True)
    output = ["##part 0", "Desired=Unknown/Install/Remove/Purge/Hold",
              "ii  apache2        2.4.66-1~deb12u1 amd64        Apache HTTP Server", "##end 0 0"]
    assert parse(output, parts)["packages"] == {"apache2": {"2.4.66-1~deb12u1"}}
    assert parse(["##part 0", "##end 0 1"], parts)["packages"] is None


def test_an_operation_added_after_the_reading_is_read_again_with_it():
    # --dry and a run without -y run each operation as the deploy file adds it.
    host = file_host(AS_ASKED)
    snap, state = steady.Snapshot(), fake_state()
    for path in ("/etc/x.conf", "/etc/y.conf"):
        snap.paths.append(path)
        run(steady._put, host, state, snapshot=snap, src=StringIO(CONTENT), dest=path, mode="644")
    readings = [kwargs["paths"] for cls, kwargs in host.asked if cls is ComponentState]
    assert readings == [["/etc/x.conf"], ["/etc/x.conf", "/etc/y.conf"]]


RABBIT = {"home": "/var/lib/rabbitmq", "shell": "/usr/sbin/nologin", "group": "rabbitmq", "groups": []}
ACCOUNTS = {**AS_ASKED, "users": {"rabbitmq": RABBIT}, "groups": ["rabbitmq"],
            "directories": {"/var/lib/rabbitmq": {"user": "rabbitmq", "group": "rabbitmq", "mode": 755}}}
RABBIT_USER = dict(user="rabbitmq", group="rabbitmq", home="/var/lib/rabbitmq", shell="/usr/sbin/nologin", system=True)


def test_a_user_and_group_as_asked_are_no_change():
    host = FakeHost({ComponentState: ACCOUNTS})
    assert run(steady._user, host, fake_state(), snapshot=steady.Snapshot(), **RABBIT_USER) == []
    assert run(steady._group, host, fake_state(), snapshot=steady.Snapshot(), group="rabbitmq", system=True) == []
    assert host.noops == ["user rabbitmq exists", "group rabbitmq exists"]


def test_another_shell_or_home_owner_is_server_user_own_path():
    facts = {ComponentState: ACCOUNTS, Users: {"rabbitmq": RABBIT}, Groups: ["rabbitmq"], Os: "Linux",
             Which: "/usr/sbin/usermod", Directory: {"user": "root", "group": "root", "mode": 755}}
    host = FakeHost(facts)
    commands = run(steady._user, host, fake_state(), snapshot=steady.Snapshot(), **{**RABBIT_USER, "shell": "/bin/sh"})
    assert [c.get_raw_value() for c in commands if isinstance(c, StringCommand)] == [
        "usermod -s /bin/sh rabbitmq", "chown rabbitmq:rabbitmq /var/lib/rabbitmq"]
    owned_by_root = FakeHost({**facts, ComponentState: {
        **ACCOUNTS, "directories": {"/var/lib/rabbitmq": {"user": "root", "group": "root", "mode": 755}}}})
    commands = run(steady._user, owned_by_root, fake_state(), snapshot=steady.Snapshot(), **RABBIT_USER)
    assert [c.get_raw_value() for c in commands if isinstance(c, StringCommand)] == [
        "chown rabbitmq:rabbitmq /var/lib/rabbitmq"]


def test_users_groups_and_directories_parse_as_pyinfra_facts():
    parts = _parts([], [], accounts=True, directories=["/var/lib/rabbitmq"])
    output = ["##part 0", "##end 0 0", "##part 1", "rabbitmq:x:107:", "##end 1 0", "##part 2",
              "user=rabbitmq group=rabbitmq mode=drwxr-xr-x atime=1 mtime=1 ctime=1 size=4096 '/var/lib/rabbitmq'",
              "##end 2 0"]
    value = parse(output, parts)
    assert value["groups"] == ["rabbitmq"]
    assert value["directories"]["/var/lib/rabbitmq"]["user"] == "rabbitmq"
