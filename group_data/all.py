"""Variables of a prereqos deployment (the seed's pillars), for every controller.

Every value a template or operation uses comes from here (or from per-host inventory data,
which overrides it: the lab does that for the addresses). ``lib/validate.py`` checks all of
it against the inventory before any host is touched.

Addresses follow the seed: ``<netprefix[net].prefix>.<netsuffix[host]>``; the virtual IPs
use ``netsuffix["os"]``.
"""

from lib.secrets import SecretStore as _SecretStore

# --- Networks -------------------------------------------------------------------------
# api: public API VIP and HAProxy stats; srv: cluster traffic, HAProxy backends, srv VIP,
# corosync link 0; data: corosync link 1.
netprefix = {
    "api": {"prefix": "10.0.1", "network": "10.0.1.0", "class": 24},
    "srv": {"prefix": "10.0.2", "network": "10.0.2.0", "class": 24},
    "data": {"prefix": "10.0.3", "network": "10.0.3.0", "class": 24},
}
# One suffix per controller, plus "os" for the two virtual IPs (api and srv).
netsuffix = {"os": 10, "ctrl-1": 11, "ctrl-2": 12, "ctrl-3": 13}
# The node that bootstraps new clusters and applies cluster-wide settings.
firstnode = "ctrl-1"
# Set True only to run an even number of controllers on purpose (split-brain risk).
allow_even_controllers = False

# --- Secrets (secrets.json, 0600, git-ignored; always masked) ----------------------------
# Read on first use, never written by an import: a deploy that executes saves the missing ones.
secrets = _SecretStore()

# --- TLS (lib/tls.py; docs/operations.md "TLS") -------------------------------------------
# A cluster CA issues every certificate on the machine running pyinfra, into secrets-tls/ beside
# secrets.json (0600, git-ignored); each controller gets its own (its name and its api, srv and
# data addresses) and the VIPs one (both VIP addresses and vip_names).
tls = {
    # An operator's CA instead of the generated one (ca_cert and ca_key: both or neither), PEM
    # paths on the machine running pyinfra. The CA's certificate:
    "ca_cert": None,
    "ca_key": None,  # the CA's key (unencrypted PEM, readable by its owner only)
    # An operator's certificate for the VIPs, e.g. from a public CA (vip_cert and vip_key: both or
    # neither); it must name both VIP addresses. None: issued by the cluster CA. Its PEM path:
    "vip_cert": None,
    "vip_key": None,  # its key (unencrypted PEM, readable by its owner only)
    "vip_names": [],  # DNS names of the VIPs (SANs of their certificate), e.g. ["openstack.example.org"]
    "ca_name": "prereqos cluster CA",  # common name of a generated CA
    "valid_days": 365,  # lifetime of an issued certificate
    "renew_days": 30,  # an issued certificate with fewer days left is issued again by the next deploy
}

# --- Packages -------------------------------------------------------------------------
# A site behind a proxy (the lab sets its caching proxy through inventory data); None: nothing
# written, and a file an earlier run wrote is removed. No user or password in these URLs.
# apt's proxy for http and https sources: /etc/apt/apt.conf.d/90prereqos-proxy.
apt_proxy = None
# The proxy of the build venv's pip (<venv>/pip.conf; that pip only).
pip_proxy = None
# The package index of the build venv's pip (None: PyPI).
pip_index_url = None
# The CA bundle the build venv's pip trusts, a path on the hosts (None: pip's own), e.g.
# "/etc/ssl/certs/ca-certificates.crt" where a proxy re-signs HTTPS with a CA the hosts trust.
pip_cert = None

# --- Host prechecks (lib/precheck.py), before any change -------------------------------
prechecks = {
    "max_clock_skew": 1.0,  # seconds the controllers' clocks may differ (measured, +/- the read's time)
}

# --- Time limits (seconds) of the remote steps that can hang (lib/steps.py) -----------------
# A step over its limit fails on that host only, with one line (host, step, time, limit); the
# next run resumes that host. apt: each apt-get install; apt_update: each apt-get update, which
# the host itself kills at the limit (a stalled proxy), then retried twice 10 s apart; pip: each
# pip command (uwsgi compiles); cluster: each wait for a cluster (Galera Synced, pacemaker quorum,
# RabbitMQ join).
timeouts = {"apt": 900, "apt_update": 300, "pip": 1800, "cluster": 900}

