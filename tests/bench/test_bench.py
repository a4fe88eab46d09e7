"""Unit tests of the benchmark's parsing and arithmetic (no lab)."""

from tests.bench.failover import Attempt, failures_between, outage_after
from tests.bench.harness import PREPARE, PyinfraRun, by_component, component_of
from tests.bench.packages import deploy_packages
from tests.bench.report import BEGIN, END, Figure, table, write_benchmarks

# Lines as pyinfra 3.10 printed them with -vv in a lab converge (colours removed).
LINES = [
    (0.5, "--> Loading inventory..."),
    (1.0, "[ctrl-1] >>> sh -c 'cat /var/lib/mysql/grastate.dat 2>/dev/null || true'"),
    (1.1, "    [ctrl-1] Loaded fact facts.galera.GraState"),
    (4.0, "--> Beginning operation run..."),
    (4.1, "--> Starting operation: deploys/rabbitmq.py | deploys/base.py | Remove the 127.0.1.1 hostname entry "),
    (4.2, "[ctrl-2] >>> sh -c 'grep -q ctrl-2 /etc/hosts'"),
    (5.0, "--> Starting operation: deploys/rabbitmq.py | Install rabbitmq-server (no Recommends) "),
    (25.0, "--> Starting serial operation: deploys/galera.py | Join the new cluster, one node at a time, until Synced "),
    (55.0, "--> Starting operation: deploys/buildenv.py | Current pip, uwsgi in the venv (from PyPI) "),
    (95.0, "--> Results:"),
]


def run_of(lines, stdout="") -> PyinfraRun:
    return PyinfraRun(("deploys/prereqos.py",), 0, 96.0, lines, stdout)


def test_commands_are_the_vv_lines():
    run = run_of(LINES)
    assert run.commands == 2
    assert run.commands_by_host() == {"ctrl-1": 1, "ctrl-2": 1}


def test_timeline_ends_each_operation_at_the_next_one():
    timeline = run_of(LINES).timeline()
    assert (timeline[0].name, timeline[0].start, timeline[0].end, timeline[0].commands) == (PREPARE, 0.0, 4.0, 1)
    assert timeline[1].commands == 1  # the ctrl-2 command belongs to the base operation
    assert (timeline[2].name, timeline[2].seconds) == ("deploys/rabbitmq.py | Install rabbitmq-server (no Recommends)", 20.0)
    assert timeline[-1].end == 95.0


def test_components():
    assert component_of("deploys/rabbitmq.py | deploys/base.py | Update apt lists") == "base"
    assert component_of("deploys/galera.py | galera.cnf") == "galera"
    assert component_of("Install HAProxy", default="haproxy") == "haproxy"
    totals = by_component(run_of(LINES).timeline())
    assert {k: round(v["seconds"], 3) for k, v in totals.items()} == {
        "prepare": 4.0, "base": 0.9, "rabbitmq": 20.0, "galera": 30.0, "buildenv": 40.0}
    assert totals["base"]["commands"] == 1


def test_changed_ops_from_json():
    stdout = ('{"plan": [], "results": {"operations": [{"name": "a", "success": ["ctrl-1"], "no_change": []},'
              ' {"name": "b", "success": [], "no_change": ["ctrl-1"]}], "failed_hosts": []}}')
    assert run_of([], stdout).changed_ops() == {"a": ["ctrl-1"]}


def test_outage_from_first_failure_to_first_success():
    attempts = [Attempt(9.0, 9.01, True, "ctrl-1"), Attempt(10.1, 11.1, False), Attempt(10.2, 11.2, False),
                Attempt(13.0, 13.5, True, "ctrl-2"), Attempt(13.1, 13.2, True, "ctrl-2")]
    outage = outage_after(attempts, 10.0)
    assert outage.seconds == 13.2 - 10.0
    assert (outage.failed, outage.backend_before, outage.backend_after) == (2, "ctrl-1", "ctrl-2")


def test_no_failure_no_outage_and_unrecovered():
    assert outage_after([Attempt(10.5, 10.6, True, "ctrl-2")], 10.0).seconds == 0.0
    assert outage_after([Attempt(10.5, 11.5, False)], 10.0).seconds is None


def test_failure_windows():
    attempts = [Attempt(1, 1.1, True), Attempt(2, 3, False), Attempt(2.1, 3.1, False), Attempt(4, 4.1, True),
                Attempt(5, 6, False)]
    assert failures_between(attempts, 0, 10) == [(2, 3.1), (5, 6)]


