"""Benchmark prereqos on its own lab; print the table and write it to BENCHMARKS.md.

    python -m tests.bench.run                    # P1-P6, 3 repetitions, LAB_ID=8 (default)
    python -m tests.bench.run --reps 5 --only P2,P3
    python -m tests.bench.run --only P1 --merge /tmp/full.json   # P1 again, the rest from a --raw
    ./dev bench --reps 3

P1  full converge of fresh hosts (``tests/lab/lab destroy`` + ``up``) and, in the same run, its
    floor: one ``apt-get update && apt-get install --no-install-recommends`` per host, in
    parallel over ssh, of the package set the deploy installs, on fresh hosts, from the same
    warm apt-cacher-ng cache (warmed first by an untimed ``--download-only``). The converge
    is broken down per deploy file from the timestamps of pyinfra's operation lines.
P2  no-change re-run of deploys/prereqos.py: wall time and remote commands (``-vv`` ``>>>``).
P3  ``--dry`` on the converged lab.
P4  SQL writes through the srv VIP (new connection every 0.1 s, an INSERT committed): hard kill
    (``lab kill``) of the VIP holder -> first committed write; then a graceful stop
    (``lxc-stop``) of the holder.
P5  after each of those, ``lab start N`` -> ``lib.health`` exits 0.
P6  full converge of 5 fresh controllers against 3, on the same lab and machine, alternating (3
    then 5 in each repetition): their ratio, and where the extra time goes (per deploy file).
    Measured last (the lab is left with 5 controllers: ``lab destroy`` before other figures).

Every figure is the median of the repetitions with min and max. Bounded: every step has a
timeout, the SQL probe stops by itself, only the lab's addresses are addressed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from tests.bench.failover import SqlProbe, account_sql, drop_sql, failures_between, new_password
from tests.bench.harness import (ROOT, BenchLab, PyinfraRun, by_component, loadavg, log,
                                 slowest_ops)
from tests.bench.packages import deploy_packages, pip_packages
from tests.bench.report import Figure, machine, table, write_benchmarks

DEPLOY = "deploys/prereqos.py"
FIGURES = ("P1", "P2", "P3", "P4", "P5", "P6")
TARGETS = {"P1": 1.5, "P2": 8.0, "P3": 8.0, "P4": 5.0, "P5": 10.0, "P6": 1.25}  # issue #17
P6_SIZES = (3, 5)  # controllers of the two converges compared
# The raw data's keys of each figure (``--raw``), for ``--merge``.
RAW_KEYS = {"P1": ("packages", "pip_packages", "floor", "converge", "package_check"), "P2": ("P2",), "P3": ("P3",),
            "P4": ("drills",), "P5": ("drills",), "P6": ("p6",)}
INSTALLED = "dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' | awk '$1 == \"ii\" {print $2}'"
APT = ("DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confdef "
       "-o Dpkg::Options::=--force-confold")


# --- P1 ---------------------------------------------------------------------------------------
def floor_command(packages: list[str], proxy: str, download_only: bool = False) -> str:
    """apt-get update + install of ``packages`` through ``proxy`` (fresh hosts have none: the
    deploy writes it), printing the seconds of each step."""
    apt = f"{APT} -o Acquire::http::Proxy={proxy}"
    install = f"{apt} install --no-install-recommends {'--download-only ' if download_only else ''}{' '.join(packages)}"
    return (f"set -e; a=$(date +%s.%N); {apt} update >/dev/null; b=$(date +%s.%N); "
            f"{install} >/dev/null; c=$(date +%s.%N); "
            "echo \"TIMES $a $b $c\"")


def _times(stdout: str) -> tuple[float, float]:
    """(update seconds, install seconds) from the floor command's TIMES line."""
    for line in stdout.splitlines():
        if line.startswith("TIMES"):
            _, a, b, c = line.split()
            return float(b) - float(a), float(c) - float(b)
    return 0.0, 0.0


