"""TLS on the lab, with real clients: the cluster CA and certificates on every controller (keys
0600, the CA in the system trust store), HAProxy terminating TLS through the api VIP (curl
--cacert and Python ssl see the VIPs' certificate; a client without the CA fails; TLS 1.0/1.1
refused while 1.2 and 1.3 pass; HSTS on Keystone's HTTP frontend), a second deploy run that
changes nothing and issues nothing, and a renewal under load that drops no handshake. SQL
clients verify MariaDB's certificate through the srv VIP and on each node; plain TCP clients are
refused once secure transport is required."""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
import uuid

import pymysql
import pytest
from cryptography import x509

from lib.tls import (BUNDLE, CA_FILE, NONE, NODE_CERT, NODE_KEY, STARTED, TRUSTED_CA, TRUSTED_CA_NEXT, VIP, VIP_CERT,
                     SYSTEM_BUNDLE, TlsStore, tls_dir)
from operations.rabbitmq import AMQPS_PORT
from tests.lab_tests.capture import Capture
from tests.lab_tests.conftest import ROOT, changed_ops, group_data, ok, run_deploy
from tests.lab_tests.drill_load import TABLE, cluster_ca, insert_tokens, sql_account
from tests.lab_tests.test_rabbitmq import nodes
from tests.lab_tests.test_rabbitmq import amqp

pytestmark = pytest.mark.lab

DEPLOYS = ("deploys/tls.py", "deploys/haproxy.py")
RABBITMQ = "deploys/rabbitmq.py"
GALERA = "deploys/galera.py"
REFUSED_PLAIN = (1045, 3159)  # ER_ACCESS_DENIED_ERROR, ER_SECURE_TRANSPORT_REQUIRED
GROUP_DATA = group_data()
GALERA_DEFAULTS, RABBITMQ_DEFAULTS = GROUP_DATA["galera"], GROUP_DATA["rabbitmq"]
PORT = 5000  # haproxy_services["keystone_public"]: api and srv binds, TLS by default
PEM = "/etc/haproxy/tls/vip.pem"


