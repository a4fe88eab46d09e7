"""facts/galera.py: which mysql failures mean "no server" (the fact's default) and which fail the fact.

The real command runs here against a stand-in ``mysql`` printing what MariaDB's client printed
on the lab (stopped server: ERROR 2002; ``nobody``: ERROR 1698; MariaDB 11's name warning).
"""

from __future__ import annotations

import subprocess

import pytest

from facts.galera import GraState, MariadbDatabases

NO_SOCKET = "ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)"
DENIED = "ERROR 1698 (28000): Access denied for user 'nobody'@'localhost'"
RENAMED = "mysql: Deprecated program name. It will be removed in a future release, use '/usr/bin/mariadb' instead"


def run_fact_command(tmp_path, stdout: str, stderr: str, exit_code: int) -> subprocess.CompletedProcess:
    (tmp_path / "out").write_text(stdout)
    (tmp_path / "err").write_text(stderr)
    fake = tmp_path / "mysql"
    fake.write_text(f"#!/bin/sh\ncat {tmp_path}/out; cat {tmp_path}/err >&2; exit {exit_code}\n")
    fake.chmod(0o755)
    command = MariadbDatabases().command().get_raw_value()
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"})


def test_rows_pass_and_the_name_warning_is_dropped(tmp_path):
    proc = run_fact_command(tmp_path, "mysql\nsys\n", RENAMED + "\n", 0)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "mysql\nsys\n", "")


@pytest.mark.parametrize("error", [NO_SOCKET, "ERROR 2013 (HY000): Lost connection to server during query"])
def test_no_server_is_the_default(tmp_path, error):
    proc = run_fact_command(tmp_path, "", error + "\n", 1)
    assert (proc.returncode, proc.stdout) == (0, "")


def test_any_other_error_fails_the_fact_with_its_message(tmp_path):
    proc = run_fact_command(tmp_path, "", DENIED + "\n", 1)
    assert proc.returncode == 1 and DENIED in proc.stderr


def test_grastate_absent_is_an_answer_unreadable_is_an_error(tmp_path):
    command = GraState().command(path=str(tmp_path / "grastate.dat")).get_raw_value()
    assert subprocess.run(["sh", "-c", command], capture_output=True).returncode == 0
    (tmp_path / "grastate.dat").mkdir()  # cat of a directory fails, as an unreadable file does
    assert subprocess.run(["sh", "-c", command], capture_output=True).returncode != 0
