"""The rule for names: every controller's hostname is its inventory name.

RabbitMQ names its node ``rabbit@<hostname>``; corosync, pacemaker and ``wsrep_node_name`` take
the inventory name from their configuration files. ``deploys/base.py`` sets the hostname to the
inventory name before any package is installed, so all of them agree. These checks refuse,
before any change, the cases where that rule cannot hold (an inventory name that is not a
valid hostname is refused by ``lib/validate.py``).

Example::

    one_machine_twice({"ctrl-1": "m1 b1", "ctrl-2": "m1 b1", "ctrl-3": "m3 b3"})
    # "ctrl-1 and ctrl-2 are one machine ...; fix: ..."
    rabbitmq_under_another_name("ctrl-1", "debian", ["rabbit@debian"])
    # "ctrl-1: RabbitMQ on this host holds the data of node rabbit@debian ...; fix: ..."
"""

from __future__ import annotations

from collections.abc import Mapping


def one_machine_twice(identities: Mapping[str, str | None]) -> str | None:
    """A refusal when two inventory names reach one machine, else None.

    + identities: ``{inventory name: MachineIdentity fact, or None (unreachable)}``
    """
    names_of: dict[str, list[str]] = {}
    for name, identity in identities.items():
        if identity:
            names_of.setdefault(identity, []).append(name)
    twice = [names for names in names_of.values() if len(names) > 1]
    if not twice:
        return None
    return "; ".join(
        f"{' and '.join(names)} are one machine (same /etc/machine-id and boot id): the deploy would "
        f"give it {len(names)} hostnames and count it as {len(names)} cluster members; fix: list each "
        f"controller once in the inventory (check their ssh_hostname)"
        for names in twice
    )


def rabbitmq_under_another_name(name: str, hostname: str, rabbitmq_nodes: list[str]) -> str | None:
    """A refusal when RabbitMQ holds a node's data on this host under another name than the one
    the deploy gives it (``rabbit@<name>``), else None: renaming the host would start RabbitMQ as
    a new, empty node, leaving the old node's queues, users and cluster membership behind.

    + name: the inventory name; hostname: the host's current hostname
    + rabbitmq_nodes: the ``RabbitmqNodeData`` fact (``["rabbit@debian"]``)
    """
    if not rabbitmq_nodes or f"rabbit@{name}" in rabbitmq_nodes:
        return None
    nodes = ", ".join(rabbitmq_nodes)
    old_names = " or ".join(repr(node.partition("@")[2]) for node in rabbitmq_nodes)
    return (
        f"{name}: RabbitMQ on this host (hostname {hostname!r}) holds the data of node {nodes}; the "
        f"deploy names the host {name!r}, so RabbitMQ would restart as an empty node rabbit@{name} "
        f"and that node's data and cluster membership would be lost; fix: name this controller "
        f"{old_names} in the inventory, or, if nothing in it is worth keeping, remove it first "
        f"(apt-get purge rabbitmq-server && rm -rf /var/lib/rabbitmq)"
    )
