"""Operations on HAProxy: install a configuration only after ``haproxy -c`` accepted it.

``template_args()`` gives ``files.template`` everything haproxy.cfg.j2 needs, so the deploy
and the unit tests render the same file.
"""

from __future__ import annotations

from typing import Any

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.files import Sha1File

from lib.tls import Issued, backend_tls, service_tls
from lib.topology import Topology
from operations import steady
from operations.common import fail, or_fail

TEMPLATE = "templates/haproxy/haproxy.cfg.j2"
# Debian packages (no Recommends): socat for the stats socket, then HAProxy (its own step: its
# install is what starts the package's HAProxy).
STATS_PACKAGES = ["socat"]
SERVER_PACKAGES = ["haproxy"]
PACKAGES = [*STATS_PACKAGES, *SERVER_PACKAGES]
SERVICE = "haproxy"
CONFIG = "/etc/haproxy/haproxy.cfg"
CANDIDATE = f"{CONFIG}.new"  # rendered here, checked with haproxy -c, then installed as CONFIG
# The VIPs' certificate, its CA-issued chain and its key in one file, root 0600 (HAProxy reads it as
# root, before it drops to the haproxy user).
PEM = "/etc/haproxy/tls/vip.pem"
# The same for this controller's own certificate: the stats page on its api address.
NODE_PEM = "/etc/haproxy/tls/node.pem"
# The cluster CA, HAProxy's copy: it verifies the backends of the services with backend_tls.
CA = "/etc/haproxy/tls/ca.crt"
# Mozilla's "intermediate" settings (TLS 1.2 and 1.3): forward-secret AEAD ciphers only.
TLS12_CIPHERS = ":".join([
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
])
TLS13_CIPHERSUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
HSTS_SECONDS = 63072000  # two years


def pem(issued: Issued) -> str:
    """HAProxy's ``crt`` file: the certificate (and any chain it came with), then its key."""
    return issued.cert.rstrip("\n") + "\n" + issued.key.unmask()


def template_args(topo: Topology, data) -> dict[str, Any]:
    """Keyword arguments of ``files.template`` for TEMPLATE (``data``: the host's data)."""
    return {
        "jinja_env_kwargs": {"trim_blocks": True, "lstrip_blocks": True},
        "topo": topo,
        "haproxy": data.haproxy,
        "services": data.haproxy_services,
        "galera_check_port": data.galera["check_port"],
        "tls": {name: service_tls(service) for name, service in data.haproxy_services.items()},
        "backend_tls": {name: backend_tls(service) for name, service in data.haproxy_services.items()},
        "pem": PEM,
        "node_pem": NODE_PEM,
        "ca_file": CA,
        "ciphers": TLS12_CIPHERS,
        "ciphersuites": TLS13_CIPHERSUITES,
        "hsts_seconds": HSTS_SECONDS,
        # Plain text for the template only: files.template never prints it (no --diff).
        "stats_password": data.secrets["haproxy_stats_password"].unmask(),
    }


def configure(snap: steady.Snapshot, topo: Topology, data) -> OperationMeta:
    """The operations that render haproxy.cfg's candidate, check it with ``haproxy -c``, install it
    and keep its mode; the install operation (changed: the live configuration is new, to be
    reloaded). ``deploys/haproxy.py`` uses it, and ``deploys/keystone.py`` right after Apache's
    reload, so that HAProxy follows Keystone's site at once when ``backend_tls`` changes.

    Example::

        installed = haproxy.configure(steady.Snapshot(), topo, host.data)
        systemd.service(name="Reload HAProxy", service=haproxy.SERVICE, running=None, reloaded=True,
                        _if=installed.did_change)
    """
    steady.template(snap, name="Render the HAProxy configuration candidate", src=TEMPLATE, dest=CANDIDATE,
                    user="root", group="haproxy", mode="640", **template_args(topo, data))
    snap.watch_path(CONFIG)  # read with the candidate, for the install's comparison
    installed = _install_answered(snap, name="Check the candidate with haproxy -c and install it",
                                  candidate=CANDIDATE, dest=CONFIG)
    steady.mode(snap, name="Keep haproxy.cfg root:haproxy 0640 (it holds the stats password)", path=CONFIG,
                user="root", group="haproxy", mode="640")
    return installed


@operation()
def install_checked_config(
    candidate: str = "/etc/haproxy/haproxy.cfg.new",
    dest: str = "/etc/haproxy/haproxy.cfg",
    user: str = "root",
    group: str = "haproxy",
    mode: str = "640",
):
    """
    Check a candidate configuration with ``haproxy -c`` and, only if it passes, install it over
    the live one (atomic rename). Nothing happens when both files are equal; a rejected
    candidate fails the operation and leaves ``dest`` untouched.

    + candidate: the rendered configuration to check (kept, so a second run compares equal)
    + dest: the configuration HAProxy runs with
    + user, group, mode: owner and mode of the installed file (it holds the stats password)

    **Example:**

    .. code:: python

        files.template(name="Render haproxy.cfg.new", src="templates/haproxy/haproxy.cfg.j2",
                       dest="/etc/haproxy/haproxy.cfg.new", ...)
        installed = haproxy.install_checked_config(name="Check and install haproxy.cfg")
        systemd.service(name="Reload HAProxy if running", service="haproxy", running=None,
                        reloaded=True, _if=installed.did_change)
    """
    new, live = host.get_fact(Sha1File, path=candidate), host.get_fact(Sha1File, path=dest)
    if new is None:
        yield fail(f"{candidate} is missing: nothing to install")
        return
    if new == live:
        host.noop(f"{dest} is already {candidate}")
        return
    rejected = f"haproxy -c rejected {candidate}; {dest} left unchanged (see the errors above)"
    yield or_fail(StringCommand("haproxy -c -f", QuoteString(candidate)), rejected)
    tmp = f"{dest}.tmp"
    yield StringCommand(
        "install", "-o", QuoteString(user), "-g", QuoteString(group), "-m", QuoteString(mode),
        QuoteString(candidate), QuoteString(tmp),
    )
    yield StringCommand("mv -f", QuoteString(tmp), QuoteString(dest))


# install_checked_config with the two files' checksums answered from the component's reading.
_install_answered = steady.answered(install_checked_config)
