"""lib/steps.py: the one line of a failed step names the host, the step, its time and its limit."""

from lib.steps import failure_line

TIMEOUTS = {"apt": 900, "pip": 1800, "cluster": 600}


def test_timed_out_step_names_host_step_time_and_the_group_data_limit():
    assert failure_line("ctrl-2", "Install HAProxy", 900.4, 900, TIMEOUTS) == (
        "ctrl-2: step 'Install HAProxy' failed after 900 s (limit 900 s: timeouts['apt'] in group_data, timed out); "
        "the next run resumes this host")


def test_step_failing_early_or_without_a_limit():
    assert failure_line("ctrl-1", "Join", 3.2, 600, TIMEOUTS) == (
        "ctrl-1: step 'Join' failed after 3 s (limit 600 s: timeouts['cluster'] in group_data, failed before its "
        "limit); the next run resumes this host")
    assert failure_line("ctrl-3", "galera.cnf", 0.4, None, TIMEOUTS) == (
        "ctrl-3: step 'galera.cnf' failed after 0 s; the next run resumes this host")
    assert "limit 42 s: its _timeout" in failure_line("ctrl-3", "x", 50, 42, TIMEOUTS)


def test_the_report_runs_on_pyinfras_engine_once_per_run(monkeypatch, caplog):
    """Registered twice, reported once: a failed step gives one line per failing host."""
    import pyinfra
    from pyinfra.api import Config, Inventory, State
    from pyinfra.api.operation import add_op
    from pyinfra.api.operations import run_ops
    from pyinfra.api.state import StateStage
    from pyinfra.operations import python

    from lib.steps import report_failures

    monkeypatch.setattr(pyinfra, "is_cli", False)
    state = State(Inventory((["ctrl-1", "ctrl-2"], {"timeouts": {"apt": 900, "pip": 1800, "cluster": 900}})),
                  Config())
    for host in state.inventory:
        state.activate_host(host)
    report_failures(state)
    report_failures(state)
    state.set_stage(StateStage.Prepare)
    add_op(state, python.call, lambda state, host: host.name != "ctrl-2", name="Install haproxy")
    state.set_stage(StateStage.Execute)
    with caplog.at_level("ERROR"):
        run_ops(state)
    lines = [r.getMessage() for r in caplog.records if ": step " in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("ctrl-2: step 'Install haproxy' failed after 0 s;")