def local_files() -> dict[str, str]:
    """sha256 of every file of secrets-tls/ on this machine."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(tls_dir().iterdir())}


@pytest.fixture(scope="module")
def deployed(lab):
    """The certificates and HAProxy converged, HAProxy running (Pacemaker runs it on a deployed lab)."""
    lab.deploy(*DEPLOYS)
    for n in lab.hosts:
        assert ok(lab.ssh(n, "systemctl is-active haproxy")).strip() == "active"
    return lab


def handshake(address: str, context: ssl.SSLContext, port: int = PORT) -> tuple[str, dict]:
    """(TLS version, peer certificate) of a handshake with ``address:port``."""
    with socket.create_connection((address, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=address) as tls:
            return tls.version(), tls.getpeercert()


def sql(address: str, account, context: ssl.SSLContext | None = None) -> tuple[str, bytes | None]:
    """(TLS version, DER of the server's certificate) of a PyMySQL session with ``address``:3306,
    ``("", None)`` without TLS; with a context, PyMySQL verifies the certificate and the address."""
    db = pymysql.connect(host=address, port=3306, user=account.user, password=account.password, ssl=context,
                         connect_timeout=5, read_timeout=10)
    try:
        with db.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
            version = cursor.fetchone()[1]
        return version, db._sock.getpeercert(binary_form=True) if context else None
    finally:
        db.close()


def old_protocol_client(version: ssl.TLSVersion) -> ssl.SSLContext:
    """A client that offers exactly ``version`` and, at security level 0, the old ciphers too: a
    failed handshake is the server's refusal, not the client's."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = context.maximum_version = version
    return context


def test_certificates_and_keys_on_every_controller(deployed):
    ca = (tls_dir() / "ca.crt").read_text()
    for n in deployed.hosts:
        modes = ok(deployed.ssh(n, f"stat -c '%a %U %n' {CA_FILE} {NODE_CERT} {NODE_KEY} {VIP_CERT} {PEM}")).split("\n")
        assert modes[:5] == [f"644 root {CA_FILE}", f"644 root {NODE_CERT}", f"600 root {NODE_KEY}",
                             f"644 root {VIP_CERT}", f"600 root {PEM}"]
        assert ok(deployed.ssh(n, f"cat {CA_FILE}")) == ca
        # The system trust store holds the CA: openssl verifies the node's certificate with it alone.
        verify = ok(deployed.ssh(n, f"openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt -purpose sslserver "
                                    f"{NODE_CERT}"))
        assert verify.strip() == f"{NODE_CERT}: OK"
        sans = ok(deployed.ssh(n, f"openssl x509 -noout -ext subjectAltName -in {NODE_CERT}"))
        addresses = [*(deployed.address(net, n) for net in ("api", "srv", "data")), deployed.vip("srv")]
        assert f"DNS:ctrl-{n}" in sans and all(f"IP Address:{a}" in sans for a in addresses), sans
        # The pem's key is the certificate's (HAProxy would refuse it otherwise; checked by openssl).
        same = ok(deployed.ssh(n, f"openssl x509 -noout -pubkey -in {PEM} | sha256sum; "
                                  f"openssl pkey -pubout -in {PEM} | sha256sum"))
        assert len(set(same.split("\n")[:2])) == 1


def test_python_ssl_through_the_api_vip_sees_the_vips_certificate(deployed):
    version, cert = handshake(deployed.vip("api"), cluster_ca())
    assert version in ("TLSv1.2", "TLSv1.3")
    sans = {value for kind, value in cert["subjectAltName"]}
    assert {deployed.vip("api"), deployed.vip("srv")} <= sans
    ca = x509.load_pem_x509_certificate((tls_dir() / "ca.crt").read_bytes())  # a rotated CA's name has a date
    assert cert["issuer"] == ((("commonName", ca.subject.rfc4514_string().removeprefix("CN=")),),)


def test_curl_with_the_ca_succeeds_and_without_it_fails(deployed):
    url = f"https://{deployed.vip('api')}:{PORT}/"
    trusted = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}",
                              "--cacert", str(tls_dir() / "ca.crt"), "--max-time", "10", url],
                             capture_output=True, text=True)
    assert trusted.returncode == 0 and trusted.stdout.split()[1] == "0", trusted.stdout + trusted.stderr
    untrusted = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time", "10", url],
                               capture_output=True, text=True)
    assert untrusted.returncode == 60, untrusted.stderr  # "SSL certificate problem"
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(deployed.vip("api"), ssl.create_default_context())


def test_controllers_trust_the_vip_through_their_system_store(deployed):
    for n in deployed.hosts:
        ok(deployed.ssh(n, f"python3 -c \"import socket, ssl; ssl.create_default_context().wrap_socket("
                           f"socket.create_connection(('{deployed.vip('srv')}', {PORT}), timeout=10), "
                           f"server_hostname='{deployed.vip('srv')}').close()\""))


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1], ids=["TLSv1.0", "TLSv1.1"])
def test_tls_1_0_and_1_1_are_refused(deployed, version):
    with pytest.raises(ssl.SSLError):
        handshake(deployed.vip("api"), old_protocol_client(version))
    # The same client, allowed TLS 1.2 and 1.3: the refusal above was the protocol's.
    for allowed in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        assert handshake(deployed.vip("api"), old_protocol_client(allowed))[0] == allowed.name.replace("_", ".")
    # openssl's own client, on a controller.
    refused = deployed.ssh(1, f"openssl s_client -connect {deployed.vip('api')}:{PORT} -tls1_1 "
                              f"-cipher DEFAULT@SECLEVEL=0 </dev/null")
    assert refused.returncode != 0 and "Cipher is (NONE)" in refused.stdout + refused.stderr


def test_keystone_answers_through_tls_with_hsts(deployed):
    if deployed.ssh(1, "test -e /etc/keystone/keystone.conf").returncode != 0:
        pytest.skip("Keystone is not deployed on this lab (tests/lab_tests/test_keystone.py deploys it)")
    with urllib.request.urlopen(f"https://{deployed.vip('api')}:{PORT}/v3", timeout=10, context=cluster_ca()) as answer:
        assert answer.status == 200
        assert answer.headers["Strict-Transport-Security"] == "max-age=63072000"
        # X-Forwarded-Proto: the links Keystone returns keep https.
        links = json.loads(answer.read())["version"]["links"]
    assert {"rel": "self", "href": f"https://{deployed.vip('api')}:{PORT}/v3/"} in links


