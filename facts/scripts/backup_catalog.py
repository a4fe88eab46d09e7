# The backups of this node, as JSON on one line (facts.backup.BackupCatalog); "null" when this
# node takes no backups (no settings file). argv: settings file, full timer unit, [chain to verify].
import hashlib
import json
import os
import re
import sys

settings_path, timer, verify = sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else None)
BACKUP = re.compile(r"^(\d{8}T\d{6}Z)-(full|incremental)$")


def pairs(path, sep):
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return None
    found = {}
    for line in lines:
        key, has, value = line.partition(sep)
        if has and not line.lstrip().startswith("#"):
            found[key.strip()] = value.strip().strip("'\"")
    return found


def checksum(path):
    sums = os.path.join(path, "SHA256SUMS")
    if not os.path.exists(sums):
        return "no SHA256SUMS"
    with open(sums) as handle:
        listed = [line.split(None, 1) for line in handle.read().splitlines() if line.strip()]
    if not any(name.lstrip("*") == "mariadb.xbstream.zst" for _, name in listed):
        return "SHA256SUMS lacks mariadb.xbstream.zst"
    for digest, name in listed:
        digest_of = hashlib.sha256()
        try:
            with open(os.path.join(path, name.lstrip("*")), "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest_of.update(block)
        except FileNotFoundError:
            return f"{name} is missing"
        if digest_of.hexdigest() != digest:
            return f"{name} does not match its SHA256SUMS checksum"
    return "ok"


settings = pairs(settings_path, "=")
if settings is None:
    print("null")
    sys.exit(0)
root = settings["BACKUP_DIR"]
backups = []
chains = sorted(os.listdir(root)) if os.path.isdir(root) else []
for chain in chains:
    if not re.fullmatch(r"\d{8}T\d{6}Z", chain) or not os.path.isdir(os.path.join(root, chain)):
        continue
    for name in sorted(os.listdir(os.path.join(root, chain))):
        match = BACKUP.match(name)
        path = os.path.join(root, chain, name)
        if not match or not os.path.isdir(path):
            continue
        good = pairs(os.path.join(path, "GOOD"), "=")
        lsn = pairs(os.path.join(path, "checkpoints", "xtrabackup_checkpoints"), "=") or {}
        size = sum(os.path.getsize(os.path.join(top, f)) for top, _, files in os.walk(path) for f in files)
        backups.append({
            "chain": chain, "name": name, "kind": match.group(2), "good": good is not None,
            "started": int(good["started"]) if good else None,
            "finished": int(good["finished"]) if good else None,
            "bytes": size, "rabbitmq": os.path.exists(os.path.join(path, "rabbitmq-definitions.json")),
            "from_lsn": int(lsn["from_lsn"]) if "from_lsn" in lsn else None,
            "to_lsn": int(lsn["to_lsn"]) if "to_lsn" in lsn else None,
            "checksum": checksum(path) if chain == verify else None,
        })
since = int(os.stat(timer).st_mtime) if os.path.exists(timer) else None
limits = {"max_full_age_hours": int(settings["MAX_FULL_AGE_HOURS"]), "max_age_hours": int(settings["MAX_AGE_HOURS"])}
print(json.dumps({"dir": root, "since": since, "limits": limits, "backups": backups}, sort_keys=True))
