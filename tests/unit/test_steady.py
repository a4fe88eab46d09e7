"""operations/steady.py and facts/component.py: one reading of a component's files and services
answers the facts of pyinfra's own operations (secret_files', systemd.service...), which then
change nothing without another remote command, or yield their own commands."""

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
ROOT_DIR = {"user": "root", "group": "root", "mode": 755}
AS_ASKED = {"files": {"/etc/x.conf": {"file": {"user": "root", "group": "root", "mode": 644, "size": 19},
                                      "sha1": SHA1}},
            "running": {"apache2.service": True}, "enabled": {"apache2.service": True},
            "directories": {"/etc": ROOT_DIR, "/usr/local/bin": ROOT_DIR}}


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
    assert value["files"]["/etc/x.conf"] == {"sha1": None}  # File failed: left out; no sha1 (absent)
    assert value["running"] is None and value["enabled"] is None
    assert steady.answer(value, File, {"path": "/etc/x.conf"}) is steady._UNREAD  # the host is asked
    assert steady.answer(value, Sha1File, {"path": "/etc/x.conf"}) is None
    assert steady.answer(value, SystemdStatus, {"services": ["apache2.service"]}) is steady._UNREAD


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


def test_another_content_owner_or_mode_is_secret_files_own_path():
    host = file_host(AS_ASKED)
    commands = run(steady._put, host, fake_state(), snapshot=steady.Snapshot(), src=StringIO("other\n"),
                   dest="/etc/x.conf", mode="644")
    upload = next(i for i, c in enumerate(commands) if isinstance(c, FileUploadCommand))
    assert commands[upload - 1].get_raw_value() == secret_files.owner_only_command("/etc/x.conf").get_raw_value()
    assert [cls for cls, _ in host.asked] == [ComponentState]  # decided from the reading
    for user, mode, expected in (("www-data", "644", "chown www-data:root /etc/x.conf"),
                                 ("root", "600", "chmod 600 /etc/x.conf")):
        commands = run(steady._put, file_host(AS_ASKED), fake_state(), snapshot=steady.Snapshot(),
                       src=StringIO(CONTENT), dest="/etc/x.conf", user=user, mode=mode)
        assert [c.get_raw_value() for c in commands] == [expected]  # same content: no upload


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
                 "running": {}, "enabled": {}, "directories": {"/usr/local/bin": ROOT_DIR}}
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
    assert [c.get_raw_value() for c in commands] == ["systemctl stop apache2.service"]  # the reading: running
    assert [cls for cls, _ in host.asked] == [ComponentState, ComponentState]
    stopped = FakeHost({ComponentState: {**AS_ASKED, "running": {"apache2.service": False}},
                        SystemdStatus: {"apache2.service": False}, SystemdEnabled: {"apache2.service": True}})
    commands = run(steady._service, stopped, fake_state(), snapshot=steady.Snapshot(), service="apache2",
                   running=True, enabled=True)
    assert [c.get_raw_value() for c in commands] == ["systemctl start apache2.service"]


def test_a_service_is_read_under_the_name_systemd_gives_it():
    # systemctl show reports the full unit name (Id=apache2.service), which systemd.service asks for.
    value = {**AS_ASKED, "running": {"apache2.service": True, "epmd.socket": False}}
    assert steady.answer(value, SystemdStatus, {"services": ["epmd.socket"], "user_mode": False, "machine": None,
                                                 "user_name": None}) == {"epmd.socket": False}
    assert steady.answer(value, SystemdStatus, {"services": ["x.service"]}) is steady._UNREAD
    assert steady.answer(value, SystemdStatus, {"services": ["epmd.socket"], "user_mode": True}) is steady._UNREAD


def test_a_template_as_rendered_with_its_jinja_settings_is_no_change():
    # files.template renders it (trim_blocks here): the same text as on the host, no upload.
    component = {**AS_ASKED, "files": {"/etc/t": {"file": {"user": "root", "group": "root", "mode": 644},
                                                  "sha1": hashlib.sha1(b"x\n").hexdigest()}}}
    host = file_host(component)
    assert run(steady._template, host, fake_state(), snapshot=steady.Snapshot(), src="tests/fixtures/component/trim.j2",
               dest="/etc/t", mode="644", jinja_env_kwargs={"trim_blocks": True}) == []
    assert [cls for cls, _ in host.asked] == [ComponentState]


