"""Runtime state of corosync: quorum and membership, knet links, the configuration map.

Each fact reads the running corosync, never the files on disk; with corosync stopped (or not
installed) each returns its ``default()``.

Example::

    quorum = host.get_fact(CorosyncQuorum)
    quorum["quorate"], [m["name"] for m in quorum["members"]]
    links = host.get_fact(CorosyncLinks)["links"]          # [{"id": 0, "addr": ..., "nodes": {...}}]
    host.get_fact(CorosyncCmap, prefix="totem.")["totem.crypto_cipher"]
"""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api import FactBase, FactProcessError, QuoteString, StringCommand
from typing_extensions import override

from facts.daemon import or_not_running

_FIELD = re.compile(r"^([A-Za-z][A-Za-z ]*?):\s+(.*)$")
_MEMBER = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)(\s+\(local\))?\s*$")


class CorosyncQuorum(FactBase[dict[str, Any]]):
    """``corosync-quorumtool -s`` as data.

    .. code:: python

        {"running": True, "quorate": True, "node_id": 1, "nodes": 3, "expected_votes": 3,
         "total_votes": 3, "quorum": 2, "activity_blocked": False,
         "flags": ["Quorate", "WaitForAll", "LastManStanding"],
         "members": [{"nodeid": 1, "votes": 1, "name": "ctrl-1", "local": True}, ...]}
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "corosync-quorumtool"

    @staticmethod
    def default() -> dict[str, Any]:
        return {"running": False, "quorate": False, "members": []}

    def command(self) -> str:
        # Exit status 2 means "not quorate" (corosync-quorumtool(8)): still a valid answer.
        # Stopped: exit 1 and nothing on stdout, accepted only with no corosync process.
        return f"corosync-quorumtool -s || [ $? -eq 2 ] {or_not_running('corosync')}"

    def process(self, output: list[str]) -> dict[str, Any]:
        fields: dict[str, str] = {}
        members: list[dict[str, Any]] = []
        in_members = False
        for line in output:
            if line.strip().startswith("Nodeid"):
                in_members = True
                continue
            if in_members:
                match = _MEMBER.match(line)
                if match:
                    members.append({
                        "nodeid": int(match.group(1)),
                        "votes": int(match.group(2)),
                        "name": match.group(3),
                        "local": bool(match.group(4)),
                    })
                continue
            match = _FIELD.match(line.strip())
            if match:
                fields[match.group(1)] = match.group(2).strip()
        try:
            # "Quorum: 2 Activity blocked" when not quorate: the number comes first.
            number = {key: int(fields[key].split()[0])
                      for key in ("Node ID", "Nodes", "Expected votes", "Total votes", "Quorum")}
            return {
                "running": True,
                "quorate": fields["Quorate"] == "Yes",
                "node_id": number["Node ID"],
                "nodes": number["Nodes"],
                "expected_votes": number["Expected votes"],
                "total_votes": number["Total votes"],
                "quorum": number["Quorum"],
                "activity_blocked": "Activity blocked" in fields["Quorum"],
                "flags": fields.get("Flags", "").split(),
                "members": members,
            }
        except (KeyError, ValueError, IndexError) as error:
            raise FactProcessError(f"unexpected corosync-quorumtool output ({error!r}): {output[:5]}")


_LINK = re.compile(r"^LINK ID (\d+)(?:\s+(\S+))?")
_ADDR = re.compile(r"^\s*addr\s*=\s*(\S+)")
_NODE = re.compile(r"^\s*nodeid:?\s+(\d+):\s*(.+?)\s*$")
_LOCAL = re.compile(r"^Local node ID (\d+), transport (\S+)")


class CorosyncLinks(FactBase[dict[str, Any]]):
    """``corosync-cfgtool -s``: this node's knet links and how it sees every node on each.

    .. code:: python

        {"node_id": 1, "transport": "knet",
         "links": [{"id": 0, "addr": "10.0.2.11",
                    "nodes": {"1": "localhost", "2": "connected", "3": "connected"}}, ...]}
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "corosync-cfgtool"

    @staticmethod
    def default() -> dict[str, Any]:
        return {"links": []}

    def command(self) -> str:
        # Exit status 0 whatever the links' state (corosync 3.1: a faulty link is in the output),
        # 1 on any failure: stopped only when no corosync process runs.
        return f"corosync-cfgtool -s {or_not_running('corosync')}"

    def process(self, output: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = {"links": []}
        link: dict[str, Any] | None = None
        for line in output:
            if match := _LOCAL.match(line):
                result["node_id"], result["transport"] = int(match.group(1)), match.group(2)
            elif match := _LINK.match(line):
                link = {"id": int(match.group(1)), "addr": None, "nodes": {}}
                result["links"].append(link)
            elif link is not None and (match := _ADDR.match(line)):
                link["addr"] = match.group(1)
            elif link is not None and (match := _NODE.match(line)):
                link["nodes"][match.group(1)] = match.group(2)
        if "node_id" not in result:
            raise FactProcessError(f"unexpected corosync-cfgtool output: {output[:5]}")
        return result


_CMAP = re.compile(r"^(\S+) \((\w+)\) = ?(.*)$")
_INTEGER_TYPES = {"u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"}


class CorosyncCmap(FactBase[dict[str, Any]]):
    """The running configuration map (``corosync-cmapctl -b PREFIX``): ``{key: value}``.

    Integers are returned as ``int``, everything else as ``str``. E.g. with
    ``prefix="totem."``: ``{"totem.crypto_cipher": "aes256", "totem.token": 3000, ...}``.
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "corosync-cmapctl"

    @staticmethod
    def default() -> dict[str, Any]:
        return {}

    def command(self, prefix: str = "") -> StringCommand:
        return StringCommand("corosync-cmapctl", "-b", QuoteString(prefix), or_not_running("corosync"))

    def process(self, output: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for line in output:
            match = _CMAP.match(line)
            if not match:
                raise FactProcessError(f"unexpected corosync-cmapctl line: {line!r}")
            key, kind, value = match.groups()
            values[key] = int(value) if kind in _INTEGER_TYPES else value
        return values
