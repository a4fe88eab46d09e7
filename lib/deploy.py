"""What every deploy file runs first: the common base (data validation included), once per host.

Example (top of ``deploys/<component>.py``)::

    from lib.deploy import prologue
    topo = prologue()        # raises before any operation when group_data is wrong
"""

from __future__ import annotations

from pyinfra import host, local

from lib.topology import Topology

_done: set[str] = set()


def prologue() -> Topology:
    if host.name not in _done:
        _done.add(host.name)
        local.include("deploys/base.py")
    return Topology.of(host)
