"""Common base of every controller: valid data, a supported Debian, this cluster's secrets, names that resolve to cluster addresses.

Included once per host by ``lib.deploy.prologue()``; runnable alone too::

    pyinfra inventory.py deploys/base.py
"""

from io import StringIO

from pyinfra import host, local, logger, state
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import Sha1File
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import apt, files, server, systemd

from facts.precheck import HostResources
from lib.cluster_keys import SHARED_KEYS, foreign_keys
from lib.steps import limit, report_failures
from lib.topology import Topology
from lib.validate import unsupported_distribution, validate_or_raise

# Debian's chrony.service, started without its CAP_SYS_TIME condition and with -x.
CHRONY_IN_CONTAINER = """# Managed by prereqos (deploys/base.py): in a container the clock is the machine's.
[Unit]
ConditionCapability=
[Service]
ExecStart=
ExecStart=!/usr/sbin/chronyd $DAEMON_OPTS -x
"""

# A failed step: one line naming the host, the step, its time and limit.
report_failures(state)

# Bad data stops the run here, before any operation on any host; so does an unsupported OS.
validate_or_raise(host.inventory)
refusal = unsupported_distribution(host.name, host.get_fact(LinuxDistribution))
if refusal:
    raise DeployError(refusal)
# A cluster key on the host that is not the secret's: another secrets.json (two sha1sum calls).
refusal = foreign_keys(host.name, {path: host.get_fact(Sha1File, path=path) for path in SHARED_KEYS},
                       host.data.secrets)
if refusal:
    raise DeployError(refusal)

# Host prechecks (addresses, VIPs, ports, names, clock) of every controller, before any change.
local.include("deploys/precheck.py")

topo = Topology.of(host)

# RabbitMQ, corosync and Galera name nodes after the hostname: it must resolve to the srv
# address, never to 127.0.1.1.
server.etc_hosts(name="Remove the 127.0.1.1 hostname entry", ip="127.0.1.1", present=False)
for node in topo.peers:
    server.etc_hosts(
        name=f"Resolve {node.name} to its srv address",
        ip=node.addresses["srv"],
        hostnames=[node.name],
    )

apt.update(name="Update apt lists (at most daily)", cache_time=86400, **limit("apt"))

# --- Time sync and what the facts need (python3) ---------------------------------------------
# In a container the clock is the machine's: chrony cannot set it (no CAP_SYS_TIME, and Debian's
# unit is conditioned on it), so there it runs with -x (tracks time, never sets the clock).
container = host.get_fact(HostResources)["container"]
if container:
    logger.warning(f"{host.name}: in a container ({container}): chrony runs with -x (the clock is the machine's)")
    dropin = files.put(name=f"chrony without setting the clock (-x): in a container ({container})",
                       src=StringIO(CHRONY_IN_CONTAINER),
                       dest="/etc/systemd/system/chrony.service.d/prereqos-container.conf", mode="644")
    systemd.daemon_reload(name="systemd reads chrony's drop-in", _if=dropin.did_change)
apt.packages(name="python3 (the facts need it) and chrony (time sync)", packages=["python3", "chrony"],
             no_recommends=True, **limit("apt"))
systemd.service(name="chrony running and enabled", service="chrony", running=True, enabled=True)
