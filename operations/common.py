"""What every component's operations share: waiting on a fact, failing one host with a message,
reading a peer's fact, taking a cluster-wide decision once per run.

Example (inside an operation, and in a deploy)::

    from operations.common import decide_once, fail, peer_fact, wait_unless_ready

    yield from wait_unless_ready(CrmMon, ready, 180, "pacemaker quorum", lambda s: f"DC {s['dc']}")
    yield fail(f"{host.name}: RabbitMQ is not running")        # this host fails, the others go on
    plan = decide_once("galera", lambda: plan_galera({n: peer_fact(n, GaleraPosition) for n in names}))
"""

from __future__ import annotations

import time
from typing import Any, Callable

import gevent
from gevent.lock import BoundedSemaphore
from pyinfra import host
from pyinfra.api import FactBase, FunctionCommand, OperationError, QuoteString, StringCommand
from pyinfra.api.exceptions import ConnectError, DeployError

from lib.run import fact_of_the_run, run_memory


# --- waiting ------------------------------------------------------------------------------------
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


def wait_unless_ready(fact: type[FactBase], ready: Callable[[Any], bool], timeout: float, what: str,
                      note: Callable[[Any], str]):
    """Body of a waiting operation: a no-op saying ``note(value)`` when ``fact`` is ready at
    prepare, else a wait for it at execution (``wait_for``). Use with ``yield from``."""
    value = host.get_fact(fact)
    if ready(value):
        host.noop(note(value))
        return
    yield FunctionCommand(wait_for, (fact, ready, timeout, what), {})


# --- failing one host ---------------------------------------------------------------------------
def fail(message: str) -> StringCommand:
    """The command that fails this host only, ``message`` on its stderr: ``echo '...' >&2; exit 1``.

    An exception raised inside an operation would abort the run for every host; a refusal that
    concerns one host is this command instead.
    """
    return StringCommand("echo", QuoteString(message), ">&2; exit 1")


def or_fail(command: StringCommand, message: str) -> StringCommand:
    """``command || { echo '<message>' >&2; exit 1; }``: ``command``, failing the host with
    ``message`` when it fails."""
    return StringCommand(command, "||", "{", StringCommand(fail(message), ";", _separator=""), "}")


# --- peers and cluster-wide decisions -----------------------------------------------------------
def peer_fact(name: str, fact: type, **kwargs: Any) -> Any:
    """A fact of the controller ``name`` (``lib.run.fact_of_the_run``: read ahead, or once while
    nothing executed); ``None`` when it cannot be reached."""
    try:
        return fact_of_the_run(host.inventory.get_host(name), fact, **kwargs)
    except ConnectError:
        return None


# pyinfra runs the deploy file once per host, in parallel greenlets. Every host must act on the
# same decision, taken from one reading of the facts: the first host decides, the others wait.
_deciding = BoundedSemaphore()


def decide_once(name: str, decide: Callable[[], Any]) -> Any:
    """``decide()`` once per ``name`` and per run; its result, or the ``DeployError`` it raised,
    is given to every later caller of the same run (a new run decides again).

    Example::

        plan = decide_once("galera", decide_galera)   # the same plan object on every host
    """
    with _deciding:
        decisions = run_memory().setdefault("decisions", {})
        if name not in decisions:
            try:
                decisions[name] = decide()
            except DeployError as error:
                decisions[name] = error
    result = decisions[name]
    if isinstance(result, DeployError):
        raise result
    return result