def measure_floor(bench: BenchLab, packages: list[str], pip: list[str]) -> dict:
    bench.fresh()
    baseline = bench.ssh(1, "apt-mark showmanual").stdout.split()
    load = loadavg()
    started = time.monotonic()
    results = bench.ssh_all(floor_command(packages, bench.lab.proxy_url))
    wall = time.monotonic() - started
    failed = {n: r.stderr[-500:] for n, (r, _) in results.items() if r.returncode}
    if failed:
        raise RuntimeError(f"floor install failed: {failed}")
    per_host = {f"ctrl-{n}": _times(r.stdout) for n, (r, _) in results.items()}
    # The PyPI part of the converge, on the same hosts (compilers and headers now installed).
    pip_wall = None
    if pip:
        started = time.monotonic()
        built = bench.ssh_all("set -e; python3 -m venv /tmp/bench-venv; "
                              f"/tmp/bench-venv/bin/pip install -q --proxy {bench.lab.proxy_url} "
                              f"--cert /etc/ssl/certs/ca-certificates.crt --upgrade {' '.join(pip)}")
        pip_wall = time.monotonic() - started
        if any(r.returncode for r, _ in built.values()):
            raise RuntimeError(f"pip floor failed: {[r.stderr[-300:] for r, _ in built.values()]}")
    return {"wall": wall, "pip_wall": pip_wall, "load": load, "per_host": per_host, "baseline_manual": baseline}


def measure_converge(bench: BenchLab) -> dict:
    bench.fresh()
    run = bench.pyinfra(DEPLOY, "-y", "-vv", "--json", timeout=1800)
    results = run.results().get("results") or {}
    ok = run.rc == 0 and not results.get("failed_hosts")
    if not ok:
        log(f"converge FAILED rc={run.rc}:\n{run.tail()}")
    timeline = run.timeline()
    return {
        "wall": run.wall if ok else None, "rc": run.rc, "load": run.load, "commands": run.commands,
        "changed_ops": len(run.changed_ops()),
        "components": by_component(timeline, default="prereqos"),
        "slowest": slowest_ops(timeline, 10),
    }


def bench_p1(bench: BenchLab, reps: int, data: dict) -> None:
    packages = deploy_packages()
    data["packages"] = packages
    data["pip_packages"] = pip_packages(ROOT / "group_data/all.py")
    log(f"P1: warming the package cache ({len(packages)} packages, untimed)")
    bench.fresh()
    warm = bench.ssh_all(floor_command(packages, bench.lab.proxy_url, download_only=True))
    if any(r.returncode for r, _ in warm.values()):
        raise RuntimeError(f"cache warm-up failed: {[r.stderr[-300:] for r, _ in warm.values()]}")
    data["floor"], data["converge"] = [], []
    for rep in range(1, reps + 1):
        # The pip build is measured once (first repetition): it is context, not a target, and
        # measuring it every time would push three repetitions past 25 minutes.
        floor = measure_floor(bench, packages, data["pip_packages"] if rep == 1 else [])
        data["floor"].append(floor)
        log(f"P1 rep {rep}: floor {floor['wall']:.1f} s, then pip {floor['pip_wall'] or 0:.1f} s "
            f"(load {floor['load']})")
        converge = measure_converge(bench)
        data["converge"].append(converge)
        log(f"P1 rep {rep}: converge {converge['wall'] or 0:.1f} s, {converge['commands']} commands "
            f"(load {converge['load']})")
        if converge["wall"] is None:
            raise RuntimeError("the converge failed: the later figures need a converged lab")
    # The package set against the converged host: every package installed, and nothing the
    # deploy asked for by name (apt-mark showmanual, minus a fresh host's) left out of the set.
    manual = set(bench.ssh(1, "apt-mark showmanual").stdout.split())
    installed = set(bench.ssh(1, INSTALLED).stdout.split())
    added = manual - set(data["floor"][-1]["baseline_manual"])
    data["package_check"] = {"asked_for_but_not_in_set": sorted(added - set(packages)),
                             "in_set_but_not_installed": sorted(set(packages) - installed)}


