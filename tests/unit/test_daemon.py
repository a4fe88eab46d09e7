"""facts/daemon.py: a failed read is "stopped" only when the daemon's process is absent; run in a
local shell with a real process standing for the daemon."""

from __future__ import annotations

import subprocess

import pytest

from facts.daemon import or_not_running


def shell(command: str) -> int:
    return subprocess.run(["sh", "-c", command], capture_output=True, timeout=30).returncode


def test_failed_read_is_stopped_only_without_the_daemon():
    assert shell(f"false {or_not_running('nodaemon-xyz')}") == 0  # stopped: the fact's default()
    assert shell(f"true {or_not_running('nodaemon-xyz')}") == 0


@pytest.fixture
def running_sleep():
    process = subprocess.Popen(["sleep", "30"])
    yield "sleep"
    process.kill()
    process.wait()


def test_failed_read_with_the_daemon_running_fails(running_sleep):
    assert shell(f"false {or_not_running(running_sleep)}") == 1  # access denied, timeout...: an error
    assert shell(f"true {or_not_running(running_sleep)}") == 0
