"""RabbitMQ cluster on every controller: deploy on all, set up on firstnode, then joins one at a time.

    pyinfra inventory.py deploys/rabbitmq.py
    pyinfra inventory.py fact facts.rabbitmq.RabbitmqClusterStatus     # check it

``deploys/prereqos.py`` runs it in two parts, around Galera's deploy: section 1 (part ``"node"``,
each node's start not waited for, so its ~10 s boot overlaps Galera's), then the wait for that
boot and sections 2 and 3 (part ``"cluster"``)::

    local.include("deploys/rabbitmq.py", data={rabbitmq.DEPLOY_PART: "node"})
    local.include("deploys/galera.py")
    local.include("deploys/rabbitmq.py", data={rabbitmq.DEPLOY_PART: "cluster"})

1. Every node: the shared Erlang cookie (0400) and the settings below written before
   ``rabbitmq-server`` (no Recommends) is installed, so its first start uses them; AMQPS (5671,
   the controller's certificate from the cluster CA: ``rabbitmq["amqps"]``), plain AMQP (5672,
   ``rabbitmq["plain_amqp"]``) and the Erlang distribution (25672, ``inet_dist_use_interface``)
   on the node's srv address only, epmd (4369) on loopback and the srv address (a drop-in for
   ``epmd.socket``: Debian starts epmd by socket activation, so ``ERL_EPMD_ADDRESS`` would not
   apply); a node restarts, one at a time, only when one of those files changed. A renewed
   certificate restarts nothing: the node's PEM cache is cleared.
2. firstnode: users ``admin`` (administrator) and ``openstack`` (``.* .* .*`` on the vhost),
   each password set only when it does not already authenticate. ``guest`` is deleted rather
   than given a new password: its name and default password are public knowledge, and
   ``admin`` replaces it. Queue HA: the seed's ``ha-all`` mirroring policy on RabbitMQ 3.x;
   RabbitMQ >= 4.0 has no classic mirroring (it refuses ``ha-mode`` policies), so there a
   ``ha-all`` left over from 3.x is removed and clients must declare quorum queues
   (oslo.messaging ``rabbit_quorum_queue = true``).
3. The other nodes join firstnode's cluster, one at a time, only if not already members (read
   when the run starts, in parallel); a
   fresh standalone node is reset by ``join_cluster`` (it holds no data), a member never is.
   Before that, a node whose app was left stopped (``stop_app``, a failed join: systemd still
   says active) gets ``start_app``; one that a failed join left reset then joins here.

The RabbitMQ version (installed, or apt's candidate before the install) decides the queue HA
and whether ``cluster_partition_handling`` (< 4.3) is written.
"""

from io import BytesIO

from pyinfra import host
from pyinfra.facts.systemd import SystemdStatus
from pyinfra.operations import server, systemd
from pyinfra.operations.util import any_changed

from facts.precheck import HostResources
from facts.rabbitmq import (
    RabbitmqClusterStatus,
    RabbitmqDistribution,
    RabbitmqPackageVersion,
    has_classic_mirroring,
    upstream_version,
)
from facts.systemd import ServiceConfigState
from lib.cluster_keys import RABBITMQ_COOKIE, key_bytes
from lib.deploy import prologue
from lib.run import fact_of_the_run, once_per_run, read_ahead
from lib.sizing import Resources
from lib.steps import limit
from lib.topology import controllers
from operations import rabbitmq, steady, tls
from operations.common import decide_once, peer_fact

topo = prologue()

# What "ha-all" means (the seed's policy): every queue mirrored on every node.
HA_ALL = {"ha-mode": "all"}

conf = host.data.rabbitmq
secrets = host.data.secrets
first_node = f"rabbit@{topo.firstnode}"

UNIT = f"{rabbitmq.SERVICE}.service"
# What this file reads of the controllers before any change: one command per controller.
once_per_run("rabbitmq facts", lambda: read_ahead(controllers(host.inventory), [
    (RabbitmqPackageVersion, {}), (SystemdStatus, {"services": [UNIT]}), (RabbitmqDistribution, {}),
    (ServiceConfigState, {"service": rabbitmq.SERVICE, "paths": rabbitmq.SETTINGS_FILES})]))
