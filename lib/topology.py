"""Who is in the cluster and at which address, computed from inventory and group_data.

Example (in a deploy file)::

    from lib.topology import Topology
    topo = Topology.of(host)
    topo.address("srv")              # this host's srv address, e.g. "10.0.2.11"
    topo.vip("api")                  # the api virtual IP, e.g. "10.0.1.10"
    topo.is_first                    # True on group_data's firstnode
    topo.names                       # every controller's name, inventory order
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.cluster import CONTROLLER_GROUP


@dataclass(frozen=True)
class Node:
    name: str
    nodeid: int
    addresses: dict[str, str]


@dataclass(frozen=True)
class Topology:
    me: str
    firstnode: str
    nodes: tuple[Node, ...]
    vips: dict[str, str]
    netmasks: dict[str, int]

    @classmethod
    def of(cls, host) -> "Topology":
        return cls.from_data(host.name, host.data, [h.name for h in controllers(host.inventory)])

    @classmethod
    def from_data(cls, me: str, data, names: list[str]) -> "Topology":
        prefixes, suffixes = data.netprefix, data.netsuffix

        def addr(net: str, key: str) -> str:
            return f"{prefixes[net]['prefix']}.{suffixes[key]}"

        nodes = tuple(
            Node(name, index + 1, {net: addr(net, name) for net in prefixes})
            for index, name in enumerate(names)
        )
        return cls(
            me=me,
            firstnode=data.firstnode,
            nodes=nodes,
            vips={net: addr(net, "os") for net in ("api", "srv")},
            netmasks={net: int(prefixes[net]["class"]) for net in prefixes},
        )

    @property
    def names(self) -> list[str]:
        """Every controller's name, in inventory order."""
        return [n.name for n in self.nodes]

    @property
    def is_first(self) -> bool:
        return self.me == self.firstnode

    def address(self, net: str, name: str | None = None) -> str:
        name = name or self.me
        return next(n for n in self.nodes if n.name == name).addresses[net]

    def vip(self, net: str) -> str:
        return self.vips[net]


def controllers(inventory) -> list:
    """The controllers in inventory order (never a set: order decides the first node)."""
    return list(inventory.get_group(CONTROLLER_GROUP))
