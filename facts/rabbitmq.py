"""Facts about RabbitMQ, read with ``rabbitmqctl`` (JSON formatter) and ``apt-cache``.

Example::

    pyinfra inventory.py fact facts.rabbitmq.RabbitmqClusterStatus --json
    pyinfra inventory.py fact facts.rabbitmq.RabbitmqDefinitions --limit ctrl-1
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pyinfra.api import FactBase, FactProcessError, HiddenValue, QuoteString, StringCommand
from typing_extensions import override

from lib.secrets import SecretStdin, unmasked

_DEFINITIONS_FILTER = (Path(__file__).parent / "scripts/rabbitmq_definitions.py").read_text()


def _json(output: list[str], what: str) -> Any:
    try:
        return json.loads("\n".join(output))
    except ValueError as error:
        raise FactProcessError(f"{what}: not JSON ({error}): {output[:2]!r}") from error


def upstream_version(version: str | None) -> tuple[int, ...]:
    """``"3.10.8-1.1+deb12u1"`` -> ``(3, 10, 8)``; ``()`` when unknown."""
    match = re.match(r"^(?:\d+:)?(\d+(?:\.\d+)*)", version or "")
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def has_classic_mirroring(version: tuple[int, ...]) -> bool:
    """Mirroring policies (``ha-mode``) exist up to RabbitMQ 3.13; 4.0 removed them."""
    return bool(version) and version < (4, 0)


def has_partition_handling(version: tuple[int, ...]) -> bool:
    """``cluster_partition_handling`` exists up to RabbitMQ 4.2; 4.3 removed it."""
    return bool(version) and version < (4, 3)


class RabbitmqClusterStatus(FactBase[dict]):
    """
    The cluster as this node sees it (``rabbitmqctl cluster_status --formatter json``);
    ``{}`` when the node is not running or RabbitMQ is not installed. ``version`` is the lowest
    RabbitMQ version among the cluster's nodes (what the cluster as a whole supports);
    ``partitions`` maps a node to the nodes it is cut off from (empty when healthy).

    .. code:: python

        {
            "cluster_name": "rabbit@ctrl-1",
            "disc_nodes": ["rabbit@ctrl-1", "rabbit@ctrl-2", "rabbit@ctrl-3"],
            "ram_nodes": [],
            "running_nodes": ["rabbit@ctrl-1", "rabbit@ctrl-2", "rabbit@ctrl-3"],
            "partitions": {},
            "alarms": [],
            "versions": {"rabbit@ctrl-1": "3.10.8", ...},
            "version": "3.10.8",
        }
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "rabbitmqctl"

    @staticmethod
    def default() -> dict:
        return {}

    def command(self) -> str:
        # Stopped is an answer ({}), nothing on stdout: the node is down, exit 69 (EX_UNAVAILABLE,
        # seen on lab 1), or its rabbit app is stopped or still booting, exit 64 (rabbitmq_cli
        # 3.10 and 4.0: cluster_status requires the app, a validation failure is EX_USAGE). A
        # timeout (75) or not being root (1, lab 1) is an error, not a stopped node.
        return "rabbitmqctl -q cluster_status --formatter json || { rc=$?; [ $rc -eq 69 ] || [ $rc -eq 64 ]; }"

    def process(self, output: list[str]) -> dict:
        raw = _json(output, "rabbitmqctl cluster_status")
        if not isinstance(raw, dict) or "running_nodes" not in raw:
            raise FactProcessError(f"rabbitmqctl cluster_status: unexpected JSON: {output[:1]!r}")
        versions = {
            node: info.get("rabbitmq_version", "")
            for node, info in (raw.get("versions") or {}).items()
        }
        known = [v for v in versions.values() if upstream_version(v)]
        partitions = raw.get("partitions") or {}
        if isinstance(partitions, list):  # [[node, [nodes]], ...] in some versions
            partitions = {node: peers for node, peers in partitions}
        return {
            "cluster_name": raw.get("cluster_name"),
            "disc_nodes": sorted(raw.get("disk_nodes") or []),
            "ram_nodes": sorted(raw.get("ram_nodes") or []),
            "running_nodes": sorted(raw.get("running_nodes") or []),
            "partitions": partitions,
            "alarms": raw.get("alarms") or [],
            "versions": versions,
            "version": min(known, key=upstream_version) if known else None,
        }


