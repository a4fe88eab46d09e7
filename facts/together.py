"""Several facts of one host in one remote command, each processed by its own ``process()``.

pyinfra reads each fact with a round trip of its own and keeps nothing (3.x has no fact cache).
What a run reads before it changes anything (the base's checks, the host prechecks) is read
here in one command per host: each fact's command as pyinfra would run it (guarded by its
``requires_command``), its output given to the same fact's ``process()``. A fact whose command
failed, or whose output its ``process()`` refused, is left out: the caller reads it the usual way,
and a failure then fails the host as it always did (``lib.run.fact_of_the_run`` does both); a fact
no caller needs fails nothing.

Example::

    value = host.get_fact(Together, facts=[(Hostname, {}), (Sha1File, {"path": "/etc/corosync/authkey"})])
    # {(Hostname, ()): "ctrl-1", (Sha1File, (("path", "/etc/corosync/authkey"),)): "3f7a..."}
"""

from __future__ import annotations

from typing import Any

from pyinfra.api import FactBase, FactProcessError, StringCommand
from pyinfra.api.facts import ShortFactBase

# Starts each part's output; the part's exit status ends it: "##part 2" ... "##end 2 0".
_BEGIN, _END = "##part", "##end"
_MISSING_COMMAND = "##PYINFRA_NOCMD##"  # what pyinfra's guard prints when the fact's command is absent

FactKey = tuple[type, tuple[tuple[str, Any], ...]]


def key(cls: type, kwargs: dict[str, Any]) -> FactKey:
    """The key of one fact reading in ``Together``'s value (list arguments as tuples)."""
    return cls, tuple(sorted((name, tuple(v) if isinstance(v, list) else v) for name, v in kwargs.items()))


def _attribute(value: Any, kwargs: dict[str, Any]) -> Any:
    """A fact's ``command``/``requires_command``: a method called with the arguments, or a value."""
    return value(**kwargs) if callable(value) else value


def _guarded(fact: FactBase, kwargs: dict[str, Any]) -> StringCommand:
    """The fact's command as pyinfra runs it: behind ``command -v`` of its ``requires_command``."""
    command = _attribute(fact.command, kwargs)
    required = _attribute(fact.requires_command, kwargs)
    if not required:
        return StringCommand(command)
    return StringCommand("if command -v", required, ">/dev/null 2>&1; then (", command, "); else echo",
                         f"'{_MISSING_COMMAND}';", "fi")


class Together(FactBase[dict]):
    """
    Each of ``facts`` (``(fact class, its keyword arguments)``; a short fact too) as pyinfra's
    ``get_fact`` gives it, under ``key(cls, kwargs)``; a fact whose command failed, or whose
    output its ``process()`` refused, is absent.

    .. code:: python

        {(Hostname, ()): "ctrl-1", (LinuxDistribution, ()): {"name": "Debian", "major": 12, ...}}
    """

    @staticmethod
    def default() -> dict:
        return {}

    def command(self, facts: list[tuple[type, dict[str, Any]]]) -> StringCommand:
        # Kept for process(): the same instance runs both (as pyinfra's Sha1File keeps its path).
        self.facts = [(cls, dict(kwargs), cls.fact() if issubclass(cls, ShortFactBase) else cls())
                      for cls, kwargs in facts]
        return framed([_guarded(fact, kwargs) for _, kwargs, fact in self.facts])

    def process(self, output: list[str]) -> dict:
        return parse(output, self.facts)


def framed(commands: list[Any]) -> StringCommand:
    """``commands`` run one after the other, each one's output framed with its index and exit
    status (``sections`` reads them back); ``true`` when there is none."""
    bits: list[Any] = []
    for index, command in enumerate(commands):
        bits += [f"echo '{_BEGIN} {index}'; (", command, f"); echo \"{_END} {index} $?\";"]
    return StringCommand(*bits) if bits else StringCommand("true")


def sections(output: list[str], fact_name: str) -> tuple[dict[int, list[str]], dict[int, int]]:
    """The output lines and the exit status of each command of ``framed()``, by index (pure)."""
    lines: dict[int, list[str]] = {}
    status: dict[int, int] = {}
    current = None
    for line in output:
        if line.startswith(_BEGIN + " "):
            current = int(line.split()[1])
            lines[current] = []
        elif line.startswith(_END + " "):
            fields = line.split()
            if len(fields) != 3 or not fields[2].isdigit():
                raise FactProcessError(f"{fact_name}: unexpected line {line!r}")
            status[int(fields[1])] = int(fields[2])
            current = None
        elif current is not None:
            lines[current].append(line)
    return lines, status


def parse(output: list[str], facts: list[tuple[type, dict[str, Any], FactBase]]) -> dict:
    """The value from the parts' output, each by the fact instance that made its command (pure:
    unit-tested on captured output)."""
    lines, status = sections(output, "Together")
    value = {}
    for index, (cls, kwargs, fact) in enumerate(facts):
        out = lines.get(index, [])
        if status.get(index) != 0:
            continue
        try:
            data = fact.default() if not out or out == [_MISSING_COMMAND] else fact.process(out)
        except FactProcessError:  # left out too: a caller that needs it reads it, and fails, as pyinfra does
            continue
        # A short fact (``Ipv4Addrs``) is its base fact's value, reshaped (pyinfra's get_short_facts).
        value[key(cls, kwargs)] = cls().process_data(data) if issubclass(cls, ShortFactBase) else data
    return value
