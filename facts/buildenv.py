"""Facts of the Python build environment: what the package index offers."""

from __future__ import annotations

import re

from pyinfra.api import FactBase, FactProcessError, QuoteString, StringCommand
from typing_extensions import override

# First line of `pip index versions NAME`: "pip (26.3)" (pip 21.2 to 26.x).
_LATEST_LINE = re.compile(r"^(?P<name>[A-Za-z0-9._-]+) \((?P<version>[^)\s]+)\)$")


class PipLatestVersion(FactBase[str | None]):
    """
    The newest version of a package on the index that ``pip`` uses (its ``pip.conf``
    proxy and index included), from ``pip index versions``; ``None`` when that ``pip`` is not installed.
    An unreachable index makes ``pip`` exit non-zero, so the fact fails instead of saying
    "nothing newer" (``pip list --outdated`` prints ``[]`` then).

    + pip: the pip to ask, e.g. ``/opt/openstack/venv/bin/pip``
    + package: distribution name

    .. code:: python

        "26.3"
    """

    @staticmethod
    def default() -> str | None:
        return None

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return kwargs.get("pip", "pip")

    def command(self, pip: str = "pip", package: str = "") -> StringCommand:
        return StringCommand(
            QuoteString(pip), "index", "versions", "--disable-pip-version-check", QuoteString(package)
        )

    def process(self, output: list[str]) -> str:
        match = _LATEST_LINE.match(output[0].strip())
        if not match:
            raise FactProcessError(f"unexpected `pip index versions` output: {output[0]!r}")
        return match["version"]
