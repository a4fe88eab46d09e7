#!/usr/bin/python3
# Managed by prereqos (pyinfra): do not edit.
"""HTTP health check of this Galera node, for HAProxy: "200 OK" only when the node is Synced
(wsrep_local_state_comment "Synced", i.e. wsrep_local_state 4), "503 Service Unavailable"
otherwise (another state, or MariaDB not answering). GET or HEAD, any path.

One persistent process (galera-check.service) instead of one process per probe: every HAProxy
probes every node each second, and the answer is read from MariaDB at most once per
``--max-age`` seconds (the probes in between get the cached answer), over the local unix
socket with the account of ``--credentials`` (a client option file: user, password, socket).

    galera-checkd --address 10.0.2.11 --port 9200 --node ctrl-1 --credentials /etc/mysql/galera-check.cnf

Python 3 standard library and PyMySQL (Debian's python3-pymysql) only.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SYNCED = "Synced"
QUERY = "SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'"
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)  # bind the srv address even before it is configured


def read_state(credentials: str, timeout: float) -> str | None:
    """The node's ``wsrep_local_state_comment`` (``None``: not a Galera node), through a new
    connection, so that a dropped account or a restarted server shows at the next read, as
    with the ``mysql`` client of earlier versions. Raises when MariaDB does not answer."""
    import pymysql  # here: the unit tests run the server without a MariaDB

    connection = pymysql.connect(read_default_file=credentials, connect_timeout=timeout,
                                 read_timeout=timeout, write_timeout=timeout)
    try:
        with connection.cursor() as cursor:
            cursor.execute(QUERY)
            row = cursor.fetchone()
    finally:
        connection.close()
    return row[1] if row else None


class CachedState:
    """``read()``'s answer, read again only when older than ``max_age`` seconds. Concurrent
    callers wait for the one read in progress and share its answer: N HAProxys probing cost
    one query per ``max_age``.

    >>> state = CachedState(lambda: "Synced", max_age=1.0)
    >>> state.get()
    'Synced'
    """

    def __init__(self, read: Callable[[], str | None], max_age: float, clock: Callable[[], float] = time.monotonic):
        self._read, self._max_age, self._clock = read, max_age, clock
        self._lock = threading.Lock()
        self._answer: tuple[str | None, str | None] = (None, None)  # (state, why there is none)
        self._read_at: float | None = None

    def get(self) -> str | None:
        with self._lock:
            if self._read_at is None or self._clock() - self._read_at >= self._max_age:
                try:
                    answer = self._read(), None
                except Exception as error:  # whatever the failure, the answer is "not Synced"
                    answer = None, f"MariaDB did not answer: {error}"
                if answer != self._answer:  # logged when it changes, not at every read
                    state, reason = answer
                    print(f"wsrep_local_state_comment: {state or 'not running'}{f' ({reason})' if reason else ''}",
                          file=sys.stderr, flush=True)
                self._answer, self._read_at = answer, self._clock()
            return self._answer[0]


def answer(node: str, state: str | None) -> tuple[int, str]:
    """The HTTP status and body for ``state`` (the same words as the socket-activated script
    of earlier versions)."""
    if state == SYNCED:
        return 200, f"Galera node {node} is Synced.\r\n"
    return 503, f"Galera node {node} is not Synced ({state or 'not running'}).\r\n"


def handler(node: str, state: CachedState) -> type[BaseHTTPRequestHandler]:
    class Check(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 5  # a client that sends nothing does not hold a thread

        def do_GET(self) -> None:
            status, body = answer(node, state.get())
            payload = b"" if self.command == "HEAD" else body.encode()
            head = (f"{self.protocol_version} {status} {self.responses[status][0]}\r\n"
                    f"Content-Type: text/plain\r\nContent-Length: {len(body.encode())}\r\n"
                    "Connection: close\r\n\r\n")
            # One write: HAProxy resets the connection as soon as it has read the status line.
            self.wfile.write(head.encode() + payload)
            self.close_connection = True

        do_HEAD = do_GET

        def log_message(self, format: str, *args) -> None:
            pass  # one line per probe would flood the journal; state changes are logged instead

    return Check


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        super().server_bind()

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client gone: nothing to say
            super().handle_error(request, client_address)


def serve(address: str, port: int, node: str, state: CachedState) -> Server:
    """The server bound to ``address:port`` (not yet serving: call ``serve_forever()``)."""
    return Server((address, port), handler(node, state))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--node", required=True, help="this node's name, in the answers")
    parser.add_argument("--credentials", required=True, help="client option file ([client] user, password, socket)")
    parser.add_argument("--max-age", type=float, default=1.0, help="seconds an answer is reused")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds for MariaDB to connect and answer")
    options = parser.parse_args(argv)
    state = CachedState(lambda: read_state(options.credentials, options.timeout), options.max_age)
    server = serve(options.address, options.port, options.node, state)
    print(f"answering on {options.address}:{options.port}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
