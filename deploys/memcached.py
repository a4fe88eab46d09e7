"""memcached on every controller, the OpenStack services' cache (Keystone's tokens): Debian's
package, listening on the controller's own srv address only, its size and connections from
group_data (``memcached``; "auto" derives them from the host: ``lib/sizing.py``).

Runnable alone::

    pyinfra inventory.py deploys/memcached.py
"""

from pyinfra import host
from pyinfra.operations import apt, files, systemd

from facts.precheck import HostResources
from lib.deploy import prologue
from lib.sizing import Resources
from lib.steps import limit
from operations import memcached

topo = prologue()

# Before the package: its first start (dpkg keeps an existing conffile) already listens on the srv
# address only, never on Debian's 127.0.0.1 default.
config = files.template(
    name=f"memcached on the srv address only ({memcached.CONFIG})",
    src=memcached.TEMPLATE,
    dest=memcached.CONFIG,
    mode="644",
    **memcached.template_args(topo, host.data, Resources.of(host.get_fact(HostResources))),
)
installed = apt.packages(name="Install memcached", packages=memcached.PACKAGES, no_recommends=True, **limit("apt"))
systemd.service(
    name="Restart memcached after a configuration change",
    service=memcached.SERVICE,
    running=True,
    restarted=True,
    _if=lambda: config.did_change() and not installed.did_change(),
)
systemd.service(name="memcached runs and starts at boot", service=memcached.SERVICE, running=True, enabled=True)
