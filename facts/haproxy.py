"""Facts about HAProxy, read from its admin stats socket.

Example::

    pyinfra inventory.py fact facts.haproxy.HaproxyBackends --json
"""

from __future__ import annotations

import csv

from pyinfra.api import FactBase, FactProcessError, QuoteString, StringCommand
from typing_extensions import override

from facts.daemon import or_not_running

ADMIN_SOCKET = "/run/haproxy/admin.sock"


class HaproxyBackends(FactBase[dict]):
    """
    Backends of the running HAProxy with their servers' states, from ``show stat`` on the stats
    socket. ``{}`` when HAProxy is not running. States are HAProxy's own words:
    ``UP``, ``DOWN``, ``UP 1/3`` (going down), ``DOWN 1/2`` (going up), ``MAINT``, ``no check``.

    .. code:: python

        {
            "galera_cluster": {
                "status": "UP",
                "servers": {
                    "ctrl-1": {"status": "UP", "backup": False},
                    "ctrl-2": {"status": "UP", "backup": True},
                },
            },
        }
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "socat"

    @staticmethod
    def default() -> dict:
        return {}

    def command(self, socket: str = ADMIN_SOCKET) -> StringCommand:
        # HAProxy stopped is an answer (empty output: default()), whether it left its socket
        # behind (it does, on stop and on a crash: "Connection refused") or not. With HAProxy
        # running, a failed or empty read (access denied, no such socket, no answer within
        # socat's 5 s) fails the fact: `grep .` fails on an empty answer.
        return StringCommand(
            "echo 'show stat' | socat -t 5 stdio", StringCommand("unix-connect:", QuoteString(socket), _separator=""),
            "| grep .", or_not_running("haproxy"),
        )

    def process(self, output: list[str]) -> dict:
        if not output or not output[0].startswith("# pxname,svname,"):
            raise FactProcessError(f"not HAProxy `show stat` CSV: {output[:1]!r}")
        rows = csv.DictReader([output[0][2:], *[line for line in output[1:] if line.strip()]])
        backends: dict[str, dict] = {}
        for row in rows:
            proxy, name, status = row.get("pxname"), row.get("svname"), row.get("status")
            if not proxy or not name or status is None:
                raise FactProcessError(f"malformed `show stat` line for {proxy!r}/{name!r}")
            if name == "FRONTEND":
                continue
            backend = backends.setdefault(proxy, {"status": None, "servers": {}})
            if name == "BACKEND":
                backend["status"] = status
            else:
                backend["servers"][name] = {"status": status, "backup": row.get("bck") == "1"}
        return backends
