"""Operations of the Python build environment."""

from __future__ import annotations

from collections.abc import Generator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from pyinfra import host
from pyinfra.api import OperationValueError, QuoteString, StringCommand, operation
from pyinfra.facts.pip import PipPackages

from facts.buildenv import PipLatestVersion

# Debian packages (no Recommends): compilers and the seed's -dev headers under names valid on
# Debian 12 and 13 (pcre3 is gone from 13: uwsgi builds against pcre2); python3-venv for the venv.
PACKAGES = [
    "build-essential", "git", "python3-dev", "python3-venv",
    "libmariadb-dev", "libffi-dev", "libxml2-dev", "libssl-dev", "libpcre2-dev",
]


def _installed_version(installed: dict[str, set[str]], name: str) -> Version | None:
    versions = [v for key, vs in installed.items() if canonicalize_name(key) == name for v in vs]
    return max(map(Version, versions)) if versions else None


@operation()
def current_packages(packages: list[str], virtualenv: str) -> Generator[StringCommand, None, None]:
    """
    Keep pip packages of a virtualenv current: a bare name is installed, then upgraded whenever
    the index has a newer version; a name with a specifier (``uwsgi==2.0.31``, ``pip>=25``) is
    (re)installed only when the installed version does not satisfy it. One ``pip install``
    for everything to do, nothing when all is current, so a second run reports no change
    (``pip.packages(latest=True)`` upgrades every time; its ``>=`` compares as ``==``).

    + packages: PEP 508 requirements (name and at most a version specifier)
    + virtualenv: the venv directory (must exist, e.g. from ``pip.venv``)

    **Example:**

    .. code:: python

        buildenv.current_packages(
            name="Current pip and uwsgi in the venv",
            packages=["pip", "uwsgi"],
            virtualenv="/opt/openstack/venv",
        )
    """
    pip = f"{virtualenv.rstrip('/')}/bin/pip"
    installed = host.get_fact(PipPackages, pip=pip)
    todo: list[str] = []
    for package in packages:
        try:
            requirement = Requirement(package)
        except InvalidRequirement as error:
            raise OperationValueError(f"invalid pip requirement {package!r}: {error}") from error
        name = canonicalize_name(requirement.name)
        have = _installed_version(installed, name)
        if have is None:
            todo.append(package)
        elif requirement.specifier:
            if not requirement.specifier.contains(have, prereleases=True):
                todo.append(package)
        else:
            latest = host.get_fact(PipLatestVersion, pip=pip, package=name)
            if latest is not None and Version(latest) > have:
                todo.append(package)
    if todo:
        yield StringCommand(QuoteString(pip), "install", "--upgrade", *map(QuoteString, todo))
    else:
        host.noop(f"{', '.join(packages)} current in {virtualenv}")