# The version apt has installed, or is about to install: it decides the settings below.
package = fact_of_the_run(host, RabbitmqPackageVersion)
version = upstream_version(package["installed"] or package["candidate"])
version_text = rabbitmq.version_text(version)
has_mirroring = has_classic_mirroring(version)
args = rabbitmq.template_args(topo, host.data, version, Resources.of(fact_of_the_run(host, HostResources)))

was_installed = package["installed"] is not None
# Where RabbitMQ runs when the run starts: a changed setting restarts it there (one at a time).
# Stopped nodes (a stopped cluster) are started together below: one started alone would wait for
# the others and time out.
was_running = fact_of_the_run(host, SystemdStatus, services=[UNIT]).get(UNIT, False)
# Settings an earlier run changed without the restart that applies them (its one-node-at-a-time
# restart stopped at another node): the running node started before them, it restarts below.
settings_stale = was_running and fact_of_the_run(
    host, ServiceConfigState, service=rabbitmq.SERVICE, paths=rabbitmq.SETTINGS_FILES) == "stale"
# Which part of this file an include runs: deploys/prereqos.py runs "node" (section 1) before
# Galera's deploy and "cluster" (the wait for the boot, sections 2 and 3) after it, so that
# RabbitMQ boots while Galera deploys. Alone (no part given), the file runs both, in order.
PART = host.data.get(rabbitmq.DEPLOY_PART)


def distribution_changes() -> bool:
    """Whether a running node's Erlang distribution is not what ``rabbitmq['inter_node_tls']`` asks."""
    wanted = "tls" if conf["inter_node_tls"] else "plain"
    return any(peer_fact(name, RabbitmqDistribution) not in (None, "stopped", wanted) for name in topo.names)


# Decided once per run, before any change: a TLS node and a plain one do not talk, so the nodes
# cannot restart into the other kind one at a time. Every node stops while its files are the old
# ones (rabbitmqctl stops it, with the old settings), then all start together with the new.
distribution_change = decide_once("rabbitmq distribution", distribution_changes)
# Where rabbitmq-server starts in this run (a new node, a stopped one, every node when the
# distribution changes): section 1 starts it without waiting for its boot, the cluster part waits.
starts = not was_running or distribution_change

