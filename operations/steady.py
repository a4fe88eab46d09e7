"""Files, services, packages and accounts of one component checked with one remote command when
nothing changes.

pyinfra reads two or three facts per managed file (``File``, its directory, ``Sha1File``), two per
service (``SystemdStatus``, ``SystemdEnabled``), ``DebPackages`` per package step and four per
user, one round trip each, every run. Here a component's are read together, once
(``facts.component.ComponentState``: the same commands, the same ``process()``), when its first
such operation runs. Each operation then says "no change" from that reading if its file,
service, packages or account are already as asked, and nothing this run did since the reading
has executed a command on any host; otherwise it is exactly ``secret_files.template``,
``secret_files.put``, ``systemd.service``, ``apt.packages``, ``server.user`` or ``server.group``
(their own reads, their own commands). A re-run that changes nothing costs one command per
component for them.

Example (a deploy file)::

    snap = steady.Snapshot()                         # one per component and host
    conf = steady.template(snap, name="rabbitmq.conf", src="templates/rabbitmq/rabbitmq.conf.j2",
                           dest="/etc/rabbitmq/rabbitmq.conf", user="rabbitmq", mode="644", **args)
    steady.service(snap, name="rabbitmq-server running", service="rabbitmq-server",
                   running=True, enabled=True)
"""

from __future__ import annotations

import os
from collections.abc import Generator
from io import StringIO
from typing import IO, Any

from pyinfra import host, state
from pyinfra.api import operation
from pyinfra.api.command import PyinfraCommand
from pyinfra.api.operation import OperationMeta
from pyinfra.api.util import get_file_sha1, get_template
from pyinfra.operations import apt, server, systemd
from pyinfra.operations.util.files import ensure_mode_int

from facts.component import ComponentState
from lib.run import executed_operations
from operations import secret_files

Commands = Generator[PyinfraCommand | str, None, None]

# systemd.service adds ".service" to a name without one of these suffixes.
_UNIT_SUFFIXES = (".service", ".socket", ".device", ".mount", ".automount", ".swap", ".target", ".path",
                  ".timer", ".slice", ".scope")


def unit_name(service: str) -> str:
    """The unit ``systemd.service`` manages for ``service``: ``apache2`` -> ``apache2.service``."""
    return service if service.endswith(_UNIT_SUFFIXES) else f"{service}.service"


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
        self._reading: tuple[Any, int, dict] | None = None  # (what it covers, executed operations, value)

    def value(self) -> dict | None:
        """The reading, or ``None`` when something executed since it was taken.

        Read again at each stage, and when operations were added since: with ``-y`` every
        operation is added before the first runs (one reading); ``--dry`` and a run without
        ``-y`` also run each operation as it is added, to tell its change."""
        executed = executed_operations()
        covers = (state.current_stage, len(self.paths), len(self.services), self.packages, self.accounts,
                  len(self.directories))
        if self._reading is None or self._reading[0] != covers:
            value = host.get_fact(ComponentState, paths=list(self.paths), services=list(self.services),
                                  packages=self.packages, accounts=self.accounts,
                                  directories=list(self.directories))
            self._reading = (covers, executed, value)
        _, at, value = self._reading
        return value if at == executed else None

    def installed(self, packages: list[str]) -> bool:
        """Whether every one of ``packages`` (names) is installed (``apt.packages``'s no-change test)."""
        value = self.value()
        found = (value or {}).get("packages")
        return found is not None and all(package in found for package in packages)

    def has_group(self, group: str) -> bool:
        """Whether ``group`` exists (``server.group``'s no-change test)."""
        groups = (self.value() or {}).get("groups")
        return groups is not None and group in groups

    def has_user(self, user: str, home: str, shell: str | None, group: str | None, ensure_home: bool) -> bool:
        """Whether ``user`` exists with this home, shell and primary group, its home owned by it
        when ``ensure_home`` (``server.user``'s no-change test, for these arguments)."""
        value = self.value() or {}
        users, directories = value.get("users"), value.get("directories") or {}
        existing = (users or {}).get(user)
        if not existing or existing["home"] != home or (shell and existing["shell"] != shell) \
                or (group and existing["group"] != group):
            return False
        if not ensure_home:
            return True
        found = directories.get(home)
        return bool(found) and found["user"] == user and found["group"] == (group or user)

    def to_json(self) -> str:  # ``--dry --json`` prints operation arguments
        return f"Snapshot({len(self.paths)} files, {len(self.services)} services)"

    def file_is(self, dest: str, src: str | IO[Any], user: str | None, group: str | None, mode: Any) -> bool:
        """Whether ``dest`` has ``src``'s content, owner and mode (``files.put``'s no-change test)."""
        value = self.value()
        seen = (value or {}).get("files", {}).get(dest) or {}
        remote, sha1 = seen.get("file"), seen.get("sha1")
        if not remote or not sha1 or get_file_sha1(src) != sha1:
            return False
        mode = ensure_mode_int(mode)
        return ((not mode or remote["mode"] == mode) and (not user or remote["user"] == user)
                and (not group or remote["group"] == group))

    def service_is(self, service: str, running: bool | None, enabled: bool | None) -> bool:
        """Whether ``service`` runs and starts at boot as asked (``systemd.service``'s no-change test)."""
        value = self.value()
        if not value or value["running"] is None or value["enabled"] is None:
            return False
        unit = unit_name(service)
        return ((running is None or bool(value["running"].get(unit)) == running)
                and (enabled is None or value["enabled"].get(unit, False) == enabled))


