"""lib/tls.py: the CA and the certificates, issued once, kept while valid, issued again when the
names change or the renewal window opens; files 0600; nothing written before save()."""

from __future__ import annotations

import ipaddress
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lib.tls import BUNDLE, NONE, STARTED, SWITCHED, Rotation, TlsStateError, TlsStore, _main, service_tls, tls_dir
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


# --- Rotation of the CA (python -m lib.tls rotate-ca) -------------------------------------------
def deployed(options) -> TlsStore:
    """secrets-tls/ as a deploy leaves it: the CA, a controller's and the VIPs' certificates."""
    store = TlsStore(tls_dir(), options)
    store.certificate("ctrl-1", ["ctrl-1"], ADDRESSES)
    store.certificate("vip", [], ["10.0.1.10", "10.0.2.10"])
    store.save()
    return store


def run(options) -> TlsStore:
    """A deploy run's store: every certificate asked for, as deploys/tls.py does."""
    store = TlsStore(tls_dir(), options)
    store.certificate("ctrl-1", ["ctrl-1"], ADDRESSES)
    store.certificate("vip", [], ["10.0.1.10", "10.0.2.10"])
    return store


def pems(text: str) -> list[str]:
    return [x509.load_pem_x509_certificates(text.encode())[i].subject.rfc4514_string()
            for i in range(text.count("BEGIN CERTIFICATE"))]


def files() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(tls_dir().iterdir())}


def test_rotation_start_switch_finish(options):
    first = deployed(options)
    old_ca, old_node = first.ca_pem, (tls_dir() / "ctrl-1.crt").read_text()
    rotation = Rotation(TlsStore(tls_dir(), options))
    assert rotation.status().startswith("no rotation in progress")

    # 1. start: the next CA beside the current one; both trusted; nothing issued again.
    assert "ca-next.crt" in rotation.start()
    for name in ("ca-next.crt", "ca-next.key", BUNDLE):
        assert stat.S_IMODE((tls_dir() / name).stat().st_mode) == 0o600
    started = run(options)
    assert started.rotation() == STARTED and started.unsaved == [] and started.ca_pem == old_ca
    next_ca = (tls_dir() / "ca-next.crt").read_text()
    assert started.trusted_pem == old_ca + next_ca == (tls_dir() / BUNDLE).read_text()
    assert started.trusted_pems == [old_ca, next_ca]
    bundle = started.trusted_pem
    assert pems(next_ca) != pems(old_ca) and pems(next_ca)[0].startswith(f"CN={options['ca_name']} ")
    assert "step 1 of 3" in rotation.status()

    # 2. switch: the next CA issues, the old one still trusted (the same bundle); everything issued again.
    rotation.switch()
    assert {"ca-old.crt", "ca-old.key"} <= set(files()) and "ca-next.crt" not in files()
    switched = run(options)
    assert switched.rotation() == SWITCHED and switched.ca_pem == next_ca
    assert switched.trusted_pem == bundle == (tls_dir() / BUNDLE).read_text()
    assert switched.unsaved == ["ctrl-1.crt", "ctrl-1.key", "vip.crt", "vip.key"]
    switched.save()
    node = x509.load_pem_x509_certificate((tls_dir() / "ctrl-1.crt").read_bytes())
    node.verify_directly_issued_by(x509.load_pem_x509_certificate(next_ca.encode()))
    assert (tls_dir() / "ctrl-1.crt").read_text() != old_node
    assert "step 2 of 3" in rotation.status()

    # 3. finish: only the new CA trusted; the old certificate kept as retired, its key deleted.
    rotation.finish()
    names = set(files())
    retired = [name for name in names if name.startswith("ca-retired-")]
    assert len(retired) == 1 and retired[0].endswith(".crt") and (tls_dir() / retired[0]).read_text() == old_ca
    assert not names & {"ca-old.crt", "ca-old.key", "ca-next.crt", BUNDLE}
    finished = run(options)
    assert finished.rotation() == NONE and finished.trusted_pem == next_ca and finished.unsaved == []
    assert rotation.status().startswith("no rotation in progress")


