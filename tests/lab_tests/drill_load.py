"""Client load for the fault drills: SQL inserts through the srv VIP, AMQP publishes with publisher
confirms to a quorum queue, each counting only what the server acknowledged, and the checks that
every acknowledged write and every confirmed message is still there afterwards.

Both loads run in a thread, stop by themselves (``max_seconds``, ``max_count``) and only talk to
lab addresses. Every attempt is timed, so a drill can read the client-visible outage.

**Example:**

.. code:: python

    with sql_account(lab) as account, amqp_queue(lab) as queue:
        sql, amqp = SqlLoad(lab.vip("srv"), account), AmqpLoad(brokers(lab), queue)
        with running(sql, amqp):
            ...                                   # kill, isolate, restart...
        assert sql.missing(lab, [1, 2, 3]) == {} and amqp.missing(lab) == set()
"""

from __future__ import annotations

import contextlib
import json
import secrets as random
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pymysql

from lib.secrets import load as load_secrets
from lib.tls import tls_dir
from operations.rabbitmq import AMQP_PORT, AMQPS_PORT

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "prereqos_drill"
TABLE = f"{DATABASE}.acks"


# --- time and polling ------------------------------------------------------------------------
def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 2.0) -> Any:
    """Poll ``predicate`` until it returns something true; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not reached within {timeout:.0f}s (last: {last!r})")


def attach(lab, n: int, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``command`` inside ctrl-<n> without the network (``lxc-attach``): reaches an isolated host."""
    return subprocess.run(["lxc-attach", "-n", lab.lab.container(n), "--", "sh", "-c", command],
                          text=True, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def health(lab, **env: str) -> subprocess.CompletedProcess:
    """``python -m lib.health`` on the lab inventory (rc 0 = healthy)."""
    return subprocess.run([sys.executable, "-m", "lib.health", "tests/lab/inventory.py"], cwd=ROOT,
                          text=True, capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
                          env=lab.env(**env))


def wait_healthy(lab, timeout: float) -> float:
    """Seconds until the health report is green (polled), failing the test after ``timeout``."""
    started = time.monotonic()
    report = None

    def green() -> bool:
        nonlocal report
        report = health(lab)
        return report.returncode == 0

    try:
        wait_until(green, timeout, "health report green", interval=1)
    except AssertionError:
        raise AssertionError(f"not healthy within {timeout:.0f}s:\n{report.stdout if report else ''}") from None
    return time.monotonic() - started


def facts(lab, fact: str, alive: list[int]) -> dict:
    """A fact from the ``alive`` hosts only (the others may be stopped or cut off)."""
    limits = [arg for n in alive for arg in ("--limit", f"ctrl-{n}")]
    proc = lab.pyinfra("fact", fact, "--json", *limits, LAB_ALLOW_STOPPED="1")
    try:
        return json.loads(proc.stdout)[fact]
    except (ValueError, KeyError):
        raise AssertionError(f"no facts (rc={proc.returncode}): {proc.stderr[-2000:]}") from None


def changes(results: dict) -> dict[str, list[str]]:
    """What a ``--json`` deploy run changed, apart from base.py's apt lists update, which is due
    again whenever an hour has passed (drills and scale-out on a loaded lab can take longer)."""
    return {op["name"]: op["success"] for op in results["results"]["operations"]
            if op.get("success") and not op["name"].endswith(("(at most hourly)", "(at most daily)"))}


# --- the loads ---------------------------------------------------------------------------------
@dataclass
class Load:
    """One client: ``attempt(token)`` is True when the server acknowledged ``token``."""

    max_seconds: float = 300
    max_count: int = 20000
    interval: float = 0.02
    acked: list[str] = field(default_factory=list)
    records: list[tuple[float, float, bool]] = field(default_factory=list)  # (start, end, acked)
    errors: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:8]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=type(self).__name__, daemon=True)

    # to be provided
    def attempt(self, token: str) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass

    # lifecycle
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self.close()

    def _loop(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        sequence = 0
        while not self._stop.is_set() and time.monotonic() < deadline and sequence < self.max_count:
            token = f"{self.run_id}-{sequence:06d}"
            sequence += 1
            started = time.monotonic()
            try:
                ok = self.attempt(token)
            except Exception as error:  # any failure is "not acknowledged"; the client reconnects
                self.errors[type(error).__name__] += 1
                ok = False
                self.close()
                self._stop.wait(0.2)
            self.records.append((started, time.monotonic(), ok))
            if ok:
                self.acked.append(token)
            self._stop.wait(self.interval)

    # measures
    def wait_acks(self, count: int, timeout: float = 60) -> None:
        """Wait until ``count`` more writes are acknowledged (the load is flowing)."""
        target = len(self.acked) + count
        wait_until(lambda: len(self.acked) >= target, timeout, f"{type(self).__name__}: {count} acks", 0.1)

    def longest_gap(self, since: float) -> float:
        """Longest time without an acknowledgement after ``since`` (the client-visible outage)."""
        return self.gap(since)[0]

    def gap(self, since: float) -> tuple[float, str]:
        """The longest time without an acknowledgement after ``since``, and when it began (wall
        clock, to find its cause in the hosts' journals)."""
        ends = [since] + [end for _, end, ok in self.records if ok and end > since]
        if len(ends) == 1:
            ends.append(time.monotonic())
        length, began = max((b - a, a) for a, b in zip(ends, ends[1:]))
        return length, time.strftime("%H:%M:%S", time.localtime(time.time() - (time.monotonic() - began)))

    def back_after(self, since: float) -> float | None:
        """Seconds from ``since`` to the first acknowledgement after the first failure that followed
        it; ``None`` when nothing failed (no interruption)."""
        failures = [start for start, _, ok in self.records if not ok and start >= since]
        if not failures:
            return None
        later = [end for start, end, ok in self.records if ok and start >= failures[0]]
        return (later[0] - since) if later else None

    def summary(self) -> str:
        failed = sum(1 for *_, ok in self.records if not ok)
        return (f"{type(self).__name__}: {len(self.acked)} acknowledged, {failed} failed attempts "
                f"{dict(self.errors)}")


@dataclass
class SqlAccount:
    user: str
    password: str


@contextlib.contextmanager
def sql_account(lab, n: int = 1) -> Iterator[SqlAccount]:
    """A throwaway SQL account allowed from the srv network (HAProxy connects from each node's srv
    address, the machine from the bridge's), with the drill table; dropped afterwards."""
    account = SqlAccount(f"drill_{uuid.uuid4().hex[:8]}", random.token_hex(16))
    network = lab.address("srv", 1).rsplit(".", 1)[0] + ".%"
    sql = (f"CREATE DATABASE IF NOT EXISTS {DATABASE}; "
           f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
           f"token VARCHAR(64) NOT NULL UNIQUE, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6)); "
           f"CREATE USER '{account.user}'@'{network}' IDENTIFIED BY '{account.password}'; "
           f"GRANT ALL ON {DATABASE}.* TO '{account.user}'@'{network}';")
    proc = lab.ssh(n, "mysql", input=sql)  # the password on stdin, never on a command line
    assert proc.returncode == 0, proc.stderr
    try:
        yield account
    finally:
        for m in lab.hosts:  # any live member will do: the statement replicates
            if lab.lab.state(m) == "RUNNING" and lab.ssh(m, f"mysql -e \"DROP USER IF EXISTS "
                                                            f"'{account.user}'@'{network}'\"").returncode == 0:
                break


class SqlLoad(Load):
    """Autocommit INSERTs of unique tokens through ``address``:3306 (the srv VIP: HAProxy)."""

    def __init__(self, address: str, account: SqlAccount, **kwargs: Any):
        super().__init__(**kwargs)
        self.address, self.account = address, account
        self._db: pymysql.Connection | None = None

    def connect(self, address: str | None = None) -> pymysql.Connection:
        # TLS, the server verified with the cluster CA (its certificate names the srv VIP and each
        # controller's srv address), as an OpenStack service with ?ssl_ca= connects.
        return pymysql.connect(host=address or self.address, port=3306, user=self.account.user,
                               password=self.account.password, connect_timeout=2, read_timeout=5,
                               write_timeout=5, autocommit=True, ssl=cluster_ca())

    def attempt(self, token: str) -> bool:
        if self._db is None:
            self._db = self.connect()
        with self._db.cursor() as cursor:
            cursor.execute(f"INSERT INTO {TABLE} (token) VALUES (%s)", (token,))
        return True  # autocommit: execute() returned, the commit is acknowledged

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None

    def stored(self, address: str) -> set[str]:
        """This run's tokens as the node at ``address`` holds them (read after every replicated write)."""
        with self.connect(address) as db, db.cursor() as cursor:
            cursor.execute("SET SESSION wsrep_sync_wait = 1")
            cursor.execute(f"SELECT token FROM {TABLE} WHERE token LIKE %s", (f"{self.run_id}-%",))
            return {row[0] for row in cursor.fetchall()}

    def missing(self, lab, nodes: list[int]) -> dict[str, list[str]]:
        """Acknowledged tokens absent from each node (``{}`` when nothing is lost anywhere)."""
        lost = {}
        for n in nodes:
            gone = sorted(set(self.acked) - self.stored(lab.address("srv", n)))
            if gone:
                lost[f"ctrl-{n}"] = gone[:10] + ([f"... {len(gone)} in all"] if len(gone) > 10 else [])
        return lost


def rabbit_paused(lab, n: int) -> bool:
    """ctrl-<n>'s RabbitMQ stopped serving (pause_minority: no AMQP listener left), read with
    lxc-attach (reaches a cut-off host)."""
    return attach(lab, n, f"ss -Hltn 'sport = :{AMQP_PORT}'").stdout.strip() == ""


def cluster_ca() -> ssl.SSLContext:
    """A client context that trusts the cluster CA the deploys generated (``lib/tls.py``) and
    nothing else: what the lab tests and the drills' loads use to reach the TLS listeners."""
    return ssl.create_default_context(cafile=str(tls_dir() / "ca.crt"))


STATS_PORT = 9000  # group_data haproxy["stats_port"]


def insert_tokens(address: str, account: SqlAccount, tokens: list[str]) -> None:
    """``tokens`` inserted into the drill table (one statement) through ``address`` (the srv VIP), in
    TLS with the server verified by the cluster CA; again on a new connection if this one is cut, as
    a client that reconnects does: a backup desyncs the writer for a moment, HAProxy sends new
    sessions to a backup server, then cuts them when the writer is up again (on-marked-up
    shutdown-backup-sessions). INSERT IGNORE keeps what a cut attempt committed.
    Example: ``insert_tokens(lab.vip("srv"), account, ["a-1", "a-2"])``."""
    for attempt in range(3):
        try:
            with pymysql.connect(host=address, port=3306, user=account.user, password=account.password,
                                 ssl=cluster_ca(), connect_timeout=5, read_timeout=30, autocommit=True) as db, \
                    db.cursor() as cursor:
                cursor.executemany(f"INSERT IGNORE INTO {TABLE} (token) VALUES (%s)", tokens)
            return
        except pymysql.err.OperationalError:
            if attempt == 2:
                raise
            time.sleep(2)


def stats_page(lab, n: int, path: str = "", user: str | None = "admin", password: str | None = None,
               scheme: str = "https", context: ssl.SSLContext | None = None) -> tuple[int, str]:
    """(status, body) of HAProxy's stats page on controller ``n``'s api address: HTTPS with the
    cluster CA trusted, as ``user`` with ``password`` (None: the generated one; ``user`` None: no
    credentials). Example: ``stats_page(lab, 1, ";csv")`` -> (200, "# pxname,svname,...")."""
    request = urllib.request.Request(f"{scheme}://{lab.address('api', n)}:{STATS_PORT}/haproxy_stats{path}")
    if user is not None:
        password = load_secrets()["haproxy_stats_password"].unmask() if password is None else password
        request.add_header("Authorization", "Basic " + b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10, context=context or cluster_ca()) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def brokers(lab) -> list[str]:
    """Every controller's srv address: AMQP clients list all brokers (no HAProxy for AMQP)."""
    return [lab.address("srv", n) for n in lab.hosts]


def amqp_parameters(addresses: list[str]) -> list[pika.ConnectionParameters]:
    password = load_secrets()["rabbitmq_openstack_password"].unmask()
    credentials = pika.PlainCredentials("openstack", password)
    # AMQPS, each broker verified with the cluster CA by its srv address.
    return [pika.ConnectionParameters(host=address, port=AMQPS_PORT, credentials=credentials, heartbeat=4,
                                      socket_timeout=2, blocked_connection_timeout=10,
                                      connection_attempts=1, stack_timeout=5,
                                      ssl_options=pika.SSLOptions(cluster_ca(), server_hostname=address))
            for address in addresses]


@contextlib.contextmanager
def amqp_queue(lab, through: int | None = None, queue_type: str = "quorum") -> Iterator[str]:
    """A durable quorum queue (HA on every RabbitMQ version) for one drill; deleted afterwards.
    ``through``: declared through ctrl-<n> alone, which then holds its leader (or a classic
    queue's master, ``queue_type="classic"``: RabbitMQ's client-local placement)."""
    queue = f"drill-{queue_type}-{uuid.uuid4().hex[:8]}"
    declare_on = [lab.address("srv", through)] if through else brokers(lab)
    with contextlib.closing(pika.BlockingConnection(amqp_parameters(declare_on))) as connection:
        connection.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": queue_type})
    try:
        yield queue
    finally:
        with contextlib.suppress(Exception), \
                contextlib.closing(pika.BlockingConnection(amqp_parameters(brokers(lab)))) as connection:
            connection.channel().queue_delete(queue)


class AmqpLoad(Load):
    """Persistent publishes with publisher confirms to ``queue``, as the ``openstack`` user, to
    the first broker that answers (the list turns after each failure)."""

    def __init__(self, addresses: list[str], queue: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.addresses, self.queue = list(addresses), queue
        self._connection: pika.BlockingConnection | None = None
        self._channel = None

    def attempt(self, token: str) -> bool:
        if self._channel is None:
            self._connection = pika.BlockingConnection(amqp_parameters(self.addresses))
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        # Returns only once the broker confirmed (raises on nack, unroutable or lost connection).
        self._channel.basic_publish("", self.queue, token.encode(), pika.BasicProperties(delivery_mode=2),
                                    mandatory=True)
        return True

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self.addresses = self.addresses[1:] + self.addresses[:1]  # next time, start elsewhere
        self._connection = self._channel = None

    def received(self, lab) -> set[str]:
        """Every message of the queue (fetched without acknowledging: they stay queued)."""
        bodies: set[str] = set()
        with contextlib.closing(pika.BlockingConnection(amqp_parameters(brokers(lab)))) as connection:
            channel = connection.channel()
            while True:
                method, _, body = channel.basic_get(self.queue, auto_ack=False)
                if method is None:
                    return bodies
                bodies.add(body.decode())

    def missing(self, lab) -> set[str]:
        """Confirmed messages absent from the queue (empty when nothing is lost)."""
        return set(self.acked) - self.received(lab)


@contextlib.contextmanager
def running(*loads: Load) -> Iterator[None]:
    """Run ``loads`` for the block (each already flowing when it starts); stop them after it."""
    for load in loads:
        load.start()
    try:
        for load in loads:
            load.wait_acks(20)
        yield
    finally:
        for load in loads:
            load.stop()
