"""The benchmark's handle on its lab: fresh hosts, ssh, health, and timed pyinfra runs.

A ``PyinfraRun`` keeps every stderr line with the time it arrived, so one converge gives its
wall time, the remote commands pyinfra sent (``-vv`` prints each as ``[host] >>> ...``) and a
timeline of operations (each ``--> Starting operation:`` line ends the previous operation).

Example::

    bench = BenchLab.from_env()
    bench.fresh()                                   # destroy + up: fresh hosts
    run = bench.pyinfra("deploys/prereqos.py", "-y", "-vv", "--json")
    run.wall, run.commands, run.changed_ops(), by_component(run.timeline())
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lib.cluster import VIP_GROUP, VIP_RESOURCE
from tests.lab.lab import VIP_SUFFIX, Lab

ROOT = Path(__file__).resolve().parents[2]
PYINFRA = str(Path(sys.executable).with_name("pyinfra"))
INVENTORY = "tests/lab/inventory.py"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_OP_START = re.compile(r"--> Starting (?:[\w ,]+ )?operation: (.*?)\s*$")
_COMMAND = re.compile(r"^\[([\w.-]+)\] >>> ")
_RUN_BEGINS = "--> Beginning operation run"
_RESULTS = "--> Results:"


def loadavg() -> str:
    """The machine's 1, 5 and 15 minute load averages, as ``/proc/loadavg`` shows them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


PREPARE = "(prepare: connect, deploy files, facts)"


