"""Checks of the data against the inventory, run before any operation on any host.

Every problem becomes one line naming the variable, the bad value and the fix; all lines are
raised together as one ``DataError`` by ``validate_or_raise`` (called by ``deploys/base.py``,
so by every deploy, ``--dry`` included).

Example::

    from lib.validate import validate
    validate(["ctrl-1", "ctrl-2", "ctrl-3"], {"firstnode": "ctrl-9", ...})
    # ["firstnode='ctrl-9' is not a controller in the inventory; fix: set firstnode to one of ..."]
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pyinfra.api.exceptions import NoGroupError, PyinfraError

from lib.fencing import AGENTS as FENCE_AGENTS, IPMI_PASSWORD_MAX, OWN_PARAMETERS as FENCE_OWN_PARAMETERS, fence_devices
from lib.secrets import SecretsFileError, check_mode, secrets_path, unmasked
from lib.sizing import is_auto
from lib.steps import KINDS as STEP_KINDS
from lib.topology import controllers

NETWORKS = ("api", "srv", "data")
VIP_NETWORKS = ("api", "srv")
# RabbitMQ short node names (rabbit@<host>), corosync names and wsrep_node_name all follow it.
HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# A DNS name of a certificate: labels of letters, digits and '-', a leading "*." allowed.
DNS_NAME = re.compile(r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Any character below space (newline, tab, ESC...) or DEL: in a config file it starts a new
# line or a new token, so a value holding one could inject a setting.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Accounts that the system or a package of the stack owns: a deploy account with one of these
# names would take over (or lock out) the system's own.
SYSTEM_ACCOUNTS = frozenset({
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "nobody", "systemd-network", "systemd-resolve",
    "messagebus", "sshd", "_apt", "mysql", "rabbitmq", "haproxy", "hacluster", "debian-sys-maint",
    "mariadb.sys", "guest", "mariadb",
})
# Directories a venv must never be (the build env deploy owns and rewrites its venv).
SYSTEM_DIRS = frozenset({"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt",
                         "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr",
                         "/usr/local", "/var", "/var/lib"})


class DataError(PyinfraError):
    pass


def _port(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _text(value) -> bool:
    return isinstance(value, str) and value != ""


def _account(value) -> bool:
    return _text(value) and value.lower() not in SYSTEM_ACCOUNTS


def _own_directory(value) -> bool:
    """An absolute path, without '..', that is not a system directory."""
    return (isinstance(value, str) and value.startswith("/") and ".." not in value.split("/")
            and (value.rstrip("/") or "/") not in SYSTEM_DIRS)


def _flag(value) -> bool:
    return isinstance(value, bool) or value in (0, 1)


def _size(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d+[KMG]?", value) is not None


def _interval(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d+(ms|s|min|h)?", value) is not None


def _auto_or(check: Callable[[object], bool]) -> Callable[[object], bool]:
    """``check``, or "auto"/None: derived from the host (lib/sizing.py)."""
    return lambda value: is_auto(value) or check(value)


def _anything(value) -> bool:
    return True


def _url(value, path: bool = True) -> bool:
    """An http(s) URL with a host and no user or password (they would show in pyinfra's output and
    in a world-readable file); ``path=False``: nothing after the port but an optional '/'."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        port = parts.port  # a bad port raises ValueError
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and parts.username is None
            and port != 0 and not parts.query and not parts.fragment and (path or parts.path in ("", "/")))


def _calendar(value) -> bool:
    """A systemd OnCalendar expression's characters (``*-*-* 01:00:00``, ``daily``, ``Mon..Fri 02:00``)."""
    return isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9*:,./~ -]+", value.strip() or "-") is not None


def _pem_path(value) -> bool:
    """An absolute path of an existing file (read on the machine running pyinfra)."""
    return isinstance(value, str) and value.startswith("/") and Path(value).is_file()


