"""The guard against writing another secrets.json's cluster keys over a running cluster."""

from __future__ import annotations

import base64
import hashlib

from lib.cluster_keys import COROSYNC_AUTHKEY, RABBITMQ_COOKIE, SHARED_KEYS, foreign_keys, key_bytes
from lib.secrets import Secret

AUTHKEY = bytes(range(256))
SECRETS = {"corosync_authkey": Secret(base64.b64encode(AUTHKEY).decode()), "rabbitmq_cookie": Secret("COOKIE")}
SAME = {"/etc/corosync/authkey": hashlib.sha1(AUTHKEY).hexdigest(),
        "/var/lib/rabbitmq/.erlang.cookie": hashlib.sha1(b"COOKIE").hexdigest()}


def test_fresh_host_and_same_keys_pass():
    assert foreign_keys("ctrl-1", {path: None for path in SHARED_KEYS}, SECRETS) is None
    assert foreign_keys("ctrl-1", SAME, SECRETS) is None


def test_other_cookie_is_refused_by_name_without_the_value():
    refusal = foreign_keys("ctrl-2", {**SAME, "/var/lib/rabbitmq/.erlang.cookie": "0" * 40}, SECRETS)
    assert refusal.startswith("ctrl-2: /var/lib/rabbitmq/.erlang.cookie (secrets.json: rabbitmq_cookie) differs")
    assert "authkey" not in refusal.split("differs")[0] and "COOKIE" not in refusal
    assert "PREREQOS_SECRETS" in refusal and "Rotating a shared key" in refusal


def test_the_packages_own_cookie_is_replaced_while_rabbitmq_never_started():
    """Debian's rabbitmq-server writes a random cookie at install; a node with no node data used none."""
    other = {**SAME, RABBITMQ_COOKIE: "0" * 40}
    assert foreign_keys("ctrl-2", other, SECRETS, unused=frozenset({RABBITMQ_COOKIE})) is None
    refusal = foreign_keys("ctrl-2", {**other, COROSYNC_AUTHKEY: "0" * 40}, SECRETS, unused=frozenset({RABBITMQ_COOKIE}))
    assert "corosync_authkey" in refusal and "rabbitmq_cookie" not in refusal


def test_both_keys_foreign_are_both_named():
    refusal = foreign_keys("ctrl-1", {path: "f" * 40 for path in SHARED_KEYS}, SECRETS)
    assert "corosync_authkey" in refusal and "rabbitmq_cookie" in refusal


def test_key_bytes_are_what_the_deploys_write_and_the_guard_hashes():
    """The corosync authkey is the secret base64-decoded (256 raw bytes), the cookie its text."""
    assert key_bytes(COROSYNC_AUTHKEY, SECRETS) == AUTHKEY
    assert key_bytes(RABBITMQ_COOKIE, SECRETS) == b"COOKIE"
    assert {path: hashlib.sha1(key_bytes(path, SECRETS)).hexdigest() for path in SHARED_KEYS} == SAME
