"""The whole prereqos stack, in the seed's order (``salt-run state.orchestrate orch.prereqos``).

    pyinfra inventory.py deploys/prereqos.py          # converge
    pyinfra inventory.py deploys/prereqos.py --dry    # the plan, touching nothing

First every component's Debian packages, in one apt transaction per host that starts none of
their services (``operations/stack.py``); then each component writes its files and starts its
services. Each component is also runnable alone (``deploys/<component>.py``: it installs its own
packages). Within each one the order is explicit: deploy on every controller, set up on
``firstnode``, then joins one at a time. HAProxy's configuration comes before Corosync/Pacemaker,
which then start it as a clone together with the virtual IPs; Corosync itself comes first
(``deploys/corosync.py``): on a new cluster pacemaker's first DC election, which waits 20 s,
goes on while RabbitMQ and Galera are deployed. RabbitMQ's deploy runs in two parts around
Galera's: its nodes boot (~10 s each) while Galera deploys, their users and joins come after.
"""

from pyinfra import host, local

from lib.deploy import include_once, prologue
from lib.steps import limit
from operations import backup, rabbitmq, stack

topo = prologue()
stack.install(
    name="The stack's Debian packages, one apt transaction (the components' services not started: each "
         "configures, then starts its own)",
    packages=stack.packages(upstream_mariadb=bool(host.data.galera["upstream_repo"]),
                            backup_node=host.name in backup.nodes(topo, host.data)),
    **limit("apt"),
)

# One include per line, never in a loop: pyinfra orders operations by the line numbers of
# their call stack, so a loop would give every component the same position and interleave them.
include_once("deploys/corosync.py")  # first: a new cluster's first DC election overlaps what follows
local.include("deploys/rabbitmq.py", data={rabbitmq.DEPLOY_PART: "node"})  # its boot overlaps Galera's deploy
local.include("deploys/galera.py")
local.include("deploys/rabbitmq.py", data={rabbitmq.DEPLOY_PART: "cluster"})  # boot waited for, users, joins
local.include("deploys/tls.py")
local.include("deploys/haproxy.py")
local.include("deploys/ha.py")
local.include("deploys/memcached.py")
local.include("deploys/apache.py")
local.include("deploys/buildenv.py")
local.include("deploys/openrc.py")
local.include("deploys/backup.py")
