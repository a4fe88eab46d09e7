"""Failover as a client sees it: SQL through the srv VIP while the VIP holder goes away.

``SqlProbe`` opens a new connection to ``VIP:3306`` every 0.1 s (each attempt in its own
thread, 1 s connect/read/write timeout), INSERTs a row and commits it (a write acknowledged by
the cluster: a read can succeed while Galera still waits to evict a dead member, a commit
cannot), then reads ``@@hostname``, recording (start, end, ok, backend). It stops by itself
after ``max_seconds``. ``outage_after()`` turns the record into the figure: from the disruption
(``t0``) to the end of the first successful commit that started after the first failure (0 when
none failed).

The probe's account and database are throwaways: created on the first node before the drill
(the account allowed from the srv network, where HAProxy connects from), dropped afterwards.

Example::

    with SqlProbe(vip, user, password) as probe:
        t0 = time.monotonic(); bench.lab_cmd("kill", "1")
        outage = probe.wait_recovered(t0)          # Outage(seconds=4.2, ...)
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass
from typing import Callable

import pymysql

ACCOUNT = "prereqos_bench"
DATABASE = "prereqos_bench"  # one table, ``probe``: a row per successful attempt


@dataclass(frozen=True)
class Attempt:
    start: float
    end: float
    ok: bool
    backend: str | None = None


@dataclass(frozen=True)
class Outage:
    seconds: float | None  # None: not recovered within the wait
    failed: int  # failed attempts in the window
    backend_before: str | None
    backend_after: str | None


class SqlProbe:
    def __init__(self, host: str, user: str, password: str, port: int = 3306, interval: float = 0.1,
                 timeout: float = 1.0, max_seconds: float = 600):
        self.host, self.port, self.user, self.password = host, port, user, password
        self.interval, self.timeout, self.max_seconds = interval, timeout, max_seconds
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None

    def __enter__(self) -> "SqlProbe":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._loop = threading.Thread(target=self._run, daemon=True)
        self._loop.start()

    def stop(self) -> None:
        self._stop.set()
        if self._loop:
            self._loop.join()

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            threading.Thread(target=self._attempt, daemon=True).start()
            self._stop.wait(self.interval)

    def _attempt(self) -> None:
        start = time.monotonic()
        backend, ok = None, False
        try:
            conn = pymysql.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                   connect_timeout=self.timeout, read_timeout=self.timeout,
                                   write_timeout=self.timeout)
            try:
                with conn.cursor() as cursor:
                    cursor.execute(f"INSERT INTO {DATABASE}.probe (at) VALUES (%s)", (time.time(),))
                    conn.commit()
                    cursor.execute("SELECT @@hostname")
                    backend = cursor.fetchone()[0]
                    ok = True
            finally:
                conn.close()
        except Exception:  # any failure of connect/query is an unavailable service
            pass
        with self._lock:
            self.attempts.append(Attempt(start, time.monotonic(), ok, backend))

    def snapshot(self) -> list[Attempt]:
        with self._lock:
            return sorted(self.attempts, key=lambda a: a.start)

    def wait_ok(self, timeout: float = 30) -> bool:
        """True once a query succeeded (the baseline before a drill)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(a.ok for a in self.snapshot()):
                return True
            time.sleep(0.1)
        return False

    def wait_recovered(self, t0: float, timeout: float = 60, settle: float = 3.0,
                       finished: Callable[[], float | None] = lambda: 0.0) -> Outage:
        """Wait for recovery after the disruption that began at ``t0``.

        Recovered = a successful query after the first failure. With no failure at all, the
        drill is over ``settle`` seconds after ``finished()`` (the time the stop completed,
        None while it runs) with only successful queries: the outage is then 0.
        """
        while time.monotonic() < t0 + timeout:
            outage = outage_after(self.snapshot(), t0)
            if outage.failed and outage.seconds is not None:
                return outage
            done = finished()
            if not outage.failed and done is not None and time.monotonic() > max(done, t0) + settle:
                return outage
            time.sleep(0.1)
        return outage_after(self.snapshot(), t0)


def outage_after(attempts: list[Attempt], t0: float) -> Outage:
    """The outage that began at ``t0``, from the probe's attempts."""
    before = [a for a in attempts if a.ok and a.end <= t0]
    after_t0 = [a for a in attempts if a.start >= t0]
    failures = [a for a in after_t0 if not a.ok]
    if not failures:
        return Outage(0.0, 0, before[-1].backend if before else None,
                      next((a.backend for a in after_t0 if a.ok), None))
    first_failure = failures[0].start
    recovered = [a for a in after_t0 if a.ok and a.start >= first_failure]
    if not recovered:
        return Outage(None, len(failures), before[-1].backend if before else None, None)
    first_ok = min(recovered, key=lambda a: a.end)
    return Outage(first_ok.end - t0, sum(1 for a in failures if a.start < first_ok.end),
                  before[-1].backend if before else None, first_ok.backend)


def failures_between(attempts: list[Attempt], start: float, end: float) -> list[tuple[float, float]]:
    """Windows of consecutive failed attempts started in [start, end): [(first start, last end)]."""
    windows: list[tuple[float, float]] = []
    current: tuple[float, float] | None = None
    for attempt in attempts:
        if not start <= attempt.start < end:
            continue
        if not attempt.ok:
            current = (current[0], attempt.end) if current else (attempt.start, attempt.end)
        elif current:
            windows.append(current)
            current = None
    if current:
        windows.append(current)
    return windows


def new_password() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))


def account_sql(password: str, network: str) -> str:
    """SQL creating the probe's database and account (INSERT on its table only), allowed from the
    srv network only (``10.108.2.%``)."""
    return (f"CREATE DATABASE IF NOT EXISTS {DATABASE};\n"
            f"CREATE TABLE IF NOT EXISTS {DATABASE}.probe (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DOUBLE NOT NULL);\n"
            f"CREATE OR REPLACE USER '{ACCOUNT}'@'{network}' IDENTIFIED BY '{password}';\n"
            f"GRANT INSERT ON {DATABASE}.probe TO '{ACCOUNT}'@'{network}';\n")


def drop_sql(network: str) -> str:
    return f"DROP USER IF EXISTS '{ACCOUNT}'@'{network}';\nDROP DATABASE IF EXISTS {DATABASE};\n"