class RabbitmqPackageVersion(FactBase[dict]):
    """
    The ``rabbitmq-server`` Debian package: installed version and the candidate apt would
    install (``None`` when there is none). Known before the package is installed, so a deploy
    can choose settings for the version it is about to run.

    .. code:: python

        {"installed": None, "candidate": "3.10.8-1.1+deb12u1"}
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "apt-cache"

    @staticmethod
    def default() -> dict:
        return {"installed": None, "candidate": None}

    def command(self) -> str:
        return "LC_ALL=C apt-cache policy rabbitmq-server"

    def process(self, output: list[str]) -> dict:
        found: dict[str, str | None] = {}
        for line in output:
            key, _, value = line.strip().partition(":")
            if key in ("Installed", "Candidate"):
                value = value.strip()
                found[key.lower()] = None if value in ("", "(none)") else value
        if set(found) != {"installed", "candidate"}:
            raise FactProcessError(f"apt-cache policy rabbitmq-server: unexpected output {output[:3]!r}")
        return found


class RabbitmqDefinitions(FactBase[dict]):
    """
    Users, permissions and policies of the running node in one ``rabbitmqctl export_definitions``
    (one Erlang VM start instead of one per question), filtered on the node by
    ``facts/scripts/rabbitmq_definitions.py``: password hashes never leave it. For each user in
    ``passwords`` (``{user: HiddenValue}``, sent on standard input: ask through ``definitions``),
    ``password_ok`` says whether that is its password (``None`` for users not asked about).
    Fails the host when the node is down: a missing user must never be guessed.

    .. code:: python

        definitions(host, passwords={"admin": secrets["rabbitmq_admin_password"]})
        {"users": {"admin": {"tags": ["administrator"], "password_ok": True},
                   "openstack": {"tags": [], "password_ok": None}},
         "permissions": {"/": {"openstack": {"configure": ".*", "write": ".*", "read": ".*"}}},
         "policies": {"/": {"ha-all": {"pattern": "^(?!amq\\\\.).*", "apply_to": "all",
                                       "definition": {"ha-mode": "all"}, "priority": 0}}}}
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "rabbitmqctl"

    @staticmethod
    def default() -> dict:
        return {"users": {}, "permissions": {}, "policies": {}}

    def command(self) -> StringCommand:
        # The passwords to check come on stdin (see ``definitions``), never on the command line.
        return StringCommand("python3 -c", QuoteString(_DEFINITIONS_FILTER))

    def process(self, output: list[str]) -> dict:
        raw = _json(output, "rabbitmq definitions")
        try:
            permissions: dict[str, dict] = {}
            for row in raw["permissions"]:
                permissions.setdefault(row["vhost"], {})[row["user"]] = {
                    key: row[key] for key in ("configure", "write", "read")}
            policies: dict[str, dict] = {}
            for row in raw["policies"]:
                definition = row["definition"]
                if isinstance(definition, str):
                    definition = json.loads(definition)
                policies.setdefault(row["vhost"], {})[row["name"]] = {
                    "pattern": row["pattern"], "apply_to": row.get("apply-to") or "all",
                    "definition": definition, "priority": int(row.get("priority") or 0)}
            return {"users": dict(raw["users"]), "permissions": permissions, "policies": policies}
        except (KeyError, TypeError, ValueError) as error:
            raise FactProcessError(f"rabbitmq definitions: unexpected JSON {output[:1]!r:.200}") from error


AMQP_PORT = 5672
AMQPS_PORT = 5671  # AMQP over TLS (rabbitmq["amqps"])
# rabbitmqctl's exit code when it cannot reach the node (EX_UNAVAILABLE): the VM is not running.
NODE_DOWN_EXIT = 69


