"""Facts about memcached: what a node answers to ``stats``.

Example::

    pyinfra inventory.py fact facts.memcached.MemcachedStats --json      # each node, its own address
    host.get_fact(MemcachedStats, address="127.0.0.1")                   # {} : nothing listens there
"""

from __future__ import annotations

from pyinfra.api import FactBase, FactProcessError, QuoteString, StringCommand
from typing_extensions import override

CONFIG = "/etc/memcached.conf"
DEFAULT_PORT = 11211
# Ask ADDRESS:PORT for `stats` (3 s to connect and to read); print the answer, nothing when no
# memcached answers there (refused, timeout).
ASK = """import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as s:
        s.sendall(b"stats\\r\\nquit\\r\\n")
        answer = b""
        while not answer.endswith(b"END\\r\\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    sys.stdout.write(answer.decode().replace("\\r\\n", "\\n"))
except OSError:
    pass
"""


def _from_config(option: str, default: str) -> StringCommand:
    """``$(...)``: the value of ``-l``/``-p`` in /etc/memcached.conf, ``default`` when absent."""
    return StringCommand(f'"$(sed -n \'s/^{option}[[:space:]]*//p\' {CONFIG} 2>/dev/null | head -n 1 | grep . '
                         f'|| echo {default})"')


class MemcachedStats(FactBase[dict]):
    """
    memcached's ``stats`` at ``address``:``port`` (by default the ``-l`` and ``-p`` of
    /etc/memcached.conf, i.e. where this node's memcached should answer): ``address``, ``port``
    and the ``stats`` it answered, ``{}`` when nothing answered there.

    + address, port: where to ask (default: /etc/memcached.conf's)

    .. code:: python

        {"address": "10.0.2.11", "port": 11211,
         "stats": {"pid": "1234", "uptime": "75", "curr_connections": "2", "max_connections": "2048",
                   "limit_maxbytes": "1579155456", ...}}
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "python3"

    def command(self, address: str | None = None, port: int | None = None) -> StringCommand:
        where = QuoteString(address) if address else _from_config("-l", "127.0.0.1")
        number = QuoteString(str(port)) if port else _from_config("-p", str(DEFAULT_PORT))
        return StringCommand(StringCommand("a=", where, ";", _separator=""),
                             StringCommand("p=", number, ";", _separator=""),
                             'echo "at $a $p"; python3 -c', QuoteString(ASK), '"$a" "$p"')

    def process(self, output: list[str]) -> dict:
        head, *lines = output
        words = head.split()
        if len(words) != 3 or words[0] != "at" or not words[2].isdigit():
            raise FactProcessError(f"MemcachedStats: unexpected first line {head!r}")
        stats = {}
        for line in (raw.rstrip("\r") for raw in lines):
            parts = line.split(" ", 2)
            if line == "END":
                break
            if len(parts) != 3 or parts[0] != "STAT":
                raise FactProcessError(f"MemcachedStats: not a `STAT name value` line: {line!r}")
            stats[parts[1]] = parts[2]
        return {"address": words[1], "port": int(words[2]), "stats": stats}
