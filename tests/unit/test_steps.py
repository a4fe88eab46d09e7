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
