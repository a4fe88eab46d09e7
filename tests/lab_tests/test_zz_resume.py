"""A package step that hangs on one host: that host fails at its limit with one line (host, step,
time, limit), the others finish; the next run converges it, HEALTHY everywhere, nothing lost.
An ``apt-get update`` stalled on a proxy is killed on the host at its limit and retried in the
same run (CI once lost a whole run to one that hung 40 minutes behind the lab's apt proxy).

The hang is real apt: on ctrl-2 the dpkg lock is held and apt is told to wait for it
(``DPkg::Lock::Timeout``), and one package of the stack (Galera's rsync) is missing, so the
stack's one apt transaction (``deploys/prereqos.py``, ``operations/stack.py``) runs ``apt-get
install`` there and waits. ``timeouts['apt']`` is lowered to 15 s for the run.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import pytest
from pyinfra.operations.apt import APT_UPDATE_FILENAME

from tests.lab_tests.conftest import group_data, ok
from tests.lab_tests.drill_load import health

pytestmark = pytest.mark.lab

DEFAULTS = group_data()
APT_LIMIT = 15
# The stack's step, as the failure line shows it (a long name is shortened in its middle).
STEP = re.compile(r"\"The stack's Debian packages, one apt transaction .*?\"")
WAIT_FOR_LOCK = "/etc/apt/apt.conf.d/99test-wait-for-lock"
# Holds dpkg's frontend lock as apt takes it (fcntl, not flock) until killed.
HOLD_LOCK = ("setsid python3 -c 'import fcntl, time; f = open(\"/var/lib/dpkg/lock-frontend\", \"w\"); "
             "fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(600)' >/dev/null 2>&1 & echo $!")
MARKER_DB = "prereqos_resume_test"


def test_hung_package_step_fails_that_host_only_and_the_next_run_converges_it(lab):
    ok(lab.ssh(1, f'mysql -e "CREATE DATABASE IF NOT EXISTS {MARKER_DB}; CREATE TABLE IF NOT EXISTS '
                  f'{MARKER_DB}.t (id INT PRIMARY KEY); REPLACE INTO {MARKER_DB}.t VALUES (42)"'))
    ok(lab.ssh(2, f"dpkg -r --force-depends rsync >/dev/null && echo 'DPkg::Lock::Timeout \"600\";' > {WAIT_FOR_LOCK}"))
    holder = ok(lab.ssh(2, HOLD_LOCK)).strip()
    try:
        started = time.monotonic()
        proc = lab.pyinfra("deploys/prereqos.py", "--data",
                           f"timeouts={json.dumps({**DEFAULTS['timeouts'], 'apt': APT_LIMIT})}")
        failed_run = time.monotonic() - started
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0, output[-3000:]
        # The time counts from the operation's start on the host (its commands' set-up included).
        line = re.search(rf"ctrl-2: step {STEP.pattern} failed after (\d+) s \(limit {APT_LIMIT} s: "
                         rf"timeouts\['apt'\] in group_data, timed out\); the next run resumes this host", output)
        assert line and APT_LIMIT <= int(line[1]) < APT_LIMIT + 60, [x for x in output.splitlines() if ": step " in x]
        assert "ctrl-1: step" not in output and "ctrl-3: step" not in output
    finally:
        lab.ssh(2, f"kill {holder}; rm -f {WAIT_FOR_LOCK}")
    # The apt-get that pyinfra gave up on still waits on the host: it takes the lock now. Let it end.
    deadline = time.monotonic() + 120
    while lab.ssh(2, "pgrep -x apt-get").returncode == 0 and time.monotonic() < deadline:
        time.sleep(1)

    started = time.monotonic()
    proc = lab.pyinfra("deploys/prereqos.py")
    rerun = time.monotonic() - started
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert ok(lab.ssh(2, "dpkg-query -W -f '${Status}' rsync")) == "install ok installed"
    report = health(lab)
    assert report.returncode == 0, report.stdout[-3000:]
    assert ok(lab.ssh(2, f'mysql -N -e "SELECT id FROM {MARKER_DB}.t"')).strip() == "42"
    ok(lab.ssh(1, f'mysql -e "DROP DATABASE {MARKER_DB}"'))
    print(f"failed run {failed_run:.0f} s, converging re-run {rerun:.0f} s")


STALLED_PROXY = "/etc/apt/apt.conf.d/99test-stalled-proxy"
APT_UPDATE_LIMIT = 20
STAMP = APT_UPDATE_FILENAME  # pyinfra's apt.update stamp (cache_time)


class StalledProxy:
    """A proxy that accepts connections and never answers (lab infrastructure, on the lab's srv
    gateway): a site proxy or mirror that hangs. ``dropped`` is set when a client gives up."""

    def __init__(self, address: str) -> None:
        self.server = socket.create_server((address, 0))
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self.dropped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            while conn.recv(4096):
                pass
        self.dropped.set()

    def close(self) -> None:
        self.server.close()


def test_stalled_apt_update_is_killed_on_the_host_and_retried_in_the_same_run(lab):
    proxy = StalledProxy(lab.lab.gateway("srv"))
    ok(lab.ssh(2, f"rm -f {STAMP}; echo 'Acquire::http::Proxy \"http://{lab.lab.gateway('srv')}:{proxy.port}\";' "
                  f"> {STALLED_PROXY}"))

    def proxy_back_once_apt_gave_up() -> None:
        # the first apt-get update was killed: the next attempt finds the site's proxy again
        if proxy.dropped.wait(APT_UPDATE_LIMIT + 60):
            lab.ssh(2, f"rm -f {STALLED_PROXY}")

    watcher = threading.Thread(target=proxy_back_once_apt_gave_up, daemon=True)
    watcher.start()
    try:
        started = time.monotonic()
        proc = lab.pyinfra("deploys/base.py", "--data",
                           f"timeouts={json.dumps({**DEFAULTS['timeouts'], 'apt_update': APT_UPDATE_LIMIT})}")
        elapsed = time.monotonic() - started
    finally:
        watcher.join(timeout=APT_UPDATE_LIMIT + 70)
        lab.ssh(2, f"rm -f {STALLED_PROXY}")
        proxy.close()
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert proxy.accepted >= 1 and proxy.dropped.is_set()
    assert re.search(r"\[ctrl-2\] Retrying deploys/base.py \| Update apt lists \(at most daily\) \(attempt 1/2\)",
                     output), output[-3000:]
    assert re.search(r"\[ctrl-2\] Success on retry 1", output), output[-3000:]
    assert "[ctrl-1] Retrying" not in output and "[ctrl-3] Retrying" not in output
    # killed on the host, not only abandoned by pyinfra: no apt-get left, the lists' lock free
    assert lab.ssh(2, "pgrep -x apt-get").returncode == 1
    ok(lab.ssh(2, f"test -f {STAMP} && apt-get check -qq"))
    print(f"stalled apt update: killed at {APT_UPDATE_LIMIT} s, retried, run {elapsed:.0f} s")
