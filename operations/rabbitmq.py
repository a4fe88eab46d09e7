"""Operations on a RabbitMQ node with ``rabbitmqctl``: users, permissions, policies, joins.

Each one reads a fact from ``facts.rabbitmq`` and yields commands only for what differs; a
second run changes nothing. Passwords are masked (``HiddenValue``) in every printed command.
"""

from __future__ import annotations

import json
from collections.abc import Generator

from pyinfra import host
from pyinfra.api import HiddenValue, QuoteString, StringCommand, operation

from facts.rabbitmq import (
    RabbitmqClusterStatus,
    RabbitmqPermissions,
    RabbitmqPolicies,
    RabbitmqUserAuthenticates,
    RabbitmqUsers,
)

Commands = Generator[StringCommand, None, None]


def _hidden(secret: str | HiddenValue) -> HiddenValue:
    # Never wrap twice: HiddenValue(HiddenValue(x)) would send the literal "*MASKED*".
    return secret if isinstance(secret, HiddenValue) else HiddenValue(secret)


def _fail(message: str) -> StringCommand:
    # Fails this host only (raising would abort the run for every host).
    return StringCommand("echo", QuoteString(message), ">&2; exit 1")


@operation()
def user(
    user: str,
    password: str | HiddenValue | None = None,
    tags: list[str] | None = None,
    present: bool = True,
) -> Commands:
    """
    Add, update or delete a RabbitMQ user.

    + user: user name
    + password: its password (a ``HiddenValue``/``Secret``); set only when it does not already
      authenticate, so an unchanged password is never rewritten
    + tags: exact list of tags (e.g. ``["administrator"]``); ``[]`` clears them
    + present: ``False`` deletes the user

    **Example:**

    .. code:: python

        rabbitmq.user(
            name="RabbitMQ user openstack",
            user="openstack",
            password=host.data.secrets["rabbitmq_openstack_password"],
        )
    """
    users = host.get_fact(RabbitmqUsers)
    if not present:
        if user in users:
            yield StringCommand("rabbitmqctl -q delete_user", QuoteString(user))
        else:
            host.noop(f"RabbitMQ user {user} is absent")
        return

    if password is None:
        raise TypeError("rabbitmq.user: password is required when present=True")
    secret = _hidden(password)
    wanted_tags = sorted(tags or [])
    changed = False
    if user not in users:
        yield StringCommand("rabbitmqctl -q add_user", QuoteString(user), QuoteString(secret))
        changed = True
    elif not host.get_fact(RabbitmqUserAuthenticates, user=user, password=secret):
        yield StringCommand("rabbitmqctl -q change_password", QuoteString(user), QuoteString(secret))
        changed = True
    if users.get(user, []) != wanted_tags:
        yield StringCommand("rabbitmqctl -q set_user_tags", QuoteString(user), *map(QuoteString, wanted_tags))
        changed = True
    if not changed:
        host.noop(f"RabbitMQ user {user} exists with its password and tags {wanted_tags}")


@operation()
def permissions(
    user: str, vhost: str = "/", configure: str = ".*", write: str = ".*", read: str = ".*"
) -> Commands:
    """
    Set a user's permissions in a virtual host.

    + user: user name
    + vhost: virtual host
    + configure, write, read: the three permission regular expressions

    **Example:**

    .. code:: python

        rabbitmq.permissions(name="openstack may do anything on /", user="openstack", vhost="/")
    """
    wanted = {"configure": configure, "write": write, "read": read}
    if host.get_fact(RabbitmqPermissions, vhost=vhost).get(user) == wanted:
        host.noop(f"RabbitMQ user {user} has permissions {wanted} on {vhost}")
        return
    yield StringCommand(
        "rabbitmqctl -q set_permissions -p", QuoteString(vhost), QuoteString(user),
        QuoteString(configure), QuoteString(write), QuoteString(read),
    )


@operation()
def policy(
    policy: str,
    pattern: str = "",
    definition: dict | None = None,
    vhost: str = "/",
    apply_to: str = "all",
    priority: int = 0,
    present: bool = True,
) -> Commands:
    """
    Set or clear a policy in a virtual host.

    + policy: policy name
    + pattern: regular expression of the queue/exchange names it applies to
    + definition: the policy's keys, e.g. ``{"ha-mode": "all"}``
    + vhost: virtual host
    + apply_to: ``all``, ``queues`` or ``exchanges``
    + priority: policy priority
    + present: ``False`` clears the policy

    **Example:**

    .. code:: python

        rabbitmq.policy(
            name="Mirror every queue on every node",
            policy="ha-all",
            pattern=r"^(?!amq\\.).*",
            definition={"ha-mode": "all"},
        )
    """
    current = host.get_fact(RabbitmqPolicies, vhost=vhost).get(policy)
    if not present:
        if current:
            yield StringCommand("rabbitmqctl -q clear_policy -p", QuoteString(vhost), QuoteString(policy))
        else:
            host.noop(f"RabbitMQ policy {policy} is absent from {vhost}")
        return

    wanted = {"pattern": pattern, "apply_to": apply_to, "definition": definition or {}, "priority": priority}
    if current == wanted:
        host.noop(f"RabbitMQ policy {policy} is set on {vhost}")
        return
    yield StringCommand(
        "rabbitmqctl -q set_policy -p", QuoteString(vhost),
        "--apply-to", QuoteString(apply_to), "--priority", QuoteString(str(priority)),
        QuoteString(policy), QuoteString(pattern), QuoteString(json.dumps(wanted["definition"], sort_keys=True)),
    )


@operation()
def join_cluster(node: str) -> Commands:
    """
    Make this node a member of ``node``'s cluster, unless it already is one.

    + node: a member of the cluster to join, e.g. ``rabbit@ctrl-1``

    Only a standalone node (a cluster of itself) joins. ``rabbitmqctl join_cluster`` resets the
    joining node's own database first; a standalone node that was never joined holds only the
    package defaults (user guest, vhost /), nothing of this cluster. A node that is already in
    ``node``'s cluster is left alone (never reset), and a node clustered with other nodes is
    refused (this host fails) rather than wiped. Call it with ``_serial=True``: one join at a time.

    **Example:**

    .. code:: python

        rabbitmq.join_cluster(name="Join rabbit@ctrl-1", node="rabbit@ctrl-1", _serial=True)
    """
    status = host.get_fact(RabbitmqClusterStatus)
    if not status:
        yield _fail(f"RabbitMQ is not running on {host.name}: cannot join {node}")
        return
    members = status["disc_nodes"] + status["ram_nodes"]
    if node in members:
        host.noop(f"already a member of the cluster of {node}")
        return
    if len(members) > 1:
        yield _fail(
            f"{host.name} is clustered with {', '.join(members)}, not with {node}: refusing to reset it; "
            f"remove it from that cluster first (rabbitmqctl forget_cluster_node on its members)"
        )
        return
    yield StringCommand("rabbitmqctl -q stop_app")
    yield StringCommand("rabbitmqctl -q join_cluster", QuoteString(node))
    yield StringCommand("rabbitmqctl -q start_app")
