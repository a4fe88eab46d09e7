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

**Rotation of the generated CA** (``python -m lib.tls rotate-ca start|switch|finish|status``),
each step followed by a deploy run; its state is which files ``secrets-tls/`` holds:

========  ======================  =====================  ==========================
step      files besides ``ca.*``  issuing CA (``ca()``)  trusted (``trusted()``)
========  ======================  =====================  ==========================
none      -                       ``ca``                 ``ca``
started   ``ca-next.crt/.key``    ``ca`` (the old)       ``ca``, ``ca-next``
switched  ``ca-old.crt/.key``     ``ca`` (the new)       ``ca-old``, ``ca``
========  ======================  =====================  ==========================

``finish`` keeps the retired CA's certificate as ``ca-retired-<UTC time>.crt`` and deletes its key.

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
import os
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyinfra.api.exceptions import DeployError

from lib.secrets import PROJECT_ROOT, Secret, secrets_path, write_private

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
CA_FILE = f"{DIR}/ca.crt"  # the trusted CAs: the cluster CA, two during a rotation (also in the system store)
NODE_CERT = f"{DIR}/node.crt"  # the controller's certificate (its name, its api/srv/data addresses, the srv VIP)
NODE_KEY = f"{DIR}/node.key"  # its key, root 0600
VIP_CERT = f"{DIR}/vip.crt"  # the VIPs' certificate (HAProxy's pem holds it with its key)
# The system trust store (read by update-ca-certificates, one certificate per file): the CA, and
# during a rotation the newer of the two trusted CAs (TlsStore.trusted).
TRUSTED_CA = "/usr/local/share/ca-certificates/prereqos-ca.crt"
TRUSTED_CA_NEXT = "/usr/local/share/ca-certificates/prereqos-ca-next.crt"
CERTIFICATES = (CA_FILE, NODE_CERT, VIP_CERT)  # what the health report reads (facts.tls)


# The CA rotation's files in secrets-tls/ (each a .crt and a .key): the current CA, the next one
# (between ``start`` and ``switch``), the old one (between ``switch`` and ``finish``); the trusted
# CAs in one file for clients off the controllers, during a rotation.
CA, CA_NEXT, CA_OLD = "ca", "ca-next", "ca-old"
BUNDLE = "ca-bundle.crt"
NONE, STARTED, SWITCHED = "none", "started", "switched"  # TlsStore.rotation()
ROTATE = "python -m lib.tls rotate-ca"


