"""Sample every lab host's process list while something runs: every command line seen, per host.

One long-lived ssh per host runs a small Python loop on the host that reads ``/proc/*/cmdline``
every 0.1 s and prints each command line the first time it is seen; a thread per host collects
them. Used by ``test_04_secrets_ps.py`` and, from the command line, around any command (e.g.
the first converge of a fresh lab)::

    LAB_ID=3 .venv/bin/python -m tests.lab_tests.ps_sampler [--seen FILE] -- ./dev lab-deploy

which runs the command, then reports every secret of ``secrets.json`` (and its MariaDB hash)
seen on a host's command line, and exits 1 if there is one. ``--seen FILE`` keeps every command
line seen (``ctrl-N: line``, secrets replaced by their names) to check what was sampled.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from facts.galera import native_password_hash
from lib.secrets import load as load_secrets
from tests.lab.lab import Lab

INTERVAL = 0.1
# Ends each sweep of /proc in the stream: a line no command line can be (NULs became spaces).
SWEEP = "\0\n"
# Runs on the host (its own command line holds no secret). A process found between two reads
# of /proc is printed once per distinct command line: the stream stays small.
LOOP = f"""
import os, sys, time
seen = set()
while True:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/" + pid + "/cmdline", "rb") as f:
                    line = f.read()
            except OSError:
                continue
            if line and line not in seen:
                seen.add(line)
                sys.stdout.write(line.replace(b"\\0", b" ").decode("utf-8", "replace").strip() + "\\n")
    sys.stdout.write({SWEEP!r})
    sys.stdout.flush()
    time.sleep({INTERVAL})
"""


@dataclass
class Sampler:
    """Command lines seen on each host of ``lab`` between ``start()`` and ``stop()``."""

    lab: Lab
    seen: dict[int, set[str]] = field(default_factory=dict)
    sweeps: dict[int, int] = field(default_factory=dict)
    _procs: list[subprocess.Popen] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> "Sampler":
        for n in range(1, self.lab.hosts + 1):
            self.seen[n], self.sweeps[n] = set(), 0
            proc = subprocess.Popen(self.lab.ssh_command(n) + ["python3 -u -c " + shlex.quote(LOOP)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL, text=True)
            thread = threading.Thread(target=self._collect, args=(proc, n), daemon=True)
            thread.start()
            self._procs.append(proc)
            self._threads.append(thread)
        # The first sweep of each host is in before the caller starts its work.
        deadline = time.monotonic() + 30
        while not all(self.sweeps.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(self.sweeps.values()), "a sampler did not start on every host"
        return self

    def _collect(self, proc: subprocess.Popen, n: int) -> None:
        for line in proc.stdout:
            if line == SWEEP:
                self.sweeps[n] += 1
            else:
                self.seen[n].add(line.rstrip("\n"))

    def stop(self) -> dict[int, set[str]]:
        time.sleep(2 * INTERVAL)
        for proc in self._procs:
            proc.terminate()
        for proc, thread in zip(self._procs, self._threads):
            proc.wait(timeout=10)
            thread.join(timeout=10)
        return self.seen

    def __enter__(self) -> "Sampler":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def secret_values(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Every value that must never be on a command line: the secrets, the MariaDB hashes of the
    passwords (with and without the leading ``*``), and ``extra`` ({name: value})."""
    values: dict[str, str] = {}
    for name, secret in load_secrets().items():
        values[name] = secret.unmask()
        if name.endswith("_password"):
            digest = native_password_hash(secret)
            values[f"{name} (mysql hash)"] = digest
            values[f"{name} (mysql hash, no *)"] = digest[1:]
    values.update(extra or {})
    return values


def redacted(line: str, values: dict[str, str]) -> str:
    """``line`` with every secret value replaced by ``<NAME>``: ``redacted("x pw", {"p": "pw"}) == "x <p>"``."""
    for name, value in values.items():
        if value:
            line = line.replace(value, f"<{name}>")
    return line


def leaks(seen: dict[int, set[str]], values: dict[str, str]) -> list[str]:
    """``ctrl-N: NAME in <command line>`` for every secret value found in a sampled command line
    (no value itself is repeated)."""
    found = []
    for n, lines in sorted(seen.items()):
        for line in sorted(lines):
            for name, value in values.items():
                if value and value in line:
                    found.append(f"ctrl-{n}: {name} in {redacted(line, values)[:300]}")
    return found


def main(argv: list[str]) -> int:
    options, command = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else ([], argv)
    lab = Lab.from_env()
    started = time.monotonic()
    with Sampler(lab) as sampler:
        rc = subprocess.call(command)
    seen = sampler.seen
    values = secret_values()
    found = leaks(seen, values)
    if options[:1] == ["--seen"]:
        with open(options[1], "w") as out:
            out.writelines(f"ctrl-{n}: {redacted(line, values)}\n" for n, lines in sorted(seen.items())
                           for line in sorted(lines))
    print(f"[ps_sampler] {' '.join(command)}: rc={rc}, {time.monotonic() - started:.0f}s, "
          f"{sum(map(len, seen.values()))} distinct command lines on {len(seen)} hosts "
          f"({min(sampler.sweeps.values())}-{max(sampler.sweeps.values())} sweeps of /proc each), "
          f"{len(found)} with a secret", file=sys.stderr)
    for line in found:
        print(f"[ps_sampler] LEAK {line}", file=sys.stderr)
    return 1 if found or rc else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
