"""Run on a RabbitMQ node: the users, permissions and policies of ``rabbitmqctl export_definitions``
as JSON on stdout; password hashes never leave the node.

Standard input: ``{"USER": "PASSWORD", ...}`` (JSON; empty for none), never a command line; for
each of these users, ``password_ok`` tells whether the stored hash is that password's
(RabbitMQ's scheme: base64(salt[4] + hash(salt + password))).
"""
import base64
import hashlib
import json
import subprocess
import sys

passwords = json.loads(sys.stdin.read() or "{}")
export = subprocess.run(["rabbitmqctl", "-q", "export_definitions", "-"], capture_output=True, text=True)
if not export.stdout.strip():
    sys.exit(f"rabbitmqctl export_definitions printed nothing (is the node running?) {export.stderr.strip()}")
exported = json.loads(export.stdout)
HASHES = {"rabbit_password_hashing_sha256": "sha256", "rabbit_password_hashing_sha512": "sha512",
          "rabbit_password_hashing_md5": "md5"}


def password_ok(user):
    if user["name"] not in passwords:
        return None
    stored = base64.b64decode(user.get("password_hash") or "")
    algorithm = HASHES.get(user.get("hashing_algorithm"), "sha256")
    salt = stored[:4]
    return len(stored) > 4 and hashlib.new(algorithm, salt + passwords[user["name"]].encode()).digest() == stored[4:]


def tags(value):
    return sorted(value if isinstance(value, list) else [t for t in (value or "").split(",") if t])


print(json.dumps({
    "users": {u["name"]: {"tags": tags(u.get("tags")), "password_ok": password_ok(u)}
              for u in exported.get("users", [])},
    "permissions": [{k: p[k] for k in ("user", "vhost", "configure", "write", "read")}
                    for p in exported.get("permissions", [])],
    "policies": [{k: p.get(k) for k in ("vhost", "name", "pattern", "apply-to", "definition", "priority")}
                 for p in exported.get("policies", [])],
}, sort_keys=True))
