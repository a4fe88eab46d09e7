"""One-screen health report of a prereqos cluster, from the project's facts.

    python -m lib.health inventory.py            # or tests/lab/inventory.py
    python -m lib.health inventory.py --json     # the raw facts

Runs ``pyinfra <inventory> fact facts.health.HealthState --json`` (every health fact, one
command per controller), prints RabbitMQ
nodes, Galera size/state, corosync quorum and links, Pacemaker nodes and where each VIP runs,
HAProxy backends, memcached, the age of the newest backups on each backup node, the fence
devices (their status checks, the last fencing event), the days left of each TLS certificate (a
warning under 30, a problem under 7), then exits 1
when anything is unhealthy (a host that did not answer counts).
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from facts.health import FACTS
from lib.backup import freshness
from lib.cluster import CONTROLLER_GROUP, HAPROXY_CLONE, HAPROXY_RESOURCE, VIP_RESOURCE
from lib.tls import CERTIFICATES, ROTATE, UNHEALTHY_DAYS, WARN_DAYS

ROOT = Path(__file__).resolve().parent.parent
HEALTH_FACT = "facts.health.HealthState"  # every section's fact, one command per controller
COROSYNC_TEMPLATE = ROOT / "templates/corosync/corosync.conf.j2"


@dataclass
class Report:
    hosts: list[str]
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, ok: bool, line: str) -> None:
        self.lines.append(f"  {'ok ' if ok else 'BAD'} {line}")
        if not ok:
            self.problems.append(line)

    def section(self, title: str) -> None:
        self.lines.append(title)


def start_pyinfra(inventory: str, *args: str) -> subprocess.Popen:
    """A pyinfra command started in the background (the report runs two at once)."""
    return subprocess.Popen([str(Path(sys.executable).with_name("pyinfra")), inventory, *args], cwd=ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def gather(run: subprocess.Popen) -> dict[str, dict]:
    """The facts of ``start_pyinfra(inventory, "fact", HEALTH_FACT, "--json")``: per section name,
    every host's value."""
    stdout, stderr = run.communicate()
    try:
        raw = json.loads(stdout).get(HEALTH_FACT) or {}
    except json.JSONDecodeError:
        raise SystemExit(f"health: pyinfra gave no facts (rc={run.returncode}):\n{stderr[-2000:]}")
    return {name: {h: (state or {}).get(name) for h, state in raw.items()} for name in FACTS}


def check_rabbitmq(report: Report, status_of: dict[str, dict]) -> None:
    """Every node sees every node running, with no partition and no alarm."""
    size = len(report.hosts)
    for host in report.hosts:
        status = status_of.get(host) or {}
        running = status.get("running_nodes", [])
        report.check(
            len(running) == size and not status.get("partitions") and not status.get("alarms"),
            f"{host}: running {len(running)}/{size} {' '.join(running)}"
            f"{' partitions ' + str(status['partitions']) if status.get('partitions') else ''}"
            f"{' alarms ' + str(status['alarms']) if status.get('alarms') else ''}",
        )


def check_galera(report: Report, wsrep_of: dict[str, dict]) -> None:
    """Every node is in a Primary component of all the controllers, Synced and ready."""
    size = len(report.hosts)
    for host in report.hosts:
        wsrep = wsrep_of.get(host) or {}
        report.check(
            wsrep.get("cluster_size") == size and wsrep.get("cluster_status") == "Primary"
            and wsrep.get("local_state_comment") == "Synced" and wsrep.get("ready") is True,
            f"{host}: size {wsrep.get('cluster_size', '-')} {wsrep.get('cluster_status', 'down')} "
            f"{wsrep.get('local_state_comment', '')} ready={wsrep.get('ready', False)}",
        )


def corosync_link_count(template: Path = COROSYNC_TEMPLATE) -> int:
    """The knet links of every node: one ``interface { linknumber: N }`` each in the template."""
    return len(re.findall(r"^\s*linknumber:", template.read_text(), re.MULTILINE))


def check_corosync(report: Report, quorum_of: dict[str, dict], links_of: dict[str, dict],
                   link_count: int) -> None:
    """Every node is quorate with all the controllers, each of its links connected to all."""
    size = len(report.hosts)
    for host in report.hosts:
        quorum = quorum_of.get(host) or {}
        links = (links_of.get(host) or {}).get("links", [])
        healthy_links = [
            link for link in links
            if len(link["nodes"]) == size
            and all(state in ("localhost", "connected") for state in link["nodes"].values())
        ]
        report.check(
            quorum.get("quorate") is True and quorum.get("nodes") == size and len(healthy_links) == link_count,
            f"{host}: {'quorate' if quorum.get('quorate') else 'NOT quorate'}, "
            f"{quorum.get('nodes', 0)}/{size} members, {len(healthy_links)}/{link_count} links connected to all",
        )


