"""No secret on a host's command line: every command every operation yields, and every fact
command it asks, for every fact state, is checked against the secret values and their MariaDB
hashes. The secrets travel on stdin (checked too: the password does reach the host) or in files
made owner-only before their content is uploaded.

Every operation of ``operations/`` is walked: one that takes a secret (a ``password``/``users``
argument, or reads ``host.data.secrets``) must have its calls in ``SECRET_CALLS``.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import itertools
import pkgutil
from io import StringIO
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import pytest
from pyinfra.api import HiddenValue, StringCommand
from pyinfra.api.command import FileUploadCommand
from pyinfra.context import ctx_host, ctx_state
from pyinfra.facts.files import Directory, File, Md5File, Sha1File, Sha256File

import operations
from facts.component import ComponentState
from facts.galera import MariadbAccounts, MariadbPasswordIs, native_password_hash
from facts.keystone import KeystoneBootstrap
from facts.rabbitmq import RabbitmqDefinitions
from lib.secrets import unmasked
from operations import galera, keystone, rabbitmq, secret_files, steady
from tests.unit.conftest import ROOT
from tests.unit.fakes import FakeHost, stdin_of

PASSWORD = "Pw-3xample-s3cret"  # what a secret looks like to the operations (as a HiddenValue)
SECRETS = {"password": PASSWORD, "mysql hash": native_password_hash(PASSWORD),
           "mysql hash without *": native_password_hash(PASSWORD)[1:]}


def leaked(command_line: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in command_line]


# Fact states: each fact asked by a secret-bearing operation, every answer it can give.
ACCOUNT = {"plugins": ["mysql_native_password"], "password": True, "locked": False}
SOCKET_ACCOUNT = {"plugins": ["mysql_native_password", "unix_socket"], "password": True, "locked": False}
RABBIT_USER = {"tags": [], "password_ok": True}
KEYSTONE_URLS = {"public": "http://10.0.1.10:5000/v3", "internal": "http://10.0.2.10:5000/v3"}
OPENRC = {"username": "admin", "project": "admin", "region": "RegionOne"}
FACT_STATES: dict[type, list[Any]] = {
    MariadbAccounts: [{}, {"sst@localhost": ACCOUNT, "root@localhost": ACCOUNT},
                      {"sst@localhost": SOCKET_ACCOUNT, "root@localhost": SOCKET_ACCOUNT}],
    MariadbPasswordIs: [True, False],
    RabbitmqDefinitions: [
        {"users": {}, "permissions": {}, "policies": {}},
        {"users": {"guest": {"tags": ["administrator"], "password_ok": None}}, "permissions": {}, "policies": {}},
        {"users": {"admin": RABBIT_USER}, "permissions": {}, "policies": {}},
        {"users": {"admin": {**RABBIT_USER, "password_ok": False}}, "permissions": {}, "policies": {}},
    ],
    KeystoneBootstrap: [{"user": False, "endpoints": {}}, {"user": True, "endpoints": KEYSTONE_URLS}],
    # pyinfra's files.put/template (secret_files): absent, other content, same content.
    File: [None, {"mode": 644, "user": "root", "group": "root", "size": 1}],
    Sha1File: [None, "0" * 40, hashlib.sha1(PASSWORD.encode()).hexdigest()],
    Md5File: [None],
    Sha256File: [None],
    # operations/steady.py: nothing read yet (default), or the cookie as asked.
    ComponentState: [ComponentState.default(), {
        "files": {"/var/lib/rabbitmq/.erlang.cookie": {
            "file": {"mode": 400, "user": "rabbitmq", "group": "rabbitmq", "size": 1},
            "sha1": hashlib.sha1(PASSWORD.encode()).hexdigest()}},
        "running": {}, "enabled": {}}],
    # The destination is never a directory; its parent is absent or there.
    Directory: [lambda path: None, lambda path: None if path.startswith(("/var/lib/rabbitmq/", "/etc/mysql/"))
                else {"mode": 755, "user": "root", "group": "root"}],
}

SECRET_CALLS: list[tuple[Any, dict[str, Any]]] = [
    (galera.account, {"user": "sst", "password": HiddenValue(PASSWORD)}),
    (galera.account, {"user": "root", "password": HiddenValue(PASSWORD), "unix_socket": True}),
    (rabbitmq.access, {"users": {"admin": {"password": HiddenValue(PASSWORD), "tags": ["administrator"]}},
                       "absent_users": ["guest"]}),
    (keystone.bootstrap, {"manage": "/opt/openstack/venv/bin/keystone-manage", "database": "keystone",
                          "openrc": OPENRC, "urls": KEYSTONE_URLS, "password": HiddenValue(PASSWORD)}),
    (secret_files.put, {"src": StringIO(PASSWORD), "dest": "/var/lib/rabbitmq/.erlang.cookie",
                        "user": "rabbitmq", "group": "rabbitmq", "mode": "400"}),
    (secret_files.template, {"src": "templates/galera/galera-check.cnf.j2", "dest": "/etc/mysql/galera-check.cnf",
                             "user": "clustercheck", "group": "clustercheck",
                             "monitor_password": PASSWORD, "socket": "/run/mysqld/mysqld.sock",
                             "galera": {"monitor_user": "clustercheck"}}),
    (steady._put, {"snapshot": steady.Snapshot(), "src": StringIO(PASSWORD), "dest": "/var/lib/rabbitmq/.erlang.cookie",
                   "user": "rabbitmq", "group": "rabbitmq", "mode": "400"}),
    (steady._template, {"snapshot": steady.Snapshot(), "src": "templates/galera/galera-check.cnf.j2",
                        "dest": "/etc/mysql/galera-check.cnf", "user": "clustercheck", "group": "clustercheck",
                        "monitor_password": PASSWORD, "socket": "/run/mysqld/mysqld.sock",
                        "galera": {"monitor_user": "clustercheck"}}),
]


class StateHost(FakeHost):
    """A FakeHost answering each fact from ``states`` (``{FactClass: value}``), with what
    pyinfra's own file operations ask of a host."""

    current_op_global_arguments = None

    def get_temp_filename(self, *args: Any, **kwargs: Any) -> str:
        return "/tmp/pyinfra-upload"


