"""The Debian packages the deploy installs, read from the deploy files themselves.

Every top-level ``apt.packages(packages=...)`` or ``steady.packages(snap, packages=...)`` call of
``deploys/*.py`` counts, whether the list
is written in the call or in a module constant (``PACKAGES = [...]``); calls under an ``if``
(optional extras such as the upstream MariaDB repository's curl/gpg) do not. The benchmark
checks the result against ``apt-mark showmanual`` on a converged host.

``pip_packages`` reads ``buildenv["pip_packages"]`` from group_data (what the build env
installs from PyPI); running group_data reads and writes no secret.

Example::

    deploy_packages(Path("deploys"))              # ['apache2', 'build-essential', ..., 'socat']
    pip_packages(Path("group_data/all.py"))       # ['pip==26.3', 'pyuwsgi==2.0.30']
"""

from __future__ import annotations

import ast
import runpy
from pathlib import Path


def _literal_list(node: ast.AST, constants: dict[str, list[str]]) -> list[str]:
    if isinstance(node, ast.Name):
        return constants.get(node.id, [])
    if isinstance(node, (ast.List, ast.Tuple)):
        return [elt.value for elt in node.elts if isinstance(elt, ast.Constant) and isinstance(elt.value, str)]
    return []


# ``apt.packages``, and ``steady.packages`` (the same install, checked from the component's one reading).
_INSTALLERS = ("apt", "steady")


def _is_apt_packages(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Attribute) and func.attr == "packages"
            and isinstance(func.value, ast.Name) and func.value.id in _INSTALLERS)


def packages_of(source: str) -> list[str]:
    """Packages of the top-level ``apt.packages`` calls of one deploy file."""
    tree = ast.parse(source)
    constants: dict[str, list[str]] = {}
    found: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            values = _literal_list(statement.value, {})
            if values:
                constants[statement.targets[0].id] = values
        value = getattr(statement, "value", None)  # Expr(call) or Assign(target = call)
        if isinstance(value, ast.Call) and _is_apt_packages(value):
            for keyword in value.keywords:
                if keyword.arg == "packages":
                    found += _literal_list(keyword.value, constants)
    return found


def deploy_packages(deploys: Path) -> list[str]:
    """Sorted, de-duplicated packages of every deploy file in ``deploys``."""
    names: set[str] = set()
    for path in sorted(deploys.glob("*.py")):
        names.update(packages_of(path.read_text()))
    return sorted(names)


def pip_packages(group_data: Path) -> list[str]:
    """``buildenv["pip_packages"]`` of a group_data file, [] when absent."""
    return list(runpy.run_path(str(group_data)).get("buildenv", {}).get("pip_packages", []))
