"""The admin openrc, ``/root/.openrc`` (mode 0600): identity v3 credentials of the cloud's
admin, the password from the secrets file.

OS_AUTH_URL points at the api VIP (the public/internal API network), on the port of
``haproxy_services["keystone_public"]``: ``http://<api VIP>:5000/v3``; clients then use the
internal endpoints (OS_INTERFACE=internal). The seed used ``http://os:35357/v2.0``: the srv
VIP and keystone's v2 admin API, gone since Queens.

Runnable alone::

    pyinfra inventory.py deploys/openrc.py
"""

from pyinfra import host, logger

from lib.deploy import prologue
from operations import openrc, steady

topo = prologue()
binds = host.data.haproxy_services["keystone_public"]["binds"]
if topo.is_first and openrc.AUTH_NETWORK not in binds:  # said once, not once per host
    logger.warning(
        f"/root/.openrc points at the {openrc.AUTH_NETWORK} VIP, but haproxy_services"
        f"['keystone_public'] binds only {binds}: add {openrc.AUTH_NETWORK!r} to its binds"
    )

steady.template(
    steady.Snapshot(),
    name="Admin openrc /root/.openrc (0600)",
    src=openrc.TEMPLATE,
    dest="/root/.openrc",
    user="root",
    group="root",
    mode="600",
    **openrc.template_args(topo, host.data),
)
