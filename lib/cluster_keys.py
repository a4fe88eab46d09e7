"""The keys a cluster shares (corosync authkey, Erlang cookie) must never be replaced under it.

A deploy run with another ``secrets.json`` (a lost file regenerated, another checkout) would
write a new key on every node: corosync nodes restarting with it no longer understand the
others (quorum lost), RabbitMQ nodes with another cookie cannot talk to each other. So a key
found on a host that differs from the secret is refused, before any operation runs.

The deploys write each key with ``key_bytes``, from the same table the refusal checks against.

Example (the check in the common base, the writer in deploys/ha.py)::

    sha1 = {path: host.get_fact(Sha1File, path=path) for path in SHARED_KEYS}
    refusal = foreign_keys(host.name, sha1, host.data.secrets)
    if refusal:
        raise DeployError(refusal)
    files.put(src=BytesIO(key_bytes(COROSYNC_AUTHKEY, host.data.secrets)), dest=COROSYNC_AUTHKEY, ...)
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping

COROSYNC_AUTHKEY = "/etc/corosync/authkey"
RABBITMQ_COOKIE = "/var/lib/rabbitmq/.erlang.cookie"

# Remote path -> (secrets.json key, the bytes written from the secret's value).
SHARED_KEYS: dict[str, tuple[str, Callable[[str], bytes]]] = {
    COROSYNC_AUTHKEY: ("corosync_authkey", base64.b64decode),
    RABBITMQ_COOKIE: ("rabbitmq_cookie", str.encode),
}


def key_bytes(path: str, secrets: Mapping) -> bytes:
    """The content of the shared key at ``path`` (a ``SHARED_KEYS`` path), from ``secrets``
    (``host.data.secrets``). Never print it."""
    name, to_bytes = SHARED_KEYS[path]
    return to_bytes(secrets[name].unmask())


def foreign_keys(host_name: str, remote_sha1: Mapping[str, str | None], secrets: Mapping,
                 unused: frozenset[str] = frozenset()) -> str | None:
    """A refusal naming each shared key present on the host that is not the secret's, else None.

    + remote_sha1: ``{path: sha1 or None (absent)}`` for every path of ``SHARED_KEYS``
    + secrets: ``host.data.secrets`` (``Secret`` values)
    + unused: paths of keys no service has used yet, replaced rather than refused: Debian's
      ``rabbitmq-server`` writes its own random cookie at install, and the stack's packages are
      installed before deploys/rabbitmq.py writes the cluster's (a run stopped in between); a
      node that never started (no node data, ``facts.identity.RabbitmqNodeData``) has used none
    """
    foreign = []
    for path, (name, _) in SHARED_KEYS.items():
        found = remote_sha1.get(path)
        if found and path not in unused and found != hashlib.sha1(key_bytes(path, secrets)).hexdigest():
            foreign.append(f"{path} (secrets.json: {name})")
    if not foreign:
        return None
    return (
        f"{host_name}: {', '.join(foreign)} differs from this secrets.json: it is not the file this "
        "cluster was deployed with. Restore that secrets.json (or point PREREQOS_SECRETS at it); "
        "writing another key would split the running cluster. To rotate a key on purpose, see "
        "docs/operations.md, 'Rotating a shared key'."
    )