class TlsStateError(DeployError):
    """``secrets-tls/`` in a state that no step of a CA rotation leaves, or a step refused. A
    ``DeployError``: pyinfra ends the run with its message, before any operation executes."""


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

    def _pair(self, name: str) -> bool:
        """Whether ``name``.crt and ``name``.key are both in the directory (neither: False; only
        one of them: ``TlsStateError``)."""
        present = [(self.directory / f"{name}{suffix}").exists() for suffix in (".crt", ".key")]
        if any(present) and not all(present):
            raise TlsStateError(f"{self.directory}/ holds {name}.{'crt' if present[0] else 'key'} without "
                                f"{name}.{'key' if present[0] else 'crt'}; restore both from your backup of "
                                f"{self.directory.name}/ before any deploy")
        return all(present)

    def rotation(self) -> str:
        """The step of a CA rotation the directory is in, read from its files: ``NONE``,
        ``STARTED`` (``ca-next.*`` beside ``ca.*``) or ``SWITCHED`` (``ca-old.*`` beside ``ca.*``).
        Any other state raises ``TlsStateError`` saying what to do, before any host is touched.

        Example::

            TlsStore(tls_dir(), options).rotation()      # "started"
        """
        rotating = [name for name in (CA_NEXT, CA_OLD) if self._pair(name)]
        if not rotating:
            return NONE  # a CA missing, or half of it: the next deploy generates one (as before rotations)
        present = [CA, *rotating] if self._pair(CA) else rotating
        if self.options.get("ca_cert"):
            raise TlsStateError(f"tls['ca_cert'] names your CA, yet {self.directory}/ holds "
                                f"{', '.join(f'{n}.*' for n in present if n != CA)} of a rotation of the "
                                f"generated CA: move those files away (they are not used)")
        if present == [CA, CA_NEXT]:
            return STARTED
        if present == [CA, CA_OLD]:
            return SWITCHED
        advice = {(CA_NEXT, CA_OLD): f"a `{ROTATE} switch` interrupted between its moves: finish it by hand "
                                     f"(ca-next.crt -> ca.crt, ca-next.key -> ca.key)"}.get(
            tuple(present), f"restore {self.directory.name}/ from your backup")
        raise TlsStateError(f"{self.directory}/ holds {', '.join(f'{n}.crt/.key' for n in present)}: no step of "
                            f"a CA rotation leaves that (ca.* alone, with ca-next.* or with ca-old.*); {advice}")

    def _stored_cert(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.directory / f"{name}.crt").read_bytes())

    def ca(self) -> tuple[x509.Certificate, object]:
        """(certificate, key) of the issuing CA: the operator's, the stored one, or one generated
        in memory (never during a rotation: ``rotation()`` is checked first)."""
        if self._ca is None:
            self.rotation()
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
        """PEM of the issuing CA."""
        return _cert_pem(self.ca()[0])

    def trusted(self) -> list[x509.Certificate]:
        """The CAs the controllers and clients trust, the older first: the issuing CA, and during
        a rotation the next one (``STARTED``) or the old one (``SWITCHED``) too. The same pair,
        in the same order, from ``start`` to ``finish``: ``switch`` changes no trust file."""
        step = self.rotation()
        issuing = self.ca()[0]
        if step == STARTED:
            return [issuing, self._stored_cert(CA_NEXT)]
        if step == SWITCHED:
            return [self._stored_cert(CA_OLD), issuing]
        return [issuing]

    @property
    def trusted_pems(self) -> list[str]:
        """PEM of each trusted CA (``trusted()``): one file each in the system trust store."""
        return [_cert_pem(cert) for cert in self.trusted()]

    @property
    def trusted_pem(self) -> str:
        """The trusted CAs in one PEM text: every controller's ``CA_FILE`` and the services'
        copies (a bundle of two during a rotation); ``ca.crt`` of the controllers is this."""
        return "".join(self.trusted_pems)

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


