"""Facts for recovering a stopped cluster: how far each Galera node's data goes.

After a power loss the question is which node holds the last committed transaction. Each node
answers from the best evidence it has, in the order of ClusterLabs' galera resource agent:

1. a server answering SQL: ``wsrep_last_committed`` of its state UUID;
2. a server waiting for a Primary component (unit ``activating``, no SQL yet): the position
   Debian's ``galera_recovery`` recovered when the unit started it (``--wsrep_start_position``
   on its command line); it cannot have committed anything since, having never been Primary;
3. a stopped server with a clean shutdown: ``grastate.dat``'s ``seqno``;
4. a stopped server after a crash (``seqno: -1``): Debian's ``galera_recovery``
   (``mariadbd --wsrep-recover``: InnoDB recovery, no network, no client, then exits).

Example::

    pyinfra inventory.py fact facts.recovery.GaleraPosition --json
"""

from __future__ import annotations

from pathlib import Path

from pyinfra.api import FactBase, FactProcessError, QuoteString, StringCommand
from typing_extensions import override

from facts.galera import GRASTATE, ZERO_UUID, or_no_server

# Serialises the fact on one node: every host of a deploy may ask a peer at the same moment, and
# two `mariadbd --wsrep-recover` on one data directory would fight over its InnoDB lock.
LOCK = "/run/lock/prereqos-galera-position"
SOURCES = ("running server", "start position", "grastate.dat", "wsrep-recover")

_SQL_STATUS = StringCommand("mysql", "--connect-timeout=5", "-NB", "-e", QuoteString(
    "SHOW GLOBAL STATUS WHERE Variable_name IN "
    "('wsrep_cluster_status', 'wsrep_local_state_uuid', 'wsrep_last_committed')"))
#: The fact's shell script (``sh -c``): ``facts/scripts/galera_position.sh`` with its SQL read
#: under ``or_no_server``, the one rule for "no server" of every MariaDB fact.
SCRIPT = (Path(__file__).parent / "scripts/galera_position.sh").read_text().replace(
    "@NO_SERVER_OR@", or_no_server(_SQL_STATUS).get_raw_value())


def _position(text: str) -> tuple[str, int]:
    uuid, sep, seqno = text.rpartition(":")
    if not sep or not uuid:
        raise ValueError(f"not uuid:seqno: {text!r}")
    return uuid, int(seqno)


class GaleraPosition(FactBase[dict]):
    """
    The last committed position of this Galera node and where it was read (see the module);
    ``{}`` when MariaDB is not installed. ``position`` is ``None`` when there is no evidence
    (``error`` then says why). Reading it may run ``mariadbd --wsrep-recover`` on a stopped
    node whose ``grastate.dat`` has ``seqno: -1`` (never on a running one).

    .. code:: python

        {
            "service": "activating",               # systemctl is-active mariadb
            "cluster_status": None,                # "Primary", "non-Primary"... when SQL answers
            "grastate": {"uuid": "c11a...", "seqno": -1, "safe_to_bootstrap": False},
            "position": {"uuid": "c11a...", "seqno": 10, "source": "start position"},
            "error": None,
        }
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "galera_recovery"

    @staticmethod
    def default() -> dict:
        return {}

    def command(self) -> StringCommand:
        # A lock not taken within 300 s (flock exits 1) or an SQL error other than "no server"
        # fails the fact: neither is evidence of a position.
        return StringCommand("flock", "-w", "300", LOCK, "sh", "-c", QuoteString(SCRIPT), "galera_position",
                             QuoteString(GRASTATE))

    def process(self, output: list[str]) -> dict:
        fields: dict[str, str] = {}
        for line in output:
            key, sep, value = line.partition(":")
            if not sep:
                raise FactProcessError(f"GaleraPosition: unexpected line {line!r}")
            fields.setdefault(key.strip(), value.strip())  # the first [ERROR] is the cause
        if "service" not in fields:
            raise FactProcessError(f"GaleraPosition: no service state in {output!r}")
        try:
            grastate = {}
            if "grastate_uuid" in fields:
                grastate = {
                    "uuid": fields["grastate_uuid"],
                    "seqno": int(fields.get("grastate_seqno", "-1")),
                    "safe_to_bootstrap": fields.get("grastate_safe_to_bootstrap", "0") == "1",
                }
            position, error = None, None
            if "wsrep_cluster_status" in fields:
                position = {"uuid": fields.get("wsrep_local_state_uuid", ""),
                            "seqno": int(fields.get("wsrep_last_committed", "-1")), "source": SOURCES[0]}
            elif "start_position" in fields:
                uuid, seqno = _position(fields["start_position"])
                position = {"uuid": uuid, "seqno": seqno, "source": SOURCES[1]}
            elif grastate.get("seqno", -1) >= 0:
                position = {"uuid": grastate["uuid"], "seqno": grastate["seqno"], "source": SOURCES[2]}
            elif "recovered" in fields:
                uuid, seqno = _position(fields["recovered"])
                position = {"uuid": uuid, "seqno": seqno, "source": SOURCES[3]}
            elif fields.get("recover_exit", "0") != "0" or "recover_error" in fields:
                error = fields.get("recover_error") or f"galera_recovery exited {fields['recover_exit']}"
            elif not grastate:
                error = "no grastate.dat: this node never ran in a cluster (or its data directory is missing)"
            else:
                error = f"no position: MariaDB is {fields['service'] or 'unknown'} and answers no SQL"
        except ValueError as exc:
            raise FactProcessError(f"GaleraPosition: {exc}: {output!r}") from exc
        if position and position["uuid"] in ("", ZERO_UUID):
            position, error = None, f"no cluster state (uuid {position['uuid'] or 'empty'})"
        return {
            "service": fields["service"],
            "cluster_status": fields.get("wsrep_cluster_status"),
            "grastate": grastate,
            "position": position,
            "error": error,
        }
