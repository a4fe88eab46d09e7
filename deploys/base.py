"""Common base of every controller: valid data, a supported Debian, this cluster's secrets, names that resolve to cluster addresses.

Included once per host by ``lib.deploy.prologue()``; runnable alone too::

    pyinfra inventory.py deploys/base.py
"""

from pyinfra import host
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import Sha1File
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import apt, python, server

from lib.cluster_keys import SHARED_KEYS, foreign_keys
from lib.topology import Topology
from lib.validate import unsupported_distribution, validate_or_raise

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
# The first run generates the missing secrets in memory; they reach secrets.json (0600) only
# when the run executes, first of the run's changes (never with --dry or a declined prompt).
if host.data.secrets.unsaved:
    python.call(name="Save the generated secrets to secrets.json (0600)", function=host.data.secrets.save)

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

apt.update(name="Update apt lists (at most daily)", cache_time=86400)
