"""One deploy at a time per cluster: a lock on the first reachable controller, held for the
whole run by an SSH channel of the run's own connection.

The channel runs a shell that takes ``flock`` on ``/run/prereqos.lock``, writes who holds it
to ``/run/prereqos.holder``, then reads its standard input until end of file. When the pyinfra
process ends for any reason (normal exit, error, Ctrl-C, ``kill -9``) its connection closes,
the shell sees end of file and exits, and the kernel releases the lock: no stale lock to clean
up, except when the machine running pyinfra vanishes without closing TCP (then ``kill`` the PID
the refusal names, on that controller). ``/run`` is a tmpfs: a reboot releases it too.

A second run is refused before any operation, with the holder's line, e.g.::

    Another deploy holds the cluster lock on ctrl-1: alice@laptop pid 4242 (from 10.0.2.1)
    since 2026-12-01T13:40:02Z, running deploys/prereqos.py [lock shell pid 9876 on ctrl-1]

Example (what ``lib.deploy.prologue()`` does on every host; the first caller takes the lock)::

    from lib.lock import hold_cluster_lock
    hold_cluster_lock(controllers(host.inventory))   # raises DeployError when another run holds it
"""

from __future__ import annotations

import atexit
import getpass
import os
import shlex
import socket
import sys
from typing import Any

from gevent.lock import BoundedSemaphore
from pyinfra import logger
from pyinfra.api.exceptions import ConnectError, DeployError

from lib.run import run_memory

LOCK = "/run/prereqos.lock"
HOLDER = "/run/prereqos.holder"
BUSY = 75  # EX_TEMPFAIL: somebody else holds the lock
TIMEOUT = 30  # seconds to wait for the lock shell's answer

# The run memory's "cluster lock": (controller name, open channel), None (no SSH), or the
# DeployError the first caller got.
_taking = BoundedSemaphore()


def lock_script(holder: str, lock: str = LOCK, holder_file: str = HOLDER) -> str:
    """The remote shell: lock or report the holder (exit ``BUSY``), then hold until stdin ends."""
    return (
        f"exec 9>>{lock}; "
        f"if ! flock -n 9; then cat {holder_file} >&2 2>/dev/null; exit {BUSY}; fi; "
        f"printf '%s (from %s) since %s, running %s [lock shell pid %s on %s]\\n' {shlex.quote(holder)} "
        f"\"${{SSH_CLIENT%% *}}\" \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" "
        f"{shlex.quote(' '.join(deploy_files()) or 'pyinfra')} "
        f"\"$$\" \"$(hostname)\" > {holder_file}; "
        f"echo locked; exec cat >/dev/null"
    )


def deploy_files() -> list[str]:
    """The deploy files of this run's command line (never its other arguments: ``--data`` may
    carry anything, and the holder line is readable on the controller)."""
    return [arg for arg in sys.argv[2:] if arg.endswith(".py") and not arg.startswith("-")]


def this_run() -> str:
    """Who runs this deploy: ``user@machine pid N``."""
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"


def hold_cluster_lock(hosts: list) -> None:
    """Take the cluster lock once per run on the first of ``hosts`` that is reachable (inventory
    order: ``firstnode`` first when it is up); every later call returns at once, or raises the
    refusal the first call got. Hosts without an SSH connection (no paramiko client) skip it."""
    memory = run_memory()
    with _taking:
        if "cluster lock" not in memory:
            try:
                memory["cluster lock"] = _take(hosts)
                atexit.register(_release, memory)
            except DeployError as error:
                memory["cluster lock"] = error
    if isinstance(memory["cluster lock"], DeployError):
        raise memory["cluster lock"]


def _release(memory: dict[str, Any]) -> None:
    """At exit, while gevent still runs: close the lock channel and drop it. Left to the
    interpreter's last garbage collection, paramiko's close prints "greenlet is being finalized"."""
    held = memory.pop("cluster lock", None)
    if isinstance(held, tuple):
        held[1].close()


def _take(hosts: list) -> tuple[str, Any] | None:
    for candidate in hosts:
        if candidate in candidate.state.failed_hosts:
            continue  # pyinfra could not connect to it at the start of this run: no second wait
        try:
            candidate.connect(raise_exceptions=True, show_errors=False)
        except ConnectError:
            continue
        client = getattr(candidate.connector, "client", None)
        if client is None:
            logger.warning(f"cluster lock: {candidate.name} is not reached over SSH, no lock taken")
            return None
        stdin, stdout, stderr = client.exec_command("sh -c " + shlex.quote(lock_script(this_run())),
                                                    timeout=TIMEOUT)
        answer = stdout.readline().strip()
        if answer == "locked":
            # stdin stays open: the channel lives as long as this process and its connection.
            return candidate.name, stdin
        status = stdout.channel.recv_exit_status()
        message = stderr.read().decode(errors="replace").strip()
        if status == BUSY:
            raise DeployError(
                f"Another deploy holds the cluster lock on {candidate.name}: {message or 'holder unknown'}. "
                f"Nothing was changed; run again when it has finished (if that run is gone but its "
                f"connection was not closed, kill the lock shell's pid on {candidate.name})."
            )
        raise DeployError(f"cluster lock on {candidate.name}: the lock shell exited {status}: {message}")
    raise DeployError(f"cluster lock: no controller could be reached ({', '.join(h.name for h in hosts)})")
