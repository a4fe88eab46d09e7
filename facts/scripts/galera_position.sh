# Run on a Galera node by facts.recovery.GaleraPosition (under flock): every piece of evidence of
# its last committed position, one "key: value" line each. Argument: the grastate.dat path.
grastate=$1
echo "service: $(systemctl is-active mariadb)"
# No grastate.dat (never clustered) is an answer; an unreadable one is an error.
if [ -e "$grastate" ]; then
  sed -n 's/^\(uuid\|seqno\|safe_to_bootstrap\):[[:space:]]*/grastate_\1: /p' "$grastate" || exit 1
fi
# stderr is kept with stdout to tell the errors apart; only "name<TAB>value" rows are printed
# (MariaDB 11 warns on stderr when called as `mysql`).
if sql=$(mysql --connect-timeout=5 -NB -e "SHOW GLOBAL STATUS WHERE Variable_name IN \
('wsrep_cluster_status', 'wsrep_local_state_uuid', 'wsrep_last_committed')" 2>&1); then
  printf '%s\n' "$sql" | sed -n 's/\t/: /p'
else
  case $sql in
    # No server answering on the socket (stopped, or still waiting for a Primary component):
    # no SQL evidence, the next rungs answer. Any other error (access denied...) fails the fact.
    *"ERROR 2002 "* | *"ERROR 2013 "*) ;;
    *) printf '%s\n' "$sql" >&2; exit 1 ;;
  esac
fi
pid=$(pgrep -xo 'mariadbd|mysqld')
if [ -n "$pid" ]; then
  tr '\0' '\n' < /proc/$pid/cmdline | sed -n 's/^--wsrep[-_]start[-_]position=/start_position: /p'
elif [ -e "$grastate" ] && grep -q '^seqno:[[:space:]]*-1' "$grastate"; then
  { galera_recovery 2>&1; echo "recover_exit: $?"; } | sed -n \
    -e 's/^--wsrep_start_position=/recovered: /p' -e 's/^recover_exit: /&/p' -e 's/^.*\[ERROR\] /recover_error: /p'
fi
