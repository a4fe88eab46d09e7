"""Generated secrets of a prereqos deployment.

Secrets live in one JSON file (``secrets.json`` at the project root, or the path in
``PREREQOS_SECRETS``), mode 0600, git-ignored. ``load()`` fills the keys that are missing
and never changes an existing one, then returns every value wrapped in ``Secret`` so that
pyinfra prints ``*MASKED*`` wherever it shows one.

Example::

    from lib.secrets import load
    secrets = load()                      # creates/extends secrets.json on first use
    secrets["galera_root_password"]       # Secret('*MASKED*'); .unmask() gives the value
"""

from __future__ import annotations

import base64
import json
import os
import secrets as _random
import stat
import string
from pathlib import Path

from pyinfra.api import HiddenValue

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_ALNUM = string.ascii_letters + string.digits


def _password() -> str:
    return "".join(_random.choice(_ALNUM) for _ in range(32))


def _erlang_cookie() -> str:
    return "".join(_random.choice(string.ascii_uppercase) for _ in range(40))


def _corosync_authkey() -> str:
    # corosync-keygen writes 256 random bytes; stored base64, written raw on the hosts.
    return base64.b64encode(os.urandom(256)).decode()


GENERATORS = {
    "rabbitmq_cookie": _erlang_cookie,
    "rabbitmq_admin_password": _password,
    "rabbitmq_openstack_password": _password,
    "galera_root_password": _password,
    "galera_sst_password": _password,
    "galera_monitor_password": _password,
    "corosync_authkey": _corosync_authkey,
    "haproxy_stats_password": _password,
    "openstack_admin_password": _password,
}


class Secret(HiddenValue):
    """A HiddenValue that also serialises masked (``debug-inventory``, ``--json``)."""

    def to_json(self) -> str:
        return str(self)


def unmasked(secret: str | HiddenValue) -> str:
    """The plain value of a secret, for standard input or a 0600 file only (never a command line).

    ``unmasked(Secret("x")) == unmasked("x") == "x"``
    """
    return secret.unmask() if isinstance(secret, HiddenValue) else secret


class SecretsFileError(Exception):
    pass


def secrets_path() -> Path:
    return Path(os.environ.get("PREREQOS_SECRETS", PROJECT_ROOT / "secrets.json"))


def check_mode(path: Path) -> None:
    """Refuse a secrets file that group or others may read or write."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretsFileError(
            f"secrets file {path} has mode {mode:04o}; it must be readable by its owner only. "
            f"Fix: chmod 600 {path}"
        )


def load(path: Path | None = None) -> dict[str, Secret]:
    """Read the secrets file, add any missing key, return every value as a ``Secret``."""
    path = Path(path or secrets_path())
    values: dict[str, str] = {}
    if path.exists():  # its mode is checked by lib.validate, which names the fix
        values = json.loads(path.read_text() or "{}")
    missing = [key for key in GENERATORS if not values.get(key)]
    if missing:
        for key in missing:
            values[key] = GENERATORS[key]()
        tmp = path.with_name(path.name + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle, indent=2, sort_keys=True)
        os.replace(tmp, path)
    return {key: Secret(value) for key, value in values.items()}
