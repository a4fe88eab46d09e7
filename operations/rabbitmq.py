"""Operations on a RabbitMQ node with ``rabbitmqctl``: users, permissions and policies (one
operation, one read), joins; and the arguments of the templates in templates/rabbitmq/.

Each one reads a fact from ``facts.rabbitmq`` and yields commands only for what differs; a
second run changes nothing. Passwords go on standard input: never in a command or its output.

Example::

    rabbitmq.access(name="RabbitMQ users", users={"admin": {"password": secret, "tags": ["administrator"]}})
    rabbitmq.join_cluster(name="Join rabbit@ctrl-1", node="rabbit@ctrl-1", _serial=True)
    rabbitmq.app_running(name="RabbitMQ app running where only its VM runs")
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any, Literal

from pyinfra import host
from pyinfra.api import HiddenValue, QuoteString, StringCommand, operation

from facts.rabbitmq import (AMQP_PORT, AMQPS_PORT, RabbitmqAppState, RabbitmqClusterStatus, definitions,
                            has_partition_handling)
from lib.cluster_keys import RABBITMQ_COOKIE
from lib.secrets import unmasked
from lib.sizing import Resources, rabbitmq_sizes
from lib.topology import Topology
from operations.common import fail

Commands = Generator[StringCommand, None, None]
PACKAGES = ["rabbitmq-server"]  # Debian packages (no Recommends)
SERVICE = "rabbitmq-server"
# The include data naming the part of deploys/rabbitmq.py to run: "node" (every node's files and
# the start, not waited for) or "cluster" (the wait, users, joins); none: both.
DEPLOY_PART = "rabbitmq_part"
EPMD_SOCKET = "epmd.socket"  # Erlang's port mapper, started by its socket (and epmd.service)
# Where RabbitMQ does not run: systemd reads the drop-ins, any epmd is stopped (systemd's, or one a
# CLI call started on every address), and epmd.socket starts on the drop-in's addresses.
EPMD_AS_CONFIGURED = (f"systemctl daemon-reload && if ! systemctl is-active -q {SERVICE}; then "
                      f"systemctl stop {EPMD_SOCKET} epmd.service && {{ pkill -x epmd && sleep 1 || true; }} && "
                      f"systemctl start {EPMD_SOCKET}; fi")
# Remote files whose content the running node must have started with (a newer one: restart).
UNIT_DROPIN = "/etc/systemd/system/rabbitmq-server.service.d/prereqos.conf"
ENV_FILE = "/etc/rabbitmq/rabbitmq-env.conf"
CONFIG_FILE = "/etc/rabbitmq/rabbitmq.conf"
# The Erlang distribution's TLS options (rabbitmq["inter_node_tls"]), named in ENV_FILE.
DIST_TLS_CONFIG = "/etc/rabbitmq/inter_node_tls.config"
SETTINGS_FILES = (UNIT_DROPIN, ENV_FILE, CONFIG_FILE, DIST_TLS_CONFIG, RABBITMQ_COOKIE)
# AMQPS: copies of the cluster CA and of this controller's certificate and key (lib/tls.py) that
# RabbitMQ's user may read (the originals in /etc/prereqos/tls are root's). Not settings: a
# running node takes new ones without a restart (CLEAR_PEM_CACHE).
TLS_DIR = "/etc/rabbitmq/tls"
TLS_CA = f"{TLS_DIR}/ca.crt"
TLS_CERT = f"{TLS_DIR}/node.crt"
TLS_KEY = f"{TLS_DIR}/node.key"
# Erlang's ssl caches the PEM files it read: cleared, the next TLS handshakes read the new ones;
# open connections keep theirs (left alone, Erlang checks the files again every 2 minutes). The
# Erlang distribution over TLS (inter_node_tls) has its own cache, which ssl:clear_pem_cache()
# leaves alone: cleared too, else after a CA rotation's switch the node still trusts only the
# old CA and refuses the CLI (and restarted peers) showing a certificate of the new one.
CLEAR_PEM_CACHE = ("rabbitmqctl -q eval 'ssl:clear_pem_cache(), case whereis(ssl_pem_cache_dist) of undefined -> ok; "
                   "_ -> catch gen_server:call(ssl_pem_cache_dist, {unconditionally_clear_pem_cache, self()}, infinity) "
                   "end.'")


def version_text(version: tuple[int, ...]) -> str:
    """``(3, 10, 8)`` -> ``"3.10.8"``; ``"unknown"`` for ``()``."""
    return ".".join(map(str, version)) or "unknown"


def template_args(topo: Topology, data, version: tuple[int, ...], resources: Resources) -> dict[str, Any]:
    """Keyword arguments of ``files.template`` for the templates in templates/rabbitmq/.

    + version: the RabbitMQ version installed, or apt's candidate (``facts.rabbitmq.upstream_version``):
      ``cluster_partition_handling`` is written only where it exists (< 4.3)
    + resources: the host's CPUs, RAM and limits (``lib.sizing.Resources``): sizes set "auto"
    """
    return {
        "sizes": rabbitmq_sizes(data.rabbitmq, resources),
        "address": topo.address("srv"),
        "port": AMQP_PORT if data.rabbitmq["plain_amqp"] else None,
        "tls_port": AMQPS_PORT if data.rabbitmq["amqps"] else None,
        "tls": {"ca": TLS_CA, "cert": TLS_CERT, "key": TLS_KEY},
        "inter_node_tls": data.rabbitmq["inter_node_tls"],
        "dist_tls_config": DIST_TLS_CONFIG,
        "version": version_text(version),
        "partition_handling": data.rabbitmq["partition_handling"] if has_partition_handling(version) else None,
        "net_ticktime": data.rabbitmq["net_ticktime"],
        "aten_poll_interval": data.rabbitmq["aten_poll_interval"],
        "peers": [topo.address("srv", node.name) for node in topo.nodes if node.name != topo.me],
        # this node and these many peers are a majority of the cluster
        "peers_needed": len(topo.nodes) // 2,
        "stuck_seconds": data.rabbitmq["watchdog_stuck_seconds"],
    }


def password_on_stdin(subcommand: Literal["add_user", "change_password"], user: str,
                      password: str | HiddenValue) -> StringCommand:
    """
    ``rabbitmqctl add_user|change_password USER`` reading the password from standard input:
    never on a command line. Exactly these two arguments, no ``-q``: RabbitMQ 4's wrapper
    (``/usr/lib/rabbitmq/bin/rabbitmqctl``, Debian 13) gives the CLI its standard input only when
    it counts ``add_user USER`` or ``change_password USER`` (``$# = 2``); with one argument more
    it starts the CLI with ``-noinput`` and the password read hangs for ever (seen on the lab:
    RabbitMQ 4.0.5). RabbitMQ 3.10 (Debian 12) reads standard input either way.

    .. code:: python

        password_on_stdin("add_user", "admin", secret)   # rabbitmqctl add_user admin, stdin: the password
    """
    return StringCommand("rabbitmqctl", subcommand, QuoteString(user), _stdin=unmasked(password))


@operation()
def access(
    vhost: str = "/",
    users: dict[str, dict] | None = None,
    absent_users: list[str] | None = None,
    policies: dict[str, dict] | None = None,
    absent_policies: list[str] | None = None,
) -> Commands:
    """
    Users, their permissions on a virtual host, and the vhost's policies, from one
    ``RabbitmqDefinitions`` read (one ``rabbitmqctl`` call); commands only for what differs.

    + vhost: the virtual host of the permissions and policies
    + users: ``{name: {"password": Secret, "tags": [...], "permissions": {"configure": ..,
      "write": .., "read": ..} or None}}``; a password is set only when it is not already the
      user's (checked on the node, against its hash), tags are exact
    + absent_users: users to delete (e.g. ``guest``: its default password is public)
    + policies: ``{name: {"pattern": .., "definition": {..}, "apply_to": "all", "priority": 0}}``
    + absent_policies: policies to clear

    **Example:**

    .. code:: python

        rabbitmq.access(
            name="RabbitMQ users, permissions and queue HA",
            vhost="/",
            users={"openstack": {"password": secrets["rabbitmq_openstack_password"], "tags": [],
                                 "permissions": {"configure": ".*", "write": ".*", "read": ".*"}}},
            absent_users=["guest"],
            policies={"ha-all": {"pattern": r"^(?!amq\\.).*", "definition": {"ha-mode": "all"}}},
        )
    """
    users, policies = users or {}, policies or {}
    current = definitions(host, passwords={u: w["password"] for u, w in users.items()})
    existing = current["users"]
    granted = current["permissions"].get(vhost, {})
    set_policies = current["policies"].get(vhost, {})
    commands = []
    for user in absent_users or []:
        if user in existing:
            commands.append(StringCommand("rabbitmqctl -q delete_user", QuoteString(user)))
    for user, wanted in users.items():
        if user not in existing:
            commands.append(password_on_stdin("add_user", user, wanted["password"]))
        elif not existing[user]["password_ok"]:
            commands.append(password_on_stdin("change_password", user, wanted["password"]))
        tags = sorted(wanted.get("tags") or [])
        if existing.get(user, {}).get("tags", []) != tags:
            commands.append(StringCommand("rabbitmqctl -q set_user_tags", QuoteString(user), *map(QuoteString, tags)))
        permissions = wanted.get("permissions")
        if permissions and granted.get(user) != permissions:
            commands.append(StringCommand(
                "rabbitmqctl -q set_permissions -p", QuoteString(vhost), QuoteString(user),
                *(QuoteString(permissions[key]) for key in ("configure", "write", "read"))))
    for policy in absent_policies or []:
        if policy in set_policies:
            commands.append(StringCommand("rabbitmqctl -q clear_policy -p", QuoteString(vhost), QuoteString(policy)))
    for policy, wanted in policies.items():
        full = {"pattern": wanted["pattern"], "apply_to": wanted.get("apply_to", "all"),
                "definition": wanted.get("definition") or {}, "priority": wanted.get("priority", 0)}
        if set_policies.get(policy) != full:
            commands.append(StringCommand(
                "rabbitmqctl -q set_policy -p", QuoteString(vhost),
                "--apply-to", QuoteString(full["apply_to"]), "--priority", QuoteString(str(full["priority"])),
                QuoteString(policy), QuoteString(full["pattern"]),
                QuoteString(json.dumps(full["definition"], sort_keys=True))))
    if not commands:
        host.noop(f"RabbitMQ users {sorted(users)}, their permissions and the policies of {vhost} are as wanted")
    yield from commands


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
        yield fail(f"RabbitMQ is not running on {host.name}: cannot join {node}")
        return
    members = status["disc_nodes"] + status["ram_nodes"]
    if node in members:
        host.noop(f"already a member of the cluster of {node}")
        return
    if len(members) > 1:
        yield fail(
            f"{host.name} is clustered with {', '.join(members)}, not with {node}: refusing to reset it; "
            f"remove it from that cluster first (rabbitmqctl forget_cluster_node on its members)"
        )
        return
    yield StringCommand("rabbitmqctl -q stop_app")
    yield StringCommand("rabbitmqctl -q join_cluster", QuoteString(node))
    yield StringCommand("rabbitmqctl -q start_app")


@operation()
def app_running() -> Commands:
    """
    Start the RabbitMQ application where its Erlang VM runs without it (``RabbitmqAppState``
    ``"stopped"``: a ``stop_app`` left behind, a ``join_cluster`` that failed after stopping
    it; systemd says active and nothing else would start it). Only ``start_app``: a node that
    is no longer a member comes back as a standalone node, which ``join_cluster`` then joins
    (resetting it: it holds nothing of the cluster); a member is never reset here. Nothing
    happens when the app runs or boots, or when the VM itself is down (systemd's business).

    **Example:**

    .. code:: python

        rabbitmq.app_running(name="RabbitMQ app running where only its VM runs")
    """
    state = host.get_fact(RabbitmqAppState)
    if state != "stopped":
        host.noop(f"RabbitMQ app {'running' if state == 'running' else state}")
        return
    yield StringCommand("rabbitmqctl -q start_app")