def test_packages_installed_are_no_change_otherwise_apt_packages():
    component = {**AS_ASKED, "packages": {"apache2": {"2.4.66-1~deb12u1"}}}
    host = FakeHost({ComponentState: component})
    assert run(steady._packages, host, fake_state(), snapshot=steady.Snapshot(), packages=["apache2"],
               no_recommends=True) == []
    assert host.noops == ["package apache2 is installed (2.4.66-1~deb12u1)"]
    missing = FakeHost({ComponentState: component, DebPackages: {"apache2": {"2.4.66-1~deb12u1"}}, DebArch: "amd64"})
    commands = run(steady._packages, missing, fake_state(), snapshot=steady.Snapshot(), packages=["apache2", "rsync"],
                   no_recommends=True)
    assert [cls for cls, _ in missing.asked] == [ComponentState]  # apt.packages decided from the reading
    lines = [c.get_raw_value() if isinstance(c, StringCommand) else c for c in commands]
    assert any("install" in line and "rsync" in line for line in lines), lines


def test_dpkg_list_parses_as_debpackages():
    parts = _parts([], [], packages=True)
    output = ["##part 0", "Desired=Unknown/Install/Remove/Purge/Hold",
              "ii  apache2        2.4.66-1~deb12u1 amd64        Apache HTTP Server", "##end 0 0"]
    assert parse(output, parts)["packages"] == {"apache2": {"2.4.66-1~deb12u1"}}
    assert parse(["##part 0", "##end 0 1"], parts)["packages"] is None


def test_an_operation_added_after_the_reading_is_read_alone_and_merged():
    # --dry and a run without -y run each operation as the deploy file adds it.
    host = file_host(AS_ASKED)
    snap, state = steady.Snapshot(), fake_state()
    for path in ("/etc/x.conf", "/etc/y.conf"):
        snap.paths.append(path)
        run(steady._put, host, state, snapshot=snap, src=StringIO(CONTENT), dest=path, mode="644")
    readings = [kwargs["paths"] for cls, kwargs in host.asked if cls is ComponentState]
    assert readings == [["/etc/x.conf"], ["/etc/y.conf"]]
    executed = fake_state(executed=1)  # something ran since: everything is read again
    snap.paths.append("/etc/z.conf")
    run(steady._put, host, executed, snapshot=snap, src=StringIO(CONTENT), dest="/etc/z.conf", mode="644")
    readings = [kwargs["paths"] for cls, kwargs in host.asked if cls is ComponentState]
    assert readings[-1] == ["/etc/x.conf", "/etc/y.conf", "/etc/z.conf"]


def test_a_later_reading_is_merged_into_the_first():
    first = {"files": {"/a": {"sha1": "1"}}, "running": {"x.service": True}, "enabled": {"x.service": True},
             "directories": {}, "packages": {"apache2": {"2"}}, "users": None}
    later = {"files": {"/b": {"sha1": "2"}}, "running": None, "enabled": None, "directories": {"/d": None},
             "packages": None, "users": {"root": {}}}
    value = steady.merged(first, later)
    assert value["files"] == {"/a": {"sha1": "1"}, "/b": {"sha1": "2"}} and value["running"] == {"x.service": True}
    assert value["packages"] == {"apache2": {"2"}} and value["users"] == {"root": {}} and "/d" in value["directories"]


RABBIT = {"home": "/var/lib/rabbitmq", "shell": "/usr/sbin/nologin", "group": "rabbitmq", "groups": []}
ACCOUNTS = {**AS_ASKED, "users": {"rabbitmq": RABBIT}, "groups": ["rabbitmq"], "os": "Linux",
            "directories": {"/var/lib/rabbitmq": {"user": "rabbitmq", "group": "rabbitmq", "mode": 755}}}
RABBIT_USER = dict(user="rabbitmq", group="rabbitmq", home="/var/lib/rabbitmq", shell="/usr/sbin/nologin", system=True)


def test_a_user_and_group_as_asked_are_no_change():
    host = FakeHost({ComponentState: ACCOUNTS})
    assert run(steady._user, host, fake_state(), snapshot=steady.Snapshot(), **RABBIT_USER) == []
    assert run(steady._group, host, fake_state(), snapshot=steady.Snapshot(), group="rabbitmq", system=True) == []
    assert [cls for cls, _ in host.asked] == [ComponentState, ComponentState]


def test_another_shell_or_home_owner_is_server_user_own_path():
    facts = {ComponentState: ACCOUNTS, Users: {"rabbitmq": RABBIT}, Groups: ["rabbitmq"], Os: "Linux",
             Which: "/usr/sbin/usermod", Directory: {"user": "root", "group": "root", "mode": 755}}
    host = FakeHost(facts)
    commands = run(steady._user, host, fake_state(), snapshot=steady.Snapshot(), **{**RABBIT_USER, "shell": "/bin/sh"})
    assert [c.get_raw_value() for c in commands if isinstance(c, StringCommand)] == ["usermod -s /bin/sh rabbitmq"]
    owned_by_root = FakeHost({**facts, ComponentState: {
        **ACCOUNTS, "directories": {"/var/lib/rabbitmq": {"user": "root", "group": "root", "mode": 755}}}})
    commands = run(steady._user, owned_by_root, fake_state(), snapshot=steady.Snapshot(), **RABBIT_USER)
    assert [c.get_raw_value() for c in commands if isinstance(c, StringCommand)] == [
        "chown rabbitmq:rabbitmq /var/lib/rabbitmq"]


