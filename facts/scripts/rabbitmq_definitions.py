"""Run on a RabbitMQ node: ``rabbitmqctl export_definitions -`` on stdin, the users, permissions
and policies as JSON on stdout; password hashes never leave the node.

Arguments: pairs ``USER PASSWORD``; for each, ``password_ok`` tells whether the stored hash is
that password's (RabbitMQ's scheme: base64(salt[4] + hash(salt + password))).
"""
import base64
import hashlib
import json
import sys

raw = sys.stdin.read()
if not raw.strip():
    sys.exit("rabbitmqctl export_definitions printed nothing (is the node running?)")
exported = json.loads(raw)
passwords = dict(zip(sys.argv[1::2], sys.argv[2::2]))
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
