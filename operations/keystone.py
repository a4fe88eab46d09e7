"""Keystone: the paths and template arguments ``deploys/keystone.py`` uses, and the two one-node
steps, ``db_sync`` and ``bootstrap``, each a no-op when already done.

Example (on ``firstnode`` only, in this order)::

    keystone.db_sync(name="Keystone's schema at head", manage=keystone.manage(venv))
    keystone.bootstrap(name="Admin and endpoints", manage=keystone.manage(venv), database="keystone",
                       openrc=host.data.openrc, urls=keystone.endpoints(topo, host.data),
                       password=host.data.secrets["openstack_admin_password"])
"""

from __future__ import annotations

import ipaddress
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api import HiddenValue, QuoteString, StringCommand, operation

from facts.keystone import CONFIG, KeystoneBootstrap, KeystoneDbState
from lib.secrets import SecretStdin, unmasked
from lib.tls import CA_FILE, backend_tls
from lib.topology import Topology
from lib.validate import KEYSTONE_SERVICE
from operations import memcached, openrc

CONF_TEMPLATE = "templates/keystone/keystone.conf.j2"
SITE_TEMPLATE = "templates/keystone/keystone-site.conf.j2"
WSGI_SOURCE = "templates/keystone/keystone.wsgi"
SITE = "/etc/apache2/sites-available/keystone.conf"
SITE_ENABLED = "/etc/apache2/sites-enabled/keystone.conf"
WSGI_DIR = "/usr/local/share/keystone"
WSGI_SCRIPT = f"{WSGI_DIR}/keystone.wsgi"
CLIENT_LINK = "/usr/local/bin/openstack"  # `openstack` on root's PATH, for /root/.openrc
HOME = "/var/lib/keystone"
LOG_DIR = "/var/log/keystone"
DISABLE_FILE = "/etc/keystone/healthcheck_disable"
# With keystone_public's backend_tls the site serves TLS with Apache's copies of the controller's
# certificate and key (root, key 0400; Apache reads them before it drops to www-data).
TLS_DIR = "/etc/apache2/tls"
TLS_CA, TLS_CERT, TLS_KEY = (f"{TLS_DIR}/{name}" for name in ("ca.crt", "node.crt", "node.key"))
# The key repositories: secrets keystone_<kind>_key_<index>, 0 staged, 1 primary.
KEY_REPOSITORIES = {"fernet": "/etc/keystone/fernet-keys", "credential": "/etc/keystone/credential-keys"}
KEY_INDEXES = (0, 1)
MAX_ACTIVE_KEYS = 3  # one primary, one staged, one secondary after a rotation
# Networks of the catalog's endpoints: public on the api VIP (the openrc's OS_AUTH_URL), the
# others on the srv VIP.
ENDPOINT_NETWORKS = {"public": openrc.AUTH_NETWORK, "internal": "srv", "admin": "srv"}


def manage(venv: str) -> str:
    """The venv's ``keystone-manage``."""
    return f"{venv.rstrip('/')}/bin/keystone-manage"


# PyMySQL waits for an answer without end by default: a statement in flight when the VIP holder died
# (sent and acknowledged by the dead HAProxy) would hold its worker for good. Seconds; well above
# Galera's eviction of a dead node (~6 s), below a client's patience.
DB_TIMEOUT_SECONDS = 30


def database_options(data) -> str:
    """The query string of Keystone's database URL: MariaDB's certificate verified with the cluster
    CA through the srv VIP (it names it) when ``galera["tls"]``, and PyMySQL's read and write
    timeouts. ``database_options(data)`` -> ``"ssl_ca=/etc/prereqos/tls/ca.crt&read_timeout=30&write_timeout=30"``."""
    options = {"ssl_ca": CA_FILE} if data.galera["tls"] else {}
    options.update(read_timeout=DB_TIMEOUT_SECONDS, write_timeout=DB_TIMEOUT_SECONDS)
    return "&".join(f"{key}={value}" for key, value in options.items())


def site_tls(data) -> bool:
    """Whether the Apache site serves TLS: HAProxy's keystone_public speaks TLS to its backends."""
    return backend_tls(data.haproxy_services[KEYSTONE_SERVICE])


def port(data) -> int:
    """Keystone's port: the HAProxy keystone service's (its backends are each controller's srv:port)."""
    return data.haproxy_services[KEYSTONE_SERVICE]["port"]


def endpoints(topo: Topology, data) -> dict[str, str]:
    """The identity endpoints by interface, ``https://<VIP>:<port>/v3`` (``http://`` when HAProxy's
    keystone frontend has no TLS)."""
    return {interface: openrc.keystone_url(topo, data, net) for interface, net in ENDPOINT_NETWORKS.items()}


