"""The helpers every component's operations share (operations/common.py): failing one host (run
by a real shell), a peer's fact, one decision per run. ``wait_for`` is tested with corosync's
quorum in test_corosync.py."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest
from pyinfra.api import StringCommand
from pyinfra.api.exceptions import ConnectError, DeployError
from pyinfra.context import ctx_host, ctx_state

from facts.galera import GraState
from operations.common import decide_once, fail, or_fail, peer_fact
from tests.unit.fakes import FakeHost


def sh(command: StringCommand) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", command.get_raw_value()], text=True, capture_output=True)


# --- failing one host ---------------------------------------------------------------------------
def test_fail_exits_1_with_the_message_on_stderr():
    command = fail("ctrl-2: it's refused")
    assert command.get_raw_value() == "echo 'ctrl-2: it'\"'\"'s refused' >&2; exit 1"
    proc = sh(command)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", "ctrl-2: it's refused\n")


def test_or_fail_fails_only_when_the_command_fails():
    assert or_fail(StringCommand("test", "-e", "/x"), "no /x").get_raw_value() == (
        "test -e /x || { echo 'no /x' >&2; exit 1; }")
    passed = sh(StringCommand(or_fail(StringCommand("true"), "no"), "&& echo next"))
    assert (passed.returncode, passed.stdout, passed.stderr) == (0, "next\n", "")
    failed = sh(StringCommand(or_fail(StringCommand("false"), "it failed"), "; echo next"))
    assert (failed.returncode, failed.stdout, failed.stderr) == (1, "", "it failed\n")


# --- a peer's fact ------------------------------------------------------------------------------
def test_peer_fact_is_none_for_an_unreachable_peer():
    def unreachable():
        raise ConnectError("ctrl-3: no route")

    peers = {"ctrl-2": FakeHost({GraState: {"seqno": 4}}, name="ctrl-2"),
             "ctrl-3": FakeHost({GraState: unreachable}, name="ctrl-3")}
    me = FakeHost()
    me.inventory = SimpleNamespace(get_host=peers.__getitem__)
    with ctx_host.use(me):
        assert peer_fact("ctrl-2", GraState) == {"seqno": 4}
        assert peer_fact("ctrl-3", GraState) is None
    assert me.asked == [] and peers["ctrl-2"].asked == [(GraState, {})]


# --- one decision per run -----------------------------------------------------------------------
def test_decide_once_shares_the_decision_and_the_refusal():
    calls = []

    def decide():
        calls.append(1)
        return len(calls)

    def refuse():
        calls.append(1)
        raise DeployError("no")

    with ctx_state.use(MagicMock(name="run")):
        assert [decide_once("t1", decide) for _ in range(3)] == [1, 1, 1]
        for _ in range(2):
            with pytest.raises(DeployError, match="no"):
                decide_once("t2", refuse)
    assert len(calls) == 2


def test_decide_once_decides_again_in_another_run():
    answers = iter(["first run", "second run"])
    for expected in ("first run", "second run"):
        with ctx_state.use(MagicMock(name="run")):
            assert [decide_once("plan", lambda: next(answers)) for _ in range(2)] == [expected, expected]


def test_decide_once_outside_a_run_is_an_error():
    with ctx_state.use(None), pytest.raises(RuntimeError, match="outside a pyinfra run"):
        decide_once("plan", lambda: 1)
