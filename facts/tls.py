"""Facts about the cluster's certificates on a controller (``deploys/tls.py`` puts them there).

Example::

    pyinfra inventory.py fact facts.tls.CertificateExpiry --json
    # {"ctrl-1": {"/etc/prereqos/tls/ca.crt": "2036-11-29T23:52:10+00:00", ...}}
"""

from __future__ import annotations

import datetime
import re

from pyinfra.api import FactBase, FactProcessError, QuoteString, StringCommand
from typing_extensions import override

from lib.tls import CERTIFICATES


# `<path> notAfter=Nov 29 23:52:10 2036 GMT` (openssl x509 -enddate)
_LINE = re.compile(r"^(/\S+) notAfter=(.+ GMT)$")


class CertificateExpiry(FactBase[dict]):
    """
    The end of validity (ISO 8601, UTC) of each of the cluster's certificates present on the host
    (``operations.tls.CERTIFICATES``: the CA, the controller's own, the VIPs'), ``{}`` when none is.

    .. code:: python

        {"/etc/prereqos/tls/ca.crt": "2036-11-29T23:52:10+00:00",
         "/etc/prereqos/tls/node.crt": "2027-12-01T23:52:10+00:00", ...}
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "openssl"

    @staticmethod
    def default() -> dict:
        return {}

    def command(self) -> StringCommand:
        return StringCommand("for f in", *map(QuoteString, CERTIFICATES), "; do",
                             'if [ -e "$f" ]; then printf "%s " "$f" && openssl x509 -noout -enddate -in "$f" '
                             "|| exit 1; fi; done")

    def process(self, output: list[str]) -> dict:
        found = {}
        for line in output:
            match = _LINE.match(line.strip())
            if not match:
                raise FactProcessError(f"CertificateExpiry: not `<path> notAfter=<date>`: {line!r}")
            when = datetime.datetime.strptime(match[2], "%b %d %H:%M:%S %Y GMT").replace(tzinfo=datetime.timezone.utc)
            found[match[1]] = when.isoformat()
        return found
