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

import time
from typing import Any, Callable
from weakref import WeakKeyDictionary

from gevent.lock import BoundedSemaphore
from pyinfra.api.exceptions import ConnectError
from pyinfra.context import ctx_host, ctx_state

from facts import together

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


def read_ahead(peers: list[Any], facts: list[tuple[type, dict[str, Any]]]) -> None:
    """Read ``facts`` (``(fact class, keyword arguments)``) of each of ``peers``, one remote
    command per peer (``facts.together.Together``): the ``fact_of_the_run`` calls that follow get
    them while nothing has executed since. An unreachable peer is left out (its callers meet its
    ``ConnectError`` as before).

    Example::

        read_ahead(controllers(host.inventory), [(Hostname, {}), (Sha1File, {"path": "/etc/corosync/authkey"})])
        name = fact_of_the_run(host, Hostname)      # no remote command
    """
    memo = run_memory().setdefault("facts of the run", {})
    for peer in peers:
        before = time.time()
        try:
            # A fact whose command reads other facts (pyinfra's Ports: Kernel, Which) reads the peer's.
            with ctx_host.use(peer):
                found = peer.get_fact(together.Together, facts=facts)
        except ConnectError:
            continue
        window, executed = (before, time.time()), executed_operations()
        for key, value in found.items():
            memo[(peer.name, *key)] = (executed, value, window)


def fact_of_the_run(peer: Any, fact: type, **kwargs: Any) -> Any:
    """``peer.get_fact(fact, **kwargs)`` read once per run and host while nothing has executed
    since (the common base and the prechecks, before any change; a fact no operation changes, as
    the machine's CPUs): later callers get the same value, and a ``read_ahead`` gives it without a
    command of its own.

    Example::

        container = fact_of_the_run(host, HostResources)["container"]
    """
    return _reading(peer, fact, kwargs)[1]


def read_window(peer: Any, fact: type, **kwargs: Any) -> tuple[float, float]:
    """The local times (``time.time()``) just before and after the command that read
    ``fact_of_the_run(peer, fact, **kwargs)``: a clock read is known to within that window."""
    return _reading(peer, fact, kwargs)[2]


def _reading(peer: Any, fact: type, kwargs: dict[str, Any]) -> tuple[int, Any, tuple[float, float]]:
    memo = run_memory().setdefault("facts of the run", {})
    key = (peer.name, *together.key(fact, kwargs))
    executed = executed_operations()
    if key not in memo or memo[key][0] != executed:
        before = time.time()
        value = peer.get_fact(fact, **kwargs)
        memo[key] = (executed, value, (before, time.time()))
    return memo[key]
