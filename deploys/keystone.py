"""Keystone, the identity service, on every controller: from PyPI into the build venv (pinned in
group_data ``keystone``), its database on Galera, fernet and credential keys from secrets.json
(identical everywhere), served by Apache mod_wsgi on each controller's srv address behind
HAProxy's ``keystone_public`` service, tokens cached in memcached. Not part of
``deploys/prereqos.py``'s default run: it refuses to start before the base stack is healthy.

    pyinfra inventory.py deploys/prereqos.py       # the base first
    pyinfra inventory.py deploys/keystone.py       # then Keystone
    . /root/.openrc && openstack token issue       # on any controller

Order: packages and files on every controller; then, on ``firstnode`` only, the database and its
account, ``keystone-manage db_sync`` and ``bootstrap`` (never on two nodes, never concurrently:
one deploy at a time holds the cluster lock); then Apache serves it on every controller, and
HAProxy's configuration follows at once (keystone_public's ``backend_tls``: the site in TLS or not).
"""

from io import StringIO

from pyinfra import host
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import files, mysql, server, systemd
from pyinfra.operations.util import any_changed

from facts.health import FACTS, HealthState
from lib.deploy import prologue
from lib.health import evaluate
from lib.steps import limit
from operations import apache, buildenv, galera, haproxy, keystone, secret_files, steady, tls
from operations.common import decide_once, peer_fact

topo = prologue()
conf = host.data.keystone
secrets = host.data.secrets
venv = host.data.buildenv["venv"]
manage = keystone.manage(venv)


def base_health() -> list[str]:
    """The health report's problems (``lib/health.py``), from every controller's facts (one
    command each: ``facts.health.HealthState``)."""
    states = {name: peer_fact(name, HealthState) for name in topo.names}
    facts = {key: {name: state[key] for name, state in states.items() if state and state[key] is not None}
             for key in FACTS}
    return evaluate(facts, topo.names).problems


problems = decide_once("keystone: base stack health", base_health)
if problems:
    raise DeployError("Keystone needs a healthy base stack, nothing was changed:\n  - " + "\n  - ".join(problems)
                      + "\nfix: run deploys/prereqos.py until `python -m lib.health <inventory>` says HEALTHY")

# --- Packages and files, every controller -------------------------------------------------------
buildenv.current_packages(name=f"{', '.join(conf['pip_packages'])} in the build venv (pinned)",
                          packages=conf["pip_packages"], virtualenv=venv, **limit("pip"))
files.link(name=f"`openstack` on the PATH ({keystone.CLIENT_LINK})", path=keystone.CLIENT_LINK,
           target=f"{venv.rstrip('/')}/bin/openstack")
server.user(name="keystone system user", user="keystone", home=keystone.HOME, shell="/usr/sbin/nologin",
            system=True, create_home=True)
files.directory(name="/etc/keystone", path="/etc/keystone", user="root", group="keystone", mode="750")
files.directory(name=f"Keystone's logs {keystone.LOG_DIR}", path=keystone.LOG_DIR, user="keystone",
                group="keystone", mode="750")
args = keystone.template_args(topo, host.data)
config = secret_files.template(name=f"Keystone's configuration {keystone.CONFIG} (database password)",
                               src=keystone.CONF_TEMPLATE, dest=keystone.CONFIG, user="root",
                               group="keystone", mode="640", **args)
key_changes = []
for kind, directory in keystone.KEY_REPOSITORIES.items():
    files.directory(name=f"Keystone's {kind} key repository", path=directory, user="keystone",
                    group="keystone", mode="700")
for path, secret in keystone.key_files(secrets).items():
    key_changes.append(secret_files.put(name=f"Key {path} (from secrets.json)", src=StringIO(secret.unmask()),
                                        dest=path, user="keystone", group="keystone", mode="600"))

# --- Database, schema, admin: firstnode only ---------------------------------------------------------
if topo.is_first:
    mysql.database(name=f"Keystone's database {conf['db_name']}", database=conf["db_name"],
                   charset="utf8mb4", collate="utf8mb4_general_ci")
    account_host = keystone.account_host(host.data)
    galera.account(name=f"Keystone's SQL account {conf['db_user']}@{account_host} (srv network)",
                   user=conf["db_user"], user_hostname=account_host, password=secrets["keystone_db_password"])
    galera.database_access(name=f"{conf['db_user']}: all privileges on {conf['db_name']}", user=conf["db_user"],
                           user_hostname=account_host, database=conf["db_name"])
    keystone.db_sync(name="Keystone's schema at head (keystone-manage db_sync, this node only)", manage=manage)
    keystone.bootstrap(name="Admin user, project, role and the identity endpoints (keystone-manage bootstrap)",
                       manage=manage, database=conf["db_name"], openrc=host.data.openrc,
                       urls=keystone.endpoints(topo, host.data), password=secrets["openstack_admin_password"])

# --- Apache mod_wsgi on the srv address, every controller ---------------------------------------------
files.directory(name=keystone.WSGI_DIR, path=keystone.WSGI_DIR, mode="755")
wsgi = files.put(name=f"Keystone's WSGI entry point {keystone.WSGI_SCRIPT}", src=keystone.WSGI_SOURCE,
                 dest=keystone.WSGI_SCRIPT, mode="644")
# The TLS copies and HAProxy's candidate below: one reading when nothing changes (operations/steady.py).
snap = steady.Snapshot()
tls_files = []
if keystone.site_tls(host.data):
    # Before the site that names them; a renewed certificate reloads Apache like any change here.
    tls_files = [*tls.service_copies(snap, "Keystone's site in TLS", "root", keystone.TLS_CA,
                                     keystone.TLS_CERT, keystone.TLS_KEY, topo),
                 apache.modules(name="Enable Apache module ssl (Keystone's site in TLS)", modules=["ssl"])]
site = files.template(name=f"Apache site {keystone.SITE}", src=keystone.SITE_TEMPLATE, dest=keystone.SITE,
                      mode="644", **args)
enabled = files.link(name="Apache site keystone enabled", path=keystone.SITE_ENABLED, target=keystone.SITE)
systemd.service(name="Reload Apache (graceful) after a change of Keystone's files", service="apache2",
                running=True, reloaded=True, _if=any_changed(config, wsgi, site, enabled, *key_changes, *tls_files))
# HAProxy's view of Keystone's backends follows at once (keystone_public's backend_tls): the seconds
# between the two reloads are all a switch of backend_tls costs. Otherwise nothing changes here.
proxied = haproxy.configure(snap, topo, host.data)
systemd.service(name="Reload HAProxy if it is running (its configuration changed)", service=haproxy.SERVICE,
                running=None, reloaded=True, _if=proxied.did_change)