def test_deploy_packages_cover_the_stack():
    packages = deploy_packages()
    assert {"mariadb-server", "rabbitmq-server", "pacemaker", "haproxy", "apache2"} <= set(packages)
    assert "gpg" not in packages  # only with the optional upstream MariaDB repository


def test_table_and_target():
    fig = Figure("P2", "no-change re-run", "s", [14.0, 21.0, 15.0], target=20)
    assert (fig.median, fig.met) == (15.0, True)
    assert "| P2 | no-change re-run | 15.0 s | 14.0 s | 21.0 s | 3 | <= 20.0 s | yes |" in table([fig])
    assert Figure("P4", "x", "s", [3.0, None], target=8).met is False  # a failed run is not a pass


def test_write_keeps_the_text_around_the_block(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"# B\nintro\n{BEGIN}\nold\n{END}\nanalysis\n")
    write_benchmarks(path, "new")
    assert path.read_text() == f"# B\nintro\n{BEGIN}\nnew\n{END}\nanalysis\n"


def test_report_of_every_figure_renders():
    from tests.bench.run import _run_summary, details, figures_of

    lines = LINES[:3] + [(5.0, "--> Beginning operation run..."), *LINES[4:]]
    summary = _run_summary(run_of(lines, '{"plan": [], "results": {"operations": [], "failed_hosts": []}}'), dry=False)
    assert (summary["commands"], summary["prepare"], summary["changed_ops"]) == (2, 5.0, {})
    converge = {**summary, "wall": 96.0, "changed_ops": 3}
    data = {
        "packages": ["a"], "pip_packages": ["uwsgi"], "package_check": {"asked_for_but_not_in_set": []},
        "floor": [{"wall": 60.0, "pip_wall": 70.0, "load": "1 1 1", "per_host": {"ctrl-1": (5.0, 50.0)}}],
        "converge": [converge], "P2": [summary], "P3": [{**summary, "planned_changes": {}}],
        "drills": [{"kind": "hard", "holder": "ctrl-1", "load": "1 1 1", "outage": 4.2, "failed_queries": 30,
                    "backend_before": "ctrl-1", "backend_after": "ctrl-2", "stop_seconds": 0.5, "p5": 40.0,
                    "health_runs": 2, "health_took": 8.0, "failback_outages": []}],
    }
    figs = {(f.key, f.what): f for f in figures_of(data)}
    assert figs[("P1", "converge / floor (same repetition)")].median == 96.0 / 60.0
    assert figs[("P4", "hard kill of the VIP holder -> first committed SQL write via VIP")].met is True
    text = details(data)
    assert "| 1 | 60.0 s | 5.0 s / 50.0 s | 70.0 s |" in text and "| 1 hard | ctrl-1 | ctrl-1 -> ctrl-2 | 4.2 s |" in text


def test_p6_ratio_and_where_the_extra_time_goes():
    from tests.bench.run import figures_of, p6_where

    def converge(wall, galera):
        return {"wall": wall, "components": {"prepare": {"seconds": 10.0, "commands": 50},
                                             "galera": {"seconds": galera, "commands": 20}}}

    # The second 5-controller converge failed: no ratio for that repetition.
    data = {"p6": {3: [converge(300.0, 60.0), converge(310.0, 62.0)], 5: [converge(360.0, 100.0), converge(None, 0.0)]}}
    (small, large, ratio) = figures_of(data)
    assert (small.median, large.values, ratio.samples) == (305.0, [360.0], [1.2, None])
    assert ratio.target == 1.25 and ratio.met is False  # a failed repetition never meets a target
    assert "| galera | 61.0 s | 50.0 s | -11.0 s |" in p6_where(data)


def test_merge_takes_only_what_this_run_did_not_measure():
    """``--merge``: P1 measured again, P6 from an earlier ``--raw`` (JSON: its sizes are strings)."""
    import json

    from tests.bench.run import figures_of, merge

    def converge(wall):
        return {"wall": wall, "components": {}}

    earlier = json.loads(json.dumps({"floor": [{"wall": 60.0}], "converge": [converge(400.0)], "packages": ["a"],
                                     "pip_packages": [], "p6": {3: [converge(300.0)], 5: [converge(390.0)]}}))
    data = {"floor": [{"wall": 50.0}], "converge": [converge(100.0)], "packages": ["a"], "pip_packages": []}
    assert merge(data, earlier, {"P1"}) == ["P6"]
    figs = {(f.key, f.what): f for f in figures_of(data)}
    assert figs[("P1", "converge / floor (same repetition)")].median == 2.0
    assert figs[("P6", "converge of 5 / of 3 controllers (same repetition)")].median == 1.3
