"""What identifies a host and what already ties it to a name: its machine, RabbitMQ's node data.

Read by ``deploys/base.py`` before any change (``lib/hostnames.py`` judges them).

Example::

    host.get_fact(MachineIdentity)      # "5b67...fd94 c9d73b8a-59a1-4ce1-9567-e8d8f4d0e890"
    host.get_fact(RabbitmqNodeData)     # ["rabbit@ctrl-1"]; [] before RabbitMQ's first start
"""

from __future__ import annotations

import re

from pyinfra.api import FactBase, FactProcessError
from typing_extensions import override

# RabbitMQ keeps each node's data in <mnesia base>/<node name> (Debian's default base).
RABBITMQ_MNESIA_BASE = "/var/lib/rabbitmq/mnesia"
_MACHINE_ID = re.compile(r"^[0-9a-f]{32}$")
_BOOT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Beside each node's data directory, RabbitMQ unpacks its plugins into <node>-plugins-expand.
_NOT_A_NODE = "-plugins-expand"


class MachineIdentity(FactBase[str]):
    """
    The machine behind a connection: ``/etc/machine-id`` and the kernel's boot id together.
    Two inventory names with the same identity are one machine. The machine-id alone is not
    enough (VMs cloned from one image can share it), nor is the boot id (containers of one
    kernel may share it); both equal only when the same running system answers twice.

    .. code:: python

        "5b6782eea4f92665f507b06baf19fd94 c9d73b8a-59a1-4ce1-9567-e8d8f4d0e890"
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "cat"

    @override
    def command(self) -> str:
        return "cat /etc/machine-id /proc/sys/kernel/random/boot_id"

    @override
    def process(self, output: list[str]) -> str:
        lines = [line.strip() for line in output if line.strip()]
        if len(lines) != 2 or not _MACHINE_ID.match(lines[0]) or not _BOOT_ID.match(lines[1]):
            raise FactProcessError(f"unexpected machine-id and boot id: {output!r}")
        return " ".join(lines)


class RabbitmqNodeData(FactBase[list[str]]):
    """
    The RabbitMQ node names that have a data directory on this host (sorted), e.g. a node
    started under the host's earlier name; empty when RabbitMQ never started here.

    .. code:: python

        ["rabbit@ctrl-1"]
    """

    @staticmethod
    def default() -> list[str]:
        return []

    @override
    def command(self) -> str:
        return (f"! test -d {RABBITMQ_MNESIA_BASE} || "
                f"find {RABBITMQ_MNESIA_BASE} -mindepth 1 -maxdepth 1 -type d -name 'rabbit@*' -printf '%f\\n'")

    @override
    def process(self, output: list[str]) -> list[str]:
        return sorted(name for name in map(str.strip, output) if name and not name.endswith(_NOT_A_NODE))
