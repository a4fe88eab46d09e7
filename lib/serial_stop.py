"""One-node-at-a-time steps stop at the first failure.

pyinfra runs an operation called with ``_serial=True`` host after host, but it does not stop
there when a host fails: ``_run_single_op`` (pyinfra/api/operations.py) collects the failed
hosts and only removes them after the loop, so a MariaDB restart that failed on one node is
still run on the next ones. Every serial step of this project (corosync reload and restart,
MariaDB config apply, joins and the recovery's starts, the RabbitMQ restart and join) exists
so that only one node is ever down: it must stop there.

``SerialStop`` is a pyinfra state callback handler. When a host fails a ``_serial`` operation
(after its retries, ``_ignore_errors`` not set) it raises ``PyinfraError`` at once, still
inside pyinfra's serial loop, before the next host is touched: the run ends with one message
naming the failed node, the nodes already done and the nodes left untouched. "Fails" includes
"does not come back healthy": each serial operation waits for its health check (Galera
Synced, corosync quorum, RabbitMQ's boot), and a timeout fails the host.

It covers every ``_serial`` operation of a run, present and future: ``lib.deploy.prologue()``
registers it once per pyinfra state.

Example::

    from pyinfra import state
    from lib.serial_stop import SerialStop

    SerialStop.register(state)          # once per run (prologue() does it)
    galera.apply_config(name="Restart where galera.cnf changed", _serial=True)
    # ctrl-1's restart fails -> the run ends:
    # --> pyinfra error ...: One-node-at-a-time step "Restart where galera.cnf changed" stopped at
    #     ctrl-1: it failed (its error is above). Untouched by this step: ctrl-2, ctrl-3. ...
"""

from __future__ import annotations

from pyinfra.api import State
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.state import BaseStateCallback

DOCS = 'docs/operations.md, "A one-node-at-a-time step failed"'


class SerialStop(BaseStateCallback):
    """Ends the run at the first host that fails a ``_serial`` operation (see the module)."""

    @classmethod
    def register(cls, state: State) -> None:
        """Add the handler to ``state`` unless it is already there."""
        if not any(isinstance(handler, cls) for handler in state.callback_handlers):
            state.add_callback_handler(cls())

    @staticmethod
    def operation_host_error(state: State, host: Host, op_hash, retry_attempt: int = 0, max_retries: int = 0):
        serial = state.get_op_meta(op_hash).global_arguments["_serial"]
        if not serial or state.get_op_data_for_host(host, op_hash).global_arguments["_ignore_errors"]:
            return
        raise PyinfraError(stop_message(state, host, op_hash))


def stop_message(state: State, failed: Host, op_hash: str) -> str:
    """The one message that ends a run whose serial step ``op_hash`` failed on ``failed``:
    what failed, what state the other nodes of the step are in, what to do."""
    done, idle, untouched = [], [], []
    for other in state.inventory:
        op_data = state.ops[other].get(op_hash)
        if other is failed or op_data is None or other not in state.active_hosts:
            continue
        meta = op_data.operation_meta
        if not meta.is_complete():
            untouched.append(other.name)
        elif meta.did_change():
            done.append(other.name)
        else:
            idle.append(other.name)
    step = ", ".join(state.get_op_meta(op_hash).names) or "serial operation"
    states = [f"done and healthy before it: {', '.join(done)}" if done else "",
              f"nothing to do: {', '.join(idle)}" if idle else "",
              f"untouched (not run): {', '.join(untouched)}" if untouched else ""]
    return (
        f'One-node-at-a-time step "{step}" stopped at {failed.name}: it failed (its error is above). '
        f"Other nodes: {'; '.join(s for s in states if s) or 'none'}. The run stops here, so no other "
        f"node goes down. Fix {failed.name}, then run the deploy again: it continues from where it "
        f"stopped ({DOCS})."
    )
