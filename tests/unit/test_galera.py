"""Galera: facts on real MariaDB 10.11 output, each operation for each fact state, the cluster
decision, the wait loop and the health check script run for real against a stand-in ``mysql``,
and the templates rendered from group_data."""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest
from pyinfra.api import FactProcessError, HiddenValue
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import File

from facts.galera import (
    GraState,
    MariadbAccounts,
    MariadbDatabases,
    MariadbDatabasesGranted,
    MariadbPasswordIs,
    WsrepClusterSize,
    WsrepStatus,
    has_cluster_state,
    native_password_hash,
    password_is,
)
from facts.systemd import ServiceConfigState
from operations import galera
from tests.unit.conftest import NAMES, ROOT
from lib.secrets import SecretStdin, unmasked
from lib.sizing import Resources
from lib.topology import Topology
from tests.unit.fakes import FakeHost, commands, renderer, run, stdin_of

FIXTURES = ROOT / "tests/fixtures/galera"
UUID = "3256fc86-e90a-11f1-98b8-7b772925588d"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def status(name: str) -> dict:
    return WsrepStatus().process(lines(name))


SYNCED = status("wsrep_status_synced.txt")
STANDALONE = status("wsrep_status_standalone.txt")
NON_PRIMARY = status("wsrep_status_nonprimary.txt")
RUNNING = GraState().process(lines("grastate_running.txt"))
LAST_STOPPED = GraState().process(lines("grastate_last_stopped.txt"))


# --- facts ------------------------------------------------------------------------------------
def test_wsrep_status_synced_member():
    assert SYNCED == {
        "cluster_size": 3, "cluster_status": "Primary", "local_state": 4, "local_state_comment": "Synced",
        "ready": True, "connected": True, "cluster_state_uuid": UUID, "node_name": "ctrl-1",
        "replication_tls": True,  # socket.ssl = YES among its wsrep_provider_options
    }


def test_wsrep_status_isolated_member_is_non_primary():
    assert NON_PRIMARY["cluster_status"] == "non-Primary"
    assert (NON_PRIMARY["cluster_size"], NON_PRIMARY["local_state"]) == (1, 0)
    assert NON_PRIMARY["local_state_comment"] == "Initialized"
    assert NON_PRIMARY["connected"] and not NON_PRIMARY["ready"]


def test_wsrep_status_standalone_server_without_galera():
    assert STANDALONE == {
        "cluster_size": 0, "cluster_status": "Disconnected", "local_state": 0, "local_state_comment": "",
        "ready": False, "connected": False, "cluster_state_uuid": "", "node_name": "ctrl-3",
        "replication_tls": False,
    }


def test_wsrep_status_rejects_other_output():
    with pytest.raises(FactProcessError):
        WsrepStatus().process(["ERROR 1045 (28000): Access denied"])
    with pytest.raises(FactProcessError):
        WsrepStatus().process(["wsrep_ready\tON"])  # no cluster status


def test_stopped_server_is_an_answer_not_a_failure():
    # pyinfra fails the host on a non-zero exit: a down server must give empty output instead.
    for fact in (WsrepStatus(), WsrepClusterSize(), MariadbAccounts(), MariadbDatabases()):
        command = fact.command().get_raw_value()
        # Only "no server" (ERROR 2002/2013) is empty output; see test_mariadb_errors.py.
        assert command.startswith("{ err=$( mysql -NBr -e ")
        assert '*"ERROR 2002 "* | *"ERROR 2013 "*) ;;' in command
        assert fact.requires_command() == "mysql"
    assert WsrepStatus().default() == {} and WsrepClusterSize().default() == 0
    assert GraState().command().get_raw_value() == (
        "[ ! -e /var/lib/mysql/grastate.dat ] || cat /var/lib/mysql/grastate.dat")


def test_wsrep_cluster_size_the_seed_check():
    assert WsrepClusterSize().process(lines("wsrep_cluster_size_synced.txt")) == 3
    assert WsrepClusterSize().process(lines("wsrep_cluster_size_standalone.txt")) == 0
    with pytest.raises(FactProcessError):
        WsrepClusterSize().process(["wsrep_cluster_status\tPrimary"])