def test_users_groups_and_directories_parse_as_pyinfra_facts():
    parts = _parts([], [], accounts=True, directories=["/var/lib/rabbitmq"])
    output = ["##part 0", "##end 0 0", "##part 1", "rabbitmq:x:107:", "##end 1 0", "##part 2", "Linux", "##end 2 0",
              "##part 3",
              "user=rabbitmq group=rabbitmq mode=drwxr-xr-x atime=1 mtime=1 ctime=1 size=4096 '/var/lib/rabbitmq'",
              "##end 3 0"]
    value = parse(output, parts)
    assert value["groups"] == ["rabbitmq"] and value["os"] == "Linux"
    assert value["directories"]["/var/lib/rabbitmq"]["user"] == "rabbitmq"


def test_a_directory_as_asked_and_an_absent_file_are_no_change_otherwise_pyinfra_own_paths():
    host = file_host(AS_ASKED)
    assert run(steady._directory, host, fake_state(), snapshot=steady.Snapshot(), path="/etc", user="root",
               group="root", mode="755") == []
    assert run(steady._existing_file, host, fake_state(), snapshot=steady.Snapshot(), path="/etc/gone",
               present=False) == []
    assert [cls for cls, _ in host.asked] == [ComponentState, ComponentState, File]  # not in the reading: asked
    component = {**AS_ASKED, "files": {"/etc/gone": {"file": {"user": "root", "group": "root", "mode": 644}}},
                 "directories": {"/etc": {**ROOT_DIR, "mode": 700}}}
    host = file_host(component)
    assert [c.get_raw_value() for c in run(steady._directory, host, fake_state(), snapshot=steady.Snapshot(),
                                           path="/etc", mode="755")] == ["chmod 755 /etc"]
    assert [c.get_raw_value() for c in run(steady._existing_file, host, fake_state(), snapshot=steady.Snapshot(),
                                           path="/etc/gone", present=False)] == ["rm -f /etc/gone"]
    assert [c.get_raw_value() for c in run(steady._existing_file, host, fake_state(), snapshot=steady.Snapshot(),
                                           path="/etc/gone", mode="640")] == ["chmod 640 /etc/gone"]
    assert [cls for cls, _ in host.asked] == [ComponentState, ComponentState, ComponentState]


NAMED = ["##part 0", "127.0.0.1 localhost", "10.0.2.11 ctrl-1", "##end 0 0", "##part 1", "ctrl-1", "##end 1 0",
         "##part 2", "/usr/bin/hostnamectl", "##end 2 0"]


def test_names_parse_as_pyinfra_facts_and_answer_etc_hosts_and_hostname():
    value = parse(NAMED, _parts([], [], names=True))
    assert value["etc_hosts"] == {"127.0.0.1": ["localhost"], "10.0.2.11": ["ctrl-1"]}
    assert (value["hostname"], value["hostnamectl"]) == ("ctrl-1", "/usr/bin/hostnamectl")
    host = FakeHost({ComponentState: value})
    assert run(steady._etc_hosts, host, fake_state(), snapshot=steady.Snapshot(), ip="10.0.2.11",
               hostnames=["ctrl-1"]) == []
    assert run(steady._etc_hosts, host, fake_state(), snapshot=steady.Snapshot(), ip="127.0.1.1", present=False) == []
    assert run(steady._hostname, host, fake_state(), snapshot=steady.Snapshot(), hostname="ctrl-1") == []
    assert [c.get_raw_value() for c in run(steady._hostname, host, fake_state(), snapshot=steady.Snapshot(),
                                           hostname="ctrl-9")] == ["hostnamectl set-hostname ctrl-9"]
    assert {cls for cls, _ in host.asked} == {ComponentState}  # nothing read from the host itself


def test_a_path_or_directory_asked_twice_is_read_once():
    snap = steady.Snapshot()
    for dest in ("/etc/rabbitmq/a.conf", "/etc/rabbitmq/b.conf", "/etc/rabbitmq/a.conf"):
        snap.watch_path(dest)
        snap.watch_directory("/etc/rabbitmq")
    assert (snap.paths, snap.directories) == (["/etc/rabbitmq/a.conf", "/etc/rabbitmq/b.conf"], ["/etc/rabbitmq"])