def render(src: str, data: dict[str, Any]) -> StringIO | None:
    """``files.template``'s output for ``src`` (``data``: its keyword arguments, ``jinja_env_kwargs``
    included: pyinfra caches a template by file name, so it must be read with the same settings);
    ``None`` when it fails (``files.template`` then says why)."""
    path = os.path.join(state.cwd, src) if state.cwd else src
    data = dict(data)
    env_kwargs = data.pop("jinja_env_kwargs", None)
    context = {"host": host, "state": state, "inventory": state.inventory, **data}
    try:
        return StringIO(get_template(path, env_kwargs).render(context))
    except Exception:  # noqa: BLE001 - files.template raises its own, clearer error
        return None


# --- the operations --------------------------------------------------------------------------
# A file is written as secret_files writes it (owner-only from its creation, then its owner and
# mode): whether it holds a secret or not, no content reaches a host readable by all first.
@operation()
def _template(snapshot: Snapshot, src: str, dest: str, user: str = "root", group: str = "root",
              mode: str = "600", **data: Any) -> Commands:
    output = render(src, data)
    if output is not None and snapshot.file_is(dest, output, user, group, mode):
        host.noop(f"{dest} is up to date")
        return
    yield from secret_files.template._inner(src=src, dest=dest, user=user, group=group, mode=mode, **data)


@operation()
def _put(snapshot: Snapshot, src: str | IO[Any], dest: str, user: str = "root", group: str = "root",
         mode: str = "600") -> Commands:
    local = os.path.join(state.cwd, src) if isinstance(src, str) and state.cwd else src
    if snapshot.file_is(dest, local, user, group, mode):
        host.noop(f"{dest} is up to date")
        return
    yield from secret_files.put._inner(src=src, dest=dest, user=user, group=group, mode=mode)


@operation()
def _service(snapshot: Snapshot, service: str, running: bool | None = True, enabled: bool | None = None) -> Commands:
    if snapshot.service_is(service, running, enabled):
        host.noop(f"service {service} is {'running' if running else 'stopped'} as asked")
        return
    yield from systemd.service._inner(service=service, running=running, enabled=enabled)


@operation()
def _packages(snapshot: Snapshot, packages: list[str], no_recommends: bool = False) -> Commands:
    if snapshot.installed(packages):
        host.noop(f"{', '.join(packages)} installed")
        return
    yield from apt.packages._inner(packages=packages, no_recommends=no_recommends)


@operation()
def _group(snapshot: Snapshot, group: str, system: bool = False) -> Commands:
    if snapshot.has_group(group):
        host.noop(f"group {group} exists")
        return
    yield from server.group._inner(group=group, system=system)


@operation()
def _user(snapshot: Snapshot, user: str, home: str, shell: str | None = None, group: str | None = None,
          system: bool = False, create_home: bool = False, ensure_home: bool = True) -> Commands:
    if snapshot.has_user(user, home, shell, group, ensure_home):
        host.noop(f"user {user} exists")
        return
    yield from server.user._inner(user=user, home=home, shell=shell, group=group, system=system,
                                  create_home=create_home, ensure_home=ensure_home)


# Plain functions: each adds its file or service to the snapshot when the deploy file calls it,
# before any operation runs, so that the first reading covers the whole component.
def template(snapshot: Snapshot, *, dest: str, **kwargs: Any) -> OperationMeta:
    """``secret_files.template`` (``src``, ``dest``, ``user``, ``group``, ``mode``, template data)."""
    snapshot.paths.append(dest)
    return _template(snapshot=snapshot, dest=dest, **kwargs)


def put(snapshot: Snapshot, *, dest: str, **kwargs: Any) -> OperationMeta:
    """``secret_files.put`` (``src``: a path under the project, or a ``StringIO``/``BytesIO``)."""
    snapshot.paths.append(dest)
    return _put(snapshot=snapshot, dest=dest, **kwargs)


def service(snapshot: Snapshot, *, service: str, **kwargs: Any) -> OperationMeta:
    """``systemd.service`` with ``running`` and ``enabled`` only (no restart, reload or daemon-reload)."""
    snapshot.services.append(unit_name(service))
    return _service(snapshot=snapshot, service=service, **kwargs)


def packages(snapshot: Snapshot, *, packages: list[str], **kwargs: Any) -> OperationMeta:
    """``apt.packages`` of package names (``no_recommends``; no versions, no upgrade)."""
    snapshot.packages = True
    return _packages(snapshot=snapshot, packages=packages, **kwargs)


def group(snapshot: Snapshot, *, group: str, **kwargs: Any) -> OperationMeta:
    """``server.group`` (``group``, ``system``)."""
    snapshot.accounts = True
    return _group(snapshot=snapshot, group=group, **kwargs)


def user(snapshot: Snapshot, *, user: str, home: str, ensure_home: bool = True, **kwargs: Any) -> OperationMeta:
    """``server.user`` (``user``, ``home``, ``shell``, ``group``, ``system``, ``create_home``, ``ensure_home``)."""
    snapshot.accounts = True
    if ensure_home:
        snapshot.directories.append(home)
    return _user(snapshot=snapshot, user=user, home=home, ensure_home=ensure_home, **kwargs)
