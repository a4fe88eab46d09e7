#!/bin/bash
# prereqos-backup full|incremental: a MariaDB backup (mariabackup, zstd) and RabbitMQ's
# definitions, verified, checksummed and marked GOOD; then the retention. Managed by prereqos
# (deploys/backup.py): run by prereqos-backup@full.service and prereqos-backup@incremental.service.
#
# Layout: $BACKUP_DIR/<chain>/<stamp>-full|incremental/ (a chain: a full, then incrementals, each
# on top of the newest GOOD backup of the chain), each holding mariadb.xbstream.zst, checkpoints/
# (mariabackup's LSNs), rabbitmq-definitions.json, mariabackup.log, SHA256SUMS and, last, GOOD.
set -euo pipefail
umask 077
kind=${1:-}
[ "$kind" = full ] || [ "$kind" = incremental ] || { echo "usage: prereqos-backup full|incremental" >&2; exit 2; }
# BACKUP_DIR KEEP_FULLS MAX_AGE_DAYS MARIABACKUP_CNF LOCK
. /etc/default/prereqos-backup

# One backup (or restore) at a time: a run that finds the lock taken waits for it (both timers
# fire at once after a downtime: the full and the incremental then run one after the other), and
# is skipped after 6 hours.
exec 9>"$LOCK"
flock -w 21600 9 || { echo "prereqos-backup: another backup or restore held $LOCK for 6 h: this $kind run is skipped" >&2; exit 75; }

good_fulls() { for d in "$BACKUP_DIR"/*/*-full; do [ -f "$d/GOOD" ] && echo "$d"; done; true; }
base=""
if [ "$kind" = incremental ]; then
    full=$(good_fulls | sort | tail -n1)
    if [ -z "$full" ]; then
        echo "prereqos-backup: no good full backup to build on: taking a full one"
        kind=full
    else
        chain=$(basename "$(dirname "$full")")
        base=$(for d in "$BACKUP_DIR/$chain"/*; do [ -f "$d/GOOD" ] && echo "$d"; done | sort | tail -n1; true)
    fi
fi
stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ "$kind" = full ] && chain=$stamp
dir=$BACKUP_DIR/$chain/$stamp-$kind
mkdir -p "$dir/checkpoints"
verify=""
# A backup that did not finish leaves nothing behind.
trap 'rm -rf "$dir" ${verify:+"$verify"}' EXIT
started=$(date +%s)

args=(--defaults-extra-file="$MARIABACKUP_CNF" --backup --stream=xbstream --extra-lsndir="$dir/checkpoints")
[ -n "$base" ] && args+=(--incremental-basedir="$base/checkpoints")
mariabackup "${args[@]}" 2>"$dir/mariabackup.log" | zstd -q -T0 -3 -o "$dir/mariadb.xbstream.zst" \
    || { tail -n 20 "$dir/mariabackup.log" >&2; echo "prereqos-backup: mariabackup failed" >&2; exit 1; }

# Verified: the stream decompresses and unpacks; a full one is also prepared (on a copy).
verify=$(mktemp -d "$BACKUP_DIR/.verify.XXXXXX")
zstd -q -dc "$dir/mariadb.xbstream.zst" | mbstream -x -C "$verify"
if [ "$kind" = full ]; then
    mariabackup --prepare --target-dir="$verify" >>"$dir/mariabackup.log" 2>&1 \
        || { tail -n 20 "$dir/mariabackup.log" >&2; echo "prereqos-backup: --prepare of the copy failed" >&2; exit 1; }
fi
rm -rf "$verify"
verify=""

rabbitmq=no
# To standard output: rabbitmqctl runs as the rabbitmq user, which cannot write here.
if systemctl -q is-active rabbitmq-server \
        && rabbitmqctl -q export_definitions - >"$dir/rabbitmq-definitions.json"; then
    rabbitmq=yes
else
    rm -f "$dir/rabbitmq-definitions.json"
    echo "prereqos-backup: RabbitMQ's definitions could not be exported (is rabbitmq-server running?)" >&2
fi

( cd "$dir" && sha256sum mariadb.xbstream.zst checkpoints/xtrabackup_checkpoints \
      $([ $rabbitmq = yes ] && echo rabbitmq-definitions.json) > SHA256SUMS )
printf 'kind=%s\nstarted=%s\nfinished=%s\nbase=%s\nrabbitmq=%s\n' \
    "$kind" "$started" "$(date +%s)" "${base:+$(basename "$base")}" "$rabbitmq" > "$dir/GOOD.new"
mv "$dir/GOOD.new" "$dir/GOOD"
trap - EXIT
echo "prereqos-backup: $dir GOOD ($(du -sh "$dir" | cut -f1), $(( $(date +%s) - started )) s)"

# Retention: the newest chain with a good full is always kept; the others go when more than
# KEEP_FULLS chains are newer or their full is older than MAX_AGE_DAYS. What never became GOOD
# (a run killed midway: we hold the lock, none is running) goes too.
now=$(date +%s)
kept=0
for c in $(ls -1 "$BACKUP_DIR" | grep -E '^[0-9]{8}T[0-9]{6}Z$' | sort -r); do
    if [ -f "$BACKUP_DIR/$c/$c-full/GOOD" ]; then
        kept=$((kept + 1))
        finished=$(sed -n 's/^finished=//p' "$BACKUP_DIR/$c/$c-full/GOOD")
        if [ $kept -gt 1 ] && { [ $kept -gt "$KEEP_FULLS" ] || [ $((now - finished)) -gt $((MAX_AGE_DAYS * 86400)) ]; }; then
            echo "prereqos-backup: retention removes chain $c"
            rm -rf "${BACKUP_DIR:?}/$c"
            kept=$((kept - 1))
            continue
        fi
        for d in "$BACKUP_DIR/$c"/*; do [ -f "$d/GOOD" ] || rm -rf "$d"; done
    else
        rm -rf "${BACKUP_DIR:?}/$c"
    fi
done
rm -rf "$BACKUP_DIR"/.verify.*
[ $rabbitmq = yes ]
