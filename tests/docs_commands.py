"""The shell commands of the documentation, what each one names, and how the lab runs the safe ones.

A documented command is a line of a fenced ``sh`` block (```` ```sh ````) of README.md or
docs/*.md, its ``# comment`` dropped. ``missing()`` lists what it names that does not exist (a
file, a module, a fact class, a ``./dev`` or ``tests/lab/lab`` subcommand, a ``--data``
variable nothing reads); ``lab_argv()`` turns a safe command into one run against the lab:
``inventory.py`` becomes ``tests/lab/inventory.py``, pyinfra and python the venv's, and a
deploy gets ``--dry`` (it plans against the real hosts and changes nothing). Other commands
(``./dev``, ``tests/lab/lab``) are only resolved.

Example::

    for command in doc_commands():
        command.where, command.argv   # "README.md:27", [".venv/bin/pyinfra", "inventory.py", "fact", ...]
        missing(command)              # [] when everything it names exists
        lab_argv(command)             # [".../.venv/bin/pyinfra", "tests/lab/inventory.py", "fact", ...] or None
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from pyinfra.api import FactBase

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")))
FENCE = re.compile(r"^```(?:sh|shell|bash)\n(.*?)^```", re.MULTILINE | re.DOTALL)
PYINFRA = {"pyinfra", ".venv/bin/pyinfra"}
PYTHON = {"python", "python3", ".venv/bin/python"}
PRODUCTION_INVENTORY, LAB_INVENTORY = "inventory.py", "tests/lab/inventory.py"
# Deploys only resolved, never run with --dry on the lab: restore.py refuses (exit 1) unless a good
# backup exists and restore_confirm=yes is given (tests/lab_tests/test_zz_backup.py runs it).
NOT_RUN = {"deploys/restore.py"}
# The modules a documented ``python -m`` may run against the lab (read-only ones).
SAFE_MODULES = {"lib.health"}


@dataclass(frozen=True)
class DocCommand:
    doc: str
    line_number: int
    line: str

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line_number}"

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.line, comments=True)


def doc_commands(docs: tuple[str, ...] = DOCS) -> list[DocCommand]:
    """Every command line of the fenced sh blocks of ``docs`` (paths from the project root)."""
    commands = []
    for doc in docs:
        text = (ROOT / doc).read_text()
        for block in FENCE.finditer(text):
            first = text.count("\n", 0, block.start(1)) + 1
            for offset, line in enumerate(block.group(1).splitlines()):
                if shlex.split(line, comments=True):
                    commands.append(DocCommand(doc, first + offset, line.strip()))
    return commands


def _subcommands_of_dev() -> set[str]:
    """The ``case`` labels of ``./dev``."""
    return {name for labels in re.findall(r"^  ([a-z|-]+)\)", (ROOT / "dev").read_text(), re.MULTILINE)
            for name in labels.split("|")}


def _subcommands_of_lab() -> set[str]:
    """The commands ``tests/lab/lab.py``'s ``main`` dispatches."""
    source = (ROOT / "tests/lab/lab.py").read_text()
    return set(re.findall(r'command == "([a-z]+)"', source)) | {
        name for group in re.findall(r"command in \(([^)]*)\)", source) for name in re.findall(r'"([a-z]+)"', group)}


def _fact_missing(name: str) -> str | None:
    module_name, _, class_name = name.rpartition(".")
    try:
        fact = getattr(importlib.import_module(module_name), class_name, None)
    except ImportError:
        fact = None
    if not (isinstance(fact, type) and issubclass(fact, FactBase)):
        return f"fact {name} does not exist"
    return None


def _data_read(key: str) -> bool:
    """Whether a deploy or operation reads ``--data key=...``."""
    code = "\n".join(p.read_text() for folder in ("deploys", "operations") for p in (ROOT / folder).glob("*.py"))
    return re.search(rf"""data\.get\(["']{key}["']|data\.{key}\b""", code) is not None


def _pyinfra_missing(args: list[str]) -> list[str]:
    problems = [f"{arg} does not exist" for arg in args if arg.endswith(".py") and not (ROOT / arg).is_file()]
    if args[1:2] == ["fact"]:
        problems += filter(None, (_fact_missing(name) for name in args[2:] if not name.startswith("-")))
    for flag, value in zip(args, args[1:]):
        if flag == "--data" and not _data_read(value.split("=")[0]):
            problems.append(f"--data {value}: no deploy or operation reads {value.split('=')[0]}")
    return problems


def missing(command: DocCommand) -> list[str]:
    """What ``command`` names that does not exist; [] when it resolves."""
    program, *args = command.argv
    if program in PYINFRA:
        return _pyinfra_missing(args)
    if program in PYTHON and args[:1] == ["-m"] and len(args) > 1:
        found = importlib.util.find_spec(args[1]) is not None
        return ([] if found else [f"module {args[1]} does not exist"]) + \
            [f"{arg} does not exist" for arg in args[2:] if arg.endswith(".py") and not (ROOT / arg).is_file()]
    if program == "./dev":
        return [] if args[:1] and args[0] in _subcommands_of_dev() else [f"./dev has no subcommand {args[:1]}"]
    if program == "tests/lab/lab":
        return [] if args[:1] and args[0] in _subcommands_of_lab() else [f"tests/lab/lab has no command {args[:1]}"]
    return [f"{program}: a program tests/docs_commands.py cannot check; teach missing() about it"]


def lab_argv(command: DocCommand, pyinfra: str, python: str = sys.executable) -> list[str] | None:
    """``command`` as it runs against the lab, read-only; None when it is only resolved."""
    program, *args = command.argv
    args = [LAB_INVENTORY if arg == PRODUCTION_INVENTORY else arg for arg in args]
    if program in PYINFRA:
        if NOT_RUN & set(args):
            return None
        read_only = args[1:2] in (["fact"], ["debug-inventory"]) or "--dry" in args
        return [pyinfra, *args, *([] if read_only else ["--dry"])]
    if program in PYTHON and args[:1] == ["-m"] and args[1:2] and args[1] in SAFE_MODULES:
        return [python, *args]
    return None