def _optional(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: value is None or check(value)


# What each component dict may hold: key -> (check, what a good value looks like).
Rule = tuple[Callable[[object], bool], str]
SCHEMA: dict[str, dict[str, Rule]] = {
    "timeouts": {kind: (_positive_int, "a positive number of seconds") for kind in STEP_KINDS},
    "prechecks": {
        "max_clock_skew": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
                           "a positive number of seconds"),
    },
    "rabbitmq": {
        "admin_user": (_account, "a user name that is not a system account ('guest', 'root'...)"),
        "openstack_user": (_account, "a user name that is not a system account ('guest', 'root'...)"),
        "vhost": (_text, "a vhost such as '/'"),
        "partition_handling": (lambda v: v in ("pause_minority", "autoheal", "ignore"),
                               "pause_minority, autoheal or ignore"),
        "net_ticktime": (lambda v: _positive_int(v) and v >= 5, "an integer of seconds, at least 5"),
        "aten_poll_interval": (lambda v: _positive_int(v) and v >= 500, "an integer of milliseconds, at least 500"),
        "watchdog_stuck_seconds": (lambda v: _positive_int(v) and v >= 60,
                                   "an integer of seconds, at least 60 (a slow but sound boot is not a hang)"),
        "amqps": (lambda v: isinstance(v, bool), "True (AMQPS on port 5671) or False"),
        "plain_amqp": (lambda v: isinstance(v, bool), "True (plain AMQP on port 5672) or False"),
        "inter_node_tls": (lambda v: isinstance(v, bool), "True (Erlang distribution in TLS) or False"),
        "ha_policy_name": (_text, "a policy name"),
        "ha_policy_pattern": (_text, "a queue-name regex"),
        "memory_high_watermark": (_auto_or(_positive_int), '"auto" or a positive integer of bytes'),
        "schedulers": (_auto_or(_positive_int), '"auto" or a positive integer (Erlang +S)'),
        "open_files_limit": (_auto_or(_positive_int), '"auto" or a positive integer'),
    },
    "galera": {
        "cluster_name": (_text, "a cluster name"),
        "sst_method": (lambda v: v in ("mariabackup", "rsync"), "mariabackup or rsync"),
        "sst_user": (_account, "a user name that is not a system account ('root', 'mysql'...)"),
        "monitor_user": (_account, "a user name that is not a system account ('root', 'mysql'...)"),
        "check_port": (_port, "a port 1-65535"),
        "max_connections": (_auto_or(_positive_int), '"auto" or a positive integer'),
        "innodb_buffer_pool_size": (_auto_or(_size), '"auto" or a size such as 4G'),
        "open_files_limit": (_auto_or(_positive_int), '"auto" or a positive integer'),
        "gcache_size": (_size, "a size such as 256M"),
        "tls": (lambda v: isinstance(v, bool), "True (TLS for SQL clients, replication and SST) or False"),
        "require_secure_transport": (lambda v: isinstance(v, bool), "True (TCP clients without TLS refused) or False"),
        "upstream_repo": (lambda v: v is None or _text(v), "None or an apt source line"),
    },
    "backup": {
        "nodes": (lambda v: v in ("first", "all") or (isinstance(v, list) and bool(v) and all(_text(n) for n in v)),
                  '"first", "all" or a list of controller names'),
        "dir": (_own_directory, "an absolute path of its own such as /var/backups/prereqos (not a system directory)"),
        "sql_user": (_account, "a user name that is not a system account ('root', 'mysql'...)"),
        "full_schedule": (_calendar, "a systemd OnCalendar expression such as '*-*-* 01:00:00'"),
        "incremental_schedule": (_optional(_calendar), "None or a systemd OnCalendar expression such as '*-*-* *:30:00'"),
        "keep_fulls": (_positive_int, "a positive number of chains (a full and its incrementals)"),
        "max_age_days": (_positive_int, "a positive number of days"),
        "max_full_age_hours": (_positive_int, "a positive number of hours"),
        "max_age_hours": (_positive_int, "a positive number of hours"),
    },
    "memcached": {
        "port": (_port, "a port 1-65535"),
        "memory_mb": (_auto_or(lambda v: _positive_int(v) and v >= 8),
                      '"auto" or an integer of MiB, at least 8'),
        "max_connections": (_auto_or(lambda v: _positive_int(v) and v >= 16),
                            '"auto" or an integer, at least 16'),
    },
    "corosync": {
        "cluster_name": (_text, "a cluster name"),
        "port": (_port, "a port 1-65535"),
        "token": (_positive_int, "a positive integer of milliseconds"),
        "crypto_cipher": (lambda v: v in ("aes256", "aes192", "aes128"), "aes256, aes192 or aes128"),
        "crypto_hash": (lambda v: v in ("sha256", "sha384", "sha512", "sha1"), "sha256, sha384, sha512"),
        "wait_for_all": (_flag, "0 or 1"),
        "last_man_standing": (_flag, "0 or 1"),
        "last_man_standing_window": (_positive_int, "a positive integer of milliseconds"),
    },
    "fencing": {
        "devices": (lambda v: isinstance(v, Mapping), "a dict controller -> list of devices ({} for none)"),
        "monitor_interval": (_interval, "an interval such as 60s"),
    },
    "pacemaker": {
        "no_quorum_policy": (lambda v: v in ("stop", "freeze", "ignore", "demote", "suicide"),
                             "stop, freeze, ignore, demote or suicide"),
        "properties": (lambda v: isinstance(v, Mapping), "a dict of cluster properties"),
        "vip_monitor_interval": (_interval, "an interval such as 10s"),
        "vip_stickiness": (lambda v: v == "INFINITY" or (type(v) is int and v >= 0), "an integer >= 0 or 'INFINITY'"),
        "haproxy_monitor_interval": (_interval, "an interval such as 5s"),
    },
    "haproxy": {
        "stats_port": (_port, "a port 1-65535"),
        "stats_user": (_text, "a user name"),
        "maxconn": (_positive_int, "a positive integer"),
    },
    "tls": {
        "ca_cert": (_optional(_pem_path), "None or the absolute path of a PEM file on the machine running pyinfra"),
        "ca_key": (_optional(_pem_path), "None or the absolute path of a PEM file on the machine running pyinfra"),
        "vip_cert": (_optional(_pem_path), "None or the absolute path of a PEM file on the machine running pyinfra"),
        "vip_key": (_optional(_pem_path), "None or the absolute path of a PEM file on the machine running pyinfra"),
        "vip_names": (lambda v: isinstance(v, list) and all(isinstance(n, str) and DNS_NAME.match(n) for n in v),
                      'a list of DNS names such as ["openstack.example.org"]'),
        "ca_name": (_text, "a common name such as 'prereqos cluster CA'"),
        "valid_days": (lambda v: _positive_int(v) and v <= 825, "an integer of days, 1-825"),
        "renew_days": (_positive_int, "a positive integer of days, below valid_days"),
    },
    "apache": {"port": (_port, "a port 1-65535")},
    "buildenv": {
        "user": (lambda v: _account(v) and HOSTNAME.match(v) is not None,
                 "a user name that is not a system account ('root', 'www-data'...)"),
        "venv": (_own_directory,
                 "an absolute path of its own such as /opt/openstack/venv (not a system directory)"),
        "pip_packages": (lambda v: isinstance(v, list) and all(_text(p) for p in v), "a list of names"),
    },
    "keystone": {
        "pip_packages": (lambda v: isinstance(v, list) and all(_text(p) and "==" in p for p in v)
                         and any(p.replace(" ", "").lower().startswith("keystone==") for p in v),
                         'a list of pinned requirements ("name==version": a re-run asks PyPI nothing) '
                         'including "keystone==<version>"'),
        "db_name": (lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_]{1,64}", v) is not None,
                    "a database name of letters, digits and _"),
        "db_user": (lambda v: _account(v) and re.fullmatch(r"[A-Za-z0-9_]{1,32}", v) is not None,
                    "a SQL user name of letters, digits and _ that is not a system account"),
        "wsgi_processes": (lambda v: _positive_int(v) and v <= 64, "an integer 1-64"),
    },
    "openrc": {
        "username": (_text, "a user name"),
        "project": (_text, "a project name"),
        "user_domain": (_text, "a domain name"),
        "project_domain": (_text, "a domain name"),
        "region": (_text, "a region name"),
    },
}
# Package sources of a site behind a proxy or with its own index; None: nothing written.
PACKAGE_SOURCES: dict[str, Rule] = {
    "apt_proxy": (_optional(lambda v: _url(v, path=False)),
                  "None or a proxy URL without user or password, e.g. 'http://proxy.example:3128'"),
    "pip_proxy": (_optional(lambda v: _url(v, path=False)),
                  "None or a proxy URL without user or password, e.g. 'http://proxy.example:3128'"),
    "pip_index_url": (_optional(_url),
                      "None or an index URL without user or password, e.g. 'https://pypi.example/simple'"),
    "pip_cert": (_optional(lambda v: isinstance(v, str) and v.startswith("/") and ".." not in v.split("/")),
                 "None or the absolute path of a CA bundle on the hosts, e.g. '/etc/ssl/certs/ca-certificates.crt'"),
}
SERVICE_SCHEMA: dict[str, Rule] = {
    "port": (_port, "a port 1-65535"),
    "binds": (lambda v: isinstance(v, list) and v and all(n in VIP_NETWORKS for n in v),
              f"a non-empty list of {list(VIP_NETWORKS)}"),
    "check": (lambda v: v in ("tcp", "http", "galera"), "tcp, http or galera"),
    "check_uri": (lambda v: isinstance(v, str) and v.startswith("/"), "a path such as /healthcheck"),
    "retired": (_text, "the release that retired it"),
    "enabled": (lambda v: isinstance(v, bool), "True or False"),
    "tls": (lambda v: isinstance(v, bool), "True or False (default: True when it binds the api network)"),
    "backend_tls": (lambda v: isinstance(v, bool), "True (HAProxy to the backends in TLS) or False (default)"),
}
SERVICE_REQUIRED = ("port", "binds", "check")
# The identity service that /root/.openrc (deploys/openrc.py) points at.
KEYSTONE_SERVICE = "keystone_public"
# The top-level variables besides the component dicts of SCHEMA, with what ``validate`` accepts.
TOP_LEVEL_RULES: dict[str, str] = {
    "netprefix": f"a dict of {list(NETWORKS)}, each {{prefix: leading octets, network: address, class: 8-30}}",
    "netsuffix": "a dict host -> integer, one per controller plus 'os'; prefix.suffix must be a host "
                 "address of each network, no suffix used twice",
    "firstnode": "one of the controllers of the inventory",
    "allow_even_controllers": "True to accept an even number of controllers (at least 3 in any case)",
    "secrets": "not checked; the file must be readable by its owner only (0600)",
    **{key: good for key, (_, good) in PACKAGE_SOURCES.items()},
    "haproxy_services": "a dict name -> service (fields below); no two enabled services on the same VIP port; "
                        f"{KEYSTONE_SERVICE!r} present and enabled (/root/.openrc points at it)",
}
TOP_LEVEL = {*TOP_LEVEL_RULES, *SCHEMA}