def account_host(data) -> str:
    """The SQL account's host part: the srv network (HAProxy reaches Galera from the VIP holder's srv
    address), as MariaDB writes a network, ``10.0.2.0/255.255.255.0``."""
    network = ipaddress.IPv4Network(f"{data.netprefix['srv']['network']}/{data.netprefix['srv']['class']}")
    return f"{network.network_address}/{network.netmask}"


def key_files(secrets) -> dict[str, HiddenValue]:
    """Path on the hosts -> secret, for every key of both repositories."""
    return {f"{directory}/{index}": secrets[f"keystone_{kind}_key_{index}"]
            for kind, directory in KEY_REPOSITORIES.items() for index in KEY_INDEXES}


def template_args(topo: Topology, data) -> dict[str, Any]:
    """Keyword arguments of ``files.template`` for keystone.conf and the Apache site (the database
    password in clear: the file is written by ``secret_files.template``, never printed)."""
    conf = data.keystone
    return {
        "address": topo.address("srv"),
        "port": port(data),
        "processes": conf["wsgi_processes"],
        "venv": data.buildenv["venv"],
        "wsgi_dir": WSGI_DIR,
        "wsgi_script": WSGI_SCRIPT,
        "log_dir": LOG_DIR,
        "db_user": conf["db_user"],
        "db_password": unmasked(data.secrets["keystone_db_password"]),
        "db_host": topo.vip("srv"),
        "db_name": conf["db_name"],
        "db_options": database_options(data),
        "memcache_servers": memcached.servers(topo, data),
        "fernet_keys": KEY_REPOSITORIES["fernet"],
        "credential_keys": KEY_REPOSITORIES["credential"],
        "max_active_keys": MAX_ACTIVE_KEYS,
        "disable_file": DISABLE_FILE,
        "tls": site_tls(data),
        "tls_cert": TLS_CERT,
        "tls_key": TLS_KEY,
    }


def _as_keystone(manage_path: str, *args: str) -> StringCommand:
    """``keystone-manage`` as the keystone user (its log files stay writable by the API)."""
    return StringCommand("runuser -u keystone --", QuoteString(manage_path), "--config-file", CONFIG, *args)


@operation()
def db_sync(manage: str) -> Generator[StringCommand, None, None]:
    """
    Bring Keystone's schema to the installed Keystone's head (``keystone-manage db_sync``), unless
    ``db_sync --check`` says it is there. Run it on one node only (it is not safe concurrently):
    the deploy runs it on ``firstnode``.

    + manage: the venv's keystone-manage

    **Example:**

    .. code:: python

        keystone.db_sync(name="Keystone's schema", manage="/opt/openstack/venv/bin/keystone-manage")
    """
    state = host.get_fact(KeystoneDbState, manage=manage)
    if state == "current":
        host.noop("Keystone's schema is at head")
        return
    yield _as_keystone(manage, "db_sync")


@operation()
def bootstrap(manage: str, database: str, openrc: dict, urls: dict[str, str],
              password: HiddenValue) -> Generator[StringCommand, None, None]:
    """
    ``keystone-manage bootstrap``: the admin user, project and role, the identity service and its
    endpoints (``urls``: interface -> URL) in the region of ``openrc``; nothing when the admin
    user exists and the endpoints are these. The password goes on standard input into
    ``OS_BOOTSTRAP_PASSWORD`` (the environment of keystone-manage, readable by root and the
    keystone user only), never on a command line. An existing admin's password is not changed.

    + manage: the venv's keystone-manage
    + database: Keystone's database (read to tell whether bootstrap is done)
    + openrc: group_data's ``openrc`` (username, project, region)
    + urls: ``{"public": ..., "internal": ..., "admin": ...}``
    + password: the admin's password (a secret)

    **Example:**

    .. code:: python

        keystone.bootstrap(name="Admin and endpoints", manage=manage, database="keystone",
                           openrc=host.data.openrc, urls={"public": "http://10.0.1.10:5000/v3", ...},
                           password=host.data.secrets["openstack_admin_password"])
    """
    found = host.get_fact(KeystoneBootstrap, database=database, user=openrc["username"])
    if found["user"] and found["endpoints"] == urls:
        host.noop(f"admin {openrc['username']} and the identity endpoints exist")
        return
    options = ["--bootstrap-username", openrc["username"], "--bootstrap-project-name", openrc["project"],
               "--bootstrap-role-name", "admin", "--bootstrap-region-id", openrc["region"],
               *[arg for interface, url in sorted(urls.items()) for arg in (f"--bootstrap-{interface}-url", url)]]
    yield StringCommand(
        "read -r OS_BOOTSTRAP_PASSWORD && export OS_BOOTSTRAP_PASSWORD &&",
        _as_keystone(manage, "bootstrap", *map(QuoteString, options)),
        _stdin=SecretStdin(unmasked(password)),
    )
