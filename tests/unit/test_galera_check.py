"""The Galera health check's responder (templates/galera/galera-checkd.py), run for real on the
loopback: its HTTP answers as HAProxy's ``option httpchk`` asks, its cache (one MariaDB read per
``max_age`` however many probes), and the credentials file as PyMySQL reads it."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time

import pymysql
import pytest

from lib.sizing import Resources
from lib.topology import Topology
from operations import galera
from tests.unit.conftest import NAMES, ROOT
from tests.unit.fakes import renderer

spec = importlib.util.spec_from_file_location("galera_checkd", ROOT / "templates/galera/galera-checkd.py")
checkd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(checkd)


def probe(port: int, request: bytes = b"GET / HTTP/1.0\r\n\r\n") -> str:
    """What HAProxy's ``http-check send meth GET uri /`` gets back (it sends HTTP/1.0)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(4096):
            received += chunk
    return received.decode()


@pytest.fixture
def responder():
    """A responder on a free loopback port answering from ``states`` (a list: its first item is
    the next read's answer, an exception instance is raised); ``reads`` counts MariaDB reads."""
    states: list = []
    reads: list[float] = []

    def read():
        reads.append(time.monotonic())
        state = states[0]
        if isinstance(state, Exception):
            raise state
        return state

    server = checkd.serve("127.0.0.1", 0, "ctrl-2", checkd.CachedState(read, max_age=0))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1], states, reads
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("state, status, body", [
    ("Synced", "HTTP/1.1 200 OK", "Galera node ctrl-2 is Synced."),
    ("Donor/Desynced", "HTTP/1.1 503 Service Unavailable", "Galera node ctrl-2 is not Synced (Donor/Desynced)."),
    ("Joined", "HTTP/1.1 503 Service Unavailable", "Galera node ctrl-2 is not Synced (Joined)."),
    (None, "HTTP/1.1 503 Service Unavailable", "Galera node ctrl-2 is not Synced (not running)."),  # no wsrep
    (pymysql.err.OperationalError(2002, "Can't connect to local server through socket"),
     "HTTP/1.1 503 Service Unavailable", "Galera node ctrl-2 is not Synced (not running)."),
])
def test_200_only_when_synced(responder, state, status, body):
    port, states, _ = responder
    states.append(state)
    head, _, payload = probe(port).partition("\r\n\r\n")
    lines = head.split("\r\n")
    assert lines[0] == status and payload == body + "\r\n"
    assert f"Content-Length: {len(payload)}" in lines and "Connection: close" in lines


def test_head_any_path_and_http_1_1(responder):
    port, states, _ = responder
    states.append("Synced")
    assert probe(port, b"HEAD / HTTP/1.0\r\n\r\n").endswith("\r\n\r\n")  # headers only
    answer = probe(port, b"GET /anything HTTP/1.1\r\nHost: ctrl-2:9200\r\n\r\n")
    assert answer.startswith("HTTP/1.1 200 OK") and answer.endswith("is Synced.\r\n")  # and it closed


def test_the_answer_flips_with_the_state(responder):
    port, states, reads = responder
    for state, status in (("Synced", "200"), ("Donor/Desynced", "503"), ("Synced", "200")):
        states[:] = [state]
        assert probe(port).split(" ")[1] == status
    assert len(reads) == 3  # max_age=0: one read per probe


def test_one_read_per_max_age_whatever_the_probes():
    now = [100.0]
    reads = []
    state = checkd.CachedState(lambda: reads.append(now[0]) or "Synced", max_age=1.0, clock=lambda: now[0])
    for step in range(30):  # 3 HAProxys probing every second, 0.1 s apart
        now[0] = 100.0 + step * 0.1
        assert state.get() == "Synced"
    assert reads == pytest.approx([100.0, 101.0, 102.0])


def test_concurrent_probes_share_the_read_in_progress():
    release, reads = threading.Event(), []

    def slow_read():
        reads.append(1)
        release.wait(5)
        return "Synced"

    state = checkd.CachedState(slow_read, max_age=1.0)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(state.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    release.set()
    for thread in threads:
        thread.join(5)
    assert answers == ["Synced"] * 8 and reads == [1]


def test_the_credentials_file_as_pymysql_reads_it(tmp_path, default_data):
    """The responder connects with ``read_default_file`` only: user, password and socket come
    from the rendered file (no connection here: ``defer_connect``)."""
    args = galera.template_args(Topology.from_data("ctrl-2", default_data, NAMES), default_data,
                                Resources(mem_mb=24105, cpus=2, nofile_hard=20000))
    credentials = tmp_path / "galera-check.cnf"
    credentials.write_text(renderer("templates/galera")("galera-check.cnf.j2", **args))
    connection = pymysql.connect(read_default_file=str(credentials), defer_connect=True)
    password = default_data.secrets["galera_monitor_password"].unmask()
    assert (connection.user, connection.password, connection.unix_socket) == (
        "clustercheck", password.encode(), "/run/mysqld/mysqld.sock")
