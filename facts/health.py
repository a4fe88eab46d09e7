"""What the health report reads of a controller, in one remote command (``lib/health.py``).

Example::

    pyinfra inventory.py fact facts.health.HealthState --json
    # {"facts.health.HealthState": {"ctrl-1": {"rabbitmq": {...}, "galera": {...}, ...}}}
"""

from __future__ import annotations

import importlib

from facts.together import Together, key

# The report's facts: its section name -> the fact (module.Class), read without arguments.
FACTS = {
    "rabbitmq": "facts.rabbitmq.RabbitmqClusterStatus",
    "galera": "facts.galera.WsrepStatus",
    "quorum": "facts.corosync.CorosyncQuorum",
    "links": "facts.corosync.CorosyncLinks",
    "crm": "facts.pacemaker.CrmMon",
    "haproxy": "facts.haproxy.HaproxyBackends",
    "backups": "facts.backup.BackupCatalog",
    "memcached": "facts.memcached.MemcachedStats",
    "fencing": "facts.pacemaker.FencingState",
    "certificates": "facts.tls.CertificateExpiry",
}


def health_facts() -> dict[str, type]:
    """The fact classes of ``FACTS`` (also for a deploy that checks the same health: ``deploys/keystone.py``)."""
    return {name: getattr(importlib.import_module(path.rpartition(".")[0]), path.rpartition(".")[2])
            for name, path in FACTS.items()}


class HealthState(Together):
    """
    Each of ``FACTS`` of this host, as ``pyinfra fact`` gives it, under its section name; a fact
    whose command failed is ``None`` (the report counts it as not answering).

    .. code:: python

        {"rabbitmq": {"running_nodes": [...], ...}, "galera": {"cluster_size": 3, ...}, ...}
    """

    def command(self):  # type: ignore[override]
        return super().command(facts=[(cls, {}) for cls in health_facts().values()])

    def process(self, output: list[str]) -> dict:
        found = super().process(output)
        return {name: found.get(key(cls, {})) for name, cls in health_facts().items()}
