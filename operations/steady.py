"""Files, services, packages and accounts of one component checked with one remote command when
nothing changes.

pyinfra reads two or three facts per managed file (``File``, its directory, ``Sha1File``), two per
service (``SystemdStatus``, ``SystemdEnabled``), ``DebPackages`` per package step and four per
user, one round trip each, every run. Here a component's are read together, once
(``facts.component.ComponentState``: the same commands, the same ``process()``), when its first
such operation runs. Each operation is pyinfra's own (``secret_files.template``,
``secret_files.put``, ``files.directory``, ``files.file``, ``systemd.service``, ``pip.venv``, ``server.etc_hosts``, ``server.hostname``,
``apt.packages``, ``server.user``, ``server.group``),
its facts answered from that reading while nothing this run did since has executed a command on
any host; a fact the reading does not hold, or any fact after something executed, is read from
the host as usual. So every decision is pyinfra's; a re-run that changes nothing costs one
command per component for them.

Example (a deploy file)::

    snap = steady.Snapshot()                         # one per component and host
    conf = steady.template(snap, name="rabbitmq.conf", src="templates/rabbitmq/rabbitmq.conf.j2",
                           dest="/etc/rabbitmq/rabbitmq.conf", user="rabbitmq", mode="644", **args)
    steady.service(snap, name="rabbitmq-server running", service="rabbitmq-server",
                   running=True, enabled=True)
"""

from __future__ import annotations

import posixpath
from collections.abc import Generator
from typing import IO, Any

from pyinfra import host, state
from pyinfra.api import operation
from pyinfra.api.command import PyinfraCommand
from pyinfra.api.operation import OperationMeta
from pyinfra.context import ctx_host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import Directory, File, Sha1File
from pyinfra.facts.server import Groups, Os, Users
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus
from pyinfra.operations import apt, files, pip, server, systemd

from facts.component import NAMES, ComponentState
from lib.run import executed_operations
from operations import secret_files

Commands = Generator[PyinfraCommand | str, None, None]

_UNREAD = object()  # a fact the reading does not hold: the host is asked


class Snapshot:
    """One component's files, services, packages and accounts on this host, read once per run
    stage (and again when operations were added since: ``value``).

    The operations below add their file or service at deploy time; the first of them to run
    reads them all. The reading is trusted while no operation has executed a command since.
    """

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.services: list[str] = []
        self.packages = False  # whether an operation asks about Debian packages
        self.accounts = False  # whether an operation asks about users and groups
        self.directories: list[str] = []
        self.names = False  # whether an operation asks about /etc/hosts or the hostname
        self._reading: tuple[Any, int, dict] | None = None  # (what it covers, executed operations, value)

    def watch_path(self, path: str) -> None:
        """Read ``path``'s ``File`` and ``Sha1File`` with the component (once, however many ask)."""
        if path not in self.paths:
            self.paths.append(path)

    def watch_directory(self, path: str) -> None:
        """Read ``path``'s ``Directory`` with the component (once, however many ask)."""
        if path not in self.directories:
            self.directories.append(path)

    def value(self) -> dict | None:
        """The reading, or ``None`` when something executed since it was taken.

        Read at each stage; when operations were added since, only what they added is read and
        merged in while nothing executed (``--dry`` and a run without ``-y`` run each operation as
        it is added, to tell its change; with ``-y`` every operation is added before the first
        runs: one reading)."""
        executed = executed_operations()
        covers = self._covers()
        old, at, value = self._reading or (None, executed, None)
        if old is None or old[0] != covers[0] or (old != covers and at != executed):
            value, at = self._read(), executed
        elif old != covers:
            value = merged(value, self._read(since=old))
        self._reading = (covers, at, value)
        return value if at == executed else None

    def _covers(self) -> tuple:
        return (state.current_stage, len(self.paths), len(self.services), self.packages, self.accounts,
                len(self.directories), self.names)

    def _read(self, since: tuple | None = None) -> dict:
        """A ``ComponentState`` of everything, or of what was added since ``since`` (a ``_covers()``)."""
        _, paths, services, packages, accounts, directories, names = since or (None, 0, 0, False, False, 0, False)
        return host.get_fact(ComponentState, paths=self.paths[paths:], services=self.services[services:],
                             packages=self.packages and not packages, accounts=self.accounts and not accounts,
                             directories=self.directories[directories:], names=self.names and not names)

    def commands(self, op, **kwargs: Any) -> list[PyinfraCommand | str]:
        """The commands of pyinfra operation ``op`` (its undecorated generator) with ``kwargs``, its
        facts answered from the reading while it is trusted."""
        value = self.value()
        if value is None:
            return list(op._inner(**kwargs))
        # Collected here: the answering host must not stay current while pyinfra runs the commands.
        with ctx_host.use(_Answering(ctx_host.get(), value)):
            return list(op._inner(**kwargs))

    def to_json(self) -> str:  # ``--dry --json`` prints operation arguments
        return f"Snapshot({len(self.paths)} files, {len(self.services)} services)"