def check_pacemaker(report: Report, crm_of: dict[str, dict]) -> str | None:
    """Every node online in a quorate view; both VIPs together on one node running HAProxy.
    Returns that node (the VIP holder), None when the VIPs are not together."""
    views = {host: crm_of.get(host) or {} for host in report.hosts}
    for host, crm in views.items():
        nodes = crm.get("nodes", {})
        report.check(
            crm.get("quorum") is True and len(nodes.get("online", [])) == len(report.hosts),
            f"{host}: DC {crm.get('dc')}, online {' '.join(nodes.get('online', [])) or '-'}"
            f"{', offline ' + ' '.join(nodes['offline']) if nodes.get('offline') else ''}",
        )
    resources = next((v for v in views.values() if v.get("quorum")), {}).get("resources", [])
    vips = set(VIP_RESOURCE.values())
    placed = {r["id"]: r.get("nodes", []) for r in resources if r["id"] in vips}
    holders = {tuple(nodes) for nodes in placed.values()}
    haproxy_nodes = sorted(
        n for r in resources
        if r["id"] == HAPROXY_RESOURCE and r.get("parent") == HAPROXY_CLONE and r.get("active")
        for n in r.get("nodes", [])
    )
    together = len(placed) == len(vips) and len(holders) == 1 and len(next(iter(holders))) == 1
    holder = next(iter(holders))[0] if together else None
    report.check(
        together and holder in haproxy_nodes,
        f"VIPs {', '.join(f'{k} on {v[0] if v else None}' for k, v in sorted(placed.items())) or 'absent'}; "
        f"HAProxy running on {' '.join(haproxy_nodes) or 'no node'}",
    )
    return holder


def check_haproxy(report: Report, backends_of: dict[str, dict], holder: str | None) -> None:
    """On the VIP holder, the Galera backend is UP with exactly one active (writer) server."""
    for host in report.hosts:
        backends = backends_of.get(host) or {}
        galera = backends.get("galera_cluster", {})
        active = [s for s, v in galera.get("servers", {}).items() if v.get("status") == "UP" and not v.get("backup")]
        up_backends = sum(1 for b in backends.values() if b.get("status") == "UP")
        if host == holder:
            report.check(
                galera.get("status") == "UP" and len(active) == 1,
                f"{host}: galera backend {galera.get('status', 'absent')}, active {' '.join(active) or '-'}; "
                f"{up_backends}/{len(backends)} backends UP",
            )
        else:
            report.lines.append(f"      {host}: {up_backends}/{len(backends)} backends UP"
                                f"{'' if backends else ' (HAProxy not running)'}")


def check_backups(report: Report, catalog_of: dict[str, dict | None], now: float | None = None) -> None:
    """On every backup node (a node with backup settings), the newest good full backup and the
    newest good backup of either kind are younger than group_data's limits (``backup``)."""
    nodes = [host for host in report.hosts if catalog_of.get(host)]
    for host in nodes:
        ok, line = freshness(catalog_of[host], now)
        report.check(ok, f"{host}: {line}")
    if not nodes:
        report.lines.append("      no backup node answered (deploys/backup.py not run?)")


def check_memcached(report: Report, stats_of: dict[str, dict]) -> None:
    """Every node's memcached answers ``stats`` on the address of its configuration (the srv address)."""
    for host in report.hosts:
        answer = stats_of.get(host) or {}
        stats = answer.get("stats") or {}
        where = f"{answer.get('address', '?')}:{answer.get('port', '?')}"
        report.check(
            bool(stats.get("pid")),
            f"{host}: {'answers stats on ' + where if stats else 'no answer on ' + where}"
            + (f", up {stats.get('uptime')} s, {stats.get('curr_connections')}/{stats.get('max_connections')} "
               f"connections, {int(stats.get('limit_maxbytes', 0)) // (1024 * 1024)} MiB" if stats else ""),
        )


