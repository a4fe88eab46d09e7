"""Hardening of a converged lab, checked from outside as an attacker on the srv network would,
and from inside each host: file modes, default credentials, exposure, encryption, listeners."""

from __future__ import annotations

import socket
import stat

import pika
import pymysql
import pytest

from lib.secrets import load as load_secrets
from lib.secrets import secrets_path
from tests.lab_tests.drill_load import stats_page

pytestmark = pytest.mark.lab

# What may listen on a wildcard address, with the reason (the README lists the same).
WILDCARD_ALLOWED = {"sshd": "management access to the controller"}
FILES = {
    "/var/lib/rabbitmq/.erlang.cookie": "400 rabbitmq rabbitmq",
    "/etc/corosync/authkey": "400 root root",
    "/root/.openrc": "600 root root",
    "/etc/mysql/debian.cnf": "600 root root",
    "/etc/mysql/galera-check.cnf": "600 clustercheck clustercheck",
    "/etc/haproxy/haproxy.cfg": "640 root haproxy",
}


@pytest.fixture(scope="module", autouse=True)
def converged(lab):
    lab.deploy("deploys/prereqos.py")


def test_local_secrets_file_is_0600():
    assert stat.S_IMODE(secrets_path().stat().st_mode) == 0o600


@pytest.mark.parametrize("path,expected", sorted(FILES.items()))
def test_secret_files_owner_and_mode(lab, path, expected):
    for n in lab.hosts:
        assert lab.ssh(n, f"stat -c '%a %U %G' {path}").stdout.strip() == expected, (n, path)


def test_rabbitmq_guest_is_gone_and_refused(lab):
    for n in lab.hosts:
        users = lab.ssh(n, "rabbitmqctl -q list_users --formatter json").stdout
        assert '"guest"' not in users
    params = pika.ConnectionParameters(host=lab.address("srv", 1), credentials=pika.PlainCredentials("guest", "guest"),
                                       connection_attempts=1, socket_timeout=5)
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(params)


def test_mariadb_no_anonymous_no_test_db_root_local_only(lab):
    users = lab.ssh(1, "mysql -N -e \"SELECT user, host FROM mysql.user\"").stdout.split("\n")
    rows = [line.split("\t") for line in users if line]
    assert all(user for user, _ in rows), "anonymous account present"
    assert [host for user, host in rows if user == "root"] == ["localhost"]
    databases = lab.ssh(1, "mysql -N -e 'SHOW DATABASES'").stdout.split()
    assert "test" not in databases
    root_password = load_secrets()["galera_root_password"].unmask()
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host=lab.address("srv", 1), user="root", password=root_password, connect_timeout=5)


def test_haproxy_stats_need_the_generated_password_and_stay_on_api(lab):
    for user, password in (("admin", ""), ("haproxy", "haproxy"), ("admin", None)):
        status = stats_page(lab, 1, user=user, password=password)[0]
        assert status == (200 if password is None else 401), (user, status)
    with pytest.raises(OSError):
        socket.create_connection((lab.address("srv", 1), 9000), timeout=3).close()


def test_corosync_traffic_is_encrypted(lab):
    for n in lab.hosts:
        cmap = lab.ssh(n, "corosync-cmapctl -g totem.crypto_cipher; corosync-cmapctl -g totem.crypto_hash").stdout
        assert "= aes256" in cmap and "= sha256" in cmap, cmap


def test_galera_check_only_from_controllers(lab):
    ok = lab.ssh(2, f"curl -s -o /dev/null -w '%{{http_code}}' http://{lab.address('srv', 1)}:9200/")
    assert ok.stdout == "200"
    # The machine is on the srv network but is no controller: its connection is dropped.
    with pytest.raises(OSError):
        sock = socket.create_connection((lab.address("srv", 1), 9200), timeout=3)
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        if not sock.recv(64):
            raise ConnectionResetError("closed without an answer")


def test_nothing_unexpected_listens_on_all_addresses(lab):
    for n in lab.hosts:
        lines = lab.ssh(n, "ss -Hltnup").stdout.splitlines()
        wildcard = [line for line in lines if line.split()[4].rsplit(":", 1)[0] in ("0.0.0.0", "[::]", "*")]
        offenders = [line for line in wildcard if not any(f'"{p}"' in line for p in WILDCARD_ALLOWED)]
        assert offenders == [], f"ctrl-{n}: {offenders}"
