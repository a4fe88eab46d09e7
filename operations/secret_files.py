"""Files that hold a secret: ``files.put`` and ``files.template``, but the file is 0600 from its
creation, before any secret is written into it.

pyinfra uploads over SFTP straight to ``dest``: a new file is created with the SFTP server's
umask (0644, readable by every local user) and only then chmod-ed. Here, whenever the content
is to be uploaded, ``dest`` is first created empty under umask 077 (or narrowed to owner-only
when it exists), then written, then given its final owner and mode (never wider than the one
asked).

Example::

    secret_files.template(name="debian.cnf", src="templates/galera/debian.cnf.j2",
                          dest="/etc/mysql/debian.cnf", user="root", group="root", mode="600")
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import IO, Any

from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.api.command import FileUploadCommand, PyinfraCommand
from pyinfra.operations import files

Commands = Generator[PyinfraCommand | str, None, None]


def owner_only_command(path: str) -> StringCommand:
    """Create ``path`` empty and 0600 if it is absent, make it owner-only if it exists."""
    return StringCommand("( umask 077 && : >>", QuoteString(path), ") && chmod go=", QuoteString(path))


def _owner_only_before_upload(commands: Iterable[PyinfraCommand | str], dest: str) -> Commands:
    for command in commands:
        if isinstance(command, FileUploadCommand):
            yield owner_only_command(dest)
        yield command


@operation()
def put(src: str | IO[Any], dest: str, user: str = "root", group: str = "root", mode: str = "600") -> Commands:
    """
    ``files.put`` of a secret: 0600 from creation, then ``user:group`` and ``mode``.

    + src, dest, user, group, mode: as ``files.put``

    **Example:**

    .. code:: python

        secret_files.put(name="Erlang cookie", src=StringIO(cookie), dest="/var/lib/rabbitmq/.erlang.cookie",
                         user="rabbitmq", group="rabbitmq", mode="400")
    """
    yield from _owner_only_before_upload(files.put._inner(src=src, dest=dest, user=user, group=group, mode=mode), dest)


@operation()
def template(src: str, dest: str, user: str = "root", group: str = "root", mode: str = "600", **data: Any) -> Commands:
    """
    ``files.template`` of a file holding a secret: 0600 from creation, then ``user:group`` and ``mode``.

    + src, dest, user, group, mode, data: as ``files.template``

    **Example:**

    .. code:: python

        secret_files.template(name="Health check SQL credentials", src="templates/galera/galera-check.cnf.j2",
                              dest="/etc/mysql/galera-check.cnf", user="galera-check", group="galera-check")
    """
    yield from _owner_only_before_upload(
        files.template._inner(src=src, dest=dest, user=user, group=group, mode=mode, **data), dest)