def test_grastate_running_stopped_and_last_stopped():
    assert RUNNING == {"uuid": UUID, "seqno": -1, "safe_to_bootstrap": False}
    assert GraState().process(lines("grastate_stopped_member.txt")) == {
        "uuid": UUID, "seqno": 37, "safe_to_bootstrap": False}
    assert LAST_STOPPED == {"uuid": UUID, "seqno": 39, "safe_to_bootstrap": True}


def test_grastate_rejects_garbage():
    with pytest.raises(FactProcessError):
        GraState().process(["# GALERA saved state", "version: 2.1"])
    with pytest.raises(FactProcessError):
        GraState().process([f"uuid: {UUID}", "seqno: many"])


def test_cluster_state_means_a_real_uuid():
    assert has_cluster_state(RUNNING)
    assert not has_cluster_state({})
    assert not has_cluster_state({"uuid": "00000000-0000-0000-0000-000000000000", "seqno": -1})


def test_accounts_without_any_hash():
    accounts = MariadbAccounts().process(lines("global_priv_synced.txt"))
    assert accounts == {
        "mariadb.sys@localhost": {"plugins": ["mysql_native_password"], "password": False, "locked": True},
        "root@localhost": {"plugins": ["mysql_native_password", "unix_socket"], "password": True, "locked": False},
        "mysql@localhost": {"plugins": ["mysql_native_password", "unix_socket"], "password": False, "locked": False},
        "sst@localhost": {"plugins": ["mysql_native_password"], "password": True, "locked": False},
        "clustercheck@localhost": {"plugins": ["mysql_native_password"], "password": True, "locked": False},
    }
    # The server blanks the hashes: they never reach pyinfra's output.
    assert sql(MariadbAccounts().command().get_raw_value()) == (
        "SELECT User, Host, REGEXP_REPLACE(Priv, '[*][0-9A-F]{40}', '*') FROM mysql.global_priv")


def test_accounts_rejects_garbage():
    with pytest.raises(FactProcessError):
        MariadbAccounts().process(["root\tlocalhost\t{not json"])
    with pytest.raises(FactProcessError):
        MariadbAccounts().process(["root\tlocalhost"])


def test_password_is_compared_by_hash_on_stdin(sent_sql):
    assert MariadbPasswordIs().process(lines("password_is_match.txt")) is True
    assert MariadbPasswordIs().process(lines("password_is_mismatch.txt")) is False
    with pytest.raises(FactProcessError):
        MariadbPasswordIs().process(["2"])
    digest = native_password_hash("s3cret")
    command = MariadbPasswordIs().command("sst", "localhost").get_raw_value()
    assert digest not in command and digest[1:] not in command
    asked = FakeHost({MariadbPasswordIs: lambda user, hostname, _stdin: unmasked(_stdin) == digest})
    assert password_is(asked, "sst", "localhost", HiddenValue("s3cret")) is True
    assert asked.asked == [(MariadbPasswordIs, {"user": "sst", "hostname": "localhost", "_stdin": SecretStdin(digest)})]
    assert str(asked.asked[0][1]["_stdin"]) == "*MASKED*"  # as pyinfra prints it at -v
    assert sent_sql(command, digest + "\n") == (
        "SELECT COUNT(*) FROM mysql.global_priv WHERE User = 'sst' AND Host = 'localhost' AND "
        f"INSTR(Priv, '\"authentication_string\":\"{digest}\"') > 0")
    # Only a hash's characters reach the SQL: nothing on stdin can end the quoted string.
    assert "'; DROP" not in sent_sql(command, "*AB'; DROP USER x; --")


def test_databases_and_config_state():
    assert MariadbDatabases().process(lines("databases_synced.txt")) == [
        "information_schema", "mysql", "performance_schema", "sys"]
    assert [ServiceConfigState().process([s]) for s in ("stale", "current", "stopped")] == [
        "stale", "current", "stopped"]
    with pytest.raises(FactProcessError):
        ServiceConfigState().process(["Failed to connect to bus"])


def test_native_password_hash_is_mariadbs():
    # SELECT PASSWORD('password') on MariaDB
    assert native_password_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"


# --- the cluster decision ---------------------------------------------------------------------
def node(grastate: dict, wsrep: dict) -> dict:
    return {"grastate": grastate, "status": wsrep}