def _did_you_mean(key: str, known) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# Settings an earlier release had: what replaced each (and the fix), said instead of "not a known setting".
RETIRED: dict[str, str] = {
    "pacemaker['stonith_enabled']": "stonith is on exactly when fencing['devices'] defines devices; "
                                    "fix: remove it (and define fencing devices)",
}


def _check_dict(where: str, value, schema: Mapping[str, Rule], required: bool = True) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"{where}={value!r} must be a dict; fix: restore it from group_data/all.py"]
    problems = []
    for key in value:
        name = f"{where}[{key!r}]"
        if name in RETIRED:
            problems.append(f"{name} is no longer a setting: {RETIRED[name]}")
        elif key not in schema:
            problems.append(f"{name} is not a known setting{_did_you_mean(key, schema)}; fix: remove or rename it")
    for key, (check, good) in schema.items():
        if key not in value:
            if required:
                problems.append(f"{where}[{key!r}] is missing; fix: set it to {good}")
        elif not check(value[key]):
            problems.append(f"{where}[{key!r}]={value[key]!r} is invalid; fix: set it to {good}")
    return problems


def _control_characters(where: str, value) -> list[str]:
    """One line per string under ``value`` (dicts and lists walked) holding a control character."""
    if isinstance(value, str):
        if CONTROL.search(value):
            return [f"{where}={value!r} holds a control character (newline, tab...), which would "
                    f"break or inject a line in a configuration file; fix: remove it"]
        return []
    if isinstance(value, Mapping):
        return [p for key, item in value.items() for p in _control_characters(f"{where}[{key!r}]", item)]
    if isinstance(value, (list, tuple)):
        return [p for index, item in enumerate(value) for p in _control_characters(f"{where}[{index}]", item)]
    return []


