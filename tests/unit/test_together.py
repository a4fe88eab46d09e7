"""facts.together (several facts in one command) and lib.run's read ahead (no lab)."""

from __future__ import annotations

from pyinfra.context import ctx_state
from pyinfra.facts.files import Sha1File
from pyinfra.facts.hardware import Ipv4Addrs
from pyinfra.facts.server import Hostname, Which

from facts.apache import ApacheModules
from facts.together import Together, key
from lib import run as run_lib

FACTS = [(Hostname, {}), (Sha1File, {"path": "/etc/corosync/authkey"}), (Which, {"command": "hostnamectl"})]


def test_each_fact_is_processed_by_its_own_and_a_failed_one_is_left_out():
    fact = Together()
    command = fact.command(facts=FACTS).get_raw_value()
    assert "uname -n" in command and "sha1sum /etc/corosync/authkey" in command and "##end 2 $?" in command
    output = ["##part 0", "ctrl-1", "##end 0 0", "##part 1", "a" * 40 + "  /etc/corosync/authkey", "##end 1 0",
              "##part 2", "##end 2 1"]
    assert fact.process(output) == {key(Hostname, {}): "ctrl-1",
                                    key(Sha1File, {"path": "/etc/corosync/authkey"}): "a" * 40}


def test_a_missing_command_gives_the_default_as_pyinfra_does():
    fact = Together()
    command = fact.command(facts=[(ApacheModules, {})]).get_raw_value()
    assert "if command -v a2query >/dev/null 2>&1; then ( a2query -m" in command
    assert fact.process(["##part 0", "##PYINFRA_NOCMD##", "##end 0 0"]) == {key(ApacheModules, {}): []}


def test_a_short_fact_is_its_base_facts_value_reshaped():
    fact = Together()
    assert "ip" in fact.command(facts=[(Ipv4Addrs, {})]).get_raw_value()
    assert fact.process(["##part 0", "##end 0 0"]) == {key(Ipv4Addrs, {}): Ipv4Addrs().process_data({})}


def test_list_arguments_make_a_key():
    assert key(Sha1File, {"path": ["/a", "/b"]}) == (Sha1File, (("path", ("/a", "/b")),))


class State:  # a run (lib.run keeps its memory under it)
    pass


class Peer:
    def __init__(self, name: str, values: dict):
        self.name, self.values, self.asked = name, values, []

    def get_fact(self, cls, **kwargs):
        self.asked.append(cls)
        if cls is Together:
            return {key(c, k): self.values[c] for c, k in kwargs["facts"] if c in self.values}
        return self.values[cls]


def test_read_ahead_answers_until_something_executes(monkeypatch):
    executed = [0]
    monkeypatch.setattr(run_lib, "executed_operations", lambda: executed[0])
    peer = Peer("ctrl-2", {Hostname: "ctrl-2"})
    with ctx_state.use(State()):
        run_lib.read_ahead([peer], [(Hostname, {}), (Which, {"command": "x"})])
        assert run_lib.fact_of_the_run(peer, Hostname) == "ctrl-2" and peer.asked == [Together]
        before, after = run_lib.read_window(peer, Hostname)
        assert before <= after
        executed[0] = 1  # an operation ran: read again
        peer.values[Hostname] = "renamed"
        assert run_lib.fact_of_the_run(peer, Hostname) == "renamed" and peer.asked == [Together, Hostname]


def test_the_health_state_names_each_fact_by_its_report_section():
    from facts.health import FACTS, HealthState

    fact = HealthState()
    command = fact.command().get_raw_value()
    assert command.count("##end ") == len(FACTS)
    # galera (index 1) answered, every other command failed: those sections are None (not answering).
    output = [line for i in range(len(FACTS)) for line in (f"##part {i}", f"##end {i} {0 if i == 1 else 1}")]
    output[2:2] = ["wsrep_cluster_size\t3"]
    state = fact.process(output)
    assert list(state) == list(FACTS) and state["rabbitmq"] is None and state["galera"] is not None


def test_an_output_a_fact_refuses_is_left_out_not_a_failure():
    fact = Together()
    fact.command(facts=[(ApacheModules, {}), (Hostname, {})])
    assert fact.process(["##part 0", "not a module line", "##end 0 0", "##part 1", "ctrl-1", "##end 1 0"]) == {
        key(Hostname, {}): "ctrl-1"}
