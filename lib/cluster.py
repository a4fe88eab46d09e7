"""The names the cluster's pieces share: written once here, imported everywhere they are used.

Pacemaker ids (the CIB objects ``deploys/ha.py`` creates, read back by the recovery deploy and
the health report), the inventory group of the controllers, the Galera health check's program
(``deploys/galera.py`` installs it, the prechecks know its listener by its name).

Example::

    from lib.cluster import VIP_RESOURCE, VIP_GROUP, HAPROXY_CLONE
    VIP_RESOURCE["srv"]          # "vipsrv": the IPaddr2 primitive holding the srv VIP
    list(VIP_RESOURCE.values())  # ["vipsrv", "vipapi"], the members of group VIP_GROUP
"""

from __future__ import annotations

CONTROLLER_GROUP = "controllers"

# Pacemaker resources and constraints (ids in the CIB).
VIP_RESOURCE: dict[str, str] = {"srv": "vipsrv", "api": "vipapi"}
VIP_GROUP = "vips"
HAPROXY_RESOURCE = "haproxy"
HAPROXY_CLONE = "haproxy-clone"
VIPS_WITH_HAPROXY = "vips-with-haproxy"
HAPROXY_BEFORE_VIPS = "haproxy-before-vips"

# The Galera health check's responder (galera['check_port']); ss names its listener by the file's name.
GALERA_CHECK_DAEMON = "/usr/local/sbin/galera-checkd"