def test_plan_new_cluster_only_when_nobody_has_state_or_runs():
    assert galera.plan_cluster({n: node({}, {}) for n in NAMES}) == "new"
    # The package's standalone server is no cluster.
    assert galera.plan_cluster({n: node({}, STANDALONE) for n in NAMES}) == "new"


def test_plan_existing_when_any_node_is_primary():
    nodes = {"ctrl-1": node(LAST_STOPPED, {}), "ctrl-2": node(RUNNING, SYNCED), "ctrl-3": None}
    assert galera.plan_cluster(nodes) == "existing"
    # A brand new controller (no state) next to a running cluster joins it.
    assert galera.plan_cluster({"ctrl-1": node(RUNNING, SYNCED), "ctrl-2": node({}, {})}) == "existing"


def test_plan_fully_stopped_existing_cluster_points_to_recovery():
    nodes = {"ctrl-1": node(LAST_STOPPED, {}), "ctrl-2": node({}, {}), "ctrl-3": node({}, {})}
    expected = r"fully stopped.*ctrl-1 \(seqno 39, safe_to_bootstrap 1\).*deploys/recover.py"
    with pytest.raises(DeployError, match=expected):
        galera.plan_cluster(nodes)


def test_plan_resumes_a_first_bootstrap_interrupted_before_any_join():
    """Only the first node has cluster state, nothing runs (others never joined, maybe still
    the package's standalone server): the deploy bootstraps the first node again."""
    nodes = {"ctrl-1": node(LAST_STOPPED, {}), "ctrl-2": node({}, {}), "ctrl-3": node({}, STANDALONE)}
    assert galera.plan_cluster(nodes, first="ctrl-1") == "resume"


def test_plan_never_resumes_when_another_node_has_state_or_runs():
    """State beyond the first node (a node joined) or on another node only: a real cluster
    history, whose most advanced node only the recovery may choose."""
    for nodes in (
        {"ctrl-1": node(LAST_STOPPED, {}), "ctrl-2": node(LAST_STOPPED, {}), "ctrl-3": node({}, {})},
        {"ctrl-1": node({}, {}), "ctrl-2": node(LAST_STOPPED, {}), "ctrl-3": node({}, {})},
        {"ctrl-1": node(LAST_STOPPED, {}), "ctrl-2": node(RUNNING, NON_PRIMARY), "ctrl-3": node({}, {})},
    ):
        with pytest.raises(DeployError, match="deploys/recover.py"):
            galera.plan_cluster(nodes, first="ctrl-1")
    with pytest.raises(DeployError, match="ctrl-3 could not be reached"):
        galera.plan_cluster({"ctrl-1": node(LAST_STOPPED, {}), "ctrl-2": node({}, {}), "ctrl-3": None},
                            first="ctrl-1")


def test_plan_no_primary_component_points_to_recovery():
    nodes = {n: node(RUNNING, NON_PRIMARY) for n in NAMES}
    with pytest.raises(DeployError, match="without a Primary component.*deploys/recover.py"):
        galera.plan_cluster(nodes)


def test_plan_unknown_when_a_node_is_unreachable_and_none_runs():
    with pytest.raises(DeployError, match="ctrl-3 could not be reached"):
        galera.plan_cluster({"ctrl-1": node({}, {}), "ctrl-2": node({}, {}), "ctrl-3": None})


# --- operations -------------------------------------------------------------------------------
@pytest.fixture
def sent_sql(tmp_path):
    """``sent_sql(command, stdin)``: the SQL ``command`` gives ``mysql`` when run by a shell with
    ``stdin``, caught by a stand-in ``mysql`` that prints what it reads."""
    fake = tmp_path / "bin/mysql"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\ncat\n")
    fake.chmod(0o755)

    def sent(command: str, stdin: str) -> str:
        return subprocess.run(["sh", "-c", command], input=stdin, capture_output=True, text=True, check=True,
                              env={"PATH": f"{fake.parent}:/usr/bin:/bin"}).stdout

    return sent


def sql(command: str) -> str:
    """The statement of a ``mysql ... -e STATEMENT ...`` command line, as the shell passes it."""
    argv = shlex.split(command)
    return argv[argv.index("-e") + 1]


