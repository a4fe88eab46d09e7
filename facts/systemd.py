"""Facts about systemd units that pyinfra's own ``SystemdStatus`` does not give.

Example::

    pyinfra inventory.py fact facts.systemd.ServiceState service=mariadb --json
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
