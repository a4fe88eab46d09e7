"""Facts about Apache HTTPD on Debian (``a2query``, from the ``apache2`` package)."""

from __future__ import annotations

import re

from pyinfra.api import FactBase, FactProcessError
from typing_extensions import override

# a2query -m: one line per enabled module, e.g. "proxy (enabled by site administrator)".
_MODULE_LINE = re.compile(r"^(?P<name>[\w.-]+) \(enabled by (?:site administrator|maintainer script)\)$")


class ApacheModules(FactBase[list[str]]):
    """
    The Apache modules enabled in ``/etc/apache2/mods-enabled``, as ``a2query -m`` lists them
    (sorted); empty when Apache is not installed or no module is enabled.

    .. code:: python

        ["alias", "proxy", "proxy_uwsgi", "wsgi"]
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "a2query"

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        # With no module enabled, a2query exits 32 ("No module matches" on stderr): empty list.
        return "a2query -m || [ $? -eq 32 ]"

    def process(self, output: list[str]) -> list[str]:
        modules = []
        for line in output:
            match = _MODULE_LINE.match(line.strip())
            if not match:
                raise FactProcessError(f"unexpected a2query -m line: {line!r}")
            modules.append(match["name"])
        return sorted(modules)
