"""Common base of every controller: valid data, a supported Debian, this cluster's secrets, hostnames that are the inventory names and resolve to cluster addresses, apt's proxy.

Included once per host by ``lib.deploy.prologue()``; runnable alone too::

    pyinfra inventory.py deploys/base.py
"""

from io import StringIO

from pyinfra import host
from pyinfra.api.exceptions import ConnectError, DeployError
from pyinfra.facts.files import Sha1File
from pyinfra.facts.server import Hostname, LinuxDistribution
from pyinfra.operations import apt, files, server

from facts.identity import MachineIdentity, RabbitmqNodeData
from lib.cluster_keys import SHARED_KEYS, foreign_keys
from lib.hostnames import one_machine_twice, rabbitmq_under_another_name
from lib.topology import Topology, controllers
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


def machine_identity(name: str) -> str | None:
    """A controller's MachineIdentity, ``None`` when it cannot be reached."""
    try:
        return host.inventory.get_host(name).get_fact(MachineIdentity)
    except ConnectError:
        return None


# The hostname becomes the inventory name (below): refused where that cannot hold.
refusal = (one_machine_twice({peer.name: machine_identity(peer.name) for peer in controllers(host.inventory)})
           or rabbitmq_under_another_name(host.name, host.get_fact(Hostname), host.get_fact(RabbitmqNodeData)))
if refusal:
    raise DeployError(refusal)

topo = Topology.of(host)

# RabbitMQ names its node after the hostname (the inventory name, below): it must resolve to
# the srv address, never to 127.0.1.1.
server.etc_hosts(name="Remove the 127.0.1.1 hostname entry", ip="127.0.1.1", present=False)
for node in topo.peers:
    server.etc_hosts(
        name=f"Resolve {node.name} to its srv address",
        ip=node.addresses["srv"],
        hostnames=[node.name],
    )
# The hostname is the inventory name (lib/hostnames.py), set before any package is installed:
# RabbitMQ starts as rabbit@<inventory name>. hostnamectl writes /etc/hostname too; the file is
# also checked, so a name set only until the next boot is caught.
server.hostname(name="Hostname: the inventory name", hostname=host.name)
files.put(name="/etc/hostname", src=StringIO(f"{host.name}\n"), dest="/etc/hostname", mode="644")

# apt's proxy (group_data apt_proxy) before the first apt command; None removes the file.
APT_PROXY_CONF = "/etc/apt/apt.conf.d/90prereqos-proxy"
if host.data.apt_proxy:
    files.template(name="apt proxy (apt_proxy)", src="templates/base/apt-proxy.conf.j2",
                   dest=APT_PROXY_CONF, mode="644", apt_proxy=host.data.apt_proxy)
else:
    files.file(name="No apt proxy", path=APT_PROXY_CONF, present=False)

apt.update(name="Update apt lists (at most daily)", cache_time=86400)