# --- RabbitMQ ---------------------------------------------------------------------------
rabbitmq = {
    "admin_user": "admin",  # replaces guest, which is deleted
    "openstack_user": "openstack",  # the services' user, full rights on vhost
    "vhost": "/",  # the vhost the OpenStack services use
    # pause_minority on RabbitMQ < 4.3; omitted where the version ignores it.
    "partition_handling": "pause_minority",
    # Erlang distribution's failure detection (net_ticktime, s): a silent peer is declared down
    # after 0.75-1.25 times this. It bounds a classic queue's failover and the time the cut-off
    # node serves before pausing (quorum queues do not wait for it). Erlang's 60 kept: with 15,
    # the healed first node's RabbitMQ hung in its boot (Erlang global) in a CI rehearsal of R3
    # (docs/operations.md, section 16).
    "net_ticktime": 60,
    # ms between the checks of Ra's failure detector (aten): a quorum queue's followers elect a new
    # leader one to two checks after its node went silent, whatever net_ticktime. RabbitMQ's 5000
    # measured 9 s without publisher confirms; a false suspicion costs an election, not a partition.
    "aten_poll_interval": 2000,
    # s a node's Erlang VM may run without the rabbit application while a majority of the cluster
    # runs, before prereqos-rabbitmq-watchdog restarts it (RabbitMQ 3.10 on Erlang 25, Debian 12,
    # can hang in its boot after a partition heals; docs/operations.md section 16).
    "watchdog_stuck_seconds": 120,
    # AMQP over TLS (AMQPS, port 5671) on the srv address with this controller's certificate from
    # the cluster CA (deploys/tls.py); clients verify it with the CA, /etc/prereqos/tls/ca.crt.
    "amqps": True,
    # Plain AMQP (5672) beside it, for clients not configured for TLS yet; False: clear text
    # refused, every client uses amqps:// on 5671.
    "plain_amqp": True,
    # The Erlang distribution (between controllers, and the CLI tools: port 25672) in TLS, each
    # side with its controller's certificate, peers verified against the cluster CA. Off by
    # default: every rabbitmqctl call then costs about 0.5 s more (a no-change run of
    # deploys/rabbitmq.py 10.6 s instead of 7.7 s, Debian 12 lab). Changed over a running
    # cluster: every node stops, then all start together (plain and TLS nodes do not talk).
    "inter_node_tls": False,
    # ha-all (classic mirroring) on RabbitMQ 3.x as in the seed; RabbitMQ >= 4 has no
    # mirroring: clients must declare quorum queues (rabbit_quorum_queue = true).
    "ha_policy_name": "ha-all",
    "ha_policy_pattern": r"^(?!amq\.).*",  # queues the ha policy mirrors: all but amq.*
    # Sizes: "auto" derives each from the host (lib/sizing.py), or set a value.
    "memory_high_watermark": "auto",  # bytes; auto: 20 % of RAM, at least 256 MiB
    "schedulers": "auto",  # Erlang schedulers (+S); auto: half the vCPUs, 2-8
    "open_files_limit": "auto",  # LimitNOFILE; auto: 65536, capped at the host's hard limit
}

# --- MariaDB / Galera -------------------------------------------------------------------
galera = {
    "cluster_name": "os_cluster",  # wsrep_cluster_name
    "sst_method": "mariabackup",  # full state transfer to a joining node; rsync blocks the donor
    "sst_user": "sst",  # SQL account of mariabackup SST (password: secrets)
    "monitor_user": "clustercheck",  # system user and SQL account (USAGE only) of the health check
    "check_port": 9200,  # HTTP health check of each node (200 when Synced), HAProxy's galera check
    # Sizes: "auto" derives each from the host (lib/sizing.py), or set a value (1000, "4G", 100000).
    "max_connections": "auto",  # auto: 100 per vCPU, 200-1600
    "innodb_buffer_pool_size": "auto",  # auto: 40 % of RAM in 128M chunks, 128M-8G
    "open_files_limit": "auto",  # LimitNOFILE and open_files_limit; auto: 65536, capped at the hard limit
    "gcache_size": "256M",  # write-set cache: a node that missed less rejoins by IST, not SST
    # TLS for SQL clients over TCP (ssl_cert/ssl_key/ssl_ca): this controller's certificate from
    # the cluster CA, which names the srv VIP too, so a client verifies it through HAProxy's galera
    # frontend (TCP, TLS end to end). Local clients (the socket) are not concerned. Also Galera's
    # replication and IST (socket.ssl_*) and mariabackup SST (socat, ssl-mode VERIFY_CA): peers
    # must show a certificate of the cluster CA. Changed over a running cluster: two rolling restarts.
    "tls": True,
    # True: a TCP client without TLS is refused (require_secure_transport); every OpenStack
    # service must then connect with TLS (oslo.db: ?ssl_ca=/etc/prereqos/tls/ca.crt).
    "require_secure_transport": False,
    # Optional upstream MariaDB apt repository (the seed used one); None = Debian's packages.
    "upstream_repo": None,
}

