"""memcached on every controller, the OpenStack services' cache (Keystone's tokens): Debian's
package, listening on the controller's own srv address only, its size and connections from
group_data (``memcached``; "auto" derives them from the host: ``lib/sizing.py``).

Runnable alone::

    pyinfra inventory.py deploys/memcached.py
"""

from pyinfra import host
from pyinfra.operations import systemd

from facts.precheck import HostResources
from lib.deploy import prologue
from lib.run import fact_of_the_run
from lib.sizing import Resources
from lib.steps import limit
from operations import memcached, steady

topo = prologue()
# The file, package and service below: one reading when nothing changes (operations/steady.py).
snap = steady.Snapshot()

# Before the package: its first start (dpkg keeps an existing conffile) already listens on the srv
# address only, never on Debian's 127.0.0.1 default.
config = steady.template(
    snap,
    name=f"memcached on the srv address only ({memcached.CONFIG})",
    src=memcached.TEMPLATE,
    dest=memcached.CONFIG,
    mode="644",
    **memcached.template_args(topo, host.data, Resources.of(fact_of_the_run(host, HostResources))),
)
installed = steady.packages(snap, name="Install memcached", packages=memcached.PACKAGES, no_recommends=True, **limit("apt"))
systemd.service(
    name="Restart memcached after a configuration change",
    service=memcached.SERVICE,
    running=True,
    restarted=True,
    _if=lambda: config.did_change() and not installed.did_change(),
)
steady.service(snap, name="memcached runs and starts at boot", service=memcached.SERVICE, running=True, enabled=True)
