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
    (``lib.tls.CERTIFICATES``: the CA, the controller's own, the VIPs'), ``{}`` when none is. Every
    certificate of a file is read: the CA file holds two during a rotation of the CA, the second
    one keyed ``<path>#2``.

    .. code:: python

        {"/etc/prereqos/tls/ca.crt": "2036-11-29T23:52:10+00:00",
         "/etc/prereqos/tls/ca.crt#2": "2036-12-01T01:02:03+00:00",     # during a CA rotation
         "/etc/prereqos/tls/node.crt": "2027-12-01T23:52:10+00:00", ...}
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "openssl"

    @staticmethod
    def default() -> dict:
        return {}

    def command(self) -> StringCommand:
        # Each certificate of a file to openssl in turn (openssl x509 reads only the first).
        return StringCommand("for f in", *map(QuoteString, CERTIFICATES), "; do",
                             'if [ -e "$f" ]; then pem=; while IFS= read -r line; do pem="$pem$line\n"; '
                             'case "$line" in *"END CERTIFICATE"*) printf "%s " "$f" && printf "%s" "$pem" '
                             "| openssl x509 -noout -enddate || exit 1; pem=;; esac; done < \"$f\"; fi; done")

    def process(self, output: list[str]) -> dict:
        found: dict[str, str] = {}
        for line in output:
            match = _LINE.match(line.strip())
            if not match:
                raise FactProcessError(f"CertificateExpiry: not `<path> notAfter=<date>`: {line!r}")
            when = datetime.datetime.strptime(match[2], "%b %d %H:%M:%S %Y GMT").replace(tzinfo=datetime.timezone.utc)
            nth = sum(key.split("#")[0] == match[1] for key in found) + 1
            found[match[1] if nth == 1 else f"{match[1]}#{nth}"] = when.isoformat()
        return found