def test_second_run_changes_nothing_issues_nothing_and_prints_no_key(deployed):
    before = local_files()
    assert set(before) >= {"ca.crt", "ca.key", "vip.crt", "vip.key", "ctrl-1.crt", "ctrl-1.key"}
    results, output = run_deploy(deployed, *DEPLOYS, "-vv")
    assert changed_ops(results) == {}
    assert local_files() == before
    flat = output.replace("\\n", "").replace("\n", "")
    for key in tls_dir().glob("*.key"):
        secret = "".join(key.read_text().splitlines()[1:-1])[48:88]  # past the ASN.1 header every key shares
        assert len(secret) == 40 and secret not in flat, f"{key.name} printed by pyinfra"


# --- renewal under load -------------------------------------------------------------------------
class Handshakes:
    """TLS handshakes, verified with ``context()`` (the cluster CA by default), to each ``(address,
    port)`` in turn, in a thread, and with ``sql=(address, account)`` a PyMySQL session there too:
    what failed, and the certificates served (DER)."""

    def __init__(self, targets: list[tuple[str, int]], context=cluster_ca, sql: tuple | None = None) -> None:
        self.targets, self.context, self.sql, self.failures, self.served = targets, context, sql, [], {}
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _probe(self, address: str, port: int) -> bytes:
        if port == 3306:
            return sql(address, self.sql[1], self.context())[1]
        with socket.create_connection((address, port), timeout=5) as raw, \
                self.context().wrap_socket(raw, server_hostname=address) as tls:
            return tls.getpeercert(binary_form=True)

    def _loop(self) -> None:
        targets = [*self.targets, *([(self.sql[0], 3306)] if self.sql else [])]
        while not self._stop.is_set():
            for address, port in targets:
                try:
                    self.served.setdefault((address, port), set()).add(self._probe(address, port))
                except (OSError, pymysql.err.MySQLError) as error:  # ssl.SSLError included
                    self.failures.append(f"{time.strftime('%H:%M:%S')} {address}:{port} {error!r}")
                self.count += 1
            self._stop.wait(0.05)

    def __enter__(self) -> "Handshakes":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def test_sql_clients_verify_mariadbs_certificate_through_the_srv_vip_and_on_each_node(deployed):
    lab = deployed
    with sql_account(lab) as account:
        for address in (lab.vip("srv"), *(lab.address("srv", n) for n in lab.hosts)):
            version, der = sql(address, account, cluster_ca())
            assert version in ("TLSv1.2", "TLSv1.3"), (address, version)
            assert der in {ssl.PEM_cert_to_DER_cert((tls_dir() / f"ctrl-{n}.crt").read_text()) for n in lab.hosts}
        # A client that does not trust the cluster CA fails; TLS 1.1 is refused.
        with pytest.raises(pymysql.err.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
            sql(lab.vip("srv"), account, ssl.create_default_context())
        with pytest.raises(pymysql.err.OperationalError, match="ALERT_PROTOCOL_VERSION"):  # the server's alert
            sql(lab.vip("srv"), account, old_protocol_client(ssl.TLSVersion.TLSv1_1))
        assert sql(lab.vip("srv"), account) == ("", None)  # plain allowed by default
        # Secure transport required: a plain client refused, TLS clients served, then back.
        required = json.dumps({**GALERA_DEFAULTS, "require_secure_transport": True})
        run_deploy(lab, GALERA, "--data", f"galera={required}")
        try:
            with pytest.raises(pymysql.err.OperationalError) as refused:
                sql(lab.vip("srv"), account)
            # MariaDB 10.11 answers "Access denied" (1045), later ones ER_SECURE_TRANSPORT_REQUIRED
            assert refused.value.args[0] in REFUSED_PLAIN, refused.value.args
            assert sql(lab.vip("srv"), account, cluster_ca())[0] in ("TLSv1.2", "TLSv1.3")
        finally:
            run_deploy(lab, GALERA)
        assert sql(lab.vip("srv"), account) == ("", None)


def test_renewal_under_load_drops_nothing(deployed):
    """The controllers' and the VIPs' certificates renewed on purpose (their files removed from
    secrets-tls/: the next run issues new ones; the CA stays) while clients keep connecting: every
    TLS handshake through the api VIP and to every node's AMQPS port succeeds throughout, an AMQPS
    connection opened before stays open, the new certificates are served (MariaDB's too), HAProxy is
    reloaded, RabbitMQ and MariaDB not restarted; the run after changes nothing."""
    lab = deployed
    started = {n: ok(lab.ssh(n, "systemctl show -P ExecMainStartTimestamp rabbitmq-server mariadb")) for n in lab.hosts}
    # Each certificate renewed, and where a client meets it.
    renewed = {VIP: (lab.vip("api"), PORT), **{f"ctrl-{n}": (lab.address("srv", n), AMQPS_PORT) for n in lab.hosts}}
    for name in renewed:
        for suffix in (".crt", ".key"):
            (tls_dir() / f"{name}{suffix}").unlink()
    targets = list(renewed.values())
    with amqp(lab, 1, tls=cluster_ca(), heartbeat=0) as opened_before, Handshakes(targets) as load:
        time.sleep(2)
        run_deploy(lab, *DEPLOYS, RABBITMQ, GALERA)
        time.sleep(2)
        opened_before.channel().queue_declare("", exclusive=True)  # still open, still served
    assert load.failures == [] and load.count > 20, (load.count, load.failures[:10])
    for name, target in renewed.items():  # the old certificate, then the new one
        new = ssl.PEM_cert_to_DER_cert((tls_dir() / f"{name}.crt").read_text())
        assert new in load.served[target] and len(load.served[target]) == 2, name
    assert {n: ok(lab.ssh(n, "systemctl show -P ExecMainStartTimestamp rabbitmq-server mariadb"))
            for n in lab.hosts} == started
    with sql_account(lab) as account:  # MariaDB serves the new certificate, not restarted (above)
        for n in lab.hosts:
            new = ssl.PEM_cert_to_DER_cert((tls_dir() / f"ctrl-{n}.crt").read_text())
            assert sql(lab.address("srv", n), account, cluster_ca())[1] == new, f"ctrl-{n}"
    results, _ = run_deploy(lab, *DEPLOYS, RABBITMQ, GALERA)
    assert changed_ops(results) == {}
    print(f"renewal under load: {load.count} handshakes, none failed")


# --- rotation of the CA under load --------------------------------------------------------------
def rotate_ca(step: str) -> str:
    """``python -m lib.tls rotate-ca <step>`` as an operator runs it (on this machine only)."""
    return ok(subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "lib.tls", "rotate-ca", step], cwd=ROOT,
                             capture_output=True, text=True))


