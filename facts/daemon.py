"""When a fact's client fails, was its daemon stopped? The one rule for the facts that ask a
daemon through a client whose exit status cannot tell (``corosync-*`` and ``socat`` exit 1 both
when the daemon is stopped and on a real error such as a permission denied: seen on the lab).

Example::

    StringCommand("corosync-cmapctl -b totem.", or_not_running("corosync"))
"""

from __future__ import annotations


def or_not_running(process: str) -> str:
    """Shell suffix for a fact command: the command's failure is an answer (no output: the fact's
    ``default()``) only when no process named ``process`` runs; with the daemon running, a failed
    read (access denied, timeout, missing socket) fails the fact with its stderr shown."""
    return f"|| ! pgrep -x {process} >/dev/null"
