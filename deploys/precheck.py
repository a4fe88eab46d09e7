"""Host prechecks on every controller, before any change (rules: ``lib/precheck.py``).

Run first by the common base (``lib.deploy.base``), so by every deploy; runnable alone too (it
changes nothing)::

    pyinfra inventory.py deploys/precheck.py

The facts of every reachable controller are read once, on the first host's pass; any problem of
any host stops the run there, before any operation on any host, one line per problem.
"""

from pyinfra import host

from lib.precheck_facts import refuse_unless_ready
from lib.validate import validate_or_raise

validate_or_raise(host.inventory)  # the checks read the data
refuse_unless_ready()