# --- Backups (deploys/backup.py, deploys/restore.py; docs/operations.md "Backups and restore") --
backup = {
    # Controllers that take the backups: "first" (firstnode), "all", or a list of controller names.
    "nodes": "first",
    "dir": "/var/backups/prereqos",  # on each backup node, 0700 root; one subdirectory per chain
    "sql_user": "mariabackup",  # SQL account of mariabackup (password: secrets galera_backup_password)
    # systemd OnCalendar expressions: a full backup, and incrementals on top of the newest one
    # (None: no incrementals). Both runs also export RabbitMQ's definitions.
    "full_schedule": "*-*-* 01:00:00",  # daily at 01:00
    "incremental_schedule": "*-*-* *:30:00",  # every hour at :30
    "keep_fulls": 7,  # chains (a full and its incrementals) kept, the newest first
    "max_age_days": 14,  # a chain whose full is older is deleted (the newest chain is always kept)
    # Health report: unhealthy when the newest good full backup, or the newest good backup of
    # either kind, is older than this many hours (or, before the first one, the timers are).
    "max_full_age_hours": 26,  # the newest good full backup
    "max_age_hours": 2,  # the newest good backup, full or incremental
}

# --- memcached (the OpenStack services' cache: Keystone's tokens) ---------------------------
memcached = {
    "port": 11211,  # on each controller's own srv address only
    # Sizes: "auto" derives each from the host (lib/sizing.py), or set a value.
    "memory_mb": "auto",  # cache size, MiB (-m); auto: 1/16 of RAM, 64-2048
    "max_connections": "auto",  # -c; auto: 1024 per vCPU, 1024-8192, at most the open files allowed
}

# --- Corosync / Pacemaker ----------------------------------------------------------------
corosync = {
    "cluster_name": "prereqos",  # totem cluster_name (changing it restarts corosync)
    "port": 5405,  # knet UDP port of both links
    "token": 1000,  # ms, corosync's default: a dead node is out in 1.65+1.98 s (token+consensus, 3 nodes); 3000: 8 s
    "crypto_cipher": "aes256",  # knet encryption (the key: secrets corosync_authkey)
    "crypto_hash": "sha256",  # knet authentication
    "wait_for_all": 1,  # votequorum: quorum only once every node was seen together
    "last_man_standing": 1,  # votequorum: after nodes are lost, lower expected votes (quorum kept)
    "last_man_standing_window": 10000,  # ms to wait before lowering expected votes
}
# Fencing (STONITH, docs/operations.md "Fencing"): each controller's power devices, tried in
# order (fencing levels). Devices defined: stonith-enabled=true, every controller needs one.
# {} (the seed's way): stonith-enabled=false and a warning. A device: {"agent": "fence_ipmilan"
# or "fence_redfish", "address": BMC address, "port": 623/443 if left out, "user": BMC user,
# "options": {other agent parameters}}; its password: `.venv/bin/python -m lib.secrets set
# fence_<controller>_<level>` (stdin), e.g. fence_ctrl-1_1.
fencing = {
    "devices": {},  # controller -> list of devices, e.g. {"ctrl-1": [{"agent": "fence_ipmilan", ...}], ...}
    "monitor_interval": "60s",  # how often each device's BMC is asked for the power status
}
pacemaker = {
    "no_quorum_policy": "stop",  # a node without quorum stops its VIPs and HAProxy
    "properties": {  # other cluster properties, set as given
        "pe-warn-series-max": 1000,
        "pe-input-series-max": 1000,
        "pe-error-series-max": 1000,
        "cluster-recheck-interval": "5min",
    },
    "vip_monitor_interval": "10s",  # monitor interval of the VIP resources
    # The VIPs stay where they run when a node comes back (a fenced or rebooted one): 0 lets
    # pacemaker move them back to it, a second interruption for every client.
    "vip_stickiness": 100,
    "haproxy_monitor_interval": "5s",  # monitor interval of the HAProxy clone
}

