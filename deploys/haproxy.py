"""HAProxy on every controller: the group_data service catalog behind the VIPs, a stats page (HTTPS).

The configuration is rendered to haproxy.cfg.new, checked with ``haproxy -c`` and only then
installed over haproxy.cfg; a running HAProxy is reloaded. Pacemaker owns the service (clone of
``systemd:haproxy``): the unit stays disabled at boot and this deploy never starts it.

    pyinfra inventory.py deploys/haproxy.py
"""

from io import StringIO

from pyinfra import host
from pyinfra.operations import server, systemd
from pyinfra.operations.util import any_changed

from lib.deploy import prologue
from lib.steps import limit
from lib.tls import TlsStore
from operations import haproxy, steady, tls

topo = prologue()

# The candidate and the boot setting below: one reading when nothing changes (operations/steady.py).
snap = steady.Snapshot()

steady.packages(snap, name="Install socat (for the HAProxy stats socket)", packages=haproxy.STATS_PACKAGES,
                no_recommends=True, **limit("apt"))
installed_now = steady.packages(snap, name="Install HAProxy", packages=haproxy.SERVER_PACKAGES, no_recommends=True,
                                **limit("apt"))
# The package starts and enables HAProxy on its first install; Pacemaker starts it instead.
systemd.service(
    name="Stop the HAProxy started by its package install",
    service=haproxy.SERVICE,
    running=False,
    _if=installed_now.did_change,
)
steady.service(snap, name="Leave HAProxy disabled at boot (Pacemaker starts it)", service=haproxy.SERVICE,
               running=None, enabled=False)

# Lets HAProxy bind the VIPs on the nodes that do not hold them.
server.sysctl(
    name="Allow binding non-local addresses (net.ipv4.ip_nonlocal_bind=1)",
    key="net.ipv4.ip_nonlocal_bind",
    value=1,
    persist=True,
    persist_file="/etc/sysctl.d/60-haproxy.conf",
)

# The VIPs' certificate and key in one 0600 file, this controller's (the stats page) in another,
# the cluster CA (backends in TLS): before the configuration that names them.
store = TlsStore.of(host.data)
vip = tls.vip_certificate(store, topo, host.data)
node = tls.node_certificate(store, topo)
tls.save_issued(store)
certificates = [
    steady.put(snap, name=f"The VIPs' certificate and key {haproxy.PEM} (0600)", src=StringIO(haproxy.pem(vip)),
               dest=haproxy.PEM, mode="600"),
    steady.put(snap, name=f"This controller's certificate and key {haproxy.NODE_PEM} (0600, the stats page)",
               src=StringIO(haproxy.pem(node)), dest=haproxy.NODE_PEM, mode="600"),
    steady.put(snap, name=f"The trusted CAs {haproxy.CA} (backends in TLS; two during a CA rotation)",
               src=StringIO(store.trusted_pem), dest=haproxy.CA, mode="644"),
]

installed = haproxy.configure(snap, topo, host.data)
systemd.service(
    name="Reload HAProxy if it is running",
    service=haproxy.SERVICE,
    running=None,
    reloaded=True,
    _if=any_changed(installed, *certificates),
)
