"""RabbitMQ on the lab: three running disc nodes, a message that survives its node, idempotence,
no secret in the output, nothing listening on a wildcard address, AMQPS verified with the
cluster CA (and refused to a client that does not trust it).

The message test is a real AMQP round trip (pika, user ``openstack``): a persistent message is
published on ctrl-1 to an HA queue (``ha-all`` mirrored classic queue on RabbitMQ 3.x, a quorum
queue on RabbitMQ >= 4), ctrl-1's RabbitMQ is stopped, and the message is consumed on ctrl-3.
"""

from __future__ import annotations

import re
import ssl
import time
import uuid

import pika
import pytest

from facts.rabbitmq import upstream_version
from lib.secrets import load as load_secrets
from operations.rabbitmq import AMQP_PORT, AMQPS_PORT, TLS_KEY
from tests.lab_tests.conftest import assert_quiet_rerun, group_data, ok, run_deploy
from tests.lab_tests.drill_load import cluster_ca, wait_until

pytestmark = pytest.mark.lab

DEPLOY = "deploys/rabbitmq.py"
STATUS = "facts.rabbitmq.RabbitmqClusterStatus"
DEFINITIONS = "facts.rabbitmq.RabbitmqDefinitions"


def nodes(lab) -> list[str]:
    return [f"rabbit@ctrl-{n}" for n in lab.hosts]


def amqp(lab, n: int, tls: ssl.SSLContext | None = None, attempts: int = 3,
         heartbeat: int | None = None) -> pika.BlockingConnection:
    """A connection of user ``openstack`` to ctrl-<n>: plain AMQP, or AMQPS verified with ``tls``;
    ``heartbeat=0``: none (a connection left idle while the test waits stays open)."""
    password = load_secrets()["rabbitmq_openstack_password"].unmask()
    address = lab.address("srv", n)
    params = pika.ConnectionParameters(
        host=address, port=AMQPS_PORT if tls else AMQP_PORT, virtual_host="/",
        credentials=pika.PlainCredentials("openstack", password),
        ssl_options=pika.SSLOptions(tls, server_hostname=address) if tls else None,
        connection_attempts=attempts, retry_delay=2, socket_timeout=10, heartbeat=heartbeat,
    )
    return pika.BlockingConnection(params)


def user_tags(definitions: dict) -> dict:
    """``{user: tags}`` from one node's RabbitmqDefinitions."""
    return {user: info["tags"] for user, info in definitions["users"].items()}


def wait_running(lab, expected: list[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = lab.fact(STATUS)
        if all(s.get("running_nodes") == expected for s in status.values()) and len(status) == len(expected):
            return status
        assert time.monotonic() < deadline, f"running nodes never became {expected}: {status}"
        time.sleep(3)


@pytest.fixture(scope="module")
def converged(lab):
    """The deploy converged on the lab (a no-op when it already was)."""
    run_deploy(lab, DEPLOY)
    return lab


def test_three_running_disc_nodes_no_partition(converged):
    status = converged.fact(STATUS)
    assert sorted(status) == [f"ctrl-{n}" for n in converged.hosts]
    for host, s in status.items():
        assert s["disc_nodes"] == nodes(converged), host
        assert s["running_nodes"] == nodes(converged), host
        assert s["ram_nodes"] == [] and s["partitions"] == {} and s["alarms"] == [], (host, s)
        assert upstream_version(s["version"]) >= (3, 10), (host, s)


def test_users_and_queue_ha_policy(converged):
    definitions = converged.fact(DEFINITIONS)["ctrl-1"]
    assert user_tags(definitions) == {"admin": ["administrator"], "openstack": []}  # guest deleted
    policies = definitions["policies"].get("/", {})
    version = upstream_version(converged.fact(STATUS)["ctrl-1"]["version"])
    if version < (4, 0):
        assert policies["ha-all"]["definition"] == {"ha-mode": "all"}
    else:
        assert "ha-all" not in policies  # no classic mirroring in RabbitMQ 4: quorum queues


def test_nothing_listens_on_a_wildcard_address(converged):
    for n in converged.hosts:
        listening = ok(converged.ssh(n, "ss -Hltn '( sport = :5672 or sport = :5671 or sport = :4369 or "
                                        "sport = :25672 )'"))
        local = sorted({line.split()[3] for line in listening.splitlines()})
        srv = converged.address("srv", n)
        assert local == sorted({f"{srv}:5672", f"{srv}:5671", f"{srv}:4369", "127.0.0.1:4369", f"{srv}:25672"}), local
        modes = ok(converged.ssh(n, f"stat -c '%a %U' /var/lib/rabbitmq/.erlang.cookie {TLS_KEY}")).split("\n")
        assert modes[:2] == ["400 rabbitmq", "400 rabbitmq"], modes


def test_amqps_with_the_cluster_ca(converged):
    """pika over AMQPS (5671) to every node, the certificate verified against the cluster CA (its
    srv address among the names): a message goes round; a client that does not trust the CA is
    refused at the handshake."""
    lab = converged
    for n in lab.hosts:
        queue = f"prereqos-lab-amqps-{uuid.uuid4().hex[:8]}"
        body = f"over TLS to ctrl-{n}".encode()
        with amqp(lab, n, tls=cluster_ca()) as connection:
            channel = connection.channel()
            channel.queue_declare(queue, exclusive=True)
            channel.basic_publish("", queue, body)  # the same channel: routed before the get below
            assert channel.basic_get(queue, auto_ack=True)[2] == body
    with pytest.raises((ssl.SSLCertVerificationError, pika.exceptions.AMQPConnectionError)) as refused:
        amqp(lab, 1, tls=ssl.create_default_context(), attempts=1)  # the system's CAs only
    assert "CERTIFICATE_VERIFY_FAILED" in repr(refused.value), repr(refused.value)


def test_persistent_message_survives_the_loss_of_its_node(converged):
    lab = converged
    version = upstream_version(lab.fact(STATUS)["ctrl-1"]["version"])
    queue = f"prereqos-lab-ha-{uuid.uuid4().hex[:8]}"
    body = f"hello from ctrl-1 {uuid.uuid4()}".encode()
    # RabbitMQ 3.x: a classic queue, mirrored on every node by ha-all. 4.x: a quorum queue.
    arguments = {} if version < (4, 0) else {"x-queue-type": "quorum"}

    with amqp(lab, 1) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.queue_declare(queue, durable=True, arguments=arguments)
        channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2), mandatory=True)
    if version < (4, 0):
        mirrors = ok(lab.ssh(1, f"rabbitmqctl -q list_queues --no-table-headers name policy "
                                f"synchronised_slave_pids | grep '^{queue}'"))
        assert "ha-all" in mirrors and "ctrl-2" in mirrors and "ctrl-3" in mirrors, mirrors

    last = lab.hosts[-1]
    try:
        ok(lab.ssh(1, "systemctl stop rabbitmq-server"))
        with amqp(lab, last) as connection:
            channel = connection.channel()
            method, properties, received = channel.basic_get(queue, auto_ack=True)
            assert received == body, (method, received)
            assert properties.delivery_mode == 2
            channel.queue_delete(queue)
    finally:
        ok(lab.ssh(1, "systemctl start rabbitmq-server"))
        wait_running(lab, nodes(lab))


