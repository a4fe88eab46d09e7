"""What every deploy file runs first: ``--diff`` refused, the cluster lock (one deploy at a time,
``lib/lock.py``), then the common base (data validation included), once per host and per run.

The base: valid data, a supported Debian, this cluster's secrets, hostnames that are the inventory
names and resolve to cluster addresses (``lib/hostnames.py``), apt's proxy, fresh apt lists. Whichever deploy file comes first for a host runs it (in
``deploys/prereqos.py``, the first component); the later ones find it done.

Example (top of ``deploys/<component>.py``)::

    from lib.deploy import prologue
    topo = prologue()        # raises before any operation when group_data is wrong;
                             # a failed one-node-at-a-time step ends the run (lib/serial_stop.py)
"""

from __future__ import annotations

from io import StringIO

from pyinfra import host, local, logger, state
from pyinfra.api import deploy
from pyinfra.api.exceptions import ConnectError, DeployError
from pyinfra.facts.files import Sha1File
from pyinfra.facts.server import Hostname, LinuxDistribution
from pyinfra.operations import python, systemd

from facts.identity import MachineIdentity, RabbitmqNodeData
from facts.precheck import HostResources
from lib import precheck_facts
from lib.cluster_keys import RABBITMQ_COOKIE, SHARED_KEYS, foreign_keys
from lib.hostnames import one_machine_twice, rabbitmq_under_another_name
from lib.lock import hold_cluster_lock
from lib.run import fact_of_the_run, once_per_run, read_ahead, run_memory
from lib.serial_stop import SerialStop
from lib.steps import limit, report_failures
from lib.topology import Topology, controllers
from lib.validate import unsupported_distribution, validate_or_raise
from operations import apt_lists, steady

# The name the base's operations carry (``deploys/rabbitmq.py | deploys/base.py | ...``): the
# file that runs it alone; the benchmark counts these operations as "base".
BASE = "deploys/base.py"
# apt's proxy (group_data apt_proxy), written by the base.
APT_PROXY_CONF = "/etc/apt/apt.conf.d/90prereqos-proxy"
CHRONY_DROPIN = "/etc/systemd/system/chrony.service.d/prereqos-container.conf"

# Debian's chrony.service, started without its CAP_SYS_TIME condition and with -x.
CHRONY_IN_CONTAINER = """# Managed by prereqos (lib/deploy.py): in a container the clock is the machine's.
[Unit]
ConditionCapability=
[Service]
ExecStart=
ExecStart=!/usr/sbin/chronyd $DAEMON_OPTS -x
"""

# What the base reads of each controller before any change (with the prechecks': ``prologue``).
BASE_FACTS = [(LinuxDistribution, {}), (RabbitmqNodeData, {}), (Hostname, {}), (MachineIdentity, {}),
              *((Sha1File, {"path": path}) for path in SHARED_KEYS)]

DIFF_REFUSED = (
    "--diff is refused: pyinfra would print the old and new content of every changed file, and "
    "some hold secrets (Erlang cookie, corosync authkey, passwords). Nothing was changed; "
    "use --dry to see which files and operations would change."
)


def prologue() -> Topology:
    """``--diff`` refused, the cluster lock, the common base on this host unless this run already
    gave it; then this host's topology."""
    # Before any operation of any deploy: a diff is printed as soon as an operation is added.
    if state.config.DIFF:
        raise DeployError(DIFF_REFUSED)
    SerialStop.register(state)  # serial steps stop at the first failure
    report_failures(state)      # a failed step: one line naming the host, the step, its time and limit
    done = run_memory().setdefault("base", set())
    if host.name not in done:
        done.add(host.name)
        base()          # data validated (and refused) before the lock touches any host
    hold_cluster_lock(lock_order(host.inventory))
    return Topology.of(host)


def include_once(path: str) -> None:
    """``local.include(path)`` unless this run already included it for this host: a deploy file
    that another one needs first, and that ``deploys/prereqos.py`` runs earlier.

    Example (``deploys/ha.py``, alone or after ``deploys/prereqos.py`` ran corosync.py)::

        include_once("deploys/corosync.py")
    """
    done = run_memory().setdefault("included", set())
    if (host.name, path) not in done:
        done.add((host.name, path))
        local.include(path)


def lock_order(inventory) -> list:
    """The controllers in the order the lock is tried: ``firstnode`` first, then inventory order."""
    hosts = controllers(inventory)
    first = [h for h in hosts if h.name == host.data.firstnode]
    return first + [h for h in hosts if h not in first]