# --- P2, P3 --------------------------------------------------------------------------------------
def ensure_converged(bench: BenchLab) -> None:
    bench.lab_cmd("up")
    rc, _, _ = bench.health()
    if rc != 0:
        log("lab not healthy: converging it first (untimed)")
        run = bench.pyinfra(DEPLOY, "-y", timeout=1800)
        if run.rc != 0:
            raise RuntimeError(f"converge failed:\n{run.tail()}")


def _run_summary(run: PyinfraRun, dry: bool) -> dict:
    timeline = run.timeline()
    plan = run.results().get("plan") or []
    return {
        "wall": run.wall if run.rc == 0 else None, "rc": run.rc, "load": run.load,
        "commands": run.commands, "commands_by_host": run.commands_by_host(),
        "prepare": timeline[0].seconds if timeline else None,
        "changed_ops": run.changed_ops() if not dry else {},
        "planned_changes": {op["name"]: op["hosts_with_change"] for op in plan if op["hosts_with_change"]}
        if dry else {},
        "components": by_component(timeline, default="prereqos"),
        "slowest": slowest_ops(timeline, 5),
    }


def bench_p2_p3(bench: BenchLab, reps: int, figures: set[str], data: dict) -> None:
    for key, args, dry in (("P2", ("-y", "-vv", "--json"), False), ("P3", ("--dry", "-vv", "--json"), True)):
        if key not in figures:
            continue
        data[key] = []
        for rep in range(1, reps + 1):
            summary = _run_summary(bench.pyinfra(DEPLOY, *args, timeout=600), dry)
            data[key].append(summary)
            log(f"{key} rep {rep}: {summary['wall'] or 0:.1f} s, {summary['commands']} commands, "
                f"changes {len(summary['changed_ops']) + len(summary['planned_changes'])} (load {summary['load']})")


# --- P4, P5 --------------------------------------------------------------------------------------
def drill(bench: BenchLab, kind: str, user: str, password: str) -> dict:
    """One failover drill: the VIPs placed on the SQL writer (HAProxy's active galera server,
    the worst case: the VIPs and the writer go away together), then the holder stopped (hard
    kill or graceful), the SQL outage measured; the host started again and the time to a green
    health report measured."""
    with SqlProbe(bench.vip("srv"), user, password) as probe:
        if not probe.wait_ok(30):
            raise RuntimeError("no SQL through the srv VIP before the drill")
        writer = next(a.backend for a in reversed(probe.snapshot()) if a.ok)
        holder = bench.vip_holder()
        if holder != writer:
            log(f"P4: moving the VIPs from {holder} to the SQL writer {writer}")
            bench.place_vips(writer)
            holder = writer
            time.sleep(2)
        n = bench.lab.number(holder)
        time.sleep(1)  # a steady baseline
        load = loadavg()
        t0 = time.monotonic()
        finished: list[float] = []
        if kind == "hard":
            bench.lab_cmd("kill", str(n))
            finished.append(time.monotonic())
        else:
            stopper = threading.Thread(target=lambda: (bench.graceful_stop(n), finished.append(time.monotonic())))
            stopper.start()
        outage = probe.wait_recovered(t0, timeout=90, finished=lambda: finished[0] if finished else None)
        if kind != "hard":
            stopper.join()
        stopped_for = (finished[0] - t0) if finished else None
        t1 = time.monotonic()
        bench.lab_cmd("start", str(n))
        p5, health_runs, health_took, report = bench.wait_healthy(t1, timeout=300)
        failback = failures_between(probe.snapshot(), t1, time.monotonic())
    result = {
        "kind": kind, "holder": holder, "load": load, "outage": outage.seconds, "failed_queries": outage.failed,
        "backend_before": outage.backend_before, "backend_after": outage.backend_after,
        "stop_seconds": stopped_for, "p5": p5, "health_runs": health_runs, "health_took": health_took,
        "failback_outages": [round(end - start, 1) for start, end in failback],
    }
    if p5 is None:
        result["last_report"] = report
    return result


