"""Facts the host prechecks and the sizing read: resources, clock, name lookup order, a VIP's neighbour.

Each is one short remote command; the checks on them are ``lib/precheck.py`` (pure), the
gathering ``deploys/precheck.py``. Addresses, listeners, ``/etc/hosts`` and ``python3`` come from
pyinfra's own facts (``hardware.Ipv4Addrs``, ``server.Ports``, ``server.EtcHosts``, ``server.Which``).

Example::

    host.get_fact(HostResources)   # {"cpus": 2, "mem_mb": 24105, "nofile_hard": 20000, "container": "lxc"}
    host.get_fact(ClockState)      # {"synchronized": False, "chrony": "active", "epoch": 1796131200.5}
    host.get_fact(HostsLookup)     # ["files", "dns"]
    host.get_fact(VipNeighbour, address="10.0.1.10")   # "fe:10:ab:e1:f2:32" when something answers
"""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api import FactBase, FactProcessError, QuoteString, StringCommand

from typing_extensions import override


def _pairs(output: list[str], fact: str) -> dict[str, str]:
    pairs = {}
    for line in output:
        key, sep, value = line.partition("=")
        if not sep:
            raise FactProcessError(f"{fact}: unexpected line {line!r}")
        pairs[key] = value.strip()
    return pairs


class HostResources(FactBase[dict[str, Any]]):
    """vCPUs, RAM in MiB (the memory cgroup's limit when lower), PID 1's hard open-files limit
    (systemd clamps ``LimitNOFILE`` to it) and the container type (None on a VM or metal).

    .. code:: python

        {"cpus": 2, "mem_mb": 24105, "nofile_hard": 20000, "container": "lxc"}
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "nproc"

    @override
    def command(self) -> str:
        return ("echo cpus=$(nproc); awk '/^MemTotal:/ {print \"mem_kb=\" $2}' /proc/meminfo; "
                "echo cgroup_bytes=$(cat /sys/fs/cgroup/memory.max "
                "/sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null | head -n 1); "
                "awk '/^Max open files/ {print \"nofile_hard=\" $5}' /proc/1/limits; "
                "echo container=$(systemd-detect-virt --container 2>/dev/null)")

    @override
    def process(self, output: list[str]) -> dict[str, Any]:
        pairs = _pairs(output, "HostResources")
        try:
            cpus, mem_kb = int(pairs["cpus"]), int(pairs["mem_kb"])
        except (KeyError, ValueError) as error:
            raise FactProcessError(f"HostResources: no CPU count or MemTotal in {output!r}") from error
        mem_mb = mem_kb // 1024
        limit = pairs.get("cgroup_bytes", "")
        if limit.isdigit():
            mem_mb = min(mem_mb, int(limit) // (1024 * 1024))
        nofile = pairs.get("nofile_hard", "")
        container = pairs.get("container", "")
        return {"cpus": cpus, "mem_mb": mem_mb, "nofile_hard": int(nofile) if nofile.isdigit() else None,
                "container": None if container in ("", "none") else container}


class ClockState(FactBase[dict[str, Any]]):
    """Whether the kernel clock is synchronized (``timedatectl``), chrony's state and the host's
    time now (seconds since the epoch, for the skew between hosts).

    .. code:: python

        {"synchronized": True, "chrony": "active", "epoch": 1796131200.5}

    ``chrony`` is ``"active"``, ``"inactive"``, ``"failed"``... or ``None`` when not installed.
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "date"

    @override
    def command(self) -> str:
        return ("echo synchronized=$(timedatectl show -p NTPSynchronized --value 2>/dev/null); "
                "if command -v chronyd >/dev/null; then echo chrony=$(systemctl is-active chrony); "
                "else echo chrony=; fi; echo epoch=$(date +%s.%N)")

    @override
    def process(self, output: list[str]) -> dict[str, Any]:
        pairs = _pairs(output, "ClockState")
        try:
            epoch = float(pairs["epoch"])
        except (KeyError, ValueError) as error:
            raise FactProcessError(f"ClockState: no time in {output!r}") from error
        return {"synchronized": pairs.get("synchronized") == "yes", "chrony": pairs.get("chrony") or None,
                "epoch": epoch}


class HostsLookup(FactBase[list[str]]):
    """The sources of host name lookups, in order (the ``hosts:`` line of /etc/nsswitch.conf).

    .. code:: python

        ["files", "dns"]
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "grep"

    @staticmethod
    def default() -> list[str]:
        return ["files"]  # glibc's default without nsswitch.conf: files first, then dns

    @override
    def command(self) -> str:
        return "grep -E '^[[:space:]]*hosts:' /etc/nsswitch.conf || true"

    @override
    def process(self, output: list[str]) -> list[str]:
        if not output:
            return self.default()
        # "hosts: files mdns4_minimal [NOTFOUND=return] dns": sources, without the actions.
        text = re.sub(r"\[[^]]*\]", " ", output[0].split(":", 1)[1])
        return text.split()


class VipNeighbour(FactBase[str | None]):
    """The link-layer address of whatever answers ARP for ``address`` on this host's network, or
    None when nothing does. Forgets the neighbour cache entry first (a stale one would answer for
    a VIP that left), then tries a TCP connection for one second: any holder answers ARP, even one
    that filters ICMP and listens on nothing.

    .. code:: python

        "fe:10:ab:e1:f2:32"
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "ip"

    @override
    def command(self, address: str) -> StringCommand:
        target = QuoteString(address)
        return StringCommand(
            "ip neigh flush to", target, "2>/dev/null;",
            "timeout 1 bash -c", QuoteString(f": </dev/tcp/{address}/9"), ">/dev/null 2>&1;",
            "ip -4 neigh show to", target, "|| true",
        )

    @override
    def process(self, output: list[str]) -> str | None:
        # "10.0.1.10 dev eth0 lladdr fe:10:ab:e1:f2:32 REACHABLE"; unanswered: INCOMPLETE/FAILED.
        for line in output:
            fields = line.split()
            if "lladdr" in fields and fields[-1] not in ("FAILED", "INCOMPLETE"):
                return fields[fields.index("lladdr") + 1]
        return None