if PART != "cluster":
    # The files and the service below: one reading when nothing changes (operations/steady.py).
    snap = steady.Snapshot()
    if distribution_change:
        systemd.service(name="Stop RabbitMQ on every node: its Erlang distribution changes between plain and TLS",
                        service=rabbitmq.SERVICE, running=False)

    # --- 1. every node ------------------------------------------------------------------------
    # The files come first, so the package's first start already uses them (no restart on a
    # first install); the package's postinst keeps the system user created here and, with
    # --force-confold, our rabbitmq-env.conf.
    steady.group(snap, name="System group rabbitmq", group="rabbitmq", system=True)
    steady.user(
        snap,
        name="System user rabbitmq (owns the files below before the package is installed)",
        user="rabbitmq",
        group="rabbitmq",
        home="/var/lib/rabbitmq",
        shell="/usr/sbin/nologin",
        system=True,
    )
    epmd_socket = steady.template(
        snap,
        name="epmd listens on loopback and the srv address only",
        src="templates/rabbitmq/epmd.socket.conf.j2",
        dest="/etc/systemd/system/epmd.socket.d/prereqos.conf",
        mode="644",
        **args,
    )
    unit = steady.template(
        snap,
        name="rabbitmq-server starts after the network is online",
        src="templates/rabbitmq/rabbitmq-server.service.conf.j2",
        dest=rabbitmq.UNIT_DROPIN,
        mode="644",
        **args,
    )
    env = steady.template(
        snap,
        name="Erlang distribution on the srv address (rabbitmq-env.conf)",
        src="templates/rabbitmq/rabbitmq-env.conf.j2",
        dest=rabbitmq.ENV_FILE,
        user="rabbitmq",
        group="rabbitmq",
        mode="644",
        **args,
    )
    config = steady.template(
        snap,
        name="RabbitMQ configuration (rabbitmq.conf)",
        src="templates/rabbitmq/rabbitmq.conf.j2",
        dest=rabbitmq.CONFIG_FILE,
        user="rabbitmq",
        group="rabbitmq",
        mode="644",
        **args,
    )
    dist_tls = steady.template(
        snap,
        name="TLS options of the Erlang distribution (inter_node_tls.config)",
        src="templates/rabbitmq/inter_node_tls.config.j2",
        dest=rabbitmq.DIST_TLS_CONFIG,
        user="rabbitmq",
        group="rabbitmq",
        mode="644",
        **args,
    )
    # AMQPS and the distribution's TLS: the cluster CA and this controller's certificate and key,
    # RabbitMQ's to read.
    certificates = (tls.service_copies(snap, "RabbitMQ TLS", "rabbitmq", rabbitmq.TLS_CA, rabbitmq.TLS_CERT,
                                       rabbitmq.TLS_KEY, topo)
                    if conf["amqps"] or conf["inter_node_tls"] else [])
    cookie = steady.put(
        snap,
        name="Erlang cookie shared by the cluster (0400)",
        src=BytesIO(key_bytes(RABBITMQ_COOKIE, secrets)),
        dest=RABBITMQ_COOKIE,
        user="rabbitmq",
        group="rabbitmq",
        mode="400",
    )

    steady.packages(
        snap,
        name="Install rabbitmq-server (no Recommends)",
        packages=rabbitmq.PACKAGES,
        no_recommends=True,
        **limit("apt"),
    )

    # Restarts only where RabbitMQ runs with other settings; then every stopped node starts, together.
    systemd.service(
        name="Restart epmd on its new addresses",
        service=rabbitmq.EPMD_SOCKET,
        running=True,
        restarted=True,
        daemon_reload=True,
        _if=lambda: was_installed and epmd_socket.did_change(),
    )
    systemd.service(
        name="Restart rabbitmq-server, one node at a time, after a change of its settings (this run's or one left unapplied)",
        service=rabbitmq.SERVICE,
        running=True,
        restarted=True,
        daemon_reload=True,
        # epmd's restart drops the node's registration: the node must register again.
        _if=lambda: was_running and not distribution_change and (
            settings_stale or any_changed(epmd_socket, unit, env, config, dist_tls, cookie)()),
        _serial=True,
    )
    # A renewed certificate or key: new TLS connections get it at once, no restart, none dropped.
    server.shell(
        name="RabbitMQ serves the new certificate to new AMQPS connections (PEM cache cleared, no restart)",
        commands=[rabbitmq.CLEAR_PEM_CACHE],
        _if=lambda: was_running and not distribution_change and any_changed(*certificates)(),
    )
    # RabbitMQ stopped (started below): systemd reads the drop-ins (a package installed earlier in this
    # run, deploys/prereqos.py, or by a run stopped before it started anything, had its units read
    # before them) and epmd listens where its drop-in says. An epmd that a CLI call started
    # (``epmd -daemon``: every address; it happens where rabbitmqctl exists and no epmd answered) or
    # that runs with the package's socket is stopped first; none holds a node's registration here.
    server.shell(
        name="epmd listens where its drop-in says before RabbitMQ starts (systemd reads the drop-ins)",
        commands=[rabbitmq.EPMD_AS_CONFIGURED],
        _if=lambda: not was_running,
    )
    steady.service(snap, name="rabbitmq-server enabled at boot", service=rabbitmq.SERVICE, running=None, enabled=True)
    # Where it does not run: started without waiting for its boot (~10 s), which goes on while
    # the run does (Galera's deploy in deploys/prereqos.py); the cluster part waits for it.
    server.shell(
        name="Start rabbitmq-server where it does not run, without waiting for its boot",
        commands=[f"systemctl start --no-block {UNIT}"],
        _if=lambda: starts,
    )

    # A node hung without its application while its cluster runs is restarted by this watchdog
    # (Debian 12's RabbitMQ 3.10 on Erlang 25 can hang in its boot after a partition heals).
    watchdog_files = [
        steady.template(
            snap,
            name=f"RabbitMQ watchdog {dest.rsplit('/', 1)[1]}",
            src=f"templates/rabbitmq/{template}",
            dest=dest,
            mode=mode,
            **args,
        )
        for template, dest, mode in (
            ("prereqos-rabbitmq-watchdog.j2", "/usr/local/sbin/prereqos-rabbitmq-watchdog", "755"),
            ("prereqos-rabbitmq-watchdog.service.j2", "/etc/systemd/system/prereqos-rabbitmq-watchdog.service", "644"),
            ("prereqos-rabbitmq-watchdog.timer.j2", "/etc/systemd/system/prereqos-rabbitmq-watchdog.timer", "644"),
        )
    ]
    systemd.daemon_reload(
        name="systemd reads the RabbitMQ watchdog's units",
        _if=any_changed(*watchdog_files[1:]),  # the units, not the script
    )
    steady.service(
        snap,
        name="RabbitMQ watchdog timer running and enabled at boot",
        service="prereqos-rabbitmq-watchdog.timer",
        running=True,
        enabled=True,
    )