def _check_networks(netprefix) -> tuple[list[str], dict[str, ipaddress.IPv4Network]]:
    problems, networks = [], {}
    if not isinstance(netprefix, Mapping):
        return [f"netprefix={netprefix!r} must be a dict of {list(NETWORKS)}"], networks
    for net in NETWORKS:
        entry = netprefix.get(net)
        if not isinstance(entry, Mapping):
            problems.append(f"netprefix[{net!r}] is missing; fix: give its prefix, network and class")
            continue
        unknown = [k for k in entry if k not in ("prefix", "network", "class")]
        problems += [f"netprefix[{net!r}][{k!r}] is not a known setting"
                     f"{_did_you_mean(k, ('prefix', 'network', 'class'))}; fix: remove or rename it"
                     for k in unknown]
        prefix, network, bits = entry.get("prefix"), entry.get("network"), entry.get("class")
        if not (isinstance(bits, int) and not isinstance(bits, bool) and 8 <= bits <= 30):
            problems.append(f"netprefix[{net!r}]['class']={bits!r} is invalid; fix: a prefix length 8-30 such as 24")
            continue
        try:
            networks[net] = ipaddress.IPv4Network(f"{network}/{bits}")
        except (ValueError, TypeError):
            problems.append(f"netprefix[{net!r}]['network']={network!r} is not a /{bits} network address; "
                            f"fix: e.g. '10.0.1.0' with class 24")
            continue
        octets = prefix.split(".") if isinstance(prefix, str) else []
        if not (1 <= len(octets) <= 3 and all(o.isdigit() and int(o) <= 255 for o in octets)):
            problems.append(f"netprefix[{net!r}]['prefix']={prefix!r} is malformed; "
                            f"fix: the leading octets of the addresses, e.g. '10.0.1'")
            del networks[net]
    return problems, networks