@pytest.mark.parametrize("step", [NONE, STARTED, SWITCHED])
def test_a_rerun_within_a_step_issues_nothing_and_writes_nothing(options, step):
    deployed(options)
    rotation = Rotation(TlsStore(tls_dir(), options))
    for action in {NONE: [], STARTED: [rotation.start], SWITCHED: [rotation.start, rotation.switch]}[step]:
        action()
    run(options).save()
    before = files()
    again = run(options)
    assert again.unsaved == [] and again.rotation() == step
    again.save()
    assert files() == before


def test_steps_out_of_order_are_refused_and_change_nothing(options):
    deployed(options)
    rotation = Rotation(TlsStore(tls_dir(), options))
    for step in (rotation.switch, rotation.finish):
        with pytest.raises(TlsStateError, match="no rotation in progress"):
            step()
    rotation.start()
    before = files()
    with pytest.raises(TlsStateError, match="a rotation is already in progress, rotation step 1 of 3"):
        rotation.start()
    with pytest.raises(TlsStateError, match="cannot finish"):
        rotation.finish()
    assert files() == before


def test_no_rotation_before_the_first_ca(options):
    with pytest.raises(TlsStateError, match="no CA in .* yet"):
        Rotation(TlsStore(tls_dir(), options)).start()
    assert not tls_dir().exists()


def test_an_operators_ca_is_not_rotated(options, tmp_path):
    generated = TlsStore(tmp_path / "other", options)
    generated.ca()
    generated.save()
    operator = {**options, "ca_cert": str(tmp_path / "other/ca.crt"), "ca_key": str(tmp_path / "other/ca.key")}
    with pytest.raises(TlsStateError, match="names your own CA.*give every client"):
        Rotation(TlsStore(tls_dir(), operator)).start()
    assert not tls_dir().exists()


@pytest.mark.parametrize("leftover, message", [
    (("ca-next.crt", "ca-next.key", "ca-old.crt", "ca-old.key"), "no step of a CA rotation leaves that"),
    (("ca-next.crt",), "holds ca-next.crt without ca-next.key"),
    (("ca-old.key",), "holds ca-old.key without ca-old.crt"),
])
def test_a_state_no_step_leaves_is_refused_before_anything(options, leftover, message):
    deployed(options)
    for name in leftover:
        (tls_dir() / name).write_text((tls_dir() / ("ca" + name[name.index("."):])).read_text())
    store = TlsStore(tls_dir(), options)
    for use in (store.rotation, store.ca, lambda: store.trusted_pem, Rotation(store).status):
        with pytest.raises(TlsStateError, match=message):
            use()


def test_a_switch_interrupted_is_refused(options):
    deployed(options)
    Rotation(TlsStore(tls_dir(), options)).start()
    for suffix in (".crt", ".key"):  # ca.* moved to ca-old.*, ca-next.* not moved yet
        (tls_dir() / f"ca{suffix}").rename(tls_dir() / f"ca-old{suffix}")
    with pytest.raises(TlsStateError, match="holds ca-next.crt/.key, ca-old.crt/.key: no step .* switch` interrupted .*ca-next.crt -> ca.crt"):
        TlsStore(tls_dir(), options).ca()
    assert "ca.crt" not in files()  # no new CA generated in its place


def test_rotation_files_beside_an_operators_ca_are_refused(options, tmp_path):
    deployed(options)
    Rotation(TlsStore(tls_dir(), options)).start()
    operator = {**options, "ca_cert": str(tls_dir() / "ca.crt"), "ca_key": str(tls_dir() / "ca.key")}
    with pytest.raises(TlsStateError, match="names your CA, yet .* holds ca-next"):
        TlsStore(tls_dir(), operator).ca()


def test_the_command_line(options, capsys):
    deployed(options)
    assert _main(["rotate-ca"]) == 0 and "no rotation in progress" in capsys.readouterr().out
    assert _main(["rotate-ca", "start"]) == 0
    assert _main(["rotate-ca", "start"]) == 1 and "refused: cannot start" in capsys.readouterr().err
    assert _main(["rotate-ca", "status"]) == 0 and "step 1 of 3" in capsys.readouterr().out
    assert _main(["rotate-ca", "bogus"]) == 2 and "usage" in capsys.readouterr().err
    for name in ("ca-next.key", "ca.key"):  # nothing printed holds a key
        secret = "".join((tls_dir() / name).read_text().splitlines()[1:-1])[48:88]
        assert secret not in capsys.readouterr().out
