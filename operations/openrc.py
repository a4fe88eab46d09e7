"""The admin openrc: what ``deploys/openrc.py`` renders into ``/root/.openrc``.

No operation of its own (``files.template`` writes it); the template arguments live here so
that the deploy and the unit tests render exactly the same file.
"""

from __future__ import annotations

from lib.topology import Topology

TEMPLATE = "templates/openrc/openrc.j2"
# The public/internal API network: OS_AUTH_URL uses its VIP. The seed used the srv VIP
# ("os") and keystone's v2 admin port 35357, retired in Queens.
AUTH_NETWORK = "api"
INTERFACE = "internal"


def auth_url(topo: Topology, data) -> str:
    """``http://<api VIP>:<keystone_public port>/v3``."""
    port = data.haproxy_services["keystone_public"]["port"]
    return f"http://{topo.vip(AUTH_NETWORK)}:{port}/v3"


def template_args(topo: Topology, data) -> dict:
    """Keyword arguments of ``files.template`` for the openrc (the password in clear: never log them)."""
    return {
        "openrc": data.openrc,
        "interface": INTERFACE,
        "auth_url": auth_url(topo, data),
        "password": data.secrets["openstack_admin_password"].unmask(),
    }
