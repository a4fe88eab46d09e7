"""HAProxy on every controller: the group_data service catalog behind the VIPs, a stats page.

The configuration is rendered to haproxy.cfg.new, checked with ``haproxy -c`` and only then
installed over haproxy.cfg; a running HAProxy is reloaded. Pacemaker owns the service (clone of
``systemd:haproxy``): the unit stays disabled at boot and this deploy never starts it.

    pyinfra inventory.py deploys/haproxy.py
"""

from pyinfra import host
from pyinfra.operations import files, server, systemd

from lib.deploy import prologue
from lib.steps import limit
from operations import haproxy, steady

topo = prologue()

CONFIG = "/etc/haproxy/haproxy.cfg"
CANDIDATE = f"{CONFIG}.new"
# The candidate and the boot setting below: one reading when nothing changes (operations/steady.py).
snap = steady.Snapshot()

steady.packages(snap, name="Install socat (for the HAProxy stats socket)", packages=["socat"], no_recommends=True,
                **limit("apt"))
installed_now = steady.packages(snap, name="Install HAProxy", packages=["haproxy"], no_recommends=True,
                                **limit("apt"))
# The package starts and enables HAProxy on its first install; Pacemaker starts it instead.
systemd.service(
    name="Stop the HAProxy started by its package install",
    service="haproxy",
    running=False,
    _if=installed_now.did_change,
)
steady.service(snap, name="Leave HAProxy disabled at boot (Pacemaker starts it)", service="haproxy",
               running=None, enabled=False)

# Lets HAProxy bind the VIPs on the nodes that do not hold them.
server.sysctl(
    name="Allow binding non-local addresses (net.ipv4.ip_nonlocal_bind=1)",
    key="net.ipv4.ip_nonlocal_bind",
    value=1,
    persist=True,
    persist_file="/etc/sysctl.d/60-haproxy.conf",
)

steady.template(
    snap,
    name="Render the HAProxy configuration candidate",
    src=haproxy.TEMPLATE,
    dest=CANDIDATE,
    user="root",
    group="haproxy",
    mode="640",
    **haproxy.template_args(topo, host.data),
)
installed = haproxy.install_checked_config(
    name="Check the candidate with haproxy -c and install it",
    candidate=CANDIDATE,
    dest=CONFIG,
)
files.file(name="Keep haproxy.cfg root:haproxy 0640 (it holds the stats password)", path=CONFIG,
           user="root", group="haproxy", mode="640")
systemd.service(
    name="Reload HAProxy if it is running",
    service="haproxy",
    running=None,
    reloaded=True,
    _if=installed.did_change,
)
