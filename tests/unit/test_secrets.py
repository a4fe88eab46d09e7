"""Secrets: generated once, missing keys filled, existing ones never changed, 0600, always masked."""

from __future__ import annotations

import json
import stat

from pyinfra.api import StringCommand

from lib.secrets import GENERATORS, Secret, load


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
