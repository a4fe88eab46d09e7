"""The Debian packages of the whole stack (``deploys/prereqos.py``) in one apt transaction per
host, with none of the components' services started by it.

Each component's packages are its ``operations/<c>.PACKAGES`` (the one list its own deploy
installs, so that a component deploy run alone still installs what it needs; after this
operation its step says "installed" from its reading). One ``apt-get install`` pays dpkg's
triggers once instead of once per component.

The components' services do not start in that transaction: some components write their files
before their package (RabbitMQ's cookie and settings, corosync's key and configuration, Apache's
ports.conf, memcached's configuration) so that the package's first start uses them, and those
files are not there yet. A ``policy-rc.d`` (``templates/stack/policy-rc.d``: ``invoke-rc.d`` and
``deb-systemd-invoke`` ask it before any start) refuses the starts of ``HELD`` for the
transaction's ``apt-get`` only, which names them in ``PREREQOS_HELD_SERVICES`` (apt-get passes its
environment to dpkg and the maintainer scripts); the services of other packages (logrotate.timer,
cluster-glue's logd...) start as their package says. It is removed after, and one left by an
interrupted install refuses nothing. The packages enable their services as usual; each component
deploy then configures and starts its own (MariaDB at the bootstrap or join, HAProxy by
pacemaker). A host with its own ``policy-rc.d`` is left to it: there each component installs its
own packages, its files first.

Example (``deploys/prereqos.py``)::

    stack.install(name="The stack's Debian packages",
                  packages=stack.packages(upstream_mariadb=False, backup_node=True))
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from pyinfra import host, state
from pyinfra.api import StringCommand, operation
from pyinfra.api.operation import OperationMeta
from pyinfra.api.util import get_file_sha1
from pyinfra.facts.files import Sha1File
from pyinfra.operations import apt, files

from operations import apache, backup, buildenv, corosync, galera, haproxy, memcached, rabbitmq, steady, tls

POLICY_RC_D = "/usr/sbin/policy-rc.d"
POLICY_SOURCE = "templates/stack/policy-rc.d"
HELD_SERVICES = "PREREQOS_HELD_SERVICES"
# The units whose first start needs their component's files (as maintainer scripts name them, the
# .service suffix dropped): started by the component deploys, never by their package here.
HELD = (rabbitmq.SERVICE, "epmd", rabbitmq.EPMD_SOCKET, galera.SERVICE, haproxy.SERVICE, *corosync.SERVICES,
        memcached.SERVICE, apache.SERVICE)


def packages(upstream_mariadb: bool, backup_node: bool) -> list[str]:
    """Every component's packages in ``deploys/prereqos.py``'s order, each once. Not Galera's with
    MariaDB's own repository (``galera.upstream_repo``): ``deploys/galera.py`` installs them once
    it has added the repository. zstd only on a backup node."""
    lists = (rabbitmq.PACKAGES, [] if upstream_mariadb else galera.PACKAGES, tls.PACKAGES, haproxy.PACKAGES,
             corosync.PACKAGES, memcached.PACKAGES, apache.PACKAGES, buildenv.PACKAGES,
             backup.PACKAGES if backup_node else [])
    return list(dict.fromkeys(name for names in lists for name in names))


@operation()
def _install(snapshot: steady.Snapshot, packages: list[str]) -> steady.Commands:
    install = snapshot.commands(apt.packages, packages=packages, no_recommends=True)
    if not install:  # apt.packages said which are installed
        return
    source = os.path.join(state.cwd, POLICY_SOURCE) if state.cwd else POLICY_SOURCE
    found = host.get_fact(Sha1File, path=POLICY_RC_D)
    if found is not None and found != get_file_sha1(source):
        host.noop(f"{POLICY_RC_D} is this host's own: each component installs its packages, its files first")
        return
    yield from files.put._inner(src=POLICY_SOURCE, dest=POLICY_RC_D, user="root", group="root", mode="755")
    for command in install:
        yield StringCommand(f"{HELD_SERVICES}={shlex.quote(' '.join(HELD))}", command)
    yield StringCommand("rm", "-f", POLICY_RC_D)


def install(*, packages: list[str], **kwargs: Any) -> OperationMeta:
    """``apt.packages(packages, no_recommends=True)`` with none of ``HELD`` started by the install;
    no change (one remote command: ``steady``'s reading) when every package is installed."""
    snapshot = steady.Snapshot()
    snapshot.packages = True
    return _install(snapshot=snapshot, packages=packages, **kwargs)
