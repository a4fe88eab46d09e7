"""requirements.txt pins every third-party module the tree imports, and nothing it does not."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys

from tests.unit.conftest import ROOT

# Pinned without an import: pytest loads it from pytest.ini's `timeout`.
PLUGINS = {"pytest-timeout": "timeout"}


def _imported_modules() -> set[str]:
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    local = {path.split("/")[0].removesuffix(".py") for path in files}
    found: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse((ROOT / path).read_text(), path)):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - local - set(sys.stdlib_module_names)


def _pinned() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line).groups()
            pins[name.lower()] = version
    return pins


def test_every_imported_distribution_is_pinned_and_every_pin_is_used():
    owners = importlib.metadata.packages_distributions()
    imported = {module: {d.lower() for d in owners.get(module, [])} for module in _imported_modules()}
    pinned = _pinned()
    assert {m: d for m, d in imported.items() if not d & set(pinned)} == {}, "imported but not pinned"
    used = set().union(*imported.values())
    assert set(pinned) - used == set(PLUGINS), "pinned but never imported"
    assert re.search(rf"^{PLUGINS['pytest-timeout']}\s*=", (ROOT / "pytest.ini").read_text(), re.M)


def test_the_venv_has_the_pinned_versions():
    pinned = _pinned()
    installed = {name: importlib.metadata.version(name) for name in pinned}
    assert installed == pinned