# --- HAProxy ------------------------------------------------------------------------------
haproxy = {
    "stats_port": 9000,  # stats page, on each node's api address
    "stats_user": "admin",  # stats page user (password: secrets haproxy_stats_password)
    "maxconn": 4000,  # HAProxy maxconn (global and defaults)
}
# The service catalog: the seed's full list, one `listen <name>_cluster` each, servers = every
# controller's srv address. binds: networks whose VIP the frontend binds. check: "tcp"
# (connect), "http" (GET check_uri, default "/", expects 200) or "galera" (HTTP check on
# galera["check_port"]; firstnode is the only writer, the others are backups).
# tls: HAProxy terminates TLS on the frontend (every bind, certificate of the VIPs; TLS 1.2+);
# default True for a service bound on the api network, False otherwise; never for galera. A TLS
# service with an "http" check is proxied as HTTP (HSTS, X-Forwarded-Proto).
# backend_tls: HAProxy speaks TLS to the backends (default False: plain on the srv network), each
# verified against the cluster CA and its controller's name; the backends must serve TLS on that
# port with their controller's certificate (/etc/prereqos/tls/node.crt): Keystone does
# (deploys/keystone.py) when keystone_public has it. Never for galera (MariaDB's own TLS).
# retired: the OpenStack service no longer exists upstream (see README); it is still rendered
# until you set "enabled": False.
haproxy_services = {
    "dashboard": {"port": 443, "binds": ["api", "srv"], "check": "tcp"},
    "galera": {"port": 3306, "binds": ["srv"], "check": "galera"},
    "glance_api": {"port": 9292, "binds": ["srv"], "check": "http", "check_uri": "/healthcheck"},
    "glance_registry": {"port": 9191, "binds": ["srv"], "check": "tcp", "retired": "Queens"},
    "keystone_admin": {"port": 35357, "binds": ["srv"], "check": "http", "check_uri": "/v3",
                       "retired": "Queens"},
    "keystone_public": {"port": 5000, "binds": ["api", "srv"], "check": "http", "check_uri": "/healthcheck"},
    "nova_ec2_api": {"port": 8773, "binds": ["srv"], "check": "tcp", "retired": "Kilo"},
    "nova_compute_api": {"port": 8774, "binds": ["srv"], "check": "http", "check_uri": "/"},
    "nova_metadata_api": {"port": 8775, "binds": ["srv"], "check": "tcp"},
    "cinder_api": {"port": 8776, "binds": ["srv"], "check": "http", "check_uri": "/healthcheck"},
    "ceilometer_api": {"port": 8777, "binds": ["srv"], "check": "tcp", "retired": "Queens"},
    "nova_vncproxy": {"port": 6080, "binds": ["api", "srv"], "check": "tcp"},
    "neutron_api": {"port": 9696, "binds": ["srv"], "check": "http", "check_uri": "/healthcheck"},
    "swift_proxy": {"port": 8080, "binds": ["srv"], "check": "tcp"},
}

# --- Apache, build environment, openrc ----------------------------------------------------
apache = {"port": 80}  # on each controller's own srv address only: HAProxy owns the VIPs' ports
buildenv = {
    "user": "osbuild",  # build user; its tmp dir is /home/<user>/tmp
    "venv": "/opt/openstack/venv",  # virtualenv of the pip packages
    # Into the venv from PyPI. "name==x.y" pins it: once installed, a re-run asks PyPI nothing
    # (and succeeds without it); a bare name is kept at PyPI's newest (asked on every run).
    # pyuwsgi is uWSGI's server as a manylinux wheel (nothing compiled on the hosts); it lacks
    # uWSGI's own TLS (--https, --ssl-socket, SNI, legions), TLS ends in HAProxy. Write
    # "uwsgi==2.0.30" instead to build uWSGI from source on every host (about 80 s each).
    "pip_packages": ["pip==26.3", "pyuwsgi==2.0.30"],
}
openrc = {
    "username": "admin",  # OS_USERNAME (password: secrets openstack_admin_password)
    "project": "admin",  # OS_PROJECT_NAME
    "user_domain": "Default",  # OS_USER_DOMAIN_NAME
    "project_domain": "Default",  # OS_PROJECT_DOMAIN_NAME
    "region": "RegionOne",  # OS_REGION_NAME
}

# --- Keystone (deploys/keystone.py: its own deploy, after the base stack) --------------------------
keystone = {
    # Into the build venv (buildenv["venv"]) from PyPI, pinned: once installed, a re-run asks PyPI
    # nothing. keystone 30.0.0 (requires Python >= 3.11: Debian 12 and 13) and the admin's client;
    # PyMySQL (the database driver) and python-memcached (oslo.cache's memcache_pool backend).
    "pip_packages": ["keystone==30.0.0", "python-openstackclient==10.5.0", "PyMySQL==1.2.4",
                     "python-memcached==1.62"],
    "db_name": "keystone",  # its database on Galera (through the srv VIP)
    "db_user": "keystone",  # its SQL account, from the srv network only (password: secrets)
    "wsgi_processes": 2,  # mod_wsgi daemon processes on each controller (one thread each)
}
