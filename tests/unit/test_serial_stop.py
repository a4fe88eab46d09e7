"""lib/serial_stop.py with pyinfra's own engine, in-process: a state of three hosts, real
operations (``python.call``, whose function runs on this machine, so no host is needed) run by
pyinfra's ``run_ops``. What a host "does" is recorded, in the order pyinfra runs them."""

from __future__ import annotations

import pyinfra
import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.api.state import StateStage
from pyinfra.operations import python

from lib.serial_stop import SerialStop

NAMES = ["ctrl-1", "ctrl-2", "ctrl-3"]


@pytest.fixture
def state(monkeypatch) -> State:
    monkeypatch.setattr(pyinfra, "is_cli", False)
    state = State(Inventory((NAMES, {})), Config())
    for host in state.inventory:
        state.activate_host(host)  # no connection: python.call runs here
    SerialStop.register(state)
    state.set_stage(StateStage.Prepare)
    return state


def step(ran: list[str], failing: set[str]):
    """A python.call function: records the host, fails on ``failing``."""
    def restart(state, host):
        ran.append(host.name)
        return host.name not in failing
    return restart


def execute(state: State) -> None:
    state.set_stage(StateStage.Execute)
    run_ops(state)


def test_the_first_failure_stops_the_step_and_the_run(state):
    ran, after = [], []
    add_op(state, python.call, step(ran, set(NAMES)), name="MariaDB restart", _serial=True)
    add_op(state, python.call, step(after, set()), name="Next step")
    with pytest.raises(PyinfraError) as stopped:
        execute(state)
    assert len(ran) == 1  # every host would fail: only the first one ran
    failed, untouched = ran[0], sorted(set(NAMES) - set(ran))
    assert after == []
    message = str(stopped.value)
    assert message.startswith(f'One-node-at-a-time step "MariaDB restart" stopped at {failed}: it failed')
    assert f"untouched (not run): {', '.join(untouched)}" in message
    assert "done" not in message.split("Other nodes:")[1].split(".")[0]
    assert f"Fix {failed}, then run the deploy again" in message


def test_nodes_before_the_failure_are_reported_done(state):
    ran = []
    # pyinfra's serial order is its set order, not the inventory's: fail the second host it runs.
    order = list(state.inventory.get_active_hosts())
    second = order[1].name
    add_op(state, python.call, step(ran, {second}), name="RabbitMQ restart", _serial=True)
    with pytest.raises(PyinfraError) as stopped:
        execute(state)
    assert ran == [order[0].name, second]
    message = str(stopped.value)
    assert f"stopped at {second}" in message
    assert f"done and healthy before it: {order[0].name}" in message
    assert f"untouched (not run): {order[2].name}" in message


def test_a_host_with_nothing_to_do_is_reported_so(state):
    ran = []
    order = list(state.inventory.get_active_hosts())
    idle, failing = order[0], order[1]
    add_op(state, python.call, step(ran, {failing.name}), name="Join", _serial=True,
           _if=lambda: pyinfra.host.name != idle.name)
    with pytest.raises(PyinfraError) as stopped:
        execute(state)
    assert ran == [failing.name]
    assert f"nothing to do: {idle.name}" in str(stopped.value)


def test_a_serial_step_without_failure_runs_on_every_host(state):
    ran, after = [], []
    add_op(state, python.call, step(ran, set()), name="Corosync restart", _serial=True)
    add_op(state, python.call, step(after, set()), name="Next step")
    execute(state)
    assert sorted(ran) == NAMES and sorted(after) == NAMES


def test_parallel_and_ignored_failures_keep_pyinfra_behaviour(state):
    parallel, ignored, after = [], [], []
    add_op(state, python.call, step(parallel, {"ctrl-1"}), name="Parallel")
    add_op(state, python.call, step(ignored, set(NAMES)), name="Ignored", _serial=True, _ignore_errors=True)
    add_op(state, python.call, step(after, set()), name="Next step")
    execute(state)
    assert sorted(parallel) == NAMES
    assert sorted(ignored) == ["ctrl-2", "ctrl-3"]  # ctrl-1 failed the parallel step: removed
    assert sorted(after) == ["ctrl-2", "ctrl-3"]


def test_registered_once(state):
    SerialStop.register(state)
    assert sum(isinstance(h, SerialStop) for h in state.callback_handlers) == 1
