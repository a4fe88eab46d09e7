#!/bin/bash
# prereqos-restore mariadb <chain> <backup>...: MariaDB's data directory replaced by a backup chain
#   (a full, then its incrementals in order), MariaDB stopped; the former data directory is kept,
#   moved aside to <datadir>.before-restore-<stamp> (never deleted).
# prereqos-restore rabbitmq <chain> <backup>: RabbitMQ's definitions of that backup imported
#   (users, vhosts, permissions, policies: added or updated, nothing deleted).
# Run by deploys/restore.py, which decides what to restore and confirms it. Managed by prereqos.
set -euo pipefail
umask 077
what=${1:-}; chain=${2:-}
shift 2 || { echo "usage: prereqos-restore mariadb|rabbitmq <chain> <backup>..." >&2; exit 2; }
# BACKUP_DIR MARIABACKUP_CNF LOCK DATADIR
. /etc/default/prereqos-backup
exec 9>"$LOCK"
flock -w 600 9 || { echo "prereqos-restore: a backup still holds $LOCK after 600 s: nothing restored" >&2; exit 1; }

for b in "$@"; do
    d=$BACKUP_DIR/$chain/$b
    [ -f "$d/GOOD" ] || { echo "prereqos-restore: $d is not a finished, verified backup (no GOOD): nothing restored" >&2; exit 1; }
    ( cd "$d" && sha256sum --quiet --strict -c SHA256SUMS ) \
        || { echo "prereqos-restore: $d does not match its SHA256SUMS (corrupt): nothing restored" >&2; exit 1; }
done

if [ "$what" = rabbitmq ]; then
    file=$BACKUP_DIR/$chain/$1/rabbitmq-definitions.json
    [ -f "$file" ] || { echo "prereqos-restore: $1 holds no RabbitMQ definitions" >&2; exit 1; }
    # rabbitmqctl runs as the rabbitmq user, which cannot read the backup directory (and RabbitMQ 4's
    # wrapper gives it no standard input): a copy in its home, 0600, removed after the import.
    copy=/var/lib/rabbitmq/prereqos-import-definitions.json
    install -m 600 -o rabbitmq -g rabbitmq "$file" "$copy"
    trap 'rm -f "$copy"' EXIT
    rabbitmqctl -q import_definitions "$copy"
    echo "prereqos-restore: RabbitMQ definitions of $1 imported"
    exit 0
fi
[ "$what" = mariadb ] || { echo "usage: prereqos-restore mariadb|rabbitmq <chain> <backup>..." >&2; exit 2; }
if systemctl -q is-active mariadb; then
    echo "prereqos-restore: MariaDB runs here: stop it first (nothing restored)" >&2; exit 1
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$BACKUP_DIR/.restore-$stamp
mkdir "$work"
trap 'rm -rf "$work"' EXIT
i=0
for b in "$@"; do
    mkdir "$work/$i"
    zstd -q -dc "$BACKUP_DIR/$chain/$b/mariadb.xbstream.zst" | mbstream -x -C "$work/$i"
    i=$((i + 1))
done
mariabackup --prepare --target-dir="$work/0" >"$work/prepare.log" 2>&1 \
    || { tail -n 20 "$work/prepare.log" >&2; echo "prereqos-restore: --prepare of $1 failed: nothing restored" >&2; exit 1; }
for ((n = 1; n < i; n++)); do
    mariabackup --prepare --target-dir="$work/0" --incremental-dir="$work/$n" >>"$work/prepare.log" 2>&1 \
        || { tail -n 20 "$work/prepare.log" >&2; echo "prereqos-restore: applying incremental $n failed: nothing restored" >&2; exit 1; }
done

aside=$DATADIR.before-restore-$stamp
mv "$DATADIR" "$aside"
install -d -o mysql -g mysql -m 755 "$DATADIR"
mariabackup --move-back --target-dir="$work/0" --datadir="$DATADIR" >>"$work/prepare.log" 2>&1 \
    || { tail -n 20 "$work/prepare.log" >&2; echo "prereqos-restore: --move-back failed; the former data is in $aside" >&2; exit 1; }
# A new cluster history starts from here: no Galera state from the backup's node.
rm -f "$DATADIR/grastate.dat" "$DATADIR/gvwstate.dat"
chown -R mysql:mysql "$DATADIR"
echo "prereqos-restore: $DATADIR restored from ${*: -1} (chain $chain); the former data directory is $aside"