WAIT = galera.wait_synced_command(galera.SYNC_TIMEOUT).get_raw_value()


def test_bootstrap_fresh_node():
    assert run(galera.bootstrap, FakeHost({WsrepStatus: {}, GraState: {}})) == ["galera_new_cluster", WAIT]
    # galera_new_cluster restarts the package's standalone server.
    assert run(galera.bootstrap, FakeHost({WsrepStatus: STANDALONE, GraState: {}})) == ["galera_new_cluster", WAIT]


def test_bootstrap_noop_when_primary():
    host = FakeHost({WsrepStatus: SYNCED, GraState: RUNNING})
    assert run(galera.bootstrap, host) == [] and host.noops == ["already in a Primary component (Synced)"]


def test_bootstrap_refused_on_existing_cluster_state():
    (command,) = run(galera.bootstrap, FakeHost({WsrepStatus: {}, GraState: LAST_STOPPED}))
    assert command.endswith("exit 1") and "not bootstrapping an existing cluster" in command
    assert "deploys/recover.py" in command and "galera_new_cluster" not in command


def test_bootstrap_resumes_from_the_first_nodes_own_state():
    assert run(galera.bootstrap, FakeHost({WsrepStatus: {}, GraState: LAST_STOPPED}), resume=True) == [
        "galera_new_cluster", WAIT]
    crashed = {**LAST_STOPPED, "seqno": -1, "safe_to_bootstrap": False}
    assert run(galera.bootstrap, FakeHost({WsrepStatus: {}, GraState: crashed}), resume=True) == [
        "sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' /var/lib/mysql/grastate.dat",
        "galera_new_cluster", WAIT]


def test_join_for_each_state():
    host = FakeHost({WsrepStatus: SYNCED})
    assert run(galera.join, host) == [] and host.noops == ["Synced member of a 3-node cluster"]
    joining = {**SYNCED, "local_state": 1, "local_state_comment": "Joining"}
    assert run(galera.join, FakeHost({WsrepStatus: joining})) == [WAIT]
    assert run(galera.join, FakeHost({WsrepStatus: {}})) == ["systemctl start mariadb", WAIT]
    assert run(galera.join, FakeHost({WsrepStatus: STANDALONE})) == ["systemctl restart mariadb", WAIT]
    assert run(galera.join, FakeHost({WsrepStatus: NON_PRIMARY})) == ["systemctl restart mariadb", WAIT]


def test_apply_config_restarts_only_a_stale_member_of_a_larger_component():
    stale = FakeHost({ServiceConfigState: lambda service, paths: "stale", WsrepStatus: SYNCED})
    assert run(galera.apply_config, stale) == ["systemctl restart mariadb", WAIT]
    for state in ("current", "stopped"):
        host = FakeHost({ServiceConfigState: lambda service, paths, s=state: s, WsrepStatus: SYNCED})
        assert run(galera.apply_config, host) == []
    alone = FakeHost({ServiceConfigState: lambda service, paths: "stale", WsrepStatus: {**SYNCED, "cluster_size": 1}})
    assert run(galera.apply_config, alone) == [] and "only member of its component" in alone.noops[0]


def accounts_host(accounts: dict, matches: bool) -> FakeHost:
    return FakeHost({MariadbAccounts: accounts, MariadbPasswordIs: lambda user, hostname, _stdin: matches})


SYNCED_ACCOUNTS = MariadbAccounts().process(lines("global_priv_synced.txt"))


def test_account_created_with_the_hash_on_stdin(sent_sql):
    host = accounts_host({}, matches=False)
    (command,) = commands(galera.account, host, "sst", HiddenValue("s3cr'et"))
    digest = native_password_hash("s3cr'et")
    assert stdin_of(command) == digest and digest not in command.get_raw_value()
    assert sent_sql(command.get_raw_value(), stdin_of(command)) == \
        f"CREATE USER 'sst'@'localhost' IDENTIFIED VIA mysql_native_password USING '{digest}'"


def test_account_up_to_date_is_a_noop():
    host = accounts_host(SYNCED_ACCOUNTS, matches=True)
    assert run(galera.account, host, "root", HiddenValue("x"), unix_socket=True) == []
    assert host.noops == ["account root@localhost is up to date"]