class RabbitmqAppState(FactBase[str]):
    """
    Whether the RabbitMQ application runs inside this node's Erlang VM (``rabbit:is_running()``
    and ``rabbit:is_booting()`` through ``rabbitmqctl eval``): ``"running"``, ``"booting"``,
    ``"stopped"`` (the VM runs, the app does not: ``stop_app`` left behind, a failed
    ``join_cluster``; systemd still says active) or ``"down"`` (no VM: rabbitmqctl exits
    ``NODE_DOWN_EXIT``). Any other exit code fails the fact. ``"down"`` too when RabbitMQ is not
    installed. The application's AMQP listener (5672 or 5671, held by ``beam.smp``) answers
    ``"running"`` without starting an Erlang VM for ``rabbitmqctl`` (most of a second): the
    application opens it last when it boots and closes it first when it stops.

    .. code:: python

        host.get_fact(RabbitmqAppState)   # "stopped"
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "rabbitmqctl"

    @staticmethod
    def default() -> str:
        return "down"

    def command(self) -> str:
        return (f"if ss -Hltnp '( sport = :{AMQP_PORT} or sport = :{AMQPS_PORT} )' 2>/dev/null "
                f"| grep -q '\"beam.smp\"'; then echo '{{true,false}}'; "
                f"else rabbitmqctl -q eval '{{rabbit:is_running(), rabbit:is_booting()}}.' 2>/dev/null "
                f"|| {{ rc=$?; [ $rc -eq {NODE_DOWN_EXIT} ] && echo down || exit $rc; }}; fi")

    def process(self, output: list[str]) -> str:
        answer = "".join(output).strip()
        states = {"{true,false}": "running", "{true,true}": "running", "{false,true}": "booting",
                  "{false,false}": "stopped", "down": "down"}
        if answer not in states:
            raise FactProcessError(f"RabbitmqAppState: unexpected answer {output!r}")
        return states[answer]


def definitions(host, passwords: dict[str, str | HiddenValue] | None = None) -> dict:
    """``RabbitmqDefinitions`` of ``host``, checking ``passwords`` (``{user: secret}``) sent on stdin."""
    return host.get_fact(RabbitmqDefinitions, _stdin=SecretStdin(definitions_stdin(passwords)))


def definitions_stdin(passwords: dict[str, str | HiddenValue] | None = None) -> str:
    """The standard input of ``RabbitmqDefinitions``'s command: ``{user: password}`` as JSON."""
    return json.dumps({user: unmasked(secret) for user, secret in (passwords or {}).items()}, sort_keys=True)


class RabbitmqDistribution(FactBase[str]):
    """
    How the running RabbitMQ node's Erlang distribution (inter-node and CLI traffic) was started,
    read from its VM's command line (``/proc/<MainPID>/cmdline``), not through ``rabbitmqctl``: a
    CLI configured for the other kind could not reach it. ``"tls"`` (``-proto_dist inet_tls``),
    ``"plain"``, or ``"stopped"`` when ``rabbitmq-server`` runs no process.

    .. code:: python

        host.get_fact(RabbitmqDistribution)   # "plain": the node must stop before it goes TLS
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "systemctl"

    @staticmethod
    def default() -> str:
        return "stopped"

    def command(self) -> str:
        return ("pid=$(systemctl show -P MainPID rabbitmq-server); "
                "if [ \"${pid:-0}\" -gt 0 ] && [ -r /proc/$pid/cmdline ]; then "
                "tr '\\0' '\\n' < /proc/$pid/cmdline | grep -qx inet_tls && echo tls || echo plain; "
                "else echo stopped; fi")

    def process(self, output: list[str]) -> str:
        answer = "".join(output).strip()
        if answer not in ("tls", "plain", "stopped"):
            raise FactProcessError(f"RabbitmqDistribution: unexpected answer {output!r}")
        return answer