def _check_addresses(names, data, networks) -> list[str]:
    problems = []
    suffixes = data.get("netsuffix")
    if not isinstance(suffixes, Mapping):
        return [f"netsuffix={suffixes!r} must be a dict host -> number; fix: see group_data/all.py"]
    owners: dict[object, str] = {}
    for key in ["os", *names]:
        suffix = suffixes.get(key)
        what = "the virtual IPs" if key == "os" else key
        if suffix is None:
            problems.append(f"netsuffix[{key!r}] is missing; fix: give {what} an address suffix")
            continue
        if not isinstance(suffix, int) or isinstance(suffix, bool):
            problems.append(f"netsuffix[{key!r}]={suffix!r} must be an integer; fix: e.g. 11")
            continue
        if suffix in owners:
            problems.append(f"netsuffix[{key!r}]={suffix} duplicates netsuffix[{owners[suffix]!r}]; "
                            f"fix: give each host and the VIP ('os') its own suffix")
            continue
        owners[suffix] = key
        for net, network in networks.items():
            address = f"{data.netprefix[net]['prefix']}.{suffix}"
            try:
                ip = ipaddress.IPv4Address(address)
            except ValueError:
                problems.append(f"netsuffix[{key!r}]={suffix} gives {address} on {net}, not an address; "
                                f"fix: prefix plus suffix must make four octets")
                continue
            if ip not in network or ip in (network.network_address, network.broadcast_address):
                problems.append(f"netsuffix[{key!r}]={suffix} gives {address}, outside {net} network "
                                f"{network} (or its network/broadcast address); fix: use a host address of {network}")
    return problems