# --- The CA's rotation (python -m lib.tls rotate-ca STEP): on this machine only ------------------
class Rotation:
    """The steps of a rotation of the generated CA over ``store``'s directory; each moves or
    writes files there (0600) and returns what to do next. See the module docstring.

    Example::

        Rotation(TlsStore(tls_dir(), options)).start()   # ca-next.crt/.key, ca-bundle.crt
    """

    def __init__(self, store: TlsStore) -> None:
        self.directory, self.options = store.directory, store.options

    @property
    def store(self) -> TlsStore:
        """A store reading the directory as it is now (a store caches its CA)."""
        return TlsStore(self.directory, self.options)

    def _refuse(self, wanted: str, action: str) -> None:
        """Refuse unless the store is at step ``wanted`` and its CA is the generated one."""
        if self.options.get("ca_cert"):
            raise TlsStateError("tls['ca_cert'] names your own CA: rotate-ca rotates only the CA prereqos "
                                "generates. To replace yours: first give every client off the controllers your "
                                "old and new CA together, then name the new one in tls['ca_cert']/['ca_key'] and "
                                "run the deploy (every certificate is issued again by it in that run; the "
                                "controllers trust only it from then on)")
        store = self.store
        step = store.rotation()
        if step != wanted:
            raise TlsStateError(f"cannot {action}: " + ("a rotation is already in progress, " if step != NONE else "")
                                + self.status())
        if step == NONE and not store._pair(CA):
            raise TlsStateError(f"no CA in {self.directory}/ yet: the first deploy generates it; nothing to rotate")

    def _move(self, old: str, new: str) -> None:
        for suffix in (".key", ".crt"):
            os.replace(self.directory / f"{old}{suffix}", self.directory / f"{new}{suffix}")

    def _write_bundle(self) -> None:
        write_private(self.directory / BUNDLE, self.store.trusted_pem)

    def start(self) -> str:
        """Step 1: the next CA, generated beside the current one (``ca-next.*``)."""
        self._refuse(NONE, "start")
        cert, key = _generate_ca(f"{self.options['ca_name']} {_now():%Y-%m-%dT%H:%M:%SZ}")
        write_private(self.directory / f"{CA_NEXT}.key", _key_pem(key))
        write_private(self.directory / f"{CA_NEXT}.crt", _cert_pem(cert))
        self._write_bundle()
        return (f"next CA {_subject(cert)} in {self.directory}/{CA_NEXT}.crt. Now: a deploy run (every "
                f"controller trusts both CAs); off the controllers give clients {self.directory}/{BUNDLE}; "
                f"then `{ROTATE} switch`")

    def switch(self) -> str:
        """Step 2: the next CA issues; the current one is kept as ``ca-old.*`` (trusted still)."""
        self._refuse(STARTED, "switch")
        self._move(CA, CA_OLD)
        self._move(CA_NEXT, CA)
        self._write_bundle()
        return (f"{_subject(self.store._stored_cert(CA))} issues now. Now: a deploy run (every certificate "
                f"issued again by it); when every client off the controllers trusts it, `{ROTATE} finish`")

    def finish(self) -> str:
        """Step 3: the old CA retired: its certificate kept as ``ca-retired-<UTC time>.crt``, its key
        deleted (what it would sign, clients still holding it would trust)."""
        self._refuse(SWITCHED, "finish")
        retired = f"ca-retired-{_now():%Y%m%dT%H%M%SZ}.crt"
        os.replace(self.directory / f"{CA_OLD}.crt", self.directory / retired)
        (self.directory / f"{CA_OLD}.key").unlink()
        (self.directory / BUNDLE).unlink(missing_ok=True)
        return (f"old CA retired ({retired} kept, its key deleted). Now: a deploy run (only the new CA "
                f"trusted on the controllers)")

    def status(self) -> str:
        """Which step the directory is in, and what comes next."""
        store = self.store  # one reading of the directory
        step = store.rotation()
        if step == NONE:
            if not store._pair(CA):
                return "no rotation in progress; no CA generated yet"
            return f"no rotation in progress (CA {_subject(store._stored_cert(CA))}); to begin: `{ROTATE} start`"
        if step == STARTED:
            return (f"rotation step 1 of 3 (started): next CA {_subject(store._stored_cert(CA_NEXT))}, "
                    f"certificates still from {_subject(store._stored_cert(CA))}; after a deploy run: "
                    f"`{ROTATE} switch`")
        return (f"rotation step 2 of 3 (switched): certificates from {_subject(store._stored_cert(CA))}, "
                f"{_subject(store._stored_cert(CA_OLD))} still trusted; after a deploy run and every "
                f"client given the new CA: `{ROTATE} finish`")


def _subject(cert: x509.Certificate) -> str:
    return f"'{cert.subject.rfc4514_string()}' (until {cert.not_valid_after_utc:%Y-%m-%d})"


def _main(argv: list[str]) -> int:
    """``python -m lib.tls rotate-ca [start|switch|finish|status]``: touches no host."""
    steps = ("start", "switch", "finish", "status")
    if not argv or argv[0] != "rotate-ca" or len(argv) > 2 or (len(argv) == 2 and argv[1] not in steps):
        print(f"usage: {ROTATE} [{'|'.join(steps)}]   (each step followed by a deploy run)", file=sys.stderr)
        return 2
    options = dict(runpy.run_path(str(PROJECT_ROOT / "group_data/all.py"))["tls"])  # reads no secret
    rotation = Rotation(TlsStore(tls_dir(), options))
    try:
        print(getattr(rotation, argv[1] if len(argv) == 2 else "status")())
    except TlsStateError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
