"""The whole prereqos stack, in the seed's order (``salt-run state.orchestrate orch.prereqos``).

    pyinfra inventory.py deploys/prereqos.py          # converge
    pyinfra inventory.py deploys/prereqos.py --dry    # the plan, touching nothing

Each component is also runnable alone (``deploys/<component>.py``). Within each one the order
is explicit: deploy on every controller, set up on ``firstnode``, then joins one at a time.
HAProxy's configuration comes before Corosync/Pacemaker, which then start it as a clone
together with the virtual IPs.
"""

from pyinfra import local

COMPONENTS = ("rabbitmq", "galera", "haproxy", "ha", "apache", "buildenv", "openrc")

for component in COMPONENTS:
    local.include(f"deploys/{component}.py")
