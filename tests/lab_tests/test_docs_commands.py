"""Every safe command of README.md and docs/*.md, run as written against the lab.

``inventory.py`` becomes the lab's inventory and a deploy gets ``--dry`` (it plans against the
real hosts and changes nothing); see ``tests/docs_commands.py``. A command that names a missing
fact, deploy, module or variable fails here (and in ``tests/unit/test_docs.py``).
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.docs_commands import doc_commands, lab_argv
from tests.lab_tests.conftest import PYINFRA, ROOT, ok

pytestmark = pytest.mark.lab

RUNNABLE = [c for c in doc_commands() if lab_argv(c, PYINFRA)]


@pytest.mark.parametrize("command", RUNNABLE, ids=[c.where for c in RUNNABLE])
def test_documented_command_runs_on_the_lab(lab, command):
    argv = lab_argv(command, PYINFRA)
    health = argv[1:3] == ["-m", "lib.health"]
    deadline = time.monotonic() + 120  # as test_01_stack: a loaded machine's checks settle slowly
    while True:
        proc = subprocess.run(argv, cwd=ROOT, text=True, capture_output=True, timeout=900,
                              stdin=subprocess.DEVNULL, env=lab.env())
        if not (health and proc.returncode == 1 and "UNHEALTHY" in proc.stdout) or time.monotonic() > deadline:
            break
        time.sleep(5)
    output = ok(proc)
    if "fact" in argv and "--json" in argv:  # every named fact answered by every lab host
        facts = json.loads(output)
        names = [a for a in argv[argv.index("fact") + 1:] if not a.startswith("-")]
        hosts = {f"ctrl-{n}" for n in lab.hosts}
        assert {name: set(facts[name]) for name in names} == {name: hosts for name in names}
        assert all(value for name in names for value in facts[name].values())
    if health:
        assert f"HEALTHY: {len(lab.hosts)} controllers" in output
