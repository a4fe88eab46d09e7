"""What a component's no-change check reads, in one remote command: pyinfra's own file, systemd
and Debian package facts for every file, service and package the component manages.

pyinfra reads a fact per operation (``files.template``: ``File`` then ``Sha1File``;
``systemd.service``: ``SystemdStatus`` then ``SystemdEnabled``; ``apt.packages``: ``DebPackages``),
one round trip each. This fact
runs the same commands together and gives each one's output to the same fact's ``process()``,
so every value is exactly what the operation would have read (``operations/steady.py`` uses it).

Example::

    pyinfra inventory.py fact facts.component.ComponentState \\
        paths=/etc/rabbitmq/rabbitmq.conf services=rabbitmq-server.service --json
    # {"files": {"/etc/rabbitmq/rabbitmq.conf": {"file": {"user": "rabbitmq", "mode": 644, ...},
    #                                            "sha1": "3f7a..."}},
    #  "running": {"rabbitmq-server.service": true}, "enabled": {"rabbitmq-server.service": true}}
"""

from __future__ import annotations

from pyinfra.api import FactBase, QuoteString, StringCommand
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import Directory, File, Sha1File
from pyinfra.facts.server import EtcHosts, Groups, Hostname, Os, Users, Which
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus

from facts.together import framed, sections

# A part whose command failed or could not run is left out (files, directories) or ``None``
# (services, packages, accounts): the operation reads that fact itself, and a failure then fails
# the host as it always did.
UNKNOWN = None


def _as_list(value: list[str] | str | None) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


# With ``names``: what ``server.etc_hosts`` and ``server.hostname`` read (state key, fact, its arguments).
NAMES = (("etc_hosts", EtcHosts, {"path": "/etc/hosts"}), ("hostname", Hostname, {}),
         ("hostnamectl", Which, {"command": "hostnamectl"}))


def _parts(paths: list[str], services: list[str], packages: bool = False, accounts: bool = False,
           directories: list[str] | None = None,
           names: bool = False) -> list[tuple[tuple[str, str], FactBase, StringCommand]]:
    """((kind, key), fact instance, its command) for every value to read."""
    parts: list[tuple[tuple[str, str], FactBase, StringCommand]] = []
    for path in paths:
        for kind, cls in (("file", File), ("sha1", Sha1File)):
            fact = cls()
            parts.append(((kind, path), fact, fact.command(path=path)))
    if services:
        # One `systemctl show` with both properties: each fact's process() takes its own lines.
        command = StringCommand("systemctl show --all --property Id --property SubState --property UnitFileState",
                                *(QuoteString(s) for s in services))
        parts.append((("systemd", ""), SystemdStatus(), command))
    if packages:
        parts.append((("packages", ""), DebPackages(), StringCommand(DebPackages().command())))
    if accounts:
        parts.append((("users", ""), Users(), StringCommand(Users().command())))
        parts.append((("groups", ""), Groups(), StringCommand(Groups().command())))
        parts.append((("os", ""), Os(), StringCommand(Os().command())))
    for path in directories or []:
        fact = Directory()
        parts.append((("directory", path), fact, fact.command(path=path)))
    if names:
        for key, cls, kwargs in NAMES:
            fact = cls()
            parts.append(((key, ""), fact, StringCommand(fact.command(**kwargs))))
    return parts


class ComponentState(FactBase[dict]):
    """
    For each of ``paths``, pyinfra's ``File`` and ``Sha1File``; for ``services`` (full unit
    names), ``SystemdStatus`` and ``SystemdEnabled``; with ``packages``, ``DebPackages``; with
    ``accounts``, ``Users``, ``Groups`` and ``Os``; for each of ``directories``, ``Directory``;
    with ``names``, ``EtcHosts`` of /etc/hosts, ``Hostname`` and ``Which`` of hostnamectl. A
    value whose command failed is left out, or ``None`` (``UNKNOWN``) for services, packages and
    accounts: the caller reads it the usual way.

    .. code:: python

        {"files": {"/etc/apache2/ports.conf": {"file": {"user": "root", "group": "root",
                                                         "mode": 644, ...}, "sha1": "9b1c..."}},
         "running": {"apache2.service": True}, "enabled": {"apache2.service": True},
         "packages": {"apache2": {"2.4.66-1~deb12u1"}, ...}}
    """

    @staticmethod
    def default() -> dict:
        return {"files": {}, "running": {}, "enabled": {}, "packages": None, "users": None, "groups": None,
                "os": None, "directories": {}, "etc_hosts": None, "hostname": None, "hostnamectl": None}

    def command(self, paths: list[str] | str | None = None, services: list[str] | str | None = None,
                packages: bool = False, accounts: bool = False,
                directories: list[str] | str | None = None, names: bool = False) -> StringCommand:
        # Kept for process(), as pyinfra's Sha1File keeps its path: the same instance runs both.
        self.parts = _parts(_as_list(paths), _as_list(services), packages, accounts, _as_list(directories), names)
        return framed([command for _, _, command in self.parts])

    def process(self, output: list[str]) -> dict:
        return parse(output, self.parts)


def parse(output: list[str], parts: list[tuple[tuple[str, str], FactBase, StringCommand]]) -> dict:
    """The value from the output of the parts' commands (pure: unit-tested on captured output)."""
    lines, status = sections(output, "ComponentState")
    state = ComponentState.default()
    for index, ((kind, key), fact, _) in enumerate(parts):
        ok = status.get(index) == 0
        out = lines.get(index, [])
        if kind == "systemd":
            if ok and out:
                state["running"] = SystemdStatus().process(out)
                state["enabled"] = SystemdEnabled().process(out)
            else:
                state["running"] = state["enabled"] = UNKNOWN
            continue
        if kind in ("packages", "users", "groups", "os", "etc_hosts", "hostname", "hostnamectl"):
            state[kind] = fact.process(out) if ok and out else UNKNOWN
            continue
        if not ok:
            continue
        value = fact.process(out) if out else fact.default()
        if kind == "directory":
            state["directories"][key] = value
        else:
            state["files"].setdefault(key, {})[kind] = value
    return state