def test_account_password_or_plugins_changed(sent_sql):
    (command,) = commands(galera.account, accounts_host(SYNCED_ACCOUNTS, matches=False), "sst", HiddenValue("new"))
    assert sent_sql(command.get_raw_value(), stdin_of(command)) == \
        f"ALTER USER 'sst'@'localhost' IDENTIFIED VIA mysql_native_password USING '{native_password_hash('new')}'"
    # root with a password but without unix_socket would lock Debian's scripts out: fixed.
    accounts = {**SYNCED_ACCOUNTS, "root@localhost": {"plugins": ["mysql_native_password"], "password": True}}
    (command,) = commands(galera.account, accounts_host(accounts, matches=True), "root", HiddenValue("x"), unix_socket=True)
    assert sent_sql(command.get_raw_value(), stdin_of(command)).startswith(
        "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING '*")


def test_secure_installation():
    host = FakeHost({MariadbAccounts: SYNCED_ACCOUNTS, MariadbDatabases: ["mysql", "sys"]})
    assert run(galera.secure_installation, host) == []
    unsafe = {**SYNCED_ACCOUNTS, "@localhost": {}, "@ctrl-1": {}, "root@%": {}, "root@ctrl-1": {}}
    host = FakeHost({MariadbAccounts: unsafe, MariadbDatabases: ["mysql", "test"]})
    assert [sql(c) for c in run(galera.secure_installation, host)] == [
        "DROP USER ''@'ctrl-1'",
        "DROP USER ''@'localhost'",
        "DROP USER 'root'@'%'",
        "DROP USER 'root'@'ctrl-1'",
        "DROP DATABASE test",
    ]


# --- shell run for real against a stand-in mysql ----------------------------------------------
@pytest.fixture
def fake_mysql(tmp_path):
    """A ``mysql`` first on PATH that answers wsrep_local_state_comment from a file."""
    state = tmp_path / "state"
    script = tmp_path / "bin/mysql"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        f'[ -s {state} ] || {{ echo "ERROR 2002 (HY000): Can\'t connect" >&2; exit 1; }}\n'
        f'printf "wsrep_local_state_comment\\t%s\\n" "$(cat {state})"\n'
    )
    script.chmod(0o755)
    env = {**os.environ, "PATH": f"{script.parent}:{os.environ['PATH']}"}
    return state, env