def trusting(pem: str) -> ssl.SSLContext:
    """A client context that trusts the CAs of ``pem`` and nothing else."""
    return ssl.create_default_context(cadata=pem)


def clusters_whole(lab) -> None:
    """Galera: every node Synced in a cluster of all; RabbitMQ: every node running (read over ssh:
    cheaper than a pyinfra fact)."""
    for n in lab.hosts:
        status = dict(line.split("\t") for line in ok(lab.ssh(n, "mysql -NBe \"SHOW STATUS WHERE Variable_name IN "
                                                                "('wsrep_local_state_comment', 'wsrep_cluster_size')\""
                                                                )).strip().split("\n"))
        assert status == {"wsrep_local_state_comment": "Synced", "wsrep_cluster_size": str(len(lab.hosts))}, (n, status)
    running = json.loads(ok(lab.ssh(1, "rabbitmqctl -q cluster_status --formatter json")))["running_nodes"]
    assert sorted(running) == nodes(lab), running


def test_ca_rotation_under_load_drops_nothing(deployed):
    """The CA replaced in its three steps (``rotate-ca start``, ``switch``, ``finish``), each
    followed by a deploy run, while a client trusting the CAs of the start (the current and the
    next: secrets-tls/ca-bundle.crt) handshakes without pause with the api VIP's keystone_public
    frontend, every node's AMQPS port and MariaDB through the srv VIP: none fails. At the end every
    served certificate is the new CA's, a client trusting only the old CA is refused, the clusters
    are whole, no service restarted, and a further run changes nothing."""
    lab = deployed
    began = time.monotonic()
    assert TlsStore(tls_dir(), GROUP_DATA["tls"]).rotation() == NONE
    started = {n: ok(lab.ssh(n, "systemctl show -P ExecMainStartTimestamp rabbitmq-server mariadb")) for n in lab.hosts}
    old_ca = (tls_dir() / "ca.crt").read_text()
    targets = [(lab.vip("api"), PORT), *((lab.address("srv", n), AMQPS_PORT) for n in lab.hosts)]
    runs = {}
    try:
        rotate_ca("start")
        bundle = (tls_dir() / BUNDLE).read_text()
        both = trusting(bundle)
        with sql_account(lab) as account, Handshakes(targets, lambda: both, (lab.vip("srv"), account)) as load:
            for step in ("start", "switch", "finish"):
                if step != "start":
                    rotate_ca(step)
                at = time.monotonic()
                run_deploy(lab, *DEPLOYS, RABBITMQ, GALERA)
                runs[step] = round(time.monotonic() - at, 1)
                if step == "start":  # every controller trusts both CAs: the bundle, the system store
                    for n in lab.hosts:
                        assert ok(lab.ssh(n, f"cat {CA_FILE} /etc/rabbitmq/tls/ca.crt /etc/mysql/tls/ca.crt; "
                                             f"test -e {TRUSTED_CA_NEXT}")) == bundle * 3
            time.sleep(1)
        new_ca = (tls_dir() / "ca.crt").read_text()
        assert load.failures == [] and load.count > 20, (load.count, load.failures[:10])
        # Every endpoint served the new CA's certificates at the end, and only they verify with it alone.
        only_new, only_old = trusting(new_ca), trusting(old_ca)
        for address, port in targets:
            handshake(address, only_new, port)
            with pytest.raises(ssl.SSLCertVerificationError):
                handshake(address, only_old, port)
        with sql_account(lab) as account:
            for address in (lab.vip("srv"), *(lab.address("srv", n) for n in lab.hosts)):
                sql(address, account, only_new)
                with pytest.raises(pymysql.err.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
                    sql(address, account, only_old)
        old_line = old_ca.splitlines()[2]  # a line of the old CA's base64: in the system bundle or not
        for n in lab.hosts:  # only the new CA trusted on the controllers, the system bundle too
            assert ok(lab.ssh(n, f"cat {CA_FILE} {TRUSTED_CA} /etc/rabbitmq/tls/ca.crt /etc/mysql/tls/ca.crt; "
                                 f"test ! -e {TRUSTED_CA_NEXT} && ! grep -qF {old_line} {SYSTEM_BUNDLE}")) == new_ca * 4
        clusters_whole(lab)
        assert {n: ok(lab.ssh(n, "systemctl show -P ExecMainStartTimestamp rabbitmq-server mariadb"))
                for n in lab.hosts} == started
        results, _ = run_deploy(lab, *DEPLOYS, RABBITMQ, GALERA)
        assert changed_ops(results) == {}
    finally:  # never leave a rotation half done for the tests after this one: carried to its end
        store = TlsStore(tls_dir(), GROUP_DATA["tls"])
        if store.rotation() != NONE:
            for step in (["switch"] if store.rotation() == STARTED else []) + ["finish"]:
                rotate_ca(step)
            run_deploy(lab, *DEPLOYS, RABBITMQ, GALERA)
    print(f"CA rotation under load: {load.count} handshakes, none failed; runs {runs} s; "
          f"test {time.monotonic() - began:.0f} s")


def test_nothing_in_clear_on_srv_and_data_while_a_node_rejoins_by_sst(deployed):
    """Galera's replication and IST, mariabackup's SST, AMQPS and RabbitMQ's Erlang distribution
    (rabbitmq['inter_node_tls'], turned on for this test) carry nothing in clear: a unique marker written through the srv VIP (PyMySQL, TLS) and published
    on AMQPS to a quorum queue (replicated to every node over the distribution) never appears in a
    capture of every controller's srv and data veths, taken while ctrl-3 rejoins by SST (its
    grastate.dat removed: a full copy of the data, the markers included) and while the rows written
    after replicate to it; the joiner's SST went through socat in TLS with the peer's chain
    verified. A string sent in clear between two controllers in the same capture is seen (the
    capture does see their traffic)."""
    lab = deployed
    for n in lab.hosts:
        options = ok(lab.ssh(n, "mysql -NBe 'SELECT @@wsrep_provider_options'"))
        assert "socket.ssl = YES" in options and "socket.dynamic = YES" not in options, (n, options)
    # RabbitMQ's distribution in TLS (rabbitmq['inter_node_tls'], off by default): every node
    # stops, all start together; back to the default after.
    run_deploy(lab, RABBITMQ, "--data", f"rabbitmq={json.dumps({**RABBITMQ_DEFAULTS, 'inter_node_tls': True})}")
    try:
        assert set(lab.fact("facts.rabbitmq.RabbitmqDistribution").values()) == {"tls"}
        capture_markers(lab)
    finally:
        run_deploy(lab, RABBITMQ)
    assert set(lab.fact("facts.rabbitmq.RabbitmqDistribution").values()) == {"plain"}


def capture_markers(lab) -> None:
    """The markers of the test above, the capture and its checks."""
    marker = f"PQCLEAR{uuid.uuid4().hex}"
    control = f"PQPLAIN{uuid.uuid4().hex}"  # sent in clear: not the marker
    veths = [lab.lab.veth(net, n) for n in lab.hosts for net in ("srv", "data")]
    with sql_account(lab) as account, Capture(veths) as capture:
        ok(lab.ssh(1, f"exec 3<>/dev/tcp/{lab.address('srv', 2)}/9200; "
                      f"printf 'GET /{control} HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3 >/dev/null"))
        # Many copies, so that in clear at least one would lie whole inside one captured frame.
        insert_tokens(lab.vip("srv"), account, [f"{marker}-{i}" for i in range(100)])  # before the SST: it copies them
        with amqp(lab, 1, tls=cluster_ca()) as connection:  # a quorum queue: replicated to every node
            channel = connection.channel()
            queue = f"prereqos-capture-{marker}"
            channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
            channel.confirm_delivery()
            for i in range(50):
                channel.basic_publish("", queue, f"{marker}-amqp-{i}".encode())
            received = []
            deadline = time.monotonic() + 20
            while len(received) < 50 and time.monotonic() < deadline:
                body = channel.basic_get(queue, auto_ack=True)[2]
                received.append(body) if body is not None else time.sleep(0.2)
            channel.queue_delete(queue)
            assert received == [f"{marker}-amqp-{i}".encode() for i in range(50)]
        since = ok(lab.ssh(3, "date '+%F %T'")).strip()
        ok(lab.ssh(3, "systemctl stop mariadb && rm /var/lib/mysql/grastate.dat && systemctl start mariadb "
                      "&& until [ \"$(mysql -NBe \"SHOW STATUS LIKE 'wsrep_local_state_comment'\" | cut -f2)\" "
                      "= Synced ]; do sleep 1; done", timeout=600))
        insert_tokens(lab.vip("srv"), account, [f"{marker}-{i}" for i in range(100, 200)])  # after: replicated to every node, ctrl-3 too
        journal = ok(lab.ssh(3, f"journalctl -u mariadb --since '{since}' --no-pager"))
    assert "Decrypting with cert=" in journal and "Verifying peer certificate chain" in journal, journal[-3000:]
    assert f"{marker}-199" in ok(lab.ssh(3, f"mysql -NBe 'SELECT token FROM {TABLE}'"))
    seen = capture.data
    assert control.encode() in seen, f"{len(capture.frames)} frames: the capture missed the clear control string"
    assert marker.encode() not in seen, "a marker crossed the srv or data network in clear"
