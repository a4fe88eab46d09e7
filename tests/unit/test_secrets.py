"""Secrets: generated once, missing keys filled, existing ones never changed, 0600, always masked."""

from __future__ import annotations

import copy
import json
import os
import runpy
import stat

from pyinfra.api import StringCommand

from lib.secrets import GENERATORS, Secret, SecretStore, load
from tests.unit.conftest import ROOT


def test_first_load_generates_every_key_in_a_0600_file(tmp_path):
    path = tmp_path / "secrets.json"
    secrets = load(path)
    assert set(secrets) == set(GENERATORS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert all(len(v) >= 32 for v in stored.values())
    assert len(set(stored.values())) == len(stored)


def test_existing_values_never_change_and_missing_ones_are_filled(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"galera_root_password": "kept-as-is"}))
    path.chmod(0o600)
    first = load(path)
    assert first["galera_root_password"].unmask() == "kept-as-is"
    again = load(path)
    assert {k: v.unmask() for k, v in again.items()} == {k: v.unmask() for k, v in first.items()}


def test_erlang_cookie_is_uppercase_letters(tmp_path):
    cookie = load(tmp_path / "s.json")["rabbitmq_cookie"].unmask()
    assert cookie.isalpha() and cookie.isupper() and len(cookie) == 40


def test_secret_is_masked_in_text_json_and_commands(tmp_path):
    secret = load(tmp_path / "s.json")["haproxy_stats_password"]
    raw = secret.unmask()
    assert isinstance(secret, Secret)
    assert raw not in (str(secret), repr(secret), secret.to_json())
    command = StringCommand("echo", secret)
    assert raw in command.get_raw_value() and raw not in command.get_masked_value()


def test_importing_group_data_reads_and_writes_nothing(tmp_path, monkeypatch):
    """``--dry``, ``fact``, ``debug-inventory`` and the health report all import group_data."""
    path = tmp_path / "secrets.json"
    monkeypatch.setenv("PREREQOS_SECRETS", str(path))
    runpy.run_path(str(ROOT / "group_data/all.py"))
    assert not path.exists()
    path.write_text(json.dumps({"galera_root_password": "kept-as-is"}))
    before = path.stat().st_mtime_ns
    runpy.run_path(str(ROOT / "group_data/all.py"))
    assert path.stat().st_mtime_ns == before and json.loads(path.read_text()) == {"galera_root_password": "kept-as-is"}


def test_reading_a_missing_file_generates_in_memory_only(tmp_path):
    path = tmp_path / "secrets.json"
    store = SecretStore(path)
    assert store["galera_root_password"].unmask() == store["galera_root_password"].unmask()
    assert set(store.unsaved) == set(GENERATORS)
    assert all(v == "*MASKED*" for v in store.to_json().values()) and set(store.to_json()) == set(GENERATORS)
    assert copy.copy(store) is store  # pyinfra copies host.data values: every host sees the same values
    assert not path.exists()


def test_save_creates_the_file_0600_from_creation_and_keeps_existing_values(tmp_path):
    path = tmp_path / "secrets.json"
    path.with_name("secrets.json.new").write_text("stale")
    path.with_name("secrets.json.new").chmod(0o644)  # a leftover must not lend its mode
    store = SecretStore(path)
    generated = {k: v.unmask() for k, v in store.items()}
    old = os.umask(0)  # the mode comes from os.open, not from the umask or a later chmod
    try:
        store.save()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == generated and store.unsaved == []
    before = path.stat().st_mtime_ns
    SecretStore(path).save()  # nothing missing: not rewritten
    assert path.stat().st_mtime_ns == before