def run_in_every_state(op, kwargs: dict[str, Any]) -> list[tuple[list[Any], StateHost]]:
    """``op`` run once per combination of the states of the facts it asks (a fact not in the
    combination answers its first state; runs go on until no new fact is asked)."""
    state = MagicMock(config=SimpleNamespace(DIFF=False), cwd=str(ROOT))
    facts: list[type] = []
    while True:
        runs, asked = [], set()
        for combination in itertools.product(*(FACT_STATES[cls] for cls in facts)):
            host = StateHost({**{cls: states[0] for cls, states in FACT_STATES.items()},
                              **dict(zip(facts, combination))})
            with ctx_state.use(state), ctx_host.use(host):
                runs.append((list(op._inner(**fresh(kwargs))), host))
            asked |= {cls for cls, _ in host.asked}
        if asked <= set(facts):
            return runs
        facts = sorted(asked | set(facts), key=lambda cls: cls.__name__)


def fresh(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with file-like arguments rewound (an upload reads them)."""
    for value in kwargs.values():
        if hasattr(value, "seek"):
            value.seek(0)
    return kwargs


def command_lines(commands: list[Any], host: StateHost) -> list[str]:
    """Every command line of a run: the commands yielded and the commands of the facts asked."""
    lines = [c.get_raw_value() if isinstance(c, StringCommand) else c for c in commands
             if isinstance(c, (StringCommand, str))]
    for cls, kwargs in host.asked:
        command = cls().command(**{k: v for k, v in kwargs.items() if not k.startswith("_")})
        lines.append(command.get_raw_value() if isinstance(command, StringCommand) else command)
    return lines


def test_the_check_finds_a_secret_where_it_is():
    assert leaked(f"rabbitmqctl -q change_password admin {PASSWORD}") == ["password"]
    assert leaked(f"mysql -e \"ALTER USER x USING '{native_password_hash(PASSWORD)}'\"") == [
        "mysql hash", "mysql hash without *"]
    assert leaked("rabbitmqctl -q change_password admin") == []


@pytest.mark.parametrize("op, kwargs", SECRET_CALLS, ids=lambda v: getattr(v, "__name__", ""))
def test_no_secret_in_any_command_for_any_fact_state(op, kwargs):
    runs = run_in_every_state(op, kwargs)
    assert len(runs) > 1
    for commands, host in runs:
        for line in command_lines(commands, host):
            assert not leaked(line), f"{op.__name__}: {leaked(line)} in {line!r} (facts {host.facts})"


def test_the_secrets_do_reach_the_host_on_stdin_or_in_an_owner_only_file():
    stdins = set()
    for op, kwargs in SECRET_CALLS:
        for commands, host in run_in_every_state(op, kwargs):
            stdins |= {str(unmasked(stdin_of(c))) for c in commands} | {str(unmasked(k.get("_stdin"))) for _, k in host.asked}
            uploads = [i for i, c in enumerate(commands) if isinstance(c, FileUploadCommand)]
            for i in uploads:  # the file is owner-only before its content arrives
                assert commands[i - 1].get_raw_value() == secret_files.owner_only_command(
                    kwargs["dest"]).get_raw_value()
    assert native_password_hash(PASSWORD) in stdins  # account, and the MariaDB password check
    assert PASSWORD in stdins  # rabbitmqctl add_user/change_password
    assert any(PASSWORD in s and s.startswith("{") for s in stdins)  # the RabbitMQ password check


def secret_taking_operations() -> list[str]:
    """Every operation of ``operations/`` that takes a secret or reads the secrets."""
    found = []
    for module_info in pkgutil.iter_modules(operations.__path__):
        module = importlib.import_module(f"operations.{module_info.name}")
        for name, function in inspect.getmembers(module, lambda f: hasattr(f, "_inner")):
            if function.__module__ != module.__name__:
                continue
            source = inspect.getsource(function._inner)
            parameters = inspect.signature(function._inner).parameters
            if {"password", "users", "src"} & set(parameters) or "secrets" in source:
                found.append(f"{module_info.name}.{name}")
    return sorted(found)


def test_every_operation_taking_a_secret_is_walked():
    walked = {f"{op.__module__.rsplit('.', 1)[1]}.{op.__name__}" for op, _ in SECRET_CALLS}
    assert secret_taking_operations() == sorted(walked)
