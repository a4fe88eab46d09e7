"""The admin openrc: what ``deploys/openrc.py`` renders into ``/root/.openrc``.

No operation of its own (``files.template`` writes it); the template arguments live here so
that the deploy and the unit tests render exactly the same file.
"""

from __future__ import annotations

from lib.tls import SYSTEM_BUNDLE, service_tls
from lib.topology import Topology
from lib.validate import KEYSTONE_SERVICE

TEMPLATE = "templates/openrc/openrc.j2"
# The public/internal API network: OS_AUTH_URL uses its VIP. The seed used the srv VIP
# ("os") and keystone's v2 admin port 35357, retired in Queens.
AUTH_NETWORK = "api"
INTERFACE = "internal"


def keystone_tls(data) -> bool:
    """Whether HAProxy's keystone frontend terminates TLS (``haproxy_services[KEYSTONE_SERVICE]``)."""
    return service_tls(data.haproxy_services[KEYSTONE_SERVICE])


def keystone_url(topo: Topology, data, net: str) -> str:
    """Keystone v3 through the ``net`` VIP: ``https://10.0.1.10:5000/v3`` (``http://`` without TLS)."""
    port = data.haproxy_services[KEYSTONE_SERVICE]["port"]
    return f"{'https' if keystone_tls(data) else 'http'}://{topo.vip(net)}:{port}/v3"


def auth_url(topo: Topology, data) -> str:
    """Keystone through the api VIP, ``https://<api VIP>:<keystone_public port>/v3``."""
    return keystone_url(topo, data, AUTH_NETWORK)


def template_args(topo: Topology, data) -> dict:
    """Keyword arguments of ``files.template`` for the openrc (the password in clear: never log them)."""
    return {
        "openrc": data.openrc,
        "interface": INTERFACE,
        "auth_url": auth_url(topo, data),
        # The bundle that trusts the cluster CA: the clients' requests would read certifi's otherwise.
        "cacert": SYSTEM_BUNDLE if keystone_tls(data) else None,
        "password": data.secrets["openstack_admin_password"].unmask(),
    }
