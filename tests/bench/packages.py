"""The Debian packages the deploy installs: ``operations.stack.packages``, the one list
``deploys/prereqos.py`` installs (every component's ``PACKAGES``), as on a controller that is not a
backup node, with Debian's MariaDB (the optional upstream repository's curl/gpg do not count). The
benchmark checks the result against ``apt-mark showmanual`` on a converged host.

``pip_packages`` reads ``buildenv["pip_packages"]`` from group_data (what the build env
installs from PyPI); running group_data reads and writes no secret.

Example::

    deploy_packages()                             # ['apache2', 'build-essential', ..., 'socat']
    pip_packages(Path("group_data/all.py"))       # ['pip==26.3', 'pyuwsgi==2.0.30']
"""

from __future__ import annotations

import runpy
from pathlib import Path

from operations import stack


def deploy_packages() -> list[str]:
    """Sorted packages of the stack (``operations.stack.packages``)."""
    return sorted(stack.packages(upstream_mariadb=False, backup_node=False))


def pip_packages(group_data: Path) -> list[str]:
    """``buildenv["pip_packages"]`` of a group_data file, [] when absent."""
    return list(runpy.run_path(str(group_data)).get("buildenv", {}).get("pip_packages", []))