def _check_catalog(catalog) -> list[str]:
    if not isinstance(catalog, Mapping):
        return [f"haproxy_services={catalog!r} must be a dict name -> service"]
    problems, bound = [], {}
    keystone = catalog.get(KEYSTONE_SERVICE)
    if not isinstance(keystone, Mapping) or keystone.get("enabled", True) is False:
        problems.append(f"haproxy_services[{KEYSTONE_SERVICE!r}] is missing or disabled: /root/.openrc "
                        f"points at it; fix: restore it from group_data/all.py (port 5000, binds api and srv)")
    for name, service in catalog.items():
        where = f"haproxy_services[{name!r}]"
        problems += _check_dict(where, service, SERVICE_SCHEMA, required=False)
        if isinstance(service, Mapping):
            problems += [f"{where}[{k!r}] is missing; fix: set it to {SERVICE_SCHEMA[k][1]}"
                         for k in SERVICE_REQUIRED if k not in service]
            if service.get("tls") is True and service.get("check") == "galera":
                problems.append(f"{where}['tls']=True: HAProxy's galera frontend stays TCP (MariaDB's clients "
                                f"speak its own protocol, TLS is negotiated inside it); fix: remove 'tls' or set it False")
            if service.get("backend_tls") is True and service.get("check") == "galera":
                problems.append(f"{where}['backend_tls']=True: HAProxy passes MariaDB's protocol through, whose TLS "
                                f"runs end to end (galera['tls']); fix: remove 'backend_tls' or set it False")
            if service.get("enabled", True) is False or not _port(service.get("port")):
                continue
            for net in service.get("binds") or []:
                other = bound.get((net, service["port"]))
                if other:
                    problems.append(f"{where} binds the {net} VIP port {service['port']} already bound by "
                                    f"haproxy_services[{other!r}]; fix: change one port or disable one service")
                bound[(net, service["port"])] = name
    return problems


FENCE_DEVICE_SCHEMA: dict[str, Rule] = {
    "agent": (lambda v: v in FENCE_AGENTS, " or ".join(FENCE_AGENTS)),
    "address": (lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9.:-]+", v) is not None,
                "the BMC's address or DNS name, e.g. '10.0.9.11'"),
    "port": (_port, "a port 1-65535 (default: 623 for IPMI, 443 for Redfish)"),
    "user": (lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9._@-]+", v) is not None,
             "the BMC user name (letters, digits, . _ @ -)"),
    "options": (lambda v: isinstance(v, Mapping) and all(
        isinstance(k, str) and re.fullmatch(r"[a-z0-9_]+", k) and k not in FENCE_OWN_PARAMETERS
        and isinstance(o, (str, int)) and not isinstance(o, bool) for k, o in v.items()),
        "a dict of other agent parameters (e.g. {'ssl_insecure': 1}); address, user and password are set by the deploy"),
}
FENCE_DEVICE_REQUIRED = ("agent", "address", "user")


