"""The cluster's certificates: a CA, one certificate per controller and one for the VIPs.

Everything is issued on the machine that runs pyinfra, with ``cryptography``, into a directory
beside ``secrets.json`` (``secrets-tls/``, git-ignored; ``PREREQOS_SECRETS`` moves both): the
CA (``ca.crt``, ``ca.key``), unless group_data ``tls`` names an operator's CA, and
``<name>.crt`` / ``<name>.key`` for each controller and for ``vip``. Every file is 0600 from its
creation. As with the secrets, nothing is written by reading: what is missing or due is issued
in memory, and only ``save()`` writes it (an operation of a run that executes: never ``--dry``
nor the health report).

A certificate is kept while it was issued by the CA, holds exactly the wanted names and
addresses and has more than ``tls["renew_days"]`` days left; otherwise it is issued again (a new
key). So a re-run issues nothing.

Example::

    from lib.tls import TlsStore
    store = TlsStore.of(host.data)                     # the same store for every host of a run
    issued = store.certificate("ctrl-1", ["ctrl-1"], ["10.0.1.11", "10.0.2.11", "10.0.3.11"])
    issued.cert                                        # PEM text
    issued.key                                         # Secret('*MASKED*'): PEM of its key
    store.unsaved                                      # ['ca.crt', 'ca.key', 'ctrl-1.crt', 'ctrl-1.key']
    store.save()                                       # writes them, 0600
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lib.secrets import Secret, secrets_path, write_private

# The health report: a certificate with fewer days left is a warning, then a problem.
WARN_DAYS = 30
UNHEALTHY_DAYS = 7
CA_DAYS = 3650  # a generated CA's validity
VIP = "vip"  # the name of the VIPs' certificate
CLOCK_SKEW = datetime.timedelta(hours=1)  # notBefore this far back: a host whose clock is behind
# The system bundle: holds the cluster CA once update-ca-certificates ran (and the public CAs, for an
# operator's VIP certificate). OS_CACERT points at it: Python's requests (the OpenStack clients) trust
# certifi's bundle otherwise, not the system's.
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# On the controllers (deploys/tls.py puts them there).
DIR = "/etc/prereqos/tls"
CA_FILE = f"{DIR}/ca.crt"  # the cluster CA (also in the system trust store, TRUSTED_CA)
NODE_CERT = f"{DIR}/node.crt"  # the controller's certificate (its name, its api/srv/data addresses, the srv VIP)
NODE_KEY = f"{DIR}/node.key"  # its key, root 0600
VIP_CERT = f"{DIR}/vip.crt"  # the VIPs' certificate (HAProxy's pem holds it with its key)
TRUSTED_CA = "/usr/local/share/ca-certificates/prereqos-ca.crt"  # read by update-ca-certificates
CERTIFICATES = (CA_FILE, NODE_CERT, VIP_CERT)  # what the health report reads (facts.tls)


def tls_dir() -> Path:
    """``secrets-tls/`` beside the secrets file."""
    path = secrets_path()
    return path.with_name(f"{path.stem}-tls")


def service_tls(service: dict) -> bool:
    """Whether HAProxy terminates TLS on a catalog service's frontend: its ``tls``, by default True
    when it binds the api network. ``service_tls({"binds": ["api", "srv"]}) is True``."""
    return bool(service.get("tls", "api" in service.get("binds", [])))


def backend_tls(service: dict) -> bool:
    """Whether HAProxy speaks TLS to a catalog service's backends (its ``backend_tls``, default
    False: plain on the srv network), verifying each controller's certificate against the cluster
    CA and its name. ``backend_tls({"port": 5000, "backend_tls": True}) is True``."""
    return bool(service.get("backend_tls", False))


def vip_names(data) -> list[str]:
    """The DNS names of the VIPs' certificate (group_data ``tls["vip_names"]``)."""
    return list(data.tls["vip_names"])


@dataclass(frozen=True)
class Issued:
    cert: str  # PEM
    key: Secret  # PEM of its private key
    not_after: datetime.datetime


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _names(dns: list[str], ips: list[str]) -> set[x509.GeneralName]:
    return {*(x509.DNSName(name) for name in dns), *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips)}


def _sans(cert: x509.Certificate) -> set[x509.GeneralName]:
    try:
        return set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return set()


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _same_key(cert: x509.Certificate, key) -> bool:
    return cert.public_key().public_numbers() == key.public_key().public_numbers()


def _generate_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA384()))
    return cert, key


