"""Time limits of the remote steps that can hang, and one clear line for each step that fails.

``timeouts`` in group_data gives each kind of step its limit (seconds); ``limit(kind)`` is the
keyword argument an operation takes for it (pyinfra's ``_timeout``: each command of the
operation; at the limit pyinfra drops the command and fails that host, the others go on).
``report_failures(state)`` makes pyinfra print, for every host and failed step, one line: which
host, which step, how long it ran, and the limit it had.

Example::

    apt.packages(name="Install haproxy", packages=["haproxy"], **limit("apt"))
    # on a hung mirror, after 900 s:
    # ctrl-2: step 'Install haproxy' failed after 900 s (limit 900 s: timeouts['apt'] in group_data,
    #   timed out); the next run resumes this host
"""

from __future__ import annotations

import time

from pyinfra import host, logger
from pyinfra.api.state import BaseStateCallback

KINDS = ("apt", "apt_update", "pip", "cluster")


def limit(kind: str) -> dict[str, int]:
    """``{"_timeout": timeouts[kind]}`` for an operation of this host."""
    return {"_timeout": host.data.timeouts[kind]}


def failure_line(host_name: str, step: str, elapsed: float, timeout: int | None, timeouts) -> str:
    """The one line printed for a failed step; ``timeouts`` is group_data's (pure: unit-tested)."""
    if timeout is None:
        return f"{host_name}: step {step!r} failed after {elapsed:.0f} s; the next run resumes this host"
    kind = next((k for k in KINDS if timeouts.get(k) == timeout), None)
    source = f"timeouts[{kind!r}] in group_data" if kind else "its _timeout"
    verdict = "timed out" if elapsed >= timeout else "failed before its limit"
    return (f"{host_name}: step {step!r} failed after {elapsed:.0f} s (limit {timeout} s: {source}, {verdict}); "
            f"the next run resumes this host")


class _StepReport(BaseStateCallback):
    """One per run (``state``): the start time of each host's step, its line when it fails."""

    def __init__(self) -> None:
        self.started: dict[tuple[str, str], float] = {}

    def operation_host_start(self, state, host, op_hash):
        self.started[(host.name, op_hash)] = time.monotonic()

    def operation_host_error(self, state, host, op_hash, retry_attempt=0, max_retries=0):
        elapsed = time.monotonic() - self.started.get((host.name, op_hash), time.monotonic())
        step = ", ".join(state.get_op_meta(op_hash).names) or "operation"
        timeout = state.get_op_data_for_host(host, op_hash).global_arguments.get("_timeout")
        logger.error(failure_line(host.name, step, elapsed, timeout, host.data.get("timeouts") or {}))


def report_failures(state) -> None:
    """Register the one-line failure report once per run (every deploy calls it through base)."""
    if not any(isinstance(handler, _StepReport) for handler in state.callback_handlers):
        state.add_callback_handler(_StepReport())
