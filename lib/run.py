"""Memory that lasts one pyinfra run (one ``State``), not the whole Python process.

pyinfra runs each deploy file once per host, in parallel greenlets, within one ``State``. What
must happen once per run (the common base per host, a cluster-wide decision) is remembered
here, under the current state: a second run in the same process (tests, the benchmark) starts
with nothing remembered.

Example::

    from lib.run import run_memory
    done = run_memory().setdefault("base", set())     # the same set for every host of this run
    if host.name not in done:
        done.add(host.name)
"""

from __future__ import annotations

from typing import Any, Callable
from weakref import WeakKeyDictionary

from gevent.lock import BoundedSemaphore
from pyinfra.context import ctx_state

_memories: WeakKeyDictionary[Any, dict[str, Any]] = WeakKeyDictionary()


def run_memory() -> dict[str, Any]:
    """The dict of the current run (``pyinfra.context.ctx_state``); raises outside a run."""
    state = ctx_state.get()
    if state is None:
        raise RuntimeError("run_memory() outside a pyinfra run (no current state)")
    return _memories.setdefault(state, {})


def executed_operations() -> int:
    """How many operations of the current run have executed a command so far, on any host.

    A value read earlier in the run still holds while this count is unchanged: nothing this run
    does has touched any host since (``operations/steady.py``).

    Example::

        before = executed_operations()
        ...                                  # later, at execution
        trusted = executed_operations() == before
    """
    state = ctx_state.get()
    if state is None:
        raise RuntimeError("executed_operations() outside a pyinfra run (no current state)")
    return sum(1 for ops in state.ops.values() for data in ops.values() if data.operation_meta.executed)


# pyinfra runs the deploy file once per host, in parallel greenlets: one computes, the others wait.
_computing = BoundedSemaphore()


def once_per_run(name: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` on the first call of the run for ``name``; every later call of the run, from
    any host, gets the same value (one reading of the facts it takes, not one per host). An
    exception is raised to the caller and nothing is remembered.

    Example::

        identities = once_per_run("machine identities", lambda: {p.name: p.get_fact(MachineIdentity) for p in peers})
    """
    with _computing:
        memory = run_memory().setdefault("once per run", {})
        if name not in memory:
            memory[name] = compute()
        return memory[name]


def fact_of_the_run(peer: Any, fact: type) -> Any:
    """``peer.get_fact(fact)`` read once per run and host, for a fact no operation changes (the
    machine's CPUs, memory, the container it runs in): later callers get the same value.

    Example::

        container = fact_of_the_run(host, HostResources)["container"]
    """
    memo = run_memory().setdefault("facts of the run", {})
    key = (peer.name, fact)
    if key not in memo:
        memo[key] = peer.get_fact(fact)
    return memo[key]
