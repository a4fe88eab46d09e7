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

from typing import Any
from weakref import WeakKeyDictionary

from pyinfra.context import ctx_state

_memories: WeakKeyDictionary[Any, dict[str, Any]] = WeakKeyDictionary()


def run_memory() -> dict[str, Any]:
    """The dict of the current run (``pyinfra.context.ctx_state``); raises outside a run."""
    state = ctx_state.get()
    if state is None:
        raise RuntimeError("run_memory() outside a pyinfra run (no current state)")
    return _memories.setdefault(state, {})
