# Run on a Galera node by facts.recovery.GaleraPosition (under flock): every piece of evidence of
# its last committed position, one "key: value" line each. Argument: the grastate.dat path.
grastate=$1
echo "service: $(systemctl is-active mariadb)"
# No grastate.dat (never clustered) is an answer; an unreadable one is an error.
if [ -e "$grastate" ]; then
  sed -n 's/^\(uuid\|seqno\|safe_to_bootstrap\):[[:space:]]*/grastate_\1: /p' "$grastate" || exit 1
fi
# The server's own rows, "name<TAB>value", when one answers on the socket. @NO_SERVER_OR@ is
# replaced by facts/recovery.py with facts.galera.or_no_server's rule: no server answering
# (stopped, or still waiting for a Primary component) is no SQL evidence, the next rungs answer;
# any other error (access denied...) fails the fact, with mysql's message on stderr.
sql=$(@NO_SERVER_OR@) || exit 1
printf '%s\n' "$sql" | sed -n 's/\t/: /p'
pid=$(pgrep -xo 'mariadbd|mysqld')
if [ -n "$pid" ]; then
  tr '\0' '\n' < /proc/$pid/cmdline | sed -n 's/^--wsrep[-_]start[-_]position=/start_position: /p'
elif [ -e "$grastate" ] && grep -q '^seqno:[[:space:]]*-1' "$grastate"; then
  { galera_recovery 2>&1; echo "recover_exit: $?"; } | sed -n \
    -e 's/^--wsrep_start_position=/recovered: /p' -e 's/^recover_exit: /&/p' -e 's/^.*\[ERROR\] /recover_error: /p'
fi