def test_wait_synced_returns_once_synced(fake_mysql):
    state, env = fake_mysql
    state.write_text("Synced")
    proc = subprocess.run(["sh", "-c", galera.wait_synced_command(5).get_raw_value()], env=env,
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0, proc.stderr


def test_wait_synced_gives_up_after_timeout(fake_mysql):
    state, env = fake_mysql
    state.write_text("Joined")
    proc = subprocess.run(["sh", "-c", galera.wait_synced_command(1).get_raw_value()], env=env,
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 1
    assert "not Synced after 1s" in proc.stderr


# --- templates --------------------------------------------------------------------------------
render = renderer("templates/galera")


@pytest.fixture
def args(default_data) -> dict:
    # A lab host: 2 vCPUs, 24105 MiB, nofile hard limit 20000 (HostResources on lab 7).
    return galera.template_args(Topology.from_data("ctrl-2", default_data, NAMES), default_data,
                                Resources(mem_mb=24105, cpus=2, nofile_hard=20000))


def settings(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def test_galera_cnf_from_group_data(args, default_data):
    cnf = settings(render("galera.cnf.j2", **args))
    sst_password = default_data.secrets["galera_sst_password"].unmask()
    assert cnf["bind-address"] == cnf["wsrep_node_address"] == "10.0.2.12"
    assert cnf["wsrep_node_name"] == "ctrl-2"
    assert "wsrep_cluster_address" not in cnf  # its own file: a new list restarts nothing
    assert settings(render("galera-peers.cnf.j2", **args)) == {
        "wsrep_cluster_address": '"gcomm://10.0.2.11,10.0.2.12,10.0.2.13"'}
    assert cnf["wsrep_cluster_name"] == '"os_cluster"'
    assert cnf["wsrep_provider"] == "/usr/lib/galera/libgalera_smm.so"
    assert cnf["wsrep_provider_options"] == (
        '"gmcast.listen_addr=tcp://10.0.2.12:4567;gcache.size=256M;socket.ssl_ca=/etc/mysql/tls/ca.crt;'
        'socket.ssl_cert=/etc/mysql/tls/node.crt;socket.ssl_key=/etc/mysql/tls/node.key"')
    assert cnf["wsrep_sst_method"] == "mariabackup"
    assert cnf["wsrep_sst_auth"] == f"sst:{sst_password}"
    assert (cnf["binlog_format"], cnf["default_storage_engine"], cnf["innodb_autoinc_lock_mode"]) == (
        "ROW", "InnoDB", "2")
    # group_data's "auto": derived from the host (lib/sizing.py).
    assert (cnf["max_connections"], cnf["innodb_buffer_pool_size"], cnf["open_files_limit"]) == (
        "200", "8192M", "20000")
    assert render("mariadb-limits.conf.j2", **args).splitlines()[-2:] == ["[Service]", "LimitNOFILE=20000"]


def test_sizes_set_in_group_data_are_used_as_given(default_data):
    data = type(default_data)({**default_data, "galera": {**default_data.galera, "max_connections": 1000,
                                                          "innodb_buffer_pool_size": "256M"}})
    args = galera.template_args(Topology.from_data("ctrl-2", data, NAMES), data, Resources(mem_mb=24105, cpus=2))
    cnf = settings(render("galera.cnf.j2", **args))
    assert (cnf["max_connections"], cnf["innodb_buffer_pool_size"], cnf["open_files_limit"]) == (
        "1000", "256M", "65536")


def test_sql_tls_by_default_and_secure_transport_on_request(args, default_data):
    cnf = settings(render("galera.cnf.j2", **args))
    assert (cnf["ssl_ca"], cnf["ssl_cert"], cnf["ssl_key"]) == (galera.TLS_CA, galera.TLS_CERT, galera.TLS_KEY)
    assert cnf["tls_version"] == "TLSv1.2,TLSv1.3" and cnf["require_secure_transport"] == "OFF"
    plain = {**args, "galera": {**args["galera"], "tls": False}}
    assert not {"ssl_ca", "ssl_cert", "ssl_key", "tls_version"} & set(settings(render("galera.cnf.j2", **plain)))
    required = {**args, "galera": {**args["galera"], "require_secure_transport": True}}
    assert settings(render("galera.cnf.j2", **required))["require_secure_transport"] == "ON"


def test_replication_and_sst_in_tls_with_the_sql_switch(args):
    """galera['tls'] also puts replication and IST (socket.ssl_*) and mariabackup SST (ssl-mode
    VERIFY_CA, in [sst]) in TLS; plain peers are accepted (socket.dynamic) only while it changes."""
    text = render("galera.cnf.j2", **args)
    assert "[sst]" in text and settings(text)["ssl-mode"] == "VERIFY_CA"
    assert "socket.dynamic" not in text
    changing = settings(render("galera.cnf.j2", **{**args, "replication": {"tls": True, "dynamic": True}}))
    assert changing["wsrep_provider_options"].endswith(';socket.ssl_key=/etc/mysql/tls/node.key;socket.dynamic=YES"')
    plain = render("galera.cnf.j2", **{**args, "galera": {**args["galera"], "tls": False},
                                       "replication": {"tls": False, "dynamic": False}})
    assert "socket.ssl" not in plain and "[sst]" not in plain and "ssl-mode" not in plain


def test_replication_tls_changes_only_where_a_running_member_differs():
    plain = {**SYNCED, "replication_tls": False}
    assert galera.replication_tls_changes({"ctrl-1": {"grastate": RUNNING, "status": plain}, "ctrl-2": None}, True)
    assert not galera.replication_tls_changes({"ctrl-1": {"grastate": RUNNING, "status": SYNCED}}, True)
    assert galera.replication_tls_changes({"ctrl-1": {"grastate": RUNNING, "status": SYNCED}}, False)
    # Stopped members start with the file as it is: they change nothing.
    assert not galera.replication_tls_changes({"ctrl-1": {"grastate": LAST_STOPPED, "status": {}}}, True)


def test_debian_cnf_has_no_password(args):
    text = render("debian.cnf.j2", **args)
    assert "password" not in text.replace("no password", "")
    assert settings(text)["user"] == "root" and settings(text)["socket"] == "/run/mysqld/mysqld.sock"


def test_check_unit_answers_on_srv_for_the_controllers_only(args, default_data):
    unit = render("galera-check.service.j2", **args)
    service = settings(unit)
    assert shlex.split(service["ExecStart"]) == [
        "/usr/local/sbin/galera-checkd", "--address", "10.0.2.12", "--port", "9200", "--node", "ctrl-2",
        "--credentials", "/etc/mysql/galera-check.cnf"]
    assert service["User"] == service["Group"] == "clustercheck" and service["Restart"] == "always"
    assert service["IPAddressDeny"] == "any"
    assert service["IPAddressAllow"] == "127.0.0.1 10.0.2.10 10.0.2.11 10.0.2.12 10.0.2.13"
    assert service["RestrictAddressFamilies"] == "AF_INET AF_UNIX" and service["CapabilityBoundingSet"] == ""
    assert default_data.secrets["galera_monitor_password"].unmask() not in unit
    credentials = settings(render("galera-check.cnf.j2", **args))
    assert credentials["user"] == "clustercheck" and credentials["socket"] == "/run/mysqld/mysqld.sock"
    assert credentials["password"] == default_data.secrets["galera_monitor_password"].unmask()


def test_the_socket_activated_check_is_replaced_once():
    old = FakeHost({File: lambda path: {"mode": 644} if path == galera.SOCKET_CHECK_FILES[0] else None})
    assert run(galera.replace_socket_check, old) == [
        "systemctl disable --now galera-check.socket",
        "rm -f /etc/systemd/system/galera-check.socket /etc/systemd/system/galera-check@.service "
        "/usr/local/sbin/galera-check",
        "systemctl daemon-reload",
        "systemctl reset-failed 'galera-check@*.service'",
        "systemctl restart galera-check.service",
    ]
    gone = FakeHost({File: lambda path: None})
    assert run(galera.replace_socket_check, gone) == [] and gone.noops == ["no galera-check.socket"]


def test_upstream_repository_helpers():
    line = "deb https://mirror.mariadb.org/repo/10.11/debian bookworm main"
    assert galera.upstream_source(line) == (
        "deb [signed-by=/etc/apt/keyrings/mariadb.gpg] https://mirror.mariadb.org/repo/10.11/debian bookworm main")
    signed = "deb [arch=amd64] http://x/ bookworm main"
    assert galera.upstream_source(signed) == signed
    assert galera.upstream_pin(line) == "Package: *\nPin: origin mirror.mariadb.org\nPin-Priority: 600\n"


# --- database_access: GRANT ALL on one database, read back from SHOW GRANTS ---------------------------
def test_granted_databases_from_show_grants_of_a_network_account():
    """Captured on lab 3 for keystone@10.103.2.0/255.255.255.0 (only the GRANT ALL lines leave the host)."""
    output = (FIXTURES / "show_grants_keystone_all.txt").read_text().splitlines()
    assert MariadbDatabasesGranted().process(output) == ["keystone"]
    assert MariadbDatabasesGranted().process([]) == []


def test_granted_databases_command_never_returns_the_password_line():
    command = MariadbDatabasesGranted().command("keystone", "10.0.2.0/255.255.255.0").get_raw_value()
    assert "SHOW GRANTS FOR '\"'\"'keystone'\"'\"'@'\"'\"'10.0.2.0/255.255.255.0'\"'\"'" in command
    assert command.endswith("| { grep '^GRANT ALL PRIVILEGES ON `' || true; }; fi")


@pytest.mark.parametrize("granted, expected", [
    (["keystone"], []),
    ([], ["mysql -NB -e 'GRANT ALL ON `keystone`.* TO '\"'\"'keystone'\"'\"'@'\"'\"'10.0.2.0/255.255.255.0'\"'\"''"]),
])
def test_database_access_granted_once(granted, expected):
    host = FakeHost({MariadbDatabasesGranted: lambda user, hostname: granted})
    assert run(galera.database_access, host, user="keystone", user_hostname="10.0.2.0/255.255.255.0",
               database="keystone") == expected
