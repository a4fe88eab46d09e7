"""``apt-get update`` that cannot outlive its limit on the host, retried in the same run.

pyinfra's ``_timeout`` stops waiting but leaves the remote command running: an ``apt-get update``
stalled on a proxy or mirror then holds the apt lists' lock, so a retry, or the next run, fails on
it. This is pyinfra's ``apt.update`` (same ``cache_time`` check, same stamp) with its ``apt-get
update`` run under coreutils ``timeout``: at ``limit`` seconds the host kills it (TERM, KILL 5 s
later) and the step fails; ``UPDATE_RETRIES`` more attempts follow ``RETRY_DELAY`` s apart.

Example::

    apt_lists.update_lists(name="Update apt lists (at most daily)", cache_time=86400)
    # a stalled proxy: attempt 1 killed at the limit, "Retrying ... (attempt 1/2)", then Success
"""

from __future__ import annotations

from typing import Any

from pyinfra import host
from pyinfra.api import operation
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import apt

UPDATE_RETRIES = 2
RETRY_DELAY = 10
# The signal after TERM, for an apt-get that does not end on TERM.
KILL_AFTER = 5


def bounded(command: str, limit: int) -> str:
    """``command`` ended by the host itself after ``limit`` seconds.

    >>> bounded("apt-get update", 300)
    'timeout --kill-after=5 300 apt-get update'
    """
    return f"timeout --kill-after={KILL_AFTER} {limit} {command}"


def retried(limit: int) -> dict[str, int]:
    """pyinfra's arguments for this step: the same limit (pyinfra stops waiting) and the retries."""
    return {"_timeout": limit, "_retries": UPDATE_RETRIES, "_retry_delay": RETRY_DELAY}


@operation(is_idempotent=False)
def update(limit: int, cache_time: int | None = None):
    """pyinfra's ``apt.update``, its ``apt-get update`` killed on the host after ``limit`` s.

    + limit: seconds one ``apt-get update`` may run (``timeouts['apt_update']``)
    + cache_time: as ``apt.update``: nothing to do when the lists are younger than this
    """
    for command in apt.update._inner(cache_time=cache_time):
        yield bounded(command, limit) if command == "apt-get update" else command


def update_lists(**kwargs: Any) -> OperationMeta:
    """``update`` under this host's ``timeouts['apt_update']``, killed there and retried
    (``retried``); ``kwargs``: ``update``'s and pyinfra's other arguments (``name``, ``_if``)."""
    limit = host.data.timeouts["apt_update"]
    return update(limit=limit, **retried(limit), **kwargs)