def merged(old: dict, new: dict) -> dict:
    """A reading with a later reading of what was added since merged in (pure: unit-tested)."""
    value = dict(old)
    for part in ("files", "directories", "running", "enabled"):
        value[part] = {**(old.get(part) or {}), **(new.get(part) or {})}
    for part, found in new.items():
        if part not in ("files", "directories", "running", "enabled") and found is not None:
            value[part] = found
    return value


class _Answering:
    """The current host, with the facts ``value`` (a ``ComponentState``) holds answered from it."""

    def __init__(self, real: Any, value: dict) -> None:
        self._real, self._value = real, value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def get_fact(self, cls: type, *args: Any, **kwargs: Any) -> Any:
        found = answer(self._value, cls, kwargs) if not args else _UNREAD
        return self._real.get_fact(cls, *args, **kwargs) if found is _UNREAD else found


_FILE_PARTS = {File: "file", Sha1File: "sha1"}
_SYSTEMD_PARTS = {SystemdStatus: "running", SystemdEnabled: "enabled"}
_WHOLE_HOST_PARTS = {DebPackages: "packages", Users: "users", Groups: "groups", Os: "os"}


def answer(value: dict, cls: type, kwargs: dict[str, Any]) -> Any:
    """What ``host.get_fact(cls, **kwargs)`` gives, from a ``ComponentState`` value; ``_UNREAD``
    when it holds no such reading (pure: unit-tested)."""
    if cls in _FILE_PARTS and set(kwargs) == {"path"}:
        return value.get("files", {}).get(kwargs["path"], {}).get(_FILE_PARTS[cls], _UNREAD)
    if cls is Directory and set(kwargs) == {"path"}:
        return value.get("directories", {}).get(kwargs["path"], _UNREAD)
    if cls in _SYSTEMD_PARTS:
        services, found = kwargs.get("services"), value.get(_SYSTEMD_PARTS[cls])
        system_wide = not kwargs.get("user_mode") and not kwargs.get("machine") and not kwargs.get("user_name")
        if found is not None and system_wide and services and all(s in found for s in services):
            return {s: found[s] for s in services}
        return _UNREAD
    for key, named, named_kwargs in NAMES:
        if cls is named and kwargs == named_kwargs:
            found = value.get(key)
            return _UNREAD if found is None else found
    if cls in _WHOLE_HOST_PARTS and not kwargs:
        found = value.get(_WHOLE_HOST_PARTS[cls])
        return _UNREAD if found is None else found
    return _UNREAD


# --- the operations: pyinfra's own, their facts answered from the reading ----------------------
def answered(op: Any) -> Any:
    """An operation that runs pyinfra operation ``op`` (its first argument a ``Snapshot``, the
    others ``op``'s) with ``op``'s facts answered from the snapshot's reading while it is trusted.

    Example::

        _install = steady.answered(install_checked_config)
        _install(snap, name="Check and install haproxy.cfg", candidate=..., dest=...)
    """
    def run_answered(snapshot: Snapshot, **kwargs: Any) -> Commands:
        yield from snapshot.commands(op, **kwargs)

    run_answered.__name__ = op.__name__
    return operation()(run_answered)


# A file is written as secret_files writes it (owner-only from its creation, then its owner and
# mode): whether it holds a secret or not, no content reaches a host readable by all first. ``src``
# is named: the secrets' tests find every operation that takes one.
@operation()
def _template(snapshot: Snapshot, src: str, **kwargs: Any) -> Commands:
    yield from snapshot.commands(secret_files.template, src=src, **kwargs)


@operation()
def _put(snapshot: Snapshot, src: str | IO[Any], **kwargs: Any) -> Commands:
    yield from snapshot.commands(secret_files.put, src=src, **kwargs)


