"""Unit-test fixtures: the default group_data, loaded as pyinfra loads it, with throwaway secrets."""

from __future__ import annotations

import copy
import runpy
import types
from pathlib import Path

import pytest

from lib.validate import _Data

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["ctrl-1", "ctrl-2", "ctrl-3"]


@pytest.fixture(autouse=True)
def _throwaway_secrets(tmp_path, monkeypatch):
    """Unit tests never read the developer's secrets.json (group_data itself writes nothing)."""
    monkeypatch.setenv("PREREQOS_SECRETS", str(tmp_path / "secrets.json"))


@pytest.fixture
def default_data() -> _Data:
    """group_data/all.py as pyinfra sees it (module imports and dunder names left out)."""
    namespace = runpy.run_path(str(ROOT / "group_data/all.py"))
    data = {
        key: value for key, value in namespace.items()
        if not key.startswith("__") and not isinstance(value, (types.ModuleType, types.FunctionType))
    }
    data["secrets"] = dict(data["secrets"])  # generated in memory; tests may override a value
    return _Data(copy.deepcopy(data))