def _check_fencing(names: list[str], fencing, secrets) -> list[str]:
    """The devices of group_data ``fencing``: one list per controller (all of them, or none), each
    device well formed and its password in secrets.json."""
    devices = fencing.get("devices") if isinstance(fencing, Mapping) else None
    if not isinstance(devices, Mapping) or not devices:
        return []
    problems = []
    for node, listed in devices.items():
        where = f"fencing['devices'][{node!r}]"
        if node not in names:
            problems.append(f"{where}: {node!r} is not a controller of the inventory; fix: choose among {names}")
        if not isinstance(listed, list) or not listed:
            problems.append(f"{where}={listed!r} must be a non-empty list of devices; fix: e.g. "
                            f"[{{'agent': 'fence_ipmilan', 'address': '10.0.9.11', 'user': 'fence'}}]")
            continue
        for level, device in enumerate(listed, 1):
            problems += _check_dict(f"{where}[{level - 1}]", device, FENCE_DEVICE_SCHEMA, required=False)
            if isinstance(device, Mapping):
                problems += [f"{where}[{level - 1}][{k!r}] is missing; fix: set it to {FENCE_DEVICE_SCHEMA[k][1]}"
                             for k in FENCE_DEVICE_REQUIRED if k not in device]
    problems += [f"fencing['devices'] has no device for {node}: with fencing on, every controller needs one; "
                 f"fix: add its BMC, or set fencing['devices'] = {{}} to turn fencing off"
                 for node in names if node not in devices]
    if problems:
        return problems
    seen: dict[str, str] = {}
    for device in fence_devices(fencing):
        if device.password_file in seen:
            problems.append(f"fencing: {device.rsc_id} and {seen[device.password_file]} both use "
                            f"{device.address} port {device.port}; fix: one device per BMC address and port")
        seen[device.password_file] = device.rsc_id
        if secrets is not None and device.secret_key not in secrets:
            problems.append(f"fencing: no password for {device.rsc_id} in secrets.json (key {device.secret_key!r}); "
                            f"fix: .venv/bin/python -m lib.secrets set {device.secret_key} (reads it on stdin)")
        elif (secrets is not None and device.agent == "fence_ipmilan"
              and len(unmasked(secrets[device.secret_key]).encode()) > IPMI_PASSWORD_MAX):
            problems.append(f"fencing: the password of {device.rsc_id} (secrets.json {device.secret_key!r}) is longer "
                            f"than {IPMI_PASSWORD_MAX} bytes, IPMI 2.0's limit; fix: a shorter BMC password")
    return problems


def _check_tls(tls) -> list[str]:
    """Operator files come in pairs; a certificate is issued again before it runs out."""
    if not isinstance(tls, Mapping):
        return []
    problems = [f"tls[{a!r}] and tls[{b!r}] go together ({a}={tls.get(a)!r}, {b}={tls.get(b)!r}); "
                f"fix: set both (PEM paths) or neither"
                for a, b in (("ca_cert", "ca_key"), ("vip_cert", "vip_key")) if bool(tls.get(a)) != bool(tls.get(b))]
    valid, renew = tls.get("valid_days"), tls.get("renew_days")
    if _positive_int(valid) and _positive_int(renew) and renew >= valid:
        problems.append(f"tls['renew_days']={renew} is not below tls['valid_days']={valid}: every deploy would "
                        f"issue the certificates again; fix: lower renew_days (30) or raise valid_days")
    return problems


def _check_amqp_listeners(rabbitmq) -> list[str]:
    """At least one AMQP listener: plain or TLS."""
    if isinstance(rabbitmq, Mapping) and rabbitmq.get("amqps") is False and rabbitmq.get("plain_amqp") is False:
        return ["rabbitmq['amqps'] and rabbitmq['plain_amqp'] are both False: RabbitMQ would listen for no "
                "client; fix: set rabbitmq['amqps'] = True (AMQPS, port 5671)"]
    return []


def _check_galera_tls(galera) -> list[str]:
    """Secure transport required only where TLS is offered; SST in TLS by mariabackup only."""
    if not isinstance(galera, Mapping):
        return []
    problems = []
    if galera.get("require_secure_transport") is True and galera.get("tls") is False:
        problems.append("galera['require_secure_transport'] is True but galera['tls'] is False: MariaDB would "
                        "refuse every TCP client; fix: set galera['tls'] = True, or require_secure_transport = False")
    if galera.get("tls") is True and galera.get("sst_method") == "rsync":
        problems.append("galera['tls'] is True but galera['sst_method'] is 'rsync': rsync SST in TLS needs stunnel, "
                        "which prereqos does not install; fix: set sst_method = 'mariabackup' (SST over TLS), or "
                        "tls = False")
    return problems


def _check_backup_nodes(names: list[str], backup) -> list[str]:
    """``backup["nodes"]`` as a list names controllers of the inventory, each once."""
    nodes = backup.get("nodes") if isinstance(backup, Mapping) else None
    if not isinstance(nodes, list):
        return []
    unknown = [n for n in nodes if n not in names]
    if unknown:
        return [f"backup['nodes'] names {unknown}, not controllers of the inventory; fix: choose among {names}, "
                f"or set it to \"first\" or \"all\""]
    if len(set(nodes)) != len(nodes):
        return [f"backup['nodes']={nodes!r} lists a controller twice; fix: list each once"]
    return []


