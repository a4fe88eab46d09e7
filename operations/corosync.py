"""Corosync operations: a restart that keeps the cluster quorate, and waiting on a fact.

Example (restart only where the configuration changed, one node at a time)::

    corosync.restart(name="Restart corosync", _serial=True, _if=any_changed(conf, key))
"""

from __future__ import annotations

import time
from typing import Any, Callable

import gevent
from pyinfra import host
from pyinfra.api import FactBase, FunctionCommand, OperationError, operation

from facts.corosync import CorosyncQuorum


def wait_for(fact: type[FactBase], ready: Callable[[Any], bool], timeout: float, what: str,
             interval: float = 1.0, **fact_kwargs: Any) -> None:
    """Read ``fact`` until ``ready(value)``; raise ``OperationError`` after ``timeout`` seconds.

    Meant to run inside a ``FunctionCommand``, at execution time, on the current host.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = host.get_fact(fact, **fact_kwargs)
        if ready(value):
            return
        if time.monotonic() >= deadline:
            raise OperationError(f"{host.name}: {what} not reached within {timeout:.0f}s (last: {value})")
        gevent.sleep(interval)


def quorate(quorum: dict[str, Any]) -> bool:
    return bool(quorum.get("quorate"))


@operation(is_idempotent=False)
def restart(nodes: list[str], timeout: int = 120):
    """
    Restart corosync and pacemaker on this host; if the host was in a quorate membership of
    ``nodes``, wait until it is back in one. Run it with ``_serial=True`` so that only one
    node is ever down: the next restart starts once this node has rejoined.

    + nodes: the cluster's node names (a membership of others, such as the package's
      default single-node cluster, is not waited for)
    + timeout: seconds to wait for quorum after the restart

    **Example:**

    .. code:: python

        corosync.restart(
            name="Restart corosync where its configuration changed",
            nodes=["ctrl-1", "ctrl-2", "ctrl-3"],
            _serial=True,
            _if=any_changed(conf, authkey),
        )
    """
    before = host.get_fact(CorosyncQuorum)
    was_member = quorate(before) and {m["name"] for m in before["members"]} <= set(nodes)
    # pacemaker Requires= corosync: name both so that pacemaker is surely started again.
    yield "systemctl restart corosync.service pacemaker.service"
    if was_member:  # else there is no quorum of this cluster to keep (e.g. peers down too)
        yield FunctionCommand(wait_for, (CorosyncQuorum, quorate, timeout, "corosync quorum"), {})
