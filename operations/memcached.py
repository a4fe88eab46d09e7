"""memcached: the arguments of templates/memcached/memcached.conf.j2, and the servers a client
lists (``memcache_servers`` of the OpenStack services).

No operation of its own (``files.template`` writes the file); the deploy and the unit tests
render exactly the same file from here.

Example::

    template_args(topo, host.data, Resources(mem_mb=16384, cpus=4))
    # {"address": "10.0.2.11", "port": 11211, "sizes": {"memory_mb": 1024, "max_connections": 4096}}
    servers(topo, host.data)   # ["10.0.2.11:11211", "10.0.2.12:11211", "10.0.2.13:11211"]
"""

from __future__ import annotations

from typing import Any

from lib.sizing import Resources, memcached_sizes
from lib.topology import Topology

TEMPLATE = "templates/memcached/memcached.conf.j2"
CONFIG = "/etc/memcached.conf"
SERVICE = "memcached"
PACKAGES = ["memcached"]  # Debian packages (no Recommends)


def template_args(topo: Topology, data, resources: Resources) -> dict[str, Any]:
    """This controller's srv address (never a wildcard), the port, the sizes ("auto" derived)."""
    conf = data.memcached
    return {"address": topo.address("srv"), "port": conf["port"], "sizes": memcached_sizes(conf, resources)}


def servers(topo: Topology, data) -> list[str]:
    """``address:port`` of every controller's memcached, inventory order."""
    return [f"{node.addresses['srv']}:{data.memcached['port']}" for node in topo.nodes]
