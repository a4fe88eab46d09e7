"""What every deploy file runs first: the common base (data validation included), once per host.

Example (top of ``deploys/<component>.py``)::

    from lib.deploy import prologue
    topo = prologue()        # raises before any operation when group_data is wrong;
                             # a failed one-node-at-a-time step ends the run (lib/serial_stop.py)
"""

from __future__ import annotations

from pyinfra import host, local, state

from lib.serial_stop import SerialStop
from lib.topology import Topology

_done: set[str] = set()


def prologue() -> Topology:
    SerialStop.register(state)  # serial steps stop at the first failure
    if host.name not in _done:
        _done.add(host.name)
        local.include("deploys/base.py")
    return Topology.of(host)
