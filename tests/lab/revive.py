"""Bring a deployed stack back after the lab's hosts were stopped together (``lab down``).

For the stack that is a full power loss: Galera never restarts by itself, so this runs
``deploys/recover.py`` when some controller has Galera state and none runs a Primary
component. On fresh hosts, or a running cluster, it does nothing.

    python -m tests.lab.revive        # uses LAB_ID like the lab
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYINFRA = str(Path(sys.executable).with_name("pyinfra"))
INVENTORY = "tests/lab/inventory.py"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def needs_recovery(env: dict[str, str]) -> bool:
    proc = subprocess.run([PYINFRA, INVENTORY, "fact", "facts.galera.GraState", "facts.galera.WsrepStatus",
                           "--json"], cwd=ROOT, env=env, text=True, capture_output=True,
                          stdin=subprocess.DEVNULL)
    facts = json.loads(proc.stdout)
    has_state = any((g or {}).get("uuid", ZERO_UUID) != ZERO_UUID for g in facts["facts.galera.GraState"].values())
    primary = any((s or {}).get("cluster_status") == "Primary" for s in facts["facts.galera.WsrepStatus"].values())
    return has_state and not primary


def revive(env: dict[str, str] | None = None) -> int:
    env = {**os.environ, **(env or {}), "PYINFRA_YES": "1"}
    if not needs_recovery(env):
        return 0
    print("[lab] the stack was stopped on every host: running deploys/recover.py", flush=True)
    return subprocess.call([PYINFRA, INVENTORY, "deploys/recover.py", "-y"], cwd=ROOT, env=env,
                           stdin=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(revive())