def bench_p4_p5(bench: BenchLab, reps: int, data: dict) -> None:
    healthy, _, _, report = bench.wait_healthy(time.monotonic(), timeout=180)
    if healthy is None:
        raise RuntimeError(f"lab not healthy before the failover drills:\n{report}")
    network = f"{bench.lab.prefix('srv')}.%"
    user, password = "prereqos_bench", new_password()
    created = bench.ssh(1, "mysql", stdin=account_sql(password, network))
    if created.returncode:
        raise RuntimeError(f"could not create the probe account: {created.stderr}")
    data["drills"] = []
    try:
        for rep in range(1, reps + 1):
            for kind in ("hard", "graceful"):
                result = drill(bench, kind, user, password)
                data["drills"].append(result)
                log(f"P4 rep {rep} {kind}: holder {result['holder']}, outage {result['outage']} s, "
                    f"P5 {result['p5']} s, failback {result['failback_outages']} (load {result['load']})")
                if result["p5"] is None:
                    raise RuntimeError(f"not healthy again after the {kind} stop:\n{result['last_report']}")
    finally:
        for n in bench.hosts:
            if bench.lab.state(n) == "RUNNING" and bench.ssh(n, "mysql", stdin=drop_sql(network)).returncode == 0:
                break


# --- P6 -------------------------------------------------------------------------------------------
def bench_p6(bench: BenchLab, reps: int, data: dict) -> None:
    """Fresh converges of ``P6_SIZES`` controllers, alternating, on the same lab."""
    data["p6"] = {size: [] for size in P6_SIZES}
    for rep in range(1, reps + 1):
        for size in P6_SIZES:
            converge = measure_converge(BenchLab(replace(bench.lab, hosts=size), bench.extra_env))
            data["p6"][size].append(converge)
            log(f"P6 rep {rep}: {size} controllers converged in {converge['wall'] or 0:.1f} s, "
                f"{converge['commands']} commands (load {converge['load']})")
            if converge["wall"] is None:
                raise RuntimeError(f"the converge of {size} controllers failed")


def p6_where(data: dict) -> list[str]:
    """Per deploy file: median seconds of each size and the difference (where the extra time goes)."""
    small, large = (_median_components(data["p6"][size]) for size in P6_SIZES)
    rows = [f"| component | {P6_SIZES[0]} controllers | {P6_SIZES[1]} controllers | extra |", "|---|---|---|---|"]
    for key in dict.fromkeys([*small, *large]):
        a, b = small.get(key, (0.0, 0))[0], large.get(key, (0.0, 0))[0]
        rows.append(f"| {key} | {a:.1f} s | {b:.1f} s | {b - a:+.1f} s |")
    return rows


# --- figures and report ----------------------------------------------------------------------------
def _median_components(runs: list[dict]) -> dict[str, tuple[float, float]]:
    """{component: (median seconds, median commands)} over runs."""
    keys = list(dict.fromkeys(k for r in runs for k in r["components"]))
    return {k: (statistics.median(r["components"].get(k, {}).get("seconds", 0.0) for r in runs),
                statistics.median(r["components"].get(k, {}).get("commands", 0) for r in runs)) for k in keys}


def _components_table(runs: list[dict]) -> list[str]:
    comps = _median_components(runs)
    total = sum(seconds for seconds, _ in comps.values()) or 1
    return ["| component | seconds | share | remote commands |", "|---|---|---|---|",
            *[f"| {k} | {s:.1f} | {100 * s / total:.0f} % | {c:.0f} |" for k, (s, c) in comps.items()]]


