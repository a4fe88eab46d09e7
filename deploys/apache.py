"""Apache HTTPD for the OpenStack WSGI services: mod_wsgi, mod_proxy and mod_proxy_uwsgi,
listening on each controller's own srv address only (HAProxy owns the VIPs' ports).

Runnable alone::

    pyinfra inventory.py deploys/apache.py
"""

from pyinfra import host
from pyinfra.operations import systemd
from pyinfra.operations.util import any_changed

from lib.deploy import prologue
from lib.steps import limit
from operations import apache, steady

topo = prologue()
args = apache.template_args(topo, host.data)
# The files and the service below: one reading when nothing changes (operations/steady.py).
snap = steady.Snapshot()

# The listen address is in place before the package first starts Apache (dpkg keeps an
# existing conffile with --force-confold and leaves its own as ports.conf.dpkg-dist), so
# Apache never binds *:80, not even once.
ports = steady.template(
    snap,
    name="Apache listens on the srv address only (ports.conf)",
    src="templates/apache/ports.conf.j2",
    dest="/etc/apache2/ports.conf",
    mode="644",
    **args,
)
site = steady.template(
    snap,
    name="Apache default site on the srv address",
    src="templates/apache/000-default.conf.j2",
    dest="/etc/apache2/sites-available/000-default.conf",
    mode="644",
    **args,
)
steady.packages(
    snap,
    name="Install Apache and mod_wsgi",
    packages=apache.PACKAGES,
    no_recommends=True,
    **limit("apt"),
)
modules = apache.modules(name=f"Enable Apache modules {', '.join(apache.MODULES)}", modules=apache.MODULES)
systemd.service(
    name="Restart Apache after a configuration change",
    service=apache.SERVICE,
    running=True,
    restarted=True,
    _if=any_changed(ports, site, modules),
)
steady.service(
    snap,
    name="Apache runs and starts at boot",
    service=apache.SERVICE,
    running=True,
    enabled=True,
)
