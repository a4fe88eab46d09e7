"""facts/systemd.py: the real shell commands, run here against a stand-in systemctl."""

from __future__ import annotations

import os
import subprocess

import pytest
from pyinfra.api import FactProcessError

from facts.systemd import ServiceConfigState

STARTED = 1_700_000_000


def config_state(tmp_path, active: bool, mtimes: dict[str, int | None]) -> str:
    """ServiceConfigState's command, with systemctl saying the unit started at STARTED."""
    fake = tmp_path / "bin" / "systemctl"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text("#!/bin/sh\n"
                    f'[ "$1" = is-active ] && exit {0 if active else 3}\n'
                    f'[ "$1" = show ] && echo @{STARTED}\n')
    fake.chmod(0o755)
    paths = []
    for name, mtime in mtimes.items():
        path = tmp_path / name
        if mtime is not None:
            path.write_text("setting\n")
            os.utime(path, (mtime, mtime))
        paths.append(str(path))
    command = ServiceConfigState().command(service="rabbitmq-server", paths=paths).get_raw_value()
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                          env={"PATH": f"{fake.parent}:/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    return ServiceConfigState().process(proc.stdout.splitlines())


def test_a_file_newer_than_the_running_process_is_stale(tmp_path):
    assert config_state(tmp_path, True, {"a.conf": STARTED - 60, "b.conf": STARTED + 5}) == "stale"


def test_files_older_than_the_process_or_missing_are_current(tmp_path):
    assert config_state(tmp_path, True, {"a.conf": STARTED - 60, "b.conf": STARTED, "gone.conf": None}) == "current"


def test_a_stopped_unit_is_stopped(tmp_path):
    assert config_state(tmp_path, False, {"a.conf": STARTED + 5}) == "stopped"


def test_unexpected_output_fails_the_fact():
    with pytest.raises(FactProcessError):
        ServiceConfigState().process(["Failed to connect to bus"])
