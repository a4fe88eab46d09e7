"""The cluster's certificates on every controller: the CA (also trusted by the system; two CAs
during a rotation of the CA, ``python -m lib.tls rotate-ca``), the controller's own certificate
and key, the VIPs' certificate. Issued on the machine running pyinfra (``lib/tls.py``), only when
missing, changed or due; HAProxy's pem is ``deploys/haproxy.py``'s.

    pyinfra inventory.py deploys/tls.py
"""

from io import StringIO

from pyinfra import host
from pyinfra.operations import server
from pyinfra.operations.util import any_changed

from lib.deploy import prologue
from lib.tls import CA_FILE, NODE_CERT, NODE_KEY, TRUSTED_CA, TRUSTED_CA_NEXT, VIP_CERT, TlsStore
from operations import steady, tls

topo = prologue()
store = TlsStore.of(host.data)
node = tls.node_certificate(store, topo)
vip = tls.vip_certificate(store, topo, host.data)
tls.save_issued(store)

snap = steady.Snapshot()
steady.packages(snap, name="ca-certificates (the system trust store) and openssl", packages=tls.PACKAGES,
                no_recommends=True)
steady.put(snap, name=f"The trusted CAs {CA_FILE} (two during a rotation)", src=StringIO(store.trusted_pem),
           dest=CA_FILE, mode="644")
# The system trust store: one CA per file (update-ca-certificates takes the first of a file).
ca, *newer = store.trusted_pems
trusted = [steady.put(snap, name=f"The cluster CA in the system trust store ({TRUSTED_CA})", src=StringIO(ca),
                      dest=TRUSTED_CA, mode="644"),
           *(steady.put(snap, name=f"The rotation's newer CA in the system trust store ({TRUSTED_CA_NEXT})",
                        src=StringIO(pem), dest=TRUSTED_CA_NEXT, mode="644") for pem in newer)]
if not newer:
    trusted.append(steady.absent(snap, name=f"No rotation's CA in the system trust store ({TRUSTED_CA_NEXT})",
                                 path=TRUSTED_CA_NEXT))
server.shell(name="update-ca-certificates (the trust store changed)", commands=["update-ca-certificates"],
             _if=any_changed(*trusted))
steady.put(snap, name=f"This controller's certificate {NODE_CERT}", src=StringIO(node.cert), dest=NODE_CERT,
           mode="644")
steady.put(snap, name=f"Its key {NODE_KEY} (0600)", src=StringIO(node.key.unmask()), dest=NODE_KEY,
           mode="600")
steady.put(snap, name=f"The VIPs' certificate {VIP_CERT}", src=StringIO(vip.cert), dest=VIP_CERT, mode="644")
