"""The prereqos lab: N Debian system containers (LXC, systemd as PID 1) on one machine.

Usage: tests/lab/lab {up|down|destroy [N]|status|ssh N|kill N|start N|isolate N|heal N|env}

Environment:
  LAB_ID     independent lab instance, 0-9 (default 0): own containers, bridges, subnets
  LAB_HOSTS  number of controllers (default 3; any odd number)
  LAB_SUITE  bookworm (default) or trixie

Each host ctrl-N has three interfaces on three bridges of the machine (api, srv, data),
addresses 10.<100+ID>.<1|2|3>.<10+N>; the machine holds .1 on each bridge. The hosts have no
default route: apt and pip go through an apt-cacher-ng bound to the srv bridge address, which
the deploy configures from the inventory (``apt_proxy``, ``pip_proxy``): nothing on the hosts
points at it before. Every host starts named ``debian``, as an installer leaves it.
An ``unreachable`` guard route keeps lab subnets from ever following the default route.
``up`` also starts the lab's power controller (``tests/lab/bmc.py``: an IPMI BMC per host on
UDP 6230+N of the srv bridge address); ``down`` and ``destroy`` stop it.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE = Path("/var/lib/prereqos-lab")
LXC_PATH = Path("/var/lib/lxc")
NETS = ("api", "srv", "data")
NET_INDEX = {"api": 1, "srv": 2, "data": 3}
MACHINE_PACKAGES = ["lxc", "debootstrap", "apt-cacher-ng", "iproute2", "openssh-client", "rsync"]
TEMPLATE_PACKAGES = [
    "systemd-sysv", "dbus", "openssh-server", "iproute2", "iputils-ping", "procps",
    "ca-certificates", "sudo", "python3", "less",
]
PROXY_PORT = 3142
# What the Debian installer names a host unless told otherwise: every lab host starts with it
# (in /etc/hostname and as 127.0.1.1 in /etc/hosts), so each converge proves that the deploy
# gives controllers their inventory names itself.
INSTALLER_HOSTNAME = "debian"
VIP_SUFFIX = 10
GUARD_METRIC = 4242
# The lab's power controller (tests/lab/bmc.py): host ctrl-N's BMC answers IPMI on UDP
# BMC_PORT_BASE + N of the srv bridge address.
BMC_PORT_BASE = 6230
BMC_USER = "fence"
ROOT = Path(__file__).resolve().parents[2]


class LabError(Exception):
    pass


def run(*cmd: str, check: bool = True, quiet: bool = False, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, text=True, capture_output=True, **kwargs)
    if check and result.returncode != 0:
        raise LabError(f"command failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr.strip()}")
    return result


def log(message: str) -> None:
    print(f"[lab] {message}", flush=True)


@dataclass(frozen=True)
class Lab:
    lab_id: int = 0
    hosts: int = 3
    suite: str = "bookworm"

    @classmethod
    def from_env(cls) -> "Lab":
        lab_id = int(os.environ.get("LAB_ID", "0"))
        hosts = int(os.environ.get("LAB_HOSTS", "3"))
        suite = os.environ.get("LAB_SUITE", "bookworm")
        if not 0 <= lab_id <= 9:
            raise LabError(f"LAB_ID={lab_id}: must be 0-9")
        if hosts < 1 or hosts > 9:
            raise LabError(f"LAB_HOSTS={hosts}: must be 1-9")
        if suite not in ("bookworm", "trixie"):
            raise LabError(f"LAB_SUITE={suite}: must be bookworm or trixie")
        return cls(lab_id, hosts, suite)

    # --- names and addresses ------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return BASE / f"lab{self.lab_id}"

    @property
    def key(self) -> Path:
        return BASE / "id_ed25519"

    @property
    def supernet(self) -> str:
        return f"10.{100 + self.lab_id}.0.0/16"

    def prefix(self, net: str) -> str:
        return f"10.{100 + self.lab_id}.{NET_INDEX[net]}"

    def bridge(self, net: str) -> str:
        return f"pq{self.lab_id}-{net}"

    def gateway(self, net: str) -> str:
        return f"{self.prefix(net)}.1"

    @property
    def proxy_url(self) -> str:
        return f"http://{self.gateway('srv')}:{PROXY_PORT}"

    def names(self) -> list[str]:
        return [f"ctrl-{n}" for n in range(1, self.hosts + 1)]

    def container(self, n: int) -> str:
        return f"pq{self.lab_id}-ctrl-{n}"

    def address(self, net: str, n: int) -> str:
        return f"{self.prefix(net)}.{VIP_SUFFIX + n}"

    def veth(self, net: str, n: int) -> str:
        return f"pq{self.lab_id}c{n}{net[0]}"

    def rootfs(self, n: int) -> Path:
        return LXC_PATH / self.container(n) / "rootfs"

    def template(self) -> Path:
        return BASE / f"template-{self.suite}"

    def number(self, arg: str) -> int:
        n = int(arg.removeprefix("ctrl-"))
        if not 1 <= n <= self.hosts:
            raise LabError(f"no host ctrl-{n} in a lab of {self.hosts}")
        return n

    # --- state --------------------------------------------------------------------
    def state(self, n: int) -> str:
        if not (LXC_PATH / self.container(n) / "config").exists():
            return "ABSENT"
        out = run("lxc-info", "-s", "-H", "-n", self.container(n), check=False).stdout.strip()
        return out or "ABSENT"

    def bridges_up(self) -> bool:
        return all(Path(f"/sys/class/net/{self.bridge(net)}").exists() for net in NETS)

    def guard_present(self) -> bool:
        out = run("ip", "route", "show", "type", "unreachable", self.supernet, check=False).stdout
        return self.supernet.split("/")[0] in out

    def bmc_port(self, n: int) -> int:
        return BMC_PORT_BASE + n

    @property
    def bmc_credentials_file(self) -> Path:
        return self.state_dir / "bmc.json"

    def fence_devices(self) -> dict:
        """group_data ``fencing['devices']`` for this lab: each host's BMC (tests/lab/bmc.py). The
        password is the lab's (``bmc_credentials_file``), given as secrets ``fence_ctrl-N_1``. The
        lab's BMCs answer at once: a reboot through one gives up after 30 s (pacemaker's default: 60 s)."""
        return {f"ctrl-{n}": [{"agent": "fence_ipmilan", "address": self.gateway("srv"), "port": self.bmc_port(n),
                               "user": BMC_USER, "options": {"pcmk_reboot_timeout": "30s"}}]
                for n in range(1, self.hosts + 1)}

    def describe(self) -> dict:
        return {
            "lab_id": self.lab_id,
            "suite": self.suite,
            "key": str(self.key),
            "proxy": self.proxy_url,
            "netprefix": {
                net: {"prefix": self.prefix(net), "network": f"{self.prefix(net)}.0", "class": 24}
                for net in NETS
            },
            "netsuffix": {"os": VIP_SUFFIX, **{f"ctrl-{n}": VIP_SUFFIX + n for n in range(1, self.hosts + 1)}},
            "hosts": [
                {"name": f"ctrl-{n}", "container": self.container(n), "ssh": self.address("srv", n),
                 "bmc": {"address": self.gateway("srv"), "port": self.bmc_port(n), "user": BMC_USER}}
                for n in range(1, self.hosts + 1)
            ],
            "bmc_credentials": str(self.bmc_credentials_file),
        }

    def write_state(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "lab.json").write_text(json.dumps(self.describe(), indent=2))

    # --- machine set-up -------------------------------------------------------------
    def install_machine_packages(self) -> None:
        missing = [p for p in MACHINE_PACKAGES if run("dpkg", "-s", p, check=False, quiet=True).returncode]
        if not missing:
            return
        log(f"installing on the machine: {' '.join(missing)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run("apt-get", "update", "-qq", env=env)
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=env)

    def ensure_key(self) -> None:
        BASE.mkdir(parents=True, exist_ok=True)
        os.chmod(BASE, 0o700)
        if not self.key.exists():
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "prereqos-lab", "-f", str(self.key))

    def ensure_network(self) -> None:
        # The guard first: whatever happens to the bridges, the lab subnets never go out.
        if not self.guard_present():
            run("ip", "route", "replace", "unreachable", self.supernet, "metric", str(GUARD_METRIC))
        for net in NETS:
            br = self.bridge(net)
            if not Path(f"/sys/class/net/{br}").exists():
                run("ip", "link", "add", br, "type", "bridge")
            run("ip", "addr", "replace", f"{self.gateway(net)}/24", "dev", br)
            run("ip", "link", "set", br, "up")
        # Bridged frames must not be filtered by the machine's iptables (if br_netfilter is on).
        for knob in ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables"):
            path = Path("/proc/sys/net/bridge") / knob
            if path.exists():
                path.write_text("0")

    def proxy_running(self) -> bool:
        try:
            with socket.create_connection((self.gateway("srv"), PROXY_PORT), timeout=1):
                return True
        except OSError:
            return False

    def ensure_proxy(self) -> None:
        if self.proxy_running():
            return
        conf = self.state_dir / "acng"
        for sub in ("conf", "cache", "log"):
            (conf / sub).mkdir(parents=True, exist_ok=True)
        run("chown", "-R", "apt-cacher-ng:apt-cacher-ng", str(conf / "cache"), str(conf / "log"), check=False)
        (conf / "conf" / "acng.conf").write_text(
            "\n".join([
                f"CacheDir: {conf / 'cache'}",
                f"LogDir: {conf / 'log'}",
                "SupportDir: /usr/lib/apt-cacher-ng",
                f"Port: {PROXY_PORT}",
                f"BindAddress: {self.gateway('srv')}",
                "Remap-debrep: file:deb_mirror*.gz /debian ; http://deb.debian.org/debian/",
                "Remap-secdeb: security.debian.org security.debian.org/debian-security "
                "deb.debian.org/debian-security /debian-security ; deb.debian.org/debian-security",
                r"PassThroughPattern: ^(pypi\.org|files\.pythonhosted\.org):443$",
                f"PidFile: {conf / 'acng.pid'}",
                f"SocketPath: {conf / 'acng.socket'}",
                "ReportPage: acng-report.html",
                "ExThreshold: 4",
                "ForeGround: 0",
                "",
            ])
        )
        run("/usr/sbin/apt-cacher-ng", "-c", str(conf / "conf"))
        for _ in range(50):
            if self.proxy_running():
                return
            time.sleep(0.1)
        raise LabError(f"apt-cacher-ng did not answer on {self.gateway('srv')}:{PROXY_PORT}")

    def stop_proxy(self) -> None:
        pidfile = self.state_dir / "acng" / "acng.pid"
        if pidfile.exists():
            run("kill", pidfile.read_text().strip(), check=False)
            pidfile.unlink(missing_ok=True)

    # --- power controller (tests/lab/bmc.py) ---------------------------------------------
    @property
    def bmc_pidfile(self) -> Path:
        return self.state_dir / "bmc.pid"

    def bmc_pid(self) -> int | None:
        """The running power controller's pid, if it serves this lab's hosts (its pidfile says how
        many it was started for)."""
        try:
            state = json.loads(self.bmc_pidfile.read_text())
        except (OSError, ValueError):
            return None
        running = state.get("pid") in self._bmc_processes()
        return state["pid"] if running and state.get("hosts") == self.hosts else None

    def ensure_bmc(self) -> None:
        """Start the lab's BMCs (one UDP port per host on the srv bridge address) unless running."""
        if self.bmc_pid():
            return
        self.stop_bmc()
        if not self.bmc_credentials_file.exists():
            # The lab's own password, 0600 from creation; the fencing drills give it to the deploy.
            fd = os.open(self.bmc_credentials_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump({"user": BMC_USER, "password": secrets.token_urlsafe(12)}, out)  # IPMI 2.0: 20 bytes at most
        python = ROOT / ".venv/bin/python"
        if not python.exists():
            raise LabError(f"{python} missing: run ./dev venv (the BMCs need pyghmi)")
        env = {**os.environ, "LAB_ID": str(self.lab_id), "LAB_HOSTS": str(self.hosts), "LAB_SUITE": self.suite}
        with open(self.state_dir / "bmc.log", "a") as out:
            process = subprocess.Popen([str(python), "-m", "tests.lab.bmc"], cwd=ROOT, env=env, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.bmc_pidfile.write_text(json.dumps({"pid": process.pid, "hosts": self.hosts}))
        wanted = {f"{self.gateway('srv')}:{self.bmc_port(n)}" for n in range(1, self.hosts + 1)}
        for _ in range(100):
            listening = set(run("ss", "-Hlun", check=False).stdout.split())
            if wanted <= listening:
                return
            if process.poll() is not None:
                break
            time.sleep(0.1)
        raise LabError(f"the lab's BMCs did not listen on {', '.join(sorted(wanted))} (see {self.state_dir}/bmc.log)")

    def _bmc_processes(self) -> list[int]:
        """Every power controller process of this lab, also one its pidfile no longer names (a
        start that failed after another one, for another number of hosts, kept the ports)."""
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and b"tests.lab.bmc" in (proc / "cmdline").read_bytes() \
                        and f"LAB_ID={self.lab_id}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
            except OSError:
                continue
        return found

    def stop_bmc(self) -> None:
        """Stop the power controller, also one started for another number of hosts (the lab grown
        or shrunk), and wait until it is gone (its ports free)."""
        pids = self._bmc_processes()
        for pid in pids:
            os.kill(pid, 15)
        for pid in pids:
            for _ in range(100):  # gone, or a zombie (its ports closed) when this process started it
                try:
                    if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
                        break
                except OSError:
                    break
                time.sleep(0.1)
        self.bmc_pidfile.unlink(missing_ok=True)

    # --- template and hosts ---------------------------------------------------------------
    def ensure_template(self) -> None:
        tpl = self.template()
        with open(BASE / f".template-{self.suite}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (tpl / ".complete").exists():
                return
            log(f"building the {self.suite} template (debootstrap through the lab proxy)")
            shutil.rmtree(tpl, ignore_errors=True)
            env = {**os.environ, "http_proxy": self.proxy_url}
            run(
                "debootstrap", "--variant=minbase", f"--include={','.join(TEMPLATE_PACKAGES)}",
                self.suite, str(tpl), "http://deb.debian.org/debian", env=env,
            )
            (tpl / "etc/apt/sources.list").write_text(
                f"deb http://deb.debian.org/debian {self.suite} main\n"
                f"deb http://deb.debian.org/debian {self.suite}-updates main\n"
                f"deb http://deb.debian.org/debian-security {self.suite}-security main\n"
            )
            # The machine's HTTPS to PyPI is re-signed by a local CA: the hosts must trust it.
            cas = Path("/usr/local/share/ca-certificates")
            for cert in cas.glob("*.crt"):
                shutil.copy(cert, tpl / "usr/local/share/ca-certificates" / cert.name)
            run("chroot", str(tpl), "update-ca-certificates", "--fresh")
            for key in (tpl / "etc/ssh").glob("ssh_host_*"):
                key.unlink()
            (tpl / "etc/machine-id").write_text("")
            (tpl / "etc/hostname").write_text("localhost\n")
            (tpl / ".complete").write_text("ok\n")

    def lxc_config(self, n: int) -> str:
        lines = [
            "lxc.include = /usr/share/lxc/config/common.conf",
            "lxc.arch = linux64",
            f"lxc.rootfs.path = dir:{self.rootfs(n)}",
            f"lxc.uts.name = {INSTALLER_HOSTNAME}",
            "lxc.apparmor.profile = unconfined",
            "lxc.start.auto = 0",
        ]
        for index, net in enumerate(NETS):
            lines += [
                f"lxc.net.{index}.type = veth",
                f"lxc.net.{index}.link = {self.bridge(net)}",
                f"lxc.net.{index}.name = eth{index}",
                f"lxc.net.{index}.veth.pair = {self.veth(net, n)}",
                f"lxc.net.{index}.hwaddr = 02:70:{self.lab_id:02x}:{NET_INDEX[net]:02x}:00:{n:02x}",
                f"lxc.net.{index}.ipv4.address = {self.address(net, n)}/24",
                f"lxc.net.{index}.flags = up",
            ]
        if Path("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists():
            # Lets corosync run with SCHED_RR inside the container (cgroup v1 gives 0 by default).
            # The machine's budget is 950000 us per second: 30000 each fits 10 labs of 3 hosts.
            lines.append("lxc.cgroup.cpu.rt_runtime_us = 30000")
        return "\n".join(lines) + "\n"

    def create_host(self, n: int) -> None:
        name = self.container(n)
        log(f"creating {name} (ctrl-{n})")
        root = self.rootfs(n)
        shutil.rmtree(root.parent, ignore_errors=True)
        root.parent.mkdir(parents=True)
        run("cp", "-a", str(self.template()), str(root))
        (root / ".complete").unlink(missing_ok=True)
        (root / "etc/hostname").write_text(f"{INSTALLER_HOSTNAME}\n")
        (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {INSTALLER_HOSTNAME}\n"
                                        "::1 localhost ip6-localhost ip6-loopback\n")
        (root / "etc/machine-id").write_text(os.urandom(16).hex() + "\n")
        run("chroot", str(root), "ssh-keygen", "-A")
        ssh_dir = root / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.copy(f"{self.key}.pub", ssh_dir / "authorized_keys")
        os.chmod(ssh_dir / "authorized_keys", 0o600)
        (root.parent / "config").write_text(self.lxc_config(n))
        self.start_host(n)

    def wait_ssh(self, n: int, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.address("srv", n), 22), timeout=1) as sock:
                    if sock.recv(4).startswith(b"SSH"):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise LabError(f"ctrl-{n}: sshd did not answer within {timeout:.0f}s")

    def start_host(self, n: int) -> None:
        if self.state(n) != "RUNNING":
            self.require_network()
            run("lxc-start", "-n", self.container(n))
        self.wait_ssh(n)

    def require_network(self) -> None:
        if not (self.bridges_up() and self.guard_present()):
            raise LabError("lab bridges or guard route missing: run `tests/lab/lab up` first")

    # --- commands ---------------------------------------------------------------------
    def up(self) -> None:
        started = time.monotonic()
        self.install_machine_packages()
        self.ensure_key()
        self.ensure_network()
        self.ensure_proxy()
        self.write_state()
        self.ensure_bmc()
        to_create = [n for n in range(1, self.hosts + 1) if self.state(n) == "ABSENT"]
        if to_create:
            self.ensure_template()
        for n in range(1, self.hosts + 1):
            if n in to_create:
                self.create_host(n)
            else:
                self.heal(n)
                self.start_host(n)
        log(f"up: {self.hosts} hosts running in {time.monotonic() - started:.1f}s")

    def down(self) -> None:
        for n in range(1, self.hosts + 1):
            if self.state(n) == "RUNNING":
                run("lxc-stop", "-n", self.container(n), "-t", "30", check=False)
        self.stop_proxy()
        self.stop_bmc()
        log("down: hosts stopped (kept on disk)")

    def destroy_host(self, n: int) -> None:
        """Remove host n (container and disk); the rest of the lab stays."""
        if self.state(n) != "ABSENT":
            run("lxc-stop", "-k", "-n", self.container(n), check=False)
            run("lxc-destroy", "-n", self.container(n), check=False)
        shutil.rmtree(LXC_PATH / self.container(n), ignore_errors=True)

    def destroy(self) -> None:
        for n in range(1, 10):
            self.destroy_host(n)
        self.stop_proxy()
        self.stop_bmc()
        for net in NETS:
            run("ip", "link", "del", self.bridge(net), check=False)
        shutil.rmtree(self.state_dir / "acng" / "conf", ignore_errors=True)
        (self.state_dir / "lab.json").unlink(missing_ok=True)
        # The guard route stays: it is harmless and keeps the subnets from leaving the machine.
        log("destroy: hosts and bridges removed (package cache and template kept)")

    def status(self) -> int:
        print(f"lab {self.lab_id} ({self.suite}), bridges {'up' if self.bridges_up() else 'DOWN'}, "
              f"guard route {'present' if self.guard_present() else 'MISSING'}, "
              f"proxy {'running' if self.proxy_running() else 'stopped'}, "
              f"BMCs {'running' if self.bmc_pid() else 'stopped'}")
        unhealthy = 0
        for n in range(1, self.hosts + 1):
            state = self.state(n)
            isolated = self.is_isolated(n) if state == "RUNNING" else False
            unhealthy += state != "RUNNING" or isolated
            addrs = " ".join(self.address(net, n) for net in NETS)
            print(f"  ctrl-{n}  {self.container(n):14} {state:8} {'ISOLATED' if isolated else '':8} {addrs}")
        return 1 if unhealthy else 0

    def is_isolated(self, n: int) -> bool:
        out = run("ip", "-o", "link", "show", self.veth("srv", n), check=False).stdout
        flags = out.split("<", 1)[1].split(">", 1)[0].split(",") if "<" in out else []
        return "UP" not in flags

    def kill(self, n: int) -> None:
        run("lxc-stop", "-k", "-n", self.container(n))
        log(f"ctrl-{n} killed")

    def isolate(self, n: int) -> None:
        """A silent loss of ctrl-<n>'s networks: its veths go down on the machine's side, so the
        bridges drop its frames both ways while its peers' own links stay up; they see no link
        change, no RST and no ICMP (checked with a capture on the bridges during a cut), only
        timeouts, as after a power loss or a dead switch port."""
        for net in NETS:
            run("ip", "link", "set", self.veth(net, n), "down")
        log(f"ctrl-{n} isolated from api, srv and data")

    def heal(self, n: int) -> None:
        if self.state(n) != "RUNNING":
            return
        for net in NETS:
            run("ip", "link", "set", self.veth(net, n), "up", check=False)

    def ssh_command(self, n: int) -> list[str]:
        return [
            "ssh", "-i", str(self.key), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            f"root@{self.address('srv', n)}",
        ]

    def ssh(self, n: int, command: list[str]) -> int:
        if self.state(n) != "RUNNING":
            raise LabError(f"ctrl-{n} is not running: refusing to address it (`tests/lab/lab start {n}`)")
        self.require_network()
        return subprocess.call(self.ssh_command(n) + command)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    lab = Lab.from_env()
    command, args = argv[0], argv[1:]
    if os.geteuid() != 0:
        raise LabError("the lab needs root (LXC, bridges, routes)")
    if command == "up":
        lab.up()
    elif command == "down":
        lab.down()
    elif command == "destroy" and args:
        lab.destroy_host(lab.number(args[0]))
    elif command == "destroy":
        lab.destroy()
    elif command == "status":
        return lab.status()
    elif command == "env":
        print(json.dumps(lab.describe(), indent=2))
    elif command == "ssh":
        return lab.ssh(lab.number(args[0]), args[1:])
    elif command in ("kill", "start", "isolate", "heal") and args:
        n = lab.number(args[0])
        {"kill": lab.kill, "start": lab.start_host, "isolate": lab.isolate, "heal": lab.heal}[command](n)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except LabError as error:
        print(f"[lab] error: {error}", file=sys.stderr)
        sys.exit(1)