def check_fencing(report: Report, state_of: dict[str, dict]) -> None:
    """Every fence device pacemaker knows is started, not failed, its last status check ok; the
    newest fencing event is shown (a failed one is a problem while that node's fate is unknown:
    not once it is a cluster member again)."""
    state = next((s for s in state_of.values() if s and s.get("devices")), None) or \
        next((s for s in state_of.values() if s), {"devices": [], "history": [], "online": []})
    if not state["devices"]:
        report.lines.append("      no fence devices: stonith-enabled=false (group_data fencing['devices'])")
    for device in state["devices"]:
        check = device.get("check") or {}
        report.check(
            device["active"] and not device["failed"] and check.get("rc") == "0",  # rc_text: ok (2.1), OK (3.0)
            f"{device['id']} ({device['agent'].removeprefix('stonith:')}) on {' '.join(device['nodes']) or 'no node'}, "
            f"status check {check.get('rc_text', 'not run')}" + (f" since {check['since']}" if check.get("since") else ""),
        )
    events = state["history"]
    if events:
        last = events[0]
        back = last["status"] == "failed" and last["target"] in state.get("online", [])
        report.check(last["status"] == "success" or back,
                     f"last fencing: {last['action']} of {last['target']} by {last['delegate'] or '-'}: "
                     f"{last['status']} at {last['completed'] or '-'}" + (f"; {last['target']} is online again" if back else ""))
    else:
        report.lines.append("      no fencing event recorded")


def _certificate_name(path: str) -> str:
    """The report's name of a ``CertificateExpiry`` key: ``/etc/prereqos/tls/ca.crt`` -> ``ca``,
    ``/etc/prereqos/tls/ca.crt#2`` (the second CA trusted during a rotation) -> ``ca#2``."""
    file, mark, nth = path.partition("#")
    return Path(file).stem + mark + nth


def check_certificates(report: Report, expiry_of: dict[str, dict], now: datetime.datetime | None = None) -> None:
    """Every node holds the cluster's certificates, each with at least ``UNHEALTHY_DAYS`` left;
    fewer than ``WARN_DAYS`` is a warning (the next deploy issues it again: ``tls["renew_days"]``)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    for host in report.hosts:
        expiry = expiry_of.get(host) or {}
        days = {_certificate_name(path): (datetime.datetime.fromisoformat(end) - now).days
                for path, end in expiry.items()}
        line = f"{host}: " + (", ".join(f"{name} {left} days left" for name, left in days.items())
                              or "no certificate (run deploys/tls.py)")
        report.check(set(CERTIFICATES) <= set(expiry) and min(days.values()) >= UNHEALTHY_DAYS, line)
        soon = [name for name, left in days.items() if UNHEALTHY_DAYS <= left < WARN_DAYS]
        if soon:
            report.lines.append(f"  WRN {host}: {', '.join(soon)} under {WARN_DAYS} days: run the deploy "
                                f"(it issues them again) or renew the operator's")
        if any("#" in path for path in expiry):
            report.lines.append(f"      {host}: two CAs trusted: a rotation of the CA in progress ({ROTATE} status)")


def evaluate(facts: dict[str, dict], hosts: list[str]) -> Report:
    """The report of ``facts`` (``gather()``'s) for the controllers ``hosts``, one section per component."""
    report = Report(hosts)
    report.section("RabbitMQ")
    check_rabbitmq(report, facts["rabbitmq"])
    report.section("Galera")
    check_galera(report, facts["galera"])
    report.section("Corosync")
    check_corosync(report, facts["quorum"], facts["links"], corosync_link_count())
    report.section("Pacemaker")
    holder = check_pacemaker(report, facts["crm"])
    report.section("HAProxy")
    check_haproxy(report, facts["haproxy"], holder)
    report.section("Backups")
    check_backups(report, facts["backups"])
    report.section("memcached")
    check_memcached(report, facts["memcached"])
    report.section("Fencing")
    check_fencing(report, facts["fencing"])
    report.section("TLS certificates")
    check_certificates(report, facts["certificates"])
    return report


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    inventory = argv[0]
    # Both at once: the inventory listing no longer waits for the facts' pyinfra run.
    facts_run = start_pyinfra(inventory, "fact", HEALTH_FACT, "--json")
    inventory_run = start_pyinfra(inventory, "debug-inventory", "--json")
    facts = gather(facts_run)
    if "--json" in argv:
        print(json.dumps(facts, indent=2, sort_keys=True))
    hosts = sorted({h for values in facts.values() for h in values} | set(_inventory_hosts(inventory_run)))
    report = evaluate(facts, hosts)
    print("\n".join(report.lines))
    if report.problems:
        print(f"UNHEALTHY: {len(report.problems)} problem(s)")
        return 1
    print(f"HEALTHY: {len(hosts)} controllers")
    return 0


def _inventory_hosts(run: subprocess.Popen) -> list[str]:
    """The controllers the inventory lists (``debug-inventory --json``), so a host that did not
    answer still shows."""
    stdout, _ = run.communicate()
    try:
        hosts = json.loads(stdout[stdout.index("["):])
    except (ValueError, json.JSONDecodeError):
        return []
    return [h["name"] for h in hosts if CONTROLLER_GROUP in h.get("groups", [])]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
