"""Common base of every controller: valid data, a supported Debian, this cluster's secrets, names that resolve to cluster addresses.

Every deploy file starts with it (``lib.deploy.prologue()``, once per host and run), where it is
written (``lib.deploy.base``); runnable alone too::

    pyinfra inventory.py deploys/base.py
"""

from lib.deploy import prologue

prologue()