if PART != "node":
    # The boot started in section 1 (a blocking start joins systemd's start job: it returns once
    # the node has booted, and fails if the boot does).
    systemd.service(
        name="rabbitmq-server booted (started above without waiting)",
        service=rabbitmq.SERVICE,
        running=True,
        _if=lambda: starts,
    )
    # A node whose VM runs without the app (a failed join, a stop_app left behind) comes back here;
    # the join below then takes it into the cluster if it is no longer a member.
    rabbitmq.app_running(name="RabbitMQ app running where only its Erlang VM runs (stop_app left behind)")

    # --- 2. firstnode: users, permissions, queue HA (replicated to the nodes that join) ------------
    if topo.is_first:
        everything = {"configure": ".*", "write": ".*", "read": ".*"}
        if has_mirroring:
            queue_ha = f"{conf['ha_policy_name']} mirrors queues on every node (RabbitMQ {version_text})"
        else:
            queue_ha = (f"no {conf['ha_policy_name']} policy, RabbitMQ {version_text} has no mirroring: "
                        f"clients declare quorum queues")
        ha_policy = {conf["ha_policy_name"]: {"pattern": conf["ha_policy_pattern"], "definition": HA_ALL}}
        rabbitmq.access(
            name=f"RabbitMQ users {conf['admin_user']} (administrator) and {conf['openstack_user']} (.* .* .* on "
                 f"{conf['vhost']}), no guest (public default password); queue HA: {queue_ha}",
            vhost=conf["vhost"],
            users={
                conf["admin_user"]: {"password": secrets["rabbitmq_admin_password"], "tags": ["administrator"],
                                     "permissions": everything},
                conf["openstack_user"]: {"password": secrets["rabbitmq_openstack_password"], "tags": [],
                                         "permissions": everything},
            },
            absent_users=["guest"],
            policies=ha_policy if has_mirroring else {},
            absent_policies=[] if has_mirroring else list(ha_policy),
        )

    # --- 3. the other nodes join firstnode, one at a time ---------------------------------------
    # Only nodes that were not members when the run started queue for the serial join (a formed
    # cluster costs no rabbitmqctl call here); the join comes after firstnode's set-up above.
    # Whether this node must join (not firstnode, not yet a member): {} when stopped or not installed.
    membership = {} if topo.is_first else host.get_fact(RabbitmqClusterStatus)
    if not topo.is_first and first_node not in membership.get("disc_nodes", []):
        rabbitmq.join_cluster(name=f"Join the RabbitMQ cluster of {first_node}", node=first_node, _serial=True,
                              **limit("cluster"))
