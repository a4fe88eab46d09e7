"""Operations on Apache HTTPD (Debian layout: ``a2enmod``/``a2dismod``), and the arguments of
the templates in templates/apache/."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from facts.apache import ApacheModules
from lib.topology import Topology

# Debian packages (no Recommends); mod_proxy_uwsgi ships in apache2 on Debian 12/13.
PACKAGES = ["apache2", "libapache2-mod-wsgi-py3"]
MODULES = ["wsgi", "proxy", "proxy_uwsgi"]
SERVICE = "apache2"


def template_args(topo: Topology, data) -> dict[str, Any]:
    """Keyword arguments of ``files.template`` for ports.conf and the default site: this
    controller's srv address (never a wildcard: HAProxy owns the VIPs' ports) and the port."""
    return {"address": topo.address("srv"), "port": data.apache["port"]}


@operation()
def module(module: str, enabled: bool = True) -> Generator[StringCommand, None, None]:
    """
    Enable or disable an Apache module the Debian way (``a2enmod``/``a2dismod``, which also
    enable the modules it depends on and record that the administrator chose it).

    + module: module name as in ``/etc/apache2/mods-available`` (``proxy_uwsgi``, not ``mod_proxy_uwsgi``)
    + enabled: whether the module should be enabled

    Apache is not reloaded here: restart it when this operation changed something.

    **Example:**

    .. code:: python

        uwsgi = apache.module(name="Enable mod_proxy_uwsgi", module="proxy_uwsgi")
        systemd.service(name="Restart Apache", service="apache2", restarted=True,
                        _if=uwsgi.did_change)
    """
    is_enabled = module in host.get_fact(ApacheModules)
    if enabled and not is_enabled:
        yield StringCommand("a2enmod", "-q", QuoteString(module))
    elif not enabled and is_enabled:
        yield StringCommand("a2dismod", "-q", QuoteString(module))
    else:
        host.noop(f"Apache module {module} is {'enabled' if enabled else 'disabled'}")
