"""Generated secrets of a prereqos deployment.

Secrets live in one JSON file (``secrets.json`` at the project root, or the path in
``PREREQOS_SECRETS``), mode 0600 from its creation, git-ignored. ``group_data/all.py`` holds a
``SecretStore``: importing it reads and writes nothing. The file is read on the first access to
a value; keys it lacks get values in memory only. Only ``save()`` writes, and only
``deploys/base.py`` calls it, as an operation of a run that executes: ``--dry``, ``fact``,
``debug-inventory`` and the health report never create or rewrite the file. An existing value
is never changed. Every value is a ``Secret``: pyinfra prints ``*MASKED*`` wherever it shows one.

Example::

    from lib.secrets import SecretStore
    secrets = SecretStore()                # nothing read yet
    secrets["galera_root_password"]        # Secret('*MASKED*'); .unmask() gives the value
    secrets.unsaved                        # ['corosync_authkey', ...]: generated, not in the file yet
    secrets.save()                         # writes them (0600), keeps every existing value

Secrets that only the operator knows (a fence device's BMC password) are put in by hand, read on
standard input (never a command line, never shell history)::

    .venv/bin/python -m lib.secrets set fence_ctrl-1_1     # prompts without echo, or reads a pipe
"""

from __future__ import annotations

import base64
import json
import os
import secrets as _random
import stat
import string
from collections.abc import Iterator, Mapping
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


def _fernet_key() -> str:
    # What keystone-manage fernet_setup/credential_setup write: 32 random bytes, urlsafe base64.
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


GENERATORS = {
    "rabbitmq_cookie": _erlang_cookie,
    "rabbitmq_admin_password": _password,
    "rabbitmq_openstack_password": _password,
    "galera_root_password": _password,
    "galera_sst_password": _password,
    "galera_monitor_password": _password,
    "galera_backup_password": _password,
    "corosync_authkey": _corosync_authkey,
    "haproxy_stats_password": _password,
    "openstack_admin_password": _password,
    "keystone_db_password": _password,
    # Keystone's key repositories (deploys/keystone.py): 0 is the staged key, 1 the primary.
    "keystone_fernet_key_0": _fernet_key,
    "keystone_fernet_key_1": _fernet_key,
    "keystone_credential_key_0": _fernet_key,
    "keystone_credential_key_1": _fernet_key,
}


class Secret(HiddenValue):
    """A HiddenValue that also serialises masked (``debug-inventory``, ``--json``)."""

    def to_json(self) -> str:
        return str(self)


def unmasked(secret: str | HiddenValue) -> str:
    """The plain value of a secret, for standard input or a 0600 file only (never a command line).

    ``unmasked(Secret("x")) == unmasked("x") == "x"``
    """
    return secret.unmask() if isinstance(secret, (HiddenValue, SecretStdin)) else secret


class SecretStdin:
    """Standard input that holds a secret, for ``_stdin=`` of a fact or a command: pyinfra writes
    its lines (``readlines()``) to the remote command, and shows ``*MASKED*`` wherever it prints
    the argument (``Loaded fact X (_stdin=...)`` at ``-v``; a plain string would be printed there).

    ``host.get_fact(SomeFact, _stdin=SecretStdin(json.dumps(passwords)))``
    """

    def __init__(self, text: str) -> None:
        self._text = text

    def readlines(self) -> list[str]:
        return self._text.splitlines(keepends=True) or [""]

    def __iter__(self):  # pyinfra checks ``_stdin`` is a str, a list or an iterable of str
        return iter(self.readlines())

    def unmask(self) -> str:
        return self._text

    def __str__(self) -> str:
        return "*MASKED*"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStdin) and other._text == self._text

    __hash__ = None  # type: ignore[assignment]


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


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically by a file created 0600 (never chmod-ed afterwards)."""
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)  # O_EXCL: a leftover file would keep its own mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _write(path: Path, values: Mapping[str, str]) -> None:
    write_private(path, json.dumps(dict(values), indent=2, sort_keys=True))


class SecretStore(Mapping[str, Secret]):
    """The secrets file, read on first access, written only by ``save()``.

    ``pyinfra`` hands out a shallow copy of a group_data value on every ``host.data`` access:
    ``__copy__`` returns the store itself, so every host of a run sees the same values.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path or secrets_path())
        self._values: dict[str, str] = {}
        self._unsaved: list[str] = []

    def _loaded(self) -> dict[str, str]:
        if not self._values:
            path = self.path
            values = json.loads(path.read_text() or "{}") if path.exists() else {}  # mode: lib.validate
            self._unsaved[:] = [key for key in GENERATORS if not values.get(key)]
            values.update({key: GENERATORS[key]() for key in self._unsaved})
            self._values.update(values)
        return self._values

    @property
    def unsaved(self) -> list[str]:
        """Keys generated in memory that the file does not hold yet."""
        self._loaded()
        return list(self._unsaved)

    def save(self) -> None:
        """Write the generated keys into the file (created 0600); a no-op when none is missing."""
        if self.unsaved:
            _write(self.path, self._loaded())
            self._unsaved.clear()

    def __getitem__(self, key: str) -> Secret:
        return Secret(self._loaded()[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __copy__(self) -> "SecretStore":
        return self

    def to_json(self) -> dict[str, str]:
        """Masked, for ``debug-inventory`` and ``--json``."""
        return {key: secret.to_json() for key, secret in self.items()}


def set_operator_secret(key: str, value: str, path: Path | None = None) -> None:
    """Store an operator's secret (any key but the generated ones, which never change) in the
    secrets file, created 0600 or rewritten atomically; every other value is kept."""
    from lib.validate import CONTROL  # lib.validate imports this module

    if key in GENERATORS:
        raise SecretsFileError(f"{key} is generated by the deploy and never changed by hand "
                               f"(to rotate a shared key, see docs/operations.md)")
    if not value or CONTROL.search(value):
        raise SecretsFileError(f"{key}: empty, or holds a control character (newline, tab...)")
    target = Path(path or secrets_path())
    values = json.loads(target.read_text() or "{}") if target.exists() else {}
    if target.exists():
        check_mode(target)
    _write(target, {**values, key: value})


def _main(argv: list[str]) -> int:
    import getpass
    import sys

    if len(argv) != 2 or argv[0] != "set":
        print("usage: python -m lib.secrets set KEY   (the value on stdin)", file=sys.stderr)
        return 2
    value = getpass.getpass(f"{argv[1]}: ") if sys.stdin.isatty() else sys.stdin.read().rstrip("\n")
    try:
        set_operator_secret(argv[1], value)
    except SecretsFileError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    print(f"{argv[1]} stored in {secrets_path()}")
    return 0


def load(path: Path | None = None) -> dict[str, Secret]:
    """Read the secrets file, write any missing key into it, return every value as a ``Secret``.

    For tools that need the file as a deploy leaves it (the lab tests); ``group_data`` uses a
    ``SecretStore``, which writes nothing until a deploy saves it.
    """
    store = SecretStore(path)
    store.save()
    return dict(store)


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