@deploy(BASE)
def base() -> None:
    # Bad data stops the run here, before any operation on any host; so does an unsupported OS.
    validate_or_raise(host.inventory)
    # What the base and the prechecks read of every controller: one command per controller.
    once_per_run("read ahead", lambda: read_ahead(controllers(host.inventory), BASE_FACTS + precheck_facts.FACTS))
    refusal = unsupported_distribution(host.name, fact_of_the_run(host, LinuxDistribution))
    if refusal:
        raise DeployError(refusal)
    # A cluster key on the host that is not the secret's: another secrets.json (two sha1sum calls).
    rabbitmq_nodes = fact_of_the_run(host, RabbitmqNodeData)
    refusal = foreign_keys(host.name, {path: fact_of_the_run(host, Sha1File, path=path) for path in SHARED_KEYS},
                           host.data.secrets, unused=frozenset() if rabbitmq_nodes else frozenset({RABBITMQ_COOKIE}))
    if refusal:
        raise DeployError(refusal)
    # The hostname becomes the inventory name (below): refused where that cannot hold.
    identities = once_per_run("machine identities", lambda: {peer.name: machine_identity(peer.name)
                                                              for peer in controllers(host.inventory)})
    refusal = (one_machine_twice(identities)
               or rabbitmq_under_another_name(host.name, fact_of_the_run(host, Hostname), rabbitmq_nodes))
    if refusal:
        raise DeployError(refusal)
    # Host prechecks (addresses, VIPs, ports, names, clock) of every controller, before any change.
    precheck_facts.refuse_unless_ready()
    # The first run generates the missing secrets in memory; they reach secrets.json (0600) only
    # when the run executes, first of the run's changes (never with --dry or a declined prompt).
    if host.data.secrets.unsaved:
        python.call(name="Save the generated secrets to secrets.json (0600)", function=host.data.secrets.save)

    # The names, files, package and service below: one reading when nothing changes (operations/steady.py).
    snap = steady.Snapshot()
    # RabbitMQ names its node after the hostname (the inventory name, below): it must resolve to
    # the srv address, never to 127.0.1.1.
    steady.etc_hosts(snap, name="Remove the 127.0.1.1 hostname entry", ip="127.0.1.1", present=False)
    for node in Topology.of(host).nodes:
        steady.etc_hosts(
            snap,
            name=f"Resolve {node.name} to its srv address",
            ip=node.addresses["srv"],
            hostnames=[node.name],
        )
    # The hostname is the inventory name (lib/hostnames.py), set before any package is installed:
    # RabbitMQ starts as rabbit@<inventory name>. hostnamectl writes /etc/hostname too; the file is
    # also checked, so a name set only until the next boot is caught.
    steady.hostname(snap, name="Hostname: the inventory name", hostname=host.name)
    steady.put(snap, name="/etc/hostname", src=StringIO(f"{host.name}\n"), dest="/etc/hostname", mode="644")
    # apt's proxy before the first apt command; None removes the file.
    if host.data.apt_proxy:
        steady.template(snap, name="apt proxy (apt_proxy)", src="templates/base/apt-proxy.conf.j2",
                        dest=APT_PROXY_CONF, mode="644", apt_proxy=host.data.apt_proxy)
    else:
        steady.absent(snap, name="No apt proxy", path=APT_PROXY_CONF)

    # A stalled proxy or mirror: the host kills that apt-get update at its limit and it is retried.
    apt_lists.update_lists(name="Update apt lists (at most daily)", cache_time=86400)

    # Time sync and what the facts need (python3). In a container the clock is the machine's:
    # chrony cannot set it (no CAP_SYS_TIME, and Debian's unit is conditioned on it), so there it
    # runs with -x (tracks time, never sets the clock).
    container = fact_of_the_run(host, HostResources)["container"]
    if container:
        logger.warning(f"{host.name}: in a container ({container}): chrony runs with -x (the clock is the machine's)")
        dropin = steady.put(snap, name=f"chrony without setting the clock (-x): in a container ({container})",
                            src=StringIO(CHRONY_IN_CONTAINER), dest=CHRONY_DROPIN, mode="644")
        systemd.daemon_reload(name="systemd reads chrony's drop-in", _if=dropin.did_change)
    steady.packages(snap, name="python3 (the facts need it) and chrony (time sync)", packages=["python3", "chrony"],
                    no_recommends=True, **limit("apt"))
    steady.service(snap, name="chrony running and enabled", service="chrony", running=True, enabled=True)


def machine_identity(name: str) -> str | None:
    """A controller's MachineIdentity, ``None`` when it cannot be reached."""
    try:
        return fact_of_the_run(host.inventory.get_host(name), MachineIdentity)
    except ConnectError:
        return None
