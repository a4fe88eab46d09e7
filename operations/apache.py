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
def modules(modules: list[str], enabled: bool = True) -> Generator[StringCommand, None, None]:
    """
    Enable or disable Apache modules the Debian way (``a2enmod``/``a2dismod``, which also
    enable the modules they depend on and record that the administrator chose them); one
    reading of the enabled modules for all of them.

    + modules: module names as in ``/etc/apache2/mods-available`` (``proxy_uwsgi``, not ``mod_proxy_uwsgi``)
    + enabled: whether the modules should be enabled

    Apache is not reloaded here: restart it when this operation changed something.

    **Example:**

    .. code:: python

        mods = apache.modules(name="Enable mod_wsgi and mod_proxy_uwsgi", modules=["wsgi", "proxy_uwsgi"])
        systemd.service(name="Restart Apache", service="apache2", restarted=True,
                        _if=mods.did_change)
    """
    present = host.get_fact(ApacheModules)
    to_change = [module for module in modules if (module in present) != enabled]
    if to_change:
        yield StringCommand("a2enmod" if enabled else "a2dismod", "-q", *map(QuoteString, to_change))
    else:
        host.noop(f"Apache modules {', '.join(modules)}: {'enabled' if enabled else 'disabled'}")
