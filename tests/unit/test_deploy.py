"""lib/deploy.py: a deploy file that another needs first is included once per host and run."""

from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_host, ctx_state

from lib import deploy


def test_include_once_per_host_and_per_run(monkeypatch):
    included = []
    monkeypatch.setattr(deploy.local, "include", lambda path: included.append((ctx_host.get().name, path)))
    for run in (1, 2):  # a second run (a new State) includes again
        state = State(Inventory((["ctrl-1", "ctrl-2"], {})), Config())
        with ctx_state.use(state):
            for name in ("ctrl-1", "ctrl-1", "ctrl-2"):  # deploys/prereqos.py, then deploys/ha.py
                with ctx_host.use(state.inventory.get_host(name)):
                    deploy.include_once("deploys/corosync.py")
        assert included == [("ctrl-1", "deploys/corosync.py"), ("ctrl-2", "deploys/corosync.py")] * run
