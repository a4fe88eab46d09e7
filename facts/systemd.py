"""Facts about systemd units that pyinfra's own ``SystemdStatus`` does not give.

Example::

    pyinfra inventory.py fact facts.systemd.ServiceState service=mariadb --json
    pyinfra inventory.py fact facts.systemd.ServiceConfigState service=mariadb paths=/etc/mysql/mariadb.conf.d/99-galera.cnf --json
"""

from __future__ import annotations

from pyinfra.api import FactBase, FactProcessError, QuoteString, StringCommand
from typing_extensions import override


class ServiceState(FactBase[str]):
    """
    A systemd unit's state as ``systemctl is-active`` prints it: ``active``, ``activating``
    (still starting: MariaDB waiting for a Primary component, RabbitMQ for its peers),
    ``inactive``, ``failed``... ``"unknown"`` when systemctl prints nothing.

    .. code:: python

        host.get_fact(ServiceState, service="mariadb")   # "activating"
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "systemctl"

    @staticmethod
    def default() -> str:
        return "unknown"

    def command(self, service: str) -> StringCommand:
        # is-active exits 3 for any state but active ("unit is not active", systemctl(1)): the
        # state it prints is still the answer. Any other status (no bus...) fails the fact.
        return StringCommand("systemctl", "is-active", QuoteString(service), "|| [ $? -eq 3 ]")

    def process(self, output: list[str]) -> str:
        if len(output) != 1 or not output[0].strip().isalpha():
            raise FactProcessError(f"ServiceState: unexpected output {output!r}")
        return output[0].strip()


class ServiceConfigState(FactBase[str]):
    """
    Whether a running unit started after its configuration files last changed: ``"current"``,
    ``"stale"`` (a file is newer than the running process: a restart applies it; an earlier run's
    restart was left undone, e.g. its one-node-at-a-time step stopped at another node) or
    ``"stopped"``. A missing file counts as unchanged.

    .. code:: python

        host.get_fact(ServiceConfigState, service="rabbitmq-server",
                      paths=["/etc/rabbitmq/rabbitmq.conf", "/etc/rabbitmq/rabbitmq-env.conf"])   # "stale"
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "systemctl"

    @staticmethod
    def default() -> str:
        return "stopped"

    def command(self, service: str, paths: list[str] | str) -> StringCommand:
        unit = QuoteString(service)
        files = [QuoteString(path) for path in ([paths] if isinstance(paths, str) else paths)]
        return StringCommand(
            "if systemctl is-active -q", unit, "; then",
            "started=$(systemctl show -P ExecMainStartTimestamp --timestamp=unix", unit, "| tr -d @);",
            "changed=0; for f in", *files, '; do if [ -e "$f" ]; then t=$(stat -c %Y "$f") || exit 1;',
            '[ "$t" -gt "$changed" ] && changed=$t; fi; done;',
            'if [ "$changed" -gt "${started:-0}" ]; then echo stale; else echo current; fi;',
            "else echo stopped; fi",
        )

    def process(self, output: list[str]) -> str:
        if output not in (["stale"], ["current"], ["stopped"]):
            raise FactProcessError(f"ServiceConfigState: unexpected output {output!r}")
        return output[0]