def _slowest(runs: list[dict], title: str) -> list[str]:
    median_run = sorted(runs, key=lambda r: r["wall"] or 0)[len(runs) // 2]
    return ["", f"{title} (the median run; seconds, remote commands):", "",
            *[f"- {seconds:.1f} s, {commands} cmd: {name}" for name, seconds, commands in median_run["slowest"]]]


def merge(data: dict, earlier: dict, measured: set[str]) -> list[str]:
    """Complete ``data`` with the figures of ``earlier`` (an earlier ``--raw``) that this run did
    not measure; returns those figures. A figure measured again is never taken from ``earlier``.

    >>> data = {"P2": [{"wall": 7.0}]}
    >>> merge(data, {"P2": [{"wall": 9.0}], "p6": {"3": [], "5": []}, "run": {}}, {"P2"}), data
    (['P6'], {'P2': [{'wall': 7.0}], 'p6': {3: [], 5: []}})
    """
    taken = []
    for figure, keys in RAW_KEYS.items():
        if figure in measured or not all(key in earlier for key in keys if key != "package_check"):
            continue
        for key in keys:
            if key in earlier and key not in data:
                data[key] = earlier[key]
        if figure == "P6":  # JSON made the sizes strings
            data["p6"] = {int(size): runs for size, runs in data["p6"].items()}
        taken.append(figure)
    return taken


def figures_of(data: dict) -> list[Figure]:
    figs: list[Figure] = []
    if data.get("converge"):
        floors = [f["wall"] for f in data["floor"]]
        converges = [c["wall"] for c in data["converge"]]
        figs.append(Figure("P1", "floor: parallel apt-get update+install, fresh hosts, warm cache", "s", floors))
        if any(f.get("pip_wall") for f in data["floor"]):
            figs.append(Figure("P1", f"not in the floor: venv + pip install {' '.join(data['pip_packages'])} "
                               "(from wheels, or compiled where buildenv asks a source build), same hosts after it "
                               "(first repetition)", "s",
                               [f["pip_wall"] for f in data["floor"] if f.get("pip_wall")]))
        figs.append(Figure("P1", "full converge of fresh hosts", "s", converges))
        figs.append(Figure("P1", "converge / floor (same repetition)", "x",
                           [c / f if c else None for c, f in zip(converges, floors)], target=TARGETS["P1"]))
        pip = data["floor"][0].get("pip_wall")
        if pip:
            figs.append(Figure("P1", "converge / (floor + pip build of the first repetition)", "x",
                               [c / (f + pip) if c else None for c, f in zip(converges, floors)]))
    if data.get("P2"):
        runs = data["P2"]
        figs.append(Figure("P2", "no-change re-run", "s", [r["wall"] for r in runs], target=TARGETS["P2"],
                           met_override=False if any(r["changed_ops"] for r in runs) else None))
        figs.append(Figure("P2", "remote commands of the no-change re-run", "", [r["commands"] for r in runs]))
    if data.get("P3"):
        runs = data["P3"]
        figs.append(Figure("P3", "--dry on the converged lab", "s", [r["wall"] for r in runs], target=TARGETS["P3"]))
        figs.append(Figure("P3", "remote commands of --dry", "", [r["commands"] for r in runs]))
    for kind, what in (("hard", "hard kill of the VIP holder -> first committed SQL write via VIP"),
                       ("graceful", "graceful stop of the VIP holder -> first committed SQL write via VIP")):
        drills = [d for d in data.get("drills", []) if d["kind"] == kind]
        if drills:
            figs.append(Figure("P4", what, "s", [d["outage"] for d in drills],
                               target=TARGETS["P4"] if kind == "hard" else None))
    for kind in ("hard", "graceful"):
        drills = [d for d in data.get("drills", []) if d["kind"] == kind]
        if drills:
            figs.append(Figure("P5", f"controller started after {kind} stop -> health green", "s",
                               [d["p5"] for d in drills], target=TARGETS["P5"]))
    if data.get("p6"):
        small, large = ([c["wall"] for c in data["p6"][size]] for size in P6_SIZES)
        for size, walls in zip(P6_SIZES, (small, large)):
            figs.append(Figure("P6", f"full converge of {size} fresh controllers", "s", walls))
        figs.append(Figure("P6", f"converge of {P6_SIZES[1]} / of {P6_SIZES[0]} controllers (same repetition)", "x",
                           [b / a if a and b else None for a, b in zip(small, large)], target=TARGETS["P6"]))
    return figs


def details(data: dict) -> str:
    out: list[str] = []
    if data.get("converge"):
        out += ["", "### P1 per repetition", "",
                "| rep | floor | floor: update / install (slowest host) | pip after the floor | load at floor start "
                "| converge | remote commands | ratio | load at converge start |",
                "|---|---|---|---|---|---|---|---|---|"]
        for i, (f, c) in enumerate(zip(data["floor"], data["converge"]), 1):
            update, install = max(f["per_host"].values(), key=lambda t: t[0] + t[1])
            ratio = f"{c['wall'] / f['wall']:.2f}x" if c["wall"] else "-"
            pip = f"{f['pip_wall']:.1f} s" if f.get("pip_wall") else "-"
            out.append(f"| {i} | {f['wall']:.1f} s | {update:.1f} s / {install:.1f} s | {pip} | {f['load']} | "
                       f"{c['wall'] or 0:.1f} s | {c['commands']} | {ratio} | {c['load']} |")
        out += ["", "Converge by deploy file (median; `prepare` = connect, deploy files, facts):", "",
                *_components_table(data["converge"])]
        out += _slowest(data["converge"], "Slowest operations of the converge")
        check = data.get("package_check", {})
        out += ["", f"Package set ({len(data['packages'])}, from the `apt.packages` calls of deploys/*.py): "
                f"{' '.join(data['packages'])}.",
                f"Checked against `apt-mark showmanual` (converged minus fresh host): "
                f"{'identical' if not any(check.values()) else check}."]
    for key in ("P2", "P3"):
        if data.get(key):
            out += ["", f"### {key} per repetition", "",
                    "| rep | seconds | prepare (facts) | remote commands (per host) | changes | load at start |",
                    "|---|---|---|---|---|---|"]
            for i, r in enumerate(data[key], 1):
                changes = r["changed_ops"] or r["planned_changes"]
                out.append(f"| {i} | {r['wall'] or 0:.1f} | {r['prepare'] or 0:.1f} | {r['commands']} "
                           f"({', '.join(f'{h} {c}' for h, c in sorted(r['commands_by_host'].items()))}) | "
                           f"{len(changes) if changes else 'none'} | {r['load']} |")
                if changes:
                    out.append(f"|  | changed: {'; '.join(sorted(changes))[:300]} | | | | |")
            out += ["", f"{key} by deploy file (median):", "", *_components_table(data[key])]
            out += _slowest(data[key], f"Slowest steps of {key}")
    if data.get("drills"):
        out += ["", "### P4 / P5 per drill", "",
                "| drill | VIP holder stopped | SQL served by before -> after | outage | failed queries | "
                "stop took | P5 (health reports x last one's seconds) | outages when it came back | load at start |",
                "|---|---|---|---|---|---|---|---|---|"]
        for i, d in enumerate(data["drills"], 1):
            outage = f"{d['outage']:.1f} s" if d["outage"] is not None else "not recovered"
            stop = f"{d['stop_seconds']:.1f} s" if d["stop_seconds"] is not None else "-"
            p5 = (f"{d['p5']:.1f} s ({d['health_runs']} x {d['health_took']:.0f} s)"
                  if d["p5"] is not None else "not green")
            out.append(f"| {i} {d['kind']} | {d['holder']} | {d['backend_before']} -> {d['backend_after']} | "
                       f"{outage} | {d['failed_queries']} | {stop} | {p5} | "
                       f"{', '.join(f'{s} s' for s in d['failback_outages']) or 'none'} | {d['load']} |")
    if data.get("p6"):
        out += ["", "### P6 per repetition", "", "| rep | controllers | converge | remote commands | load at start |",
                "|---|---|---|---|---|"]
        for size in P6_SIZES:
            out += [f"| {i} | {size} | {c['wall'] or 0:.1f} s | {c['commands']} | {c['load']} |"
                    for i, c in enumerate(data["p6"][size], 1)]
        out += ["", "Where the extra time goes (median per deploy file):", "", *p6_where(data)]
    return "\n".join(out)


def _earlier_run(earlier: dict) -> str:
    run = earlier.get("run")
    if not run:
        return "a run that did not record its date and commit"
    return f"measured {run['when']} on lab {run['lab']} in {run['minutes']} min, commit {run['commit']}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of every figure (default 3)")
    parser.add_argument("--p1-reps", type=int, help="repetitions of P1 only (default: --reps)")
    parser.add_argument("--only", default=",".join(FIGURES), help="figures to measure, e.g. P2,P3 (P4 gives P5)")
    parser.add_argument("--out", default="BENCHMARKS.md", help="file to write the table into ('' = none)")
    parser.add_argument("--raw", help="also write the raw measurements as JSON to this file")
    parser.add_argument("--merge", help="an earlier --raw file: the figures this run does not measure are "
                                        "taken from it (and said so above the table)")
    args = parser.parse_args(argv)
    figures = {f.strip().upper() for f in args.only.split(",")}
    if "P5" in figures:
        figures.add("P4")

    bench = BenchLab.from_env()
    started, load_start = time.monotonic(), loadavg()
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    log(f"lab {bench.lab.lab_id}, {args.reps} repetitions of {', '.join(sorted(figures))}; load {load_start}")
    data: dict = {}
    error = None
    try:
        if "P1" in figures:
            bench_p1(bench, args.p1_reps or args.reps, data)
        elif figures & {"P2", "P3", "P4"}:
            ensure_converged(bench)
        bench_p2_p3(bench, args.reps, figures, data)
        if "P4" in figures:
            bench_p4_p5(bench, args.reps, data)
        if "P6" in figures:
            bench_p6(bench, args.reps, data)
    except Exception as exc:  # report what was measured, then fail
        error = f"{type(exc).__name__}: {exc}"
        log(f"ABORTED: {error}")
    duration = time.monotonic() - started
    desc = machine()
    data["run"] = {"when": when, "commit": desc["commit"], "lab": bench.lab.lab_id, "minutes": round(duration / 60, 1)}
    earlier = json.loads(Path(args.merge).read_text()) if args.merge else {}
    taken = merge(data, earlier, figures) if args.merge else []
    figs = figures_of(data)
    command = "./dev bench" + (f" --reps {args.reps}" if args.reps != 3 else "") + \
        (f" --p1-reps {args.p1_reps}" if args.p1_reps else "") + \
        (f" --only {args.only}" if figures != set(FIGURES) else "")
    block = "\n".join([
        f"Measured {when} with `{command}` (lab {bench.lab.lab_id}, {bench.lab.hosts} hosts, "
        f"{bench.lab.suite}) in {duration / 60:.1f} min, commit {desc['commit']}.",
        f"Machine: {desc['cpu']}, {desc['memory']}; {desc['os']}; {desc['software']}.",
        f"Load average (1/5/15 min) at start: {load_start}; at end: {loadavg()}.",
        *([f"{', '.join(taken)}: not measured in this run, taken from the earlier run "
           f"`{args.merge}` ({_earlier_run(earlier)})."] if taken else []),
        *([f"\n**Run aborted:** {error}"] if error else []),
        "", table(figs), details(data),
    ])
    print(block)
    if args.out:
        write_benchmarks(ROOT / args.out, block)
        log(f"written to {args.out}")
    if args.raw:
        Path(args.raw).write_text(json.dumps(data, indent=2, default=str))  # with what --merge took
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
