"""The cluster lock's shell (lib/lock.py), run for real with local files: the first shell holds
the lock until its stdin ends, a second one is refused with the holder's line, and the lock is
free again once the first one's stdin closed (what a closed SSH connection does)."""

from __future__ import annotations

import subprocess

from lib.lock import BUSY, lock_script


def start(tmp_path, holder: str) -> subprocess.Popen:
    script = lock_script(holder, lock=str(tmp_path / "lock"), holder_file=str(tmp_path / "holder"))
    return subprocess.Popen(["sh", "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_second_run_is_refused_naming_the_holder_until_the_first_one_ends(tmp_path):
    first = start(tmp_path, "alice@laptop pid 1")
    assert first.stdout.readline().strip() == "locked"

    second = start(tmp_path, "bob@desk pid 2")
    out, err = second.communicate(timeout=10)
    assert second.returncode == BUSY and out == ""
    assert err.startswith("alice@laptop pid 1 (from ") and " since 20" in err and "lock shell pid" in err

    first.stdin.close()  # the connection closes: cat sees end of file, the lock goes with it
    assert first.wait(timeout=10) == 0
    third = start(tmp_path, "carol@box pid 3")
    assert third.stdout.readline().strip() == "locked"
    third.kill()
    third.wait(timeout=10)
    assert (tmp_path / "holder").read_text().startswith("carol@box pid 3 ")
