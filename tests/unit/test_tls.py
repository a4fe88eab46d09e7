"""lib/tls.py: the CA and the certificates, issued once, kept while valid, issued again when the
names change or the renewal window opens; files 0600; nothing written before save()."""

from __future__ import annotations

import ipaddress
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lib.tls import TlsStore, service_tls, tls_dir
from lib.topology import Topology
from operations import tls
from tests.unit.conftest import NAMES

ADDRESSES = ["10.0.1.11", "10.0.2.11", "10.0.3.11"]


@pytest.fixture
def options(default_data) -> dict:
    return dict(default_data["tls"])


def sans(pem: str) -> set[str]:
    cert = x509.load_pem_x509_certificate(pem.encode())
    return {str(getattr(name, "value")) for name in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value}


def test_directory_is_beside_the_secrets_file(tmp_path):
    assert tls_dir() == tmp_path / "secrets-tls"


def test_nothing_is_written_before_save_then_every_file_is_0600(options):
    store = TlsStore(tls_dir(), options)
    issued = store.certificate("ctrl-1", ["ctrl-1"], ADDRESSES)
    assert not tls_dir().exists()
    assert store.unsaved == ["ca.crt", "ca.key", "ctrl-1.crt", "ctrl-1.key"]
    assert str(issued.key) == "*MASKED*" and "PRIVATE KEY" in issued.key.unmask()
    store.save()
    assert store.unsaved == []
    assert stat.S_IMODE(tls_dir().stat().st_mode) == 0o700
    for name in ("ca.crt", "ca.key", "ctrl-1.crt", "ctrl-1.key"):
        assert stat.S_IMODE((tls_dir() / name).stat().st_mode) == 0o600


def test_certificate_names_the_controller_and_its_addresses_and_chains_to_the_ca(options, tmp_path):
    store = TlsStore(tls_dir(), options)
    issued = store.certificate("ctrl-1", ["ctrl-1"], ADDRESSES)
    assert sans(issued.cert) == {"ctrl-1", *(str(ipaddress.ip_address(a)) for a in ADDRESSES)}
    (tmp_path / "ca.pem").write_text(store.ca_pem)
    (tmp_path / "c.pem").write_text(issued.cert)
    # openssl, not our own code, says it verifies for TLS servers.
    check = subprocess.run(["openssl", "verify", "-purpose", "sslserver", "-CAfile", str(tmp_path / "ca.pem"),
                            str(tmp_path / "c.pem")], capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.strip().endswith(": OK"), check.stdout + check.stderr
    key = serialization.load_pem_private_key(issued.key.unmask().encode(), password=None)
    cert = x509.load_pem_x509_certificate(issued.cert.encode())
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == options["valid_days"]


def test_a_new_run_keeps_what_was_saved(options):
    first = TlsStore(tls_dir(), options)
    issued = first.certificate("vip", ["os.example"], ["10.0.1.10", "10.0.2.10"])
    first.save()
    again = TlsStore(tls_dir(), options)
    kept = again.certificate("vip", ["os.example"], ["10.0.1.10", "10.0.2.10"])
    assert (kept.cert, kept.key.unmask()) == (issued.cert, issued.key.unmask())
    assert again.unsaved == []


def test_changed_names_or_the_renewal_window_issue_again(options):
    first = TlsStore(tls_dir(), options)
    issued = first.certificate("vip", [], ["10.0.1.10", "10.0.2.10"])
    first.save()
    renamed = TlsStore(tls_dir(), options).certificate("vip", ["os.example"], ["10.0.1.10", "10.0.2.10"])
    assert renamed.cert != issued.cert and "os.example" in sans(renamed.cert)
    # 365 days valid, renewed with 30 left: a window of 366 days means "renew now".
    due = TlsStore(tls_dir(), {**options, "renew_days": 366})
    assert due.certificate("vip", [], ["10.0.1.10", "10.0.2.10"]).cert != issued.cert
    assert due.unsaved == ["vip.crt", "vip.key"]  # the CA is kept


def test_another_ca_issues_every_certificate_again(options):
    first = TlsStore(tls_dir(), options)
    issued = first.certificate("ctrl-1", ["ctrl-1"], ADDRESSES)
    first.save()
    (tls_dir() / "ca.crt").unlink()
    again = TlsStore(tls_dir(), options)
    assert again.certificate("ctrl-1", ["ctrl-1"], ADDRESSES).cert != issued.cert
    assert again.unsaved == ["ca.crt", "ca.key", "ctrl-1.crt", "ctrl-1.key"]


def test_an_operators_ca_issues_and_is_never_written(options, tmp_path):
    generated = TlsStore(tmp_path / "other", options)
    generated.ca()
    generated.save()
    operator = {**options, "ca_cert": str(tmp_path / "other/ca.crt"), "ca_key": str(tmp_path / "other/ca.key")}
    store = TlsStore(tls_dir(), operator)
    issued = store.certificate("ctrl-1", ["ctrl-1"], ADDRESSES)
    assert store.ca_pem == generated.ca_pem
    assert store.unsaved == ["ctrl-1.crt", "ctrl-1.key"]
    cert = x509.load_pem_x509_certificate(issued.cert.encode())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(generated.ca_pem.encode()))


def test_an_operators_vip_certificate_is_taken_as_it_is(options, tmp_path):
    other = TlsStore(tmp_path / "other", options)
    made = other.certificate("vip", ["cloud.example"], ["10.0.1.10", "10.0.2.10"])
    other.save()
    store = TlsStore(tls_dir(), {**options, "vip_cert": str(tmp_path / "other/vip.crt"),
                                 "vip_key": str(tmp_path / "other/vip.key")})
    taken = store.vip_certificate([], [])
    assert (taken.cert, taken.key.unmask()) == (made.cert, made.key.unmask())
    assert "ca.crt" not in store.unsaved and "vip.crt" not in store.unsaved


def test_hosts_certificates_from_the_topology(default_data):
    topo = Topology.from_data("ctrl-2", default_data, NAMES)
    store = TlsStore.of(default_data)
    assert sans(tls.node_certificate(store, topo).cert) == {"ctrl-2", "10.0.1.12", "10.0.2.12", "10.0.3.12",
                                                            "10.0.2.10"}
    default_data["tls"]["vip_names"] = ["openstack.example.org"]
    vip = tls.vip_certificate(TlsStore.of(default_data), topo, default_data)
    assert sans(vip.cert) == {"openstack.example.org", "10.0.1.10", "10.0.2.10"}


@pytest.mark.parametrize("service, expected", [
    ({"binds": ["api", "srv"]}, True), ({"binds": ["srv"]}, False),
    ({"binds": ["api"], "tls": False}, False), ({"binds": ["srv"], "tls": True}, True),
])
def test_tls_is_on_by_default_for_api_frontends(service, expected):
    assert service_tls(service) is expected