def test_second_run_changes_nothing_and_prints_no_secret(converged):
    assert_quiet_rerun(converged, DEPLOY, "password_ok")


def test_drifted_password_tag_and_guest_are_put_back(converged):
    """Changed by hand on the first node: the deploy sees it (one export, password checked on the
    node against its hash) and restores exactly that; AMQP logins work again."""
    lab = converged
    ok(lab.ssh(1, "rabbitmqctl -q change_password openstack not-the-secret && "
                  "rabbitmqctl -q set_user_tags admin && rabbitmqctl -q add_user guest guest"))
    results, _ = run_deploy(lab, DEPLOY)
    (access,) = [op for op in results["results"]["operations"] if op["name"].startswith("RabbitMQ users")]
    assert access["success"] == ["ctrl-1"]
    assert user_tags(lab.fact(DEFINITIONS)["ctrl-1"]) == {"admin": ["administrator"], "openstack": []}
    with amqp(lab, 2) as connection:
        assert connection.is_open
    results, _ = run_deploy(lab, DEPLOY)
    assert not [op for op in results["results"]["operations"] if op.get("success")]


def test_watchdog_restarts_a_node_left_without_its_application(converged):
    """A node whose Erlang VM runs without the rabbit application while its peers run theirs (what
    the boot hang after a healed partition leaves on Debian 12) is restarted by
    prereqos-rabbitmq-watchdog once it has been so for ``rabbitmq['watchdog_stuck_seconds']``, and
    rejoins; the watchdog of the healthy nodes does nothing. The wait is shortened: once the
    watchdog has recorded when it first saw the node so, and has not restarted it, that record is
    moved back by ``watchdog_stuck_seconds`` (the watchdog's own rule and script unchanged)."""
    lab = converged
    n = lab.hosts[-1]
    stuck = group_data()["rabbitmq"]["watchdog_stuck_seconds"]
    since_file = "/run/prereqos/rabbitmq-watchdog.since"
    for m in lab.hosts:
        assert ok(lab.ssh(m, "systemctl is-active prereqos-rabbitmq-watchdog.timer")).strip() == "active"
    ok(lab.ssh(n, "rabbitmqctl -q stop_app"))
    stopped = time.monotonic()
    wait_until(lambda: lab.ssh(n, f"test -s {since_file}").returncode == 0, 90,
               f"ctrl-{n}'s watchdog noting the application down", interval=2)
    assert lab.ssh(n, "rabbitmq-diagnostics -q check_running").returncode != 0  # seen, not restarted yet
    ok(lab.ssh(n, f"echo $(( $(cat {since_file}) - {stuck} )) > {since_file}"))
    wait_until(lambda: lab.ssh(n, "rabbitmq-diagnostics -q check_running").returncode == 0, 300,
               f"ctrl-{n}'s rabbit application running again", interval=5)
    took = time.monotonic() - stopped
    journal = lab.ssh(n, "journalctl -u prereqos-rabbitmq-watchdog.service --since '-15 min' -o cat").stdout
    restarts = re.findall(r"rabbit application not running for (\d+) s .*: restarting rabbitmq-server", journal)
    assert restarts and int(restarts[-1]) >= stuck, journal[-2000:]
    for m in lab.hosts:
        if m != n:
            other = lab.ssh(m, "journalctl -u prereqos-rabbitmq-watchdog.service --since '-15 min' -o cat").stdout
            assert "restarting" not in other, other[-2000:]
    wait_until(lambda: sorted(lab.fact("facts.rabbitmq.RabbitmqClusterStatus")[f"ctrl-{n}"].get("running_nodes", []))
               == [f"rabbit@ctrl-{m}" for m in lab.hosts], 120, f"every node running in ctrl-{n}'s view")
    print(f"ctrl-{n} without its application: running again after {took:.0f} s (the record moved back by "
          f"watchdog_stuck_seconds {stuck})")
