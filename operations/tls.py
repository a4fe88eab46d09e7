"""Which certificates each controller gets, and the saving of what was issued (``deploys/tls.py``,
``deploys/haproxy.py``).

Certificates are issued on the machine running pyinfra (``lib/tls.py``); here each controller's
own and the VIPs' are chosen, and the issued ones are saved by an operation, so that only a run
that executes writes ``secrets-tls/``.

Example (a deploy file)::

    store = TlsStore.of(host.data)
    node = tls.node_certificate(store, topo)          # Issued: cert (PEM), key (Secret)
    tls.save_issued(store)                            # before any operation puts them on a host
"""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import python

from lib.tls import Issued, TlsStore, vip_names
from lib.topology import Topology
from lib.validate import NETWORKS, VIP_NETWORKS
from operations import steady

# Debian packages (no Recommends): the system trust store and its update-ca-certificates.
PACKAGES = ["ca-certificates", "openssl"]


def node_certificate(store: TlsStore, topo: Topology) -> Issued:
    """This controller's certificate: its inventory name, its address on every network, and the
    srv VIP (HAProxy's galera frontend passes TCP: a SQL client through it verifies the node's own
    certificate against the VIP's address)."""
    return store.certificate(topo.me, [topo.me], [*(topo.address(net) for net in NETWORKS), topo.vip("srv")])


def vip_certificate(store: TlsStore, topo: Topology, data) -> Issued:
    """The VIPs' certificate: both VIP addresses and group_data ``tls["vip_names"]``."""
    return store.vip_certificate(vip_names(data), [topo.vip(net) for net in VIP_NETWORKS])


def save_issued(store: TlsStore) -> None:
    """An operation that writes what ``store`` issued in memory into ``secrets-tls/`` (0600), first
    of the run's changes that use it; none when nothing was issued."""
    if store.unsaved:
        python.call(name=f"Save the issued certificates to {store.directory.name}/ (0600)", function=store.save)


def service_copies(snap: steady.Snapshot, label: str, owner: str, ca: str, cert: str, key: str,
                   topo: Topology) -> list[OperationMeta]:
    """The trusted CAs (``TlsStore.trusted_pem``: two during a rotation of the CA), this
    controller's certificate and its key (0400) as copies that the
    service's user ``owner`` may read (the originals in /etc/prereqos/tls are root's); the
    operations, so that a renewal can be acted on (``any_changed``).

    Example (deploys/rabbitmq.py)::

        certificates = tls.service_copies(snap, "AMQPS", "rabbitmq", rabbitmq.TLS_CA, rabbitmq.TLS_CERT,
                                          rabbitmq.TLS_KEY, topo)
    """
    store = TlsStore.of(host.data)
    node = node_certificate(store, topo)
    save_issued(store)
    return [steady.put(snap, name=f"{label}: {what}", src=StringIO(text), dest=dest, user=owner, group=owner,
                       mode=mode)
            for what, text, dest, mode in (("the trusted CAs", store.trusted_pem, ca, "644"),
                                           ("this controller's certificate", node.cert, cert, "644"),
                                           ("its key (0400)", node.key.unmask(), key, "400"))]
