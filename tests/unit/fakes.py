"""A fake pyinfra host and an operation runner for unit tests of custom operations (no SSH, no lab),
and a template renderer with a fake host.

An operation's undecorated generator (``op._inner``) runs with a :class:`FakeHost` as pyinfra's
current host: ``from pyinfra import host`` inside the operation resolves to it, so its
``host.get_fact(...)``, ``host.noop(...)``, ``host.name`` and ``host.data`` are answered here.

**Example:**

.. code:: python

    from facts.rabbitmq import RabbitmqClusterStatus, RabbitmqDefinitions
    from operations import rabbitmq
    from tests.unit.fakes import FakeHost, run

    host = FakeHost({
        RabbitmqClusterStatus: {},  # a value: RabbitMQ stopped
        RabbitmqDefinitions: lambda _stdin: {"users": {"guest": {"tags": [], "password_ok": None}},
                                             "permissions": {}, "policies": {}},  # called with kwargs
    })
    assert run(rabbitmq.access, host, absent_users=["guest"]) == ["rabbitmqctl -q delete_user guest"]
    assert host.asked == [(RabbitmqDefinitions, {"_stdin": SecretStdin("{}")})]
    assert run(rabbitmq.join_cluster, host, "rabbit@ctrl-1") == [
        "echo 'RabbitMQ is not running on ctrl-1: cannot join rabbit@ctrl-1' >&2; exit 1"]
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import jinja2
from pyinfra.api import StringCommand
from pyinfra.context import ctx_host, ctx_state

from tests.unit.conftest import ROOT


class FakeHost:
    """The current host of an operation under test.

    + facts: ``{FactClass: value}``, or ``{FactClass: callable}`` called with the arguments the
      operation passes to ``get_fact`` (a fact class missing here fails the test with ``KeyError``;
      a callable refusing the arguments fails it with ``TypeError``)
    + name: ``host.name``
    + data: ``host.data`` attributes

    ``noops`` lists the ``host.noop()`` descriptions and ``asked`` every ``(FactClass, kwargs)``
    looked up, in order.
    """

    def __init__(self, facts: dict[type, Any] | None = None, name: str = "ctrl-1",
                 data: dict[str, Any] | None = None):
        self.name, self.data = name, SimpleNamespace(**(data or {}))
        self.facts = dict(facts or {})
        self.noops: list[str] = []
        self.asked: list[tuple[type, dict[str, Any]]] = []

    def get_fact(self, cls: type, *args: Any, **kwargs: Any) -> Any:
        self.asked.append((cls, kwargs))
        value = self.facts[cls]
        return value(*args, **kwargs) if callable(value) else value

    def noop(self, description: str) -> None:
        self.noops.append(description)


def answers(*values: Any) -> Callable[[], Any]:
    """A fact answering one of ``values`` per lookup, the last one repeated (a state that changes)."""
    remaining = list(values)

    def answer() -> Any:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return answer


def commands(op, host: FakeHost, *args: Any, **kwargs: Any) -> list[Any]:
    """The command objects ``op``'s generator yields on ``host`` (``StringCommand``, ``str``,
    ``FileUploadCommand``...), for what ``run`` does not show: a command's ``_stdin``."""
    with ctx_state.use(MagicMock()), ctx_host.use(host):
        return list(op._inner(*args, **kwargs))


def stdin_of(command: Any) -> Any:
    """What pyinfra writes to ``command``'s standard input (``None`` for none)."""
    return getattr(command, "connector_arguments", {}).get("_stdin")


def run(op, host: FakeHost, *args: Any, masked: bool = False, **kwargs: Any) -> list[Any]:
    """Run ``op``'s generator on ``host``: its commands, a ``StringCommand`` as its raw string (or
    as pyinfra prints it, secrets masked, with ``masked=True``), a ``str`` as it is, and other
    commands (``FunctionCommand``...) as they are."""
    return [(c.get_masked_value() if masked else c.get_raw_value()) if isinstance(c, StringCommand) else c
            for c in commands(op, host, *args, **kwargs)]


def renderer(directory: str) -> Callable[..., str]:
    """``render(template, **kwargs)`` for the templates in ``directory`` (from the project root),
    rendered as ``files.template`` renders them: an undefined variable fails, the trailing newline
    is kept; ``host`` is a ``MagicMock``. ``render = renderer("templates/galera")``."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROOT)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)

    def render(template: str, **kwargs: Any) -> str:
        return env.get_template(f"{directory}/{template}").render(host=MagicMock(name="host"), **kwargs)

    return render
