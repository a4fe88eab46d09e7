"""What every deploy file runs first: validate the data, then the common base, once per host.

Example (top of ``deploys/<component>.py``)::

    from lib.deploy import prologue
    topo = prologue()        # raises before any operation when group_data is wrong
"""

from __future__ import annotations

from pyinfra import host, local

from lib.topology import Topology
from lib.validate import validate_or_raise

_done: set[str] = set()


def prologue() -> Topology:
    validate_or_raise(host.inventory)
    if host.name not in _done:
        _done.add(host.name)
        local.include("deploys/base.py")
    return Topology.of(host)