def validate(names: list[str], data) -> list[str]:
    """All problems of ``data`` (a host's merged data) for controllers ``names``."""
    problems: list[str] = []
    count = len(names)
    if count < 3:
        problems.append(f"the inventory has {count} controller(s) in group 'controllers'; fix: at least 3")
    elif count % 2 == 0 and data.get("allow_even_controllers") is not True:
        problems.append(f"the inventory has an even number of controllers ({count}): a split can leave no "
                        f"majority; fix: use an odd number, or set allow_even_controllers = True")
    for name in names:
        if not HOSTNAME.match(name):
            problems.append(f"controller name {name!r} cannot be a RabbitMQ/corosync node name; "
                            f"fix: a short lowercase hostname such as 'ctrl-1' (letters, digits, '-')")
    firstnode = data.get("firstnode")
    if firstnode not in names:
        problems.append(f"firstnode={firstnode!r} is not a controller in the inventory; "
                        f"fix: set firstnode to one of {names}")
    net_problems, networks = _check_networks(data.get("netprefix"))
    problems += net_problems + _check_addresses(names, data, networks)
    for component, schema in SCHEMA.items():
        problems += _check_dict(component, data.get(component), schema)
    problems += _check_catalog(data.get("haproxy_services"))
    problems += _check_backup_nodes(names, data.get("backup"))
    problems += _check_fencing(names, data.get("fencing"), data.get("secrets"))
    problems += _check_tls(data.get("tls"))
    problems += _check_amqp_listeners(data.get("rabbitmq"))
    problems += _check_galera_tls(data.get("galera"))
    for key, (check, good) in PACKAGE_SOURCES.items():
        if not check(data.get(key)):
            problems.append(f"{key}={data.get(key)!r} is invalid; fix: set it to {good}")
    for key in ("firstnode", "netprefix", "netsuffix", "haproxy_services", *SCHEMA, *PACKAGE_SOURCES):
        problems += _control_characters(key, data.get(key))
    for key in data:
        if key not in TOP_LEVEL and difflib.get_close_matches(key, TOP_LEVEL, n=1, cutoff=0.8):
            problems.append(f"{key!r} is not a known variable{_did_you_mean(key, TOP_LEVEL)}; fix: rename it")
    try:
        check_mode(secrets_path())
    except FileNotFoundError:
        pass
    except SecretsFileError as error:
        problems.append(str(error))
    return problems


SUPPORTED_DISTRIBUTIONS = {("Debian", 12): "bookworm", ("Debian", 13): "trixie"}


def unsupported_distribution(host_name: str, distro: Mapping) -> str | None:
    """Why ``host_name`` cannot be deployed, from pyinfra's LinuxDistribution fact; None if fine."""
    if (distro.get("name"), distro.get("major")) in SUPPORTED_DISTRIBUTIONS:
        return None
    pretty = (distro.get("release_meta") or {}).get("PRETTY_NAME") or f"{distro.get('name')} {distro.get('major')}"
    return (f"{host_name} runs {pretty}; prereqos supports Debian 12 (bookworm) and Debian 13 (trixie) "
            f"only: reinstall or upgrade it, or remove it from the inventory")


class _Data(dict):
    """Attribute access over a plain dict, like pyinfra's host.data."""

    __getattr__ = dict.__getitem__


def validate_or_raise(inventory) -> None:
    try:
        hosts = controllers(inventory)
    except NoGroupError:
        hosts = []
    names = [h.name for h in hosts]
    problems: list[str] = []
    for host in hosts or list(inventory):
        for problem in validate(names, _Data(host.data.dict())):
            if problem not in problems:
                problems.append(problem)
    if problems:
        raise DataError("invalid data, nothing was changed:\n  - " + "\n  - ".join(problems))