class TlsStore:
    """The CA and the certificates of one ``tls_dir()``; see the module docstring.

    ``options``: group_data ``tls`` (``ca_cert``/``ca_key``: an operator's CA, PEM paths on this
    machine; ``vip_cert``/``vip_key``: an operator's VIP certificate; ``valid_days``, ``renew_days``;
    ``ca_name``: the generated CA's common name).
    """

    _stores: dict[tuple, "TlsStore"] = {}

    def __init__(self, directory: Path, options: dict) -> None:
        self.directory = directory
        self.options = options
        self._pending: dict[str, str] = {}  # file name -> PEM, issued in memory, not written yet
        self._ca: tuple[x509.Certificate, object] | None = None

    @classmethod
    def of(cls, data) -> "TlsStore":
        """The store of ``data.tls`` and ``tls_dir()``, one per process (every host of a run, every
        deploy file, shares what was issued in memory)."""
        options = dict(data.tls)
        key = (str(tls_dir()), repr(sorted(options.items())))
        if key not in cls._stores:
            cls._stores[key] = cls(tls_dir(), options)
        return cls._stores[key]

    def _read(self, name: str) -> str | None:
        if name in self._pending:
            return self._pending[name]
        path = self.directory / name
        return path.read_text() if path.exists() else None

    def ca(self) -> tuple[x509.Certificate, object]:
        """(certificate, key) of the CA: the operator's, the stored one, or one generated in memory."""
        if self._ca is None:
            if self.options.get("ca_cert"):
                cert_pem = Path(self.options["ca_cert"]).read_text()
                key_pem = Path(self.options["ca_key"]).read_text()
            else:
                cert_pem, key_pem = self._read("ca.crt"), self._read("ca.key")
                if cert_pem is None or key_pem is None:
                    cert, key = _generate_ca(self.options["ca_name"])
                    cert_pem, key_pem = _cert_pem(cert), _key_pem(key)
                    self._pending.update({"ca.crt": cert_pem, "ca.key": key_pem})
            self._ca = (x509.load_pem_x509_certificate(cert_pem.encode()),
                        serialization.load_pem_private_key(key_pem.encode(), password=None))
        return self._ca

    @property
    def ca_pem(self) -> str:
        return _cert_pem(self.ca()[0])

    def _current(self, name: str, wanted: set[x509.GeneralName]) -> Issued | None:
        """The stored certificate ``name`` if it can be kept, else None."""
        cert_pem, key_pem = self._read(f"{name}.crt"), self._read(f"{name}.key")
        if cert_pem is None or key_pem is None:
            return None
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        renew_at = cert.not_valid_after_utc - datetime.timedelta(days=self.options["renew_days"])
        if _sans(cert) != wanted or not _issued_by(cert, self.ca()[0]) or not _same_key(cert, key) or _now() >= renew_at:
            return None
        return Issued(cert_pem, Secret(key_pem), cert.not_valid_after_utc)

    def certificate(self, name: str, dns: list[str], ips: list[str]) -> Issued:
        """The certificate ``name`` for these DNS names and IP addresses, issued again (in memory)
        when it cannot be kept."""
        wanted = _names(dns, ips)
        current = self._current(name, wanted)
        if current is not None:
            return current
        ca_cert, ca_key = self.ca()
        key = _new_key()
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0] if dns else ips[0])]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - CLOCK_SKEW)
                .not_valid_after(min(now + datetime.timedelta(days=self.options["valid_days"]),
                                     ca_cert.not_valid_after_utc))
                .add_extension(x509.SubjectAlternativeName(sorted(wanted, key=str)), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        self._pending.update({f"{name}.crt": _cert_pem(cert), f"{name}.key": _key_pem(key)})
        return Issued(_cert_pem(cert), Secret(_key_pem(key)), cert.not_valid_after_utc)

    def vip_certificate(self, dns: list[str], ips: list[str]) -> Issued:
        """The VIPs' certificate: the operator's (``vip_cert``/``vip_key``, taken as they are) or
        one issued by the CA."""
        if self.options.get("vip_cert"):
            cert_pem = Path(self.options["vip_cert"]).read_text()
            cert = x509.load_pem_x509_certificate(cert_pem.encode())
            return Issued(cert_pem, Secret(Path(self.options["vip_key"]).read_text()), cert.not_valid_after_utc)
        return self.certificate(VIP, dns, ips)

    @property
    def unsaved(self) -> list[str]:
        """Files issued in memory that the directory does not hold yet."""
        return sorted(self._pending)

    def save(self) -> None:
        """Write what was issued (each file 0600 from its creation); a no-op when nothing was."""
        if self._pending:
            self.directory.mkdir(mode=0o700, exist_ok=True)
            for name, text in sorted(self._pending.items()):
                write_private(self.directory / name, text)
            self._pending.clear()
