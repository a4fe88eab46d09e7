"""Variables of a prereqos deployment (the seed's pillars), for every controller.

Every value a template or operation uses comes from here (or from per-host inventory data,
which overrides it: the lab does that for the addresses). ``lib/validate.py`` checks all of
it against the inventory before any host is touched.

Addresses follow the seed: ``<netprefix[net].prefix>.<netsuffix[host]>``; the virtual IPs
use ``netsuffix["os"]``.
"""

from lib.secrets import load as _load_secrets

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

# --- Secrets (generated once into secrets.json, 0600, git-ignored; always masked) --------
secrets = _load_secrets()

# --- Packages -------------------------------------------------------------------------
# Extra apt settings; the lab sets its caching proxy here through inventory data.
apt_proxy = None

# --- Host prechecks (lib/precheck.py), before any change -------------------------------
prechecks = {
    "max_clock_skew": 1.0,  # seconds the controllers' clocks may differ (measured, +/- the read's time)
}

# --- Time limits (seconds) of the remote steps that can hang (lib/steps.py) -----------------
# A step over its limit fails on that host only, with one line (host, step, time, limit); the
# next run resumes that host. apt: each apt-get (update, install); pip: each pip command (uwsgi
# compiles); cluster: each wait for a cluster (Galera Synced, pacemaker quorum, RabbitMQ join).
timeouts = {"apt": 900, "pip": 1800, "cluster": 900}

# --- RabbitMQ ---------------------------------------------------------------------------
rabbitmq = {
    "admin_user": "admin",  # replaces guest, which is deleted
    "openstack_user": "openstack",
    "vhost": "/",
    # pause_minority on RabbitMQ < 4.3; omitted where the version ignores it.
    "partition_handling": "pause_minority",
    # ha-all (classic mirroring) on RabbitMQ 3.x as in the seed; RabbitMQ >= 4 has no
    # mirroring: clients must declare quorum queues (rabbit_quorum_queue = true).
    "ha_policy_name": "ha-all",
    "ha_policy_pattern": r"^(?!amq\.).*",
    # Sizes: "auto" derives each from the host (lib/sizing.py): memory high watermark 20 % of
    # RAM (bytes, at least 256 MiB), Erlang schedulers half the vCPUs (2-8), open files 65536
    # (capped at the host's hard limit); or set a value.
    "memory_high_watermark": "auto",
    "schedulers": "auto",
    "open_files_limit": "auto",
}

# --- MariaDB / Galera -------------------------------------------------------------------
galera = {
    "cluster_name": "os_cluster",
    "sst_method": "mariabackup",
    "sst_user": "sst",
    "monitor_user": "clustercheck",
    "check_port": 9200,
    # Sizes: "auto" derives each from the host (lib/sizing.py): max_connections 100 per vCPU
    # (200-1600), buffer pool 40 % of RAM (128M-8G), open files 65536 (capped at the host's
    # hard limit); or set a value (e.g. 1000, "4G", 100000).
    "max_connections": "auto",
    "innodb_buffer_pool_size": "auto",
    "open_files_limit": "auto",
    "gcache_size": "256M",
    # Optional upstream MariaDB apt repository (the seed used one); None = Debian's packages.
    "upstream_repo": None,
}

# --- Corosync / Pacemaker ----------------------------------------------------------------
corosync = {
    "cluster_name": "prereqos",
    "port": 5405,
    "token": 1000,  # ms, corosync's default: a dead node is out in 1.65+1.98 s (token+consensus, 3 nodes); 3000: 8 s
    "crypto_cipher": "aes256",
    "crypto_hash": "sha256",
    "wait_for_all": 1,
    "last_man_standing": 1,
    "last_man_standing_window": 10000,
}
pacemaker = {
    "stonith_enabled": False,  # as in the seed; a warning is printed (no fencing)
    "no_quorum_policy": "stop",
    "properties": {
        "pe-warn-series-max": 1000,
        "pe-input-series-max": 1000,
        "pe-error-series-max": 1000,
        "cluster-recheck-interval": "5min",
    },
    "vip_monitor_interval": "10s",
    "haproxy_monitor_interval": "5s",
}

# --- HAProxy ------------------------------------------------------------------------------
haproxy = {
    "stats_port": 9000,
    "stats_user": "admin",
    "maxconn": 4000,
}
# The service catalog: the seed's full list, one `listen <name>_cluster` each, servers = every
# controller's srv address. binds: networks whose VIP the frontend binds. check: "tcp"
# (connect), "http" (GET check_uri, default "/", expects 200) or "galera" (HTTP check on
# galera["check_port"]; firstnode is the only writer, the others are backups).
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
    "venv": "/opt/openstack/venv",
    # Into the venv from PyPI: a bare name is kept at the newest version, "name==x.y" pins it.
    "pip_packages": ["pip", "uwsgi"],
}
openrc = {
    "username": "admin",
    "project": "admin",
    "user_domain": "Default",
    "project_domain": "Default",
    "region": "RegionOne",
}