@dataclass
class Step:
    """One stage of a pyinfra run: ``PREPARE`` or an operation (on every host)."""

    name: str
    start: float
    end: float
    commands: int = 0

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class PyinfraRun:
    """One pyinfra invocation: exit code, wall time, timestamped stderr, stdout."""

    args: tuple[str, ...]
    rc: int
    wall: float
    lines: list[tuple[float, str]]  # (seconds since start, stderr line without colours)
    stdout: str
    load: str = ""

    @property
    def commands(self) -> int:
        """Remote commands sent (``-vv``): fact and operation commands on every host."""
        return sum(1 for _, line in self.lines if _COMMAND.match(line))

    def commands_by_host(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for _, line in self.lines:
            match = _COMMAND.match(line)
            if match:
                counts[match.group(1)] += 1
        return dict(counts)

    def results(self) -> dict:
        """The ``--json`` document (``{"plan": ..., "results": ...}``), ``{}`` without one."""
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError:
            return {}

    def changed_ops(self) -> dict[str, list[str]]:
        """{operation name: hosts} of a real run that changed something (``--json``)."""
        results = (self.results().get("results") or {}).get("operations", [])
        return {op["name"]: op["success"] for op in results if op.get("success")}

    def planned_changes(self) -> dict[str, list[str]]:
        """{operation name: hosts} that ``--dry --json`` predicts would change (conditional too)."""
        return {
            op["name"]: op["hosts_with_change"] + op["hosts_with_conditional_change"]
            for op in self.results().get("plan") or []
            if op["hosts_with_change"] or op["hosts_with_conditional_change"]
        }

    def time_of(self, marker: str) -> float | None:
        return next((t for t, line in self.lines if line.startswith(marker)), None)

    def timeline(self) -> list[Step]:
        """The prepare stage (connect, deploy files, facts), then each operation until the next
        one starts (pyinfra waits for every host between operations), with the remote
        commands sent meanwhile."""
        begins = self.time_of(_RUN_BEGINS)
        ends = self.time_of(_RESULTS) or self.wall
        marks: list[tuple[str, float]] = [(PREPARE, 0.0)]
        if begins is not None:
            marks.append(("", begins))  # between prepare and the first operation: not a step
        for t, line in self.lines:
            match = _OP_START.search(line)
            if match:
                marks.append((match.group(1), t))
        steps = [Step(name, start, marks[i + 1][1] if i + 1 < len(marks) else ends)
                 for i, (name, start) in enumerate(marks)]
        index = 0
        for t, line in self.lines:
            while index + 1 < len(steps) and t >= steps[index + 1].start:
                index += 1
            if _COMMAND.match(line):
                steps[index].commands += 1
        return [step for step in steps if step.name]

    def tail(self, count: int = 40) -> str:
        return "\n".join(line for _, line in self.lines[-count:])


def component_of(op_name: str, default: str = "?") -> str:
    """The deploy file an operation comes from: ``deploys/galera.py | X`` -> ``galera``; the
    common base (``deploys/base.py``, included by the first component) -> ``base``."""
    parts = [part.strip() for part in op_name.split(" | ")]
    files = [part for part in parts if part.startswith("deploys/") and part.endswith(".py")]
    if "deploys/base.py" in files:
        return "base"
    if files:
        return Path(files[0]).stem
    if op_name.startswith("("):
        return "prepare"
    return default


def by_component(timeline: list[Step], default: str = "?") -> dict[str, dict[str, float]]:
    """{component: {"seconds", "commands"}}, in order of first appearance."""
    totals: dict[str, dict[str, float]] = {}
    for step in timeline:
        entry = totals.setdefault(component_of(step.name, default), {"seconds": 0.0, "commands": 0})
        entry["seconds"] += step.seconds
        entry["commands"] += step.commands
    return totals


def slowest_ops(timeline: list[Step], count: int = 8) -> list[tuple[str, float, int]]:
    """[(operation, seconds, remote commands)] of the ``count`` slowest steps."""
    return [(s.name, s.seconds, s.commands) for s in sorted(timeline, key=lambda s: -s.seconds)[:count]]


@dataclass
class BenchLab:
    """The lab instance this benchmark owns (``LAB_ID``, default 8)."""

    lab: Lab
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> "BenchLab":
        os.environ.setdefault("LAB_ID", "8")
        return cls(Lab.from_env())

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "LAB_ID": str(self.lab.lab_id), "LAB_HOSTS": str(self.lab.hosts),
                "LAB_SUITE": self.lab.suite, "PYTHONUNBUFFERED": "1", **self.extra_env, **extra}

    def vip(self, net: str) -> str:
        return f"{self.lab.prefix(net)}.{VIP_SUFFIX}"

    @property
    def hosts(self) -> list[int]:
        return list(range(1, self.lab.hosts + 1))

    # --- lab --------------------------------------------------------------------------
    def lab_cmd(self, *args: str, timeout: float = 600) -> float:
        """``tests/lab/lab ARGS``; returns its wall time, raises on failure."""
        started = time.monotonic()
        proc = subprocess.run([str(ROOT / "tests/lab/lab"), *args], cwd=ROOT, text=True,
                              capture_output=True, env=self.env(), timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"tests/lab/lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return time.monotonic() - started

    def fresh(self) -> float:
        """Fresh hosts: ``destroy`` then ``up`` (template and package cache are kept)."""
        return self.lab_cmd("destroy") + self.lab_cmd("up")

    def graceful_stop(self, n: int, timeout: int = 90) -> float:
        """Clean shutdown of ctrl-N (systemd stops every service), as ``lxc-stop`` does."""
        started = time.monotonic()
        subprocess.run(["lxc-stop", "-n", self.lab.container(n), "-t", str(timeout)], check=True,
                       capture_output=True, timeout=timeout + 30)
        return time.monotonic() - started

    # --- remote commands --------------------------------------------------------------
    def ssh(self, n: int, command: str, timeout: float = 900, stdin: str | None = None) -> subprocess.CompletedProcess:
        if self.lab.state(n) != "RUNNING":
            raise RuntimeError(f"ctrl-{n} is not running")
        return subprocess.run(self.lab.ssh_command(n) + [command], text=True, capture_output=True,
                              timeout=timeout, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)

    def ssh_all(self, command: str, timeout: float = 1800) -> dict[int, tuple[subprocess.CompletedProcess, float]]:
        """The same command on every host at once; {n: (result, seconds)}."""
        results: dict[int, tuple[subprocess.CompletedProcess, float]] = {}

        def one(n: int) -> None:
            started = time.monotonic()
            results[n] = (self.ssh(n, command, timeout), time.monotonic() - started)

        threads = [threading.Thread(target=one, args=(n,)) for n in self.hosts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    # --- pyinfra ----------------------------------------------------------------------
    def pyinfra(self, *args: str, timeout: float = 1800, on_line: Callable[[str], None] | None = None,
                **env: str) -> PyinfraRun:
        """pyinfra with the lab inventory from the project root; stderr timestamped line by line."""
        cmd = [PYINFRA, INVENTORY, *args]
        load = loadavg()
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env(**env), bufsize=1)
        lines: list[tuple[float, str]] = []
        stdout: list[str] = []

        def read_stderr() -> None:
            for raw in proc.stderr:
                line = _ANSI.sub("", raw.rstrip("\n"))
                lines.append((time.monotonic() - started, line))
                if on_line:
                    on_line(line)

        readers = [threading.Thread(target=read_stderr),
                   threading.Thread(target=lambda: stdout.append(proc.stdout.read()))]
        for reader in readers:
            reader.start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for reader in readers:
            reader.join()
        return PyinfraRun(tuple(args), proc.returncode, time.monotonic() - started, lines, "".join(stdout), load)

    def fact(self, fact: str) -> dict:
        """``pyinfra ... fact FACT --json``: {host: value}."""
        run = self.pyinfra("fact", fact, "--json", timeout=120, LAB_ALLOW_STOPPED="1")
        return run.results().get(fact) or {}

    def vip_holder(self, resource: str = VIP_RESOURCE["srv"]) -> str | None:
        """The node where pacemaker runs ``resource``, from the project's CrmMon fact."""
        for status in self.fact("facts.pacemaker.CrmMon").values():
            if status and status.get("quorum"):
                for res in status.get("resources", []):
                    if res["id"] == resource and res.get("active") and res.get("nodes"):
                        return res["nodes"][0]
        return None

    def place_vips(self, node: str, timeout: int = 60) -> None:
        """Move the VIP group (``VIP_GROUP``) to ``node`` and wait until it runs there, then drop the
        move's location constraint (nothing pulls the VIPs back: no stickiness needed)."""
        n = next(h for h in self.hosts if self.lab.state(h) == "RUNNING")
        script = (f"crm_resource --move --resource {VIP_GROUP} --node {node} >/dev/null 2>&1; "
                  f"for i in $(seq {timeout * 2}); do crm_resource --locate --resource {VIP_RESOURCE['srv']} "
                  f"2>/dev/null | grep -q 'running on: {node}$' && ok=1 && break; sleep 0.5; done; "
                  f"crm_resource --clear --resource {VIP_GROUP} >/dev/null 2>&1; [ -n \"$ok\" ]")
        proc = self.ssh(n, script, timeout=timeout + 30)
        if proc.returncode:
            raise RuntimeError(f"the VIPs did not move to {node} within {timeout}s: {proc.stderr}")

    def health(self) -> tuple[int, float, str]:
        """``python -m lib.health`` on the lab inventory: (exit code, seconds, report)."""
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "lib.health", INVENTORY], cwd=ROOT, text=True,
                              capture_output=True, env=self.env(), stdin=subprocess.DEVNULL, timeout=300)
        return proc.returncode, time.monotonic() - started, proc.stdout + proc.stderr

    def wait_healthy(self, since: float, timeout: float = 300) -> tuple[float | None, int, float, str]:
        """Run the health report until it exits 0: (seconds from ``since`` to the end of the
        first green report or None, reports run, seconds the last report took, its text)."""
        runs, took, report = 0, 0.0, ""
        while time.monotonic() - since < timeout:
            rc, took, report = self.health()
            runs += 1
            if rc == 0:
                return time.monotonic() - since, runs, took, report
            time.sleep(1)
        return None, runs, took, report
