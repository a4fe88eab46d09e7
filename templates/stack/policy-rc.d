#!/bin/sh
# prereqos (operations/stack.py): while the stack's Debian packages install in one apt transaction,
# the services its components configure do not start (each component writes its files, then starts
# them). That apt-get names them in PREREQOS_HELD_SERVICES; any other start (logrotate.timer...),
# and any call outside that transaction, is allowed (0), as if this file were absent. Removed after.
[ "$1" = --quiet ] && shift
unit=${1%.service}
case " ${PREREQOS_HELD_SERVICES:-} " in
  *" ${unit:-none} "*) exit 101 ;;
esac
exit 0
