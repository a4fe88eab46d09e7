"""Checks of group_data against the inventory, run before any host is touched.

Every problem becomes one line naming the variable, the bad value and the fix; all lines are
raised together as one ``DataError``.

Example::

    from lib.validate import validate
    problems = validate(names=["ctrl-1", "ctrl-2", "ctrl-3"], data=host.data)
"""

from __future__ import annotations

from pyinfra.api.exceptions import PyinfraError

from lib.topology import controllers


class DataError(PyinfraError):
    pass


def validate(names: list[str], data) -> list[str]:
    problems: list[str] = []
    firstnode = data.get("firstnode")
    if firstnode not in names:
        problems.append(f"firstnode={firstnode!r} is not a controller in the inventory; "
                        f"fix: set firstnode to one of {names}")
    suffixes = data.get("netsuffix") or {}
    for name in names:
        if name not in suffixes:
            problems.append(f"netsuffix[{name!r}] is missing; fix: give {name} its address suffix")
    return problems


def validate_or_raise(inventory) -> None:
    names = [h.name for h in controllers(inventory)]
    problems: list[str] = []
    for index, host in enumerate(controllers(inventory)):
        for problem in validate(names, host.data):
            if problem not in problems:
                problems.append(problem)
    if problems:
        raise DataError("invalid group_data:\n  - " + "\n  - ".join(problems))