_service = answered(systemd.service)
_packages = answered(apt.packages)
_directory = answered(files.directory)
_existing_file = answered(files.file)
_venv = answered(pip.venv)
_etc_hosts = answered(server.etc_hosts)
_hostname = answered(server.hostname)
_group = answered(server.group)
_user = answered(server.user)


# Plain functions: each adds what its operation reads to the snapshot when the deploy file calls
# it, before any operation runs, so that the first reading covers the whole component.
def _file(snapshot: Snapshot, dest: str) -> None:
    snapshot.watch_path(dest)
    snapshot.watch_directory(posixpath.dirname(dest))  # files.put makes sure it exists


def template(snapshot: Snapshot, *, dest: str, **kwargs: Any) -> OperationMeta:
    """``secret_files.template`` (``src``, ``dest``, ``user``, ``group``, ``mode``, template data)."""
    _file(snapshot, dest)
    return _template(snapshot=snapshot, dest=dest, **kwargs)


def put(snapshot: Snapshot, *, dest: str, **kwargs: Any) -> OperationMeta:
    """``secret_files.put`` (``src``: a path under the project, or a ``StringIO``/``BytesIO``)."""
    _file(snapshot, dest)
    return _put(snapshot=snapshot, dest=dest, **kwargs)


def service(snapshot: Snapshot, *, service: str, **kwargs: Any) -> OperationMeta:
    """``systemd.service`` with ``running`` and ``enabled`` only (no restart, reload or daemon-reload)."""
    snapshot.services.append(service)
    return _service(snapshot=snapshot, service=service, **kwargs)


def packages(snapshot: Snapshot, *, packages: list[str], **kwargs: Any) -> OperationMeta:
    """``apt.packages`` of package names (``no_recommends``; no versions, no upgrade)."""
    snapshot.packages = True
    return _packages(snapshot=snapshot, packages=packages, **kwargs)


def directory(snapshot: Snapshot, *, path: str, **kwargs: Any) -> OperationMeta:
    """``files.directory`` (``path``, ``user``, ``group``, ``mode``)."""
    snapshot.watch_directory(path)
    return _directory(snapshot=snapshot, path=path, **kwargs)


def absent(snapshot: Snapshot, *, path: str, **kwargs: Any) -> OperationMeta:
    """``files.file`` with ``present=False``: ``path`` removed where it exists."""
    snapshot.watch_path(path)
    return _existing_file(snapshot=snapshot, path=path, present=False, **kwargs)


def mode(snapshot: Snapshot, *, path: str, **kwargs: Any) -> OperationMeta:
    """``files.file`` of a file another operation writes (``user``, ``group``, ``mode``): kept so."""
    snapshot.watch_path(path)
    return _existing_file(snapshot=snapshot, path=path, **kwargs)


def venv(snapshot: Snapshot, *, path: str, **kwargs: Any) -> OperationMeta:
    """``pip.venv`` (``path``, ``python``): its ``bin/activate`` read with the component."""
    snapshot.watch_path(posixpath.join(path, "bin", "activate"))
    return _venv(snapshot=snapshot, path=path, **kwargs)


def etc_hosts(snapshot: Snapshot, *, ip: str, **kwargs: Any) -> OperationMeta:
    """``server.etc_hosts`` of /etc/hosts (``ip``, ``hostnames``, ``present``)."""
    snapshot.names = True
    return _etc_hosts(snapshot=snapshot, ip=ip, **kwargs)


def hostname(snapshot: Snapshot, *, hostname: str, **kwargs: Any) -> OperationMeta:
    """``server.hostname`` where hostnamectl sets it (``hostname``)."""
    snapshot.names = True
    return _hostname(snapshot=snapshot, hostname=hostname, **kwargs)


def group(snapshot: Snapshot, *, group: str, **kwargs: Any) -> OperationMeta:
    """``server.group`` (``group``, ``system``)."""
    snapshot.accounts = True
    return _group(snapshot=snapshot, group=group, **kwargs)


def user(snapshot: Snapshot, *, user: str, home: str, ensure_home: bool = True, **kwargs: Any) -> OperationMeta:
    """``server.user`` (``user``, ``home``, ``shell``, ``group``, ``system``, ``create_home``, ``ensure_home``)."""
    snapshot.accounts = True
    if ensure_home:
        snapshot.watch_directory(home)
    return _user(snapshot=snapshot, user=user, home=home, ensure_home=ensure_home, **kwargs)
