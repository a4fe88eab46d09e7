"""Bad data is refused with one clear message per problem, naming the variable and the fix."""

from __future__ import annotations

import os

import pytest

from lib.validate import validate
from tests.unit.conftest import NAMES


def problems(data, names=NAMES):
    return validate(names, data)


def only(data, names=NAMES) -> str:
    found = problems(data, names)
    assert len(found) == 1, found
    return found[0]


def test_default_data_is_valid(default_data):
    assert problems(default_data) == []


def test_firstnode_not_in_inventory(default_data):
    default_data["firstnode"] = "ctrl-9"
    assert "firstnode='ctrl-9' is not a controller" in only(default_data)


@pytest.mark.parametrize("count", [1, 2])
def test_fewer_than_three_controllers(default_data, count):
    message = problems(default_data, NAMES[:count])[0]
    assert f"{count} controller(s)" in message and "at least 3" in message


def test_even_count_needs_opt_in(default_data):
    names = NAMES + ["ctrl-4"]
    default_data["netsuffix"]["ctrl-4"] = 14
    assert "even number of controllers (4)" in only(default_data, names)
    default_data["allow_even_controllers"] = True
    assert problems(default_data, names) == []


def test_host_without_suffix(default_data):
    del default_data["netsuffix"]["ctrl-2"]
    assert "netsuffix['ctrl-2'] is missing" in only(default_data)


def test_duplicate_suffixes(default_data):
    default_data["netsuffix"]["ctrl-3"] = 12
    assert "netsuffix['ctrl-3']=12 duplicates netsuffix['ctrl-2']" in only(default_data)


def test_vip_suffix_equal_to_a_host(default_data):
    default_data["netsuffix"]["os"] = 11
    assert "netsuffix['ctrl-1']=11 duplicates netsuffix['os']" in only(default_data)


def test_address_outside_its_network(default_data):
    default_data["netprefix"]["data"]["network"] = "10.0.4.0"
    found = problems(default_data)
    assert len(found) == 4 and all("outside data network 10.0.4.0/24" in p for p in found), found


def test_suffix_that_is_not_an_address(default_data):
    default_data["netsuffix"]["ctrl-3"] = 300
    assert all("gives 10.0." in p and "300" in p for p in problems(default_data))


@pytest.mark.parametrize("field,value,expect", [
    ("prefix", "10.0.x", "['prefix']='10.0.x' is malformed"),
    ("network", "10.0.1.7", "['network']='10.0.1.7' is not a /24 network"),
    ("class", 33, "['class']=33 is invalid"),
    ("class", "24", "['class']='24' is invalid"),
])
def test_malformed_networks(default_data, field, value, expect):
    default_data["netprefix"]["api"][field] = value
    assert expect in only(default_data)


def test_two_services_on_the_same_vip_port(default_data):
    default_data["haproxy_services"]["swift_proxy"]["port"] = 9696
    message = only(default_data)
    assert "haproxy_services['swift_proxy'] binds the srv VIP port 9696" in message
    assert "haproxy_services['neutron_api']" in message


def test_disabled_service_may_share_a_port(default_data):
    default_data["haproxy_services"]["swift_proxy"].update(port=9696, enabled=False)
    assert problems(default_data) == []


@pytest.mark.parametrize("port", ["80", 0, 70000, 3.5, True])
def test_bad_ports(default_data, port):
    default_data["haproxy_services"]["glance_api"]["port"] = port
    assert f"haproxy_services['glance_api']['port']={port!r} is invalid" in only(default_data)


def test_bad_component_port(default_data):
    default_data["haproxy"]["stats_port"] = 99999
    assert "haproxy['stats_port']=99999 is invalid; fix: set it to a port 1-65535" in only(default_data)


def test_unknown_component_key_suggests(default_data):
    default_data["corosync"]["tokn"] = 5000
    assert "corosync['tokn'] is not a known setting (did you mean 'token'?)" in only(default_data)


def test_unknown_top_level_key_suggests(default_data):
    default_data["firstnod"] = "ctrl-1"
    assert "'firstnod' is not a known variable (did you mean 'firstnode'?)" in only(default_data)


def test_unknown_service_key_suggests(default_data):
    default_data["haproxy_services"]["cinder_api"]["chek_uri"] = "/"
    assert "did you mean 'check_uri'?" in only(default_data)


@pytest.mark.parametrize("token", [0, -5, "3000", 2.5, None])
def test_corosync_token_positive_integer(default_data, token):
    default_data["corosync"]["token"] = token
    assert f"corosync['token']={token!r} is invalid" in only(default_data)


def test_missing_component_value(default_data):
    del default_data["galera"]["cluster_name"]
    assert "galera['cluster_name'] is missing" in only(default_data)


@pytest.mark.parametrize("name", ["Ctrl-1", "ctrl_1", "ctrl-1.example.org", "-ctrl"])
def test_hostname_unusable_as_node_name(default_data, name):
    default_data["netsuffix"][name] = 11
    del default_data["netsuffix"]["ctrl-1"]
    default_data["firstnode"] = "ctrl-2"
    message = only(default_data, [name, "ctrl-2", "ctrl-3"])
    assert f"controller name {name!r} cannot be a RabbitMQ/corosync node name" in message


def test_secrets_file_readable_by_others(default_data, tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    assert f"secrets file {path} has mode 0644" in only(default_data)
    os.chmod(path, 0o600)
    assert problems(default_data) == []


def test_every_problem_is_reported_at_once(default_data):
    default_data["firstnode"] = "nope"
    default_data["corosync"]["token"] = 0
    default_data["haproxy"]["stats_port"] = 0
    assert len(problems(default_data)) == 3


@pytest.mark.parametrize("distro,refused", [
    ({"name": "Debian", "major": 12, "release_meta": {}}, False),
    ({"name": "Debian", "major": 13, "release_meta": {}}, False),
    ({"name": "Debian", "major": 11, "release_meta": {"PRETTY_NAME": "Debian GNU/Linux 11 (bullseye)"}}, True),
    ({"name": "Ubuntu", "major": 24, "release_meta": {"PRETTY_NAME": "Ubuntu 24.04 LTS"}}, True),
    ({"name": None, "major": None, "release_meta": {}}, True),
])
def test_only_debian_12_and_13_are_deployed(distro, refused):
    from lib.validate import unsupported_distribution

    message = unsupported_distribution("ctrl-2", distro)
    assert bool(message) is refused
    if refused:
        pretty = distro["release_meta"].get("PRETTY_NAME") or "None None"
        assert message.startswith(f"ctrl-2 runs {pretty}; prereqos supports Debian 12")


# --- values that would break a configuration file or take over a system account -----------
@pytest.mark.parametrize("component, key, value", [
    ("galera", "innodb_buffer_pool_size", "256M\nwsrep_on=OFF"),
    ("galera", "cluster_name", "os\ncluster"),
    ("rabbitmq", "vhost", "/\t"),
    ("openrc", "region", "RegionOne\x1b"),
])
def test_control_characters_are_refused(default_data, component, key, value):
    default_data[component][key] = value
    assert any(f"{component}[{key!r}]" in p and "control character" in p for p in problems(default_data))


def test_control_character_in_a_catalog_uri(default_data):
    default_data["haproxy_services"]["glance_api"]["check_uri"] = "/healthcheck\n  server evil 1.2.3.4:1"
    assert "haproxy_services['glance_api']['check_uri']" in only(default_data)


@pytest.mark.parametrize("component, key, value", [
    ("galera", "sst_user", "root"), ("galera", "monitor_user", "mysql"),
    ("rabbitmq", "admin_user", "guest"), ("rabbitmq", "openstack_user", "root"),
    ("buildenv", "user", "root"), ("buildenv", "user", "www-data"),
])
def test_system_accounts_are_refused(default_data, component, key, value):
    default_data[component][key] = value
    message = only(default_data)
    assert f"{component}[{key!r}]={value!r} is invalid" in message and "system account" in message


@pytest.mark.parametrize("venv", ["/", "/usr", "/usr/local/", "/etc", "/opt", "/opt/../etc", "venv"])
def test_venv_must_be_a_directory_of_its_own(default_data, venv):
    default_data["buildenv"]["venv"] = venv
    assert f"buildenv['venv']={venv!r} is invalid" in only(default_data)


def test_keystone_public_is_required(default_data):
    del default_data["haproxy_services"]["keystone_public"]
    assert "haproxy_services['keystone_public'] is missing or disabled" in only(default_data)
    default_data["haproxy_services"]["keystone_public"] = {"port": 5000, "binds": ["api"], "check": "tcp",
                                                           "enabled": False}
    assert "haproxy_services['keystone_public'] is missing or disabled" in only(default_data)


@pytest.mark.parametrize("key", ["apt_proxy", "pip_proxy", "pip_index_url", "pip_cert"])
def test_package_sources_default_to_nothing(default_data, key):
    assert default_data[key] is None


@pytest.mark.parametrize("key, value", [
    ("apt_proxy", "http://10.100.2.1:3142"),
    ("apt_proxy", "https://proxy.example:3128/"),
    ("pip_proxy", "http://proxy.example:3128"),
    ("pip_index_url", "https://pypi.example/simple/"),
    ("pip_cert", "/etc/ssl/certs/ca-certificates.crt"),
])
def test_package_sources_accepted(default_data, key, value):
    default_data[key] = value
    assert problems(default_data) == []


@pytest.mark.parametrize("key, value", [
    ("apt_proxy", "proxy.example:3128"),               # no scheme: apt would take it as a path
    ("apt_proxy", "ftp://proxy.example:3128"),
    ("apt_proxy", "http://proxy.example:3128/path"),   # a proxy is a host and port
    ("apt_proxy", "http://proxy.example:99999"),
    ("apt_proxy", 3128),
    ("pip_proxy", "http://user:secret@proxy.example:3128"),  # would be printed and world-readable
    ("pip_index_url", "https://token@pypi.example/simple"),
    ("pip_index_url", "pypi.example/simple"),
    ("pip_cert", "certs/ca.crt"),
    ("pip_cert", ""),
])
def test_package_sources_refused(default_data, key, value):
    default_data[key] = value
    message = only(default_data)
    assert message.startswith(f"{key}={value!r} is invalid; fix: set it to None or "), message


def test_package_source_with_a_newline(default_data):
    default_data["apt_proxy"] = "http://proxy.example:3128\nAcquire::http::Pipeline-Depth 0;"
    assert any(p.startswith("apt_proxy=") and "control character" in p for p in problems(default_data))


def test_misspelt_package_source(default_data):
    default_data["pip_proxie"] = "http://proxy.example:3128"
    assert "'pip_proxie' is not a known variable (did you mean 'pip_proxy'?)" in only(default_data)

@pytest.mark.parametrize("component,key,value,expect", [
    ("galera", "max_connections", "many", "galera['max_connections']='many' is invalid; fix: set it to \"auto\" or a positive integer"),
    ("galera", "innodb_buffer_pool_size", "40%", "galera['innodb_buffer_pool_size']='40%' is invalid; fix: set it to \"auto\" or a size such as 4G"),
    ("galera", "open_files_limit", 0, "galera['open_files_limit']=0 is invalid"),
    ("rabbitmq", "memory_high_watermark", 0.4, "rabbitmq['memory_high_watermark']=0.4 is invalid; fix: set it to \"auto\" or a positive integer of bytes"),
    ("rabbitmq", "schedulers", -1, "rabbitmq['schedulers']=-1 is invalid"),
    ("rabbitmq", "open_files_limit", "65536", "rabbitmq['open_files_limit']='65536' is invalid"),
    ("rabbitmq", "net_ticktime", 2, "rabbitmq['net_ticktime']=2 is invalid; fix: set it to an integer of seconds, at least 5"),
    ("rabbitmq", "aten_poll_interval", 100, "rabbitmq['aten_poll_interval']=100 is invalid"),
    ("timeouts", "apt", 0, "timeouts['apt']=0 is invalid; fix: set it to a positive number of seconds"),
    ("timeouts", "cluster", "15min", "timeouts['cluster']='15min' is invalid"),
    ("prechecks", "max_clock_skew", 0, "prechecks['max_clock_skew']=0 is invalid; fix: set it to a positive number of seconds"),
])
def test_bad_sizes_timeouts_and_skew(default_data, component, key, value, expect):
    default_data[component][key] = value
    assert expect in only(default_data)


@pytest.mark.parametrize("value", ["auto", None])
def test_sizes_auto_or_none_are_derived(default_data, value):
    for component, key in [("galera", "max_connections"), ("galera", "innodb_buffer_pool_size"),
                           ("rabbitmq", "schedulers"), ("rabbitmq", "memory_high_watermark")]:
        default_data[component][key] = value
    assert problems(default_data) == []


@pytest.mark.parametrize(("key", "value", "says"), [
    ("nodes", "some", "backup['nodes']='some' is invalid"),
    ("nodes", ["ctrl-9"], "backup['nodes'] names ['ctrl-9'], not controllers of the inventory"),
    ("nodes", ["ctrl-1", "ctrl-1"], "lists a controller twice"),
    ("dir", "/var", "backup['dir']='/var' is invalid"),
    ("dir", "backups", "backup['dir']='backups' is invalid"),
    ("sql_user", "root", "backup['sql_user']='root' is invalid"),
    ("full_schedule", "daily; rm -rf /", "backup['full_schedule']='daily; rm -rf /' is invalid"),
    ("full_schedule", None, "backup['full_schedule']=None is invalid"),
    ("incremental_schedule", "*-*-* *:30:00\nExecStart=x", "backup['incremental_schedule']"),
    ("keep_fulls", 0, "backup['keep_fulls']=0 is invalid"),
    ("max_age_days", "14", "backup['max_age_days']='14' is invalid"),
    ("max_full_age_hours", -1, "backup['max_full_age_hours']=-1 is invalid"),
    ("max_age_hours", True, "backup['max_age_hours']=True is invalid"),
])
def test_bad_backup_settings(default_data, key, value, says):
    default_data["backup"][key] = value
    assert says in "\n".join(problems(default_data))


@pytest.mark.parametrize("nodes", ["first", "all", ["ctrl-2", "ctrl-3"]])
def test_backup_nodes_accepted(default_data, nodes):
    default_data["backup"]["nodes"] = nodes
    default_data["backup"]["incremental_schedule"] = None
    assert problems(default_data) == []


@pytest.mark.parametrize("key, value, good", [
    ("memory_mb", 0, "an integer of MiB, at least 8"),
    ("memory_mb", "1G", "an integer of MiB, at least 8"),
    ("max_connections", 10, "an integer, at least 16"),
    ("port", 0, "a port 1-65535"),
])
def test_memcached_settings_name_the_variable(default_data, key, value, good):
    default_data["memcached"][key] = value
    assert only(default_data).startswith(f"memcached[{key!r}]={value!r} is invalid; fix: set it to")
    assert good in only(default_data)


@pytest.mark.parametrize("key, value", [
    ("pip_packages", ["keystone"]),  # not pinned: a re-run would ask PyPI
    ("pip_packages", ["python-openstackclient==10.5.0"]),  # no keystone
    ("db_name", "key-stone"),
    ("db_user", "root"),
    ("wsgi_processes", 0),
])
def test_keystone_settings_name_the_variable(default_data, key, value):
    default_data["keystone"][key] = value
    assert only(default_data).startswith(f"keystone[{key!r}]={value!r} is invalid; fix: set it to")


def test_tls_on_the_galera_frontend_is_refused(default_data):
    default_data["haproxy_services"]["galera"]["tls"] = True
    message = only(default_data)
    assert message.startswith("haproxy_services['galera']['tls']=True") and "fix: remove 'tls' or set it False" in message


def test_backend_tls_on_the_galera_service_is_refused(default_data):
    default_data["haproxy_services"]["galera"]["backend_tls"] = True
    message = only(default_data)
    assert message.startswith("haproxy_services['galera']['backend_tls']=True") and "galera['tls']" in message
    default_data["haproxy_services"]["galera"]["backend_tls"] = "on"
    assert "haproxy_services['galera']['backend_tls']='on' is invalid; fix: set it to True" in only(default_data)


def test_service_tls_must_be_a_boolean(default_data):
    default_data["haproxy_services"]["keystone_public"]["tls"] = "yes"
    assert "haproxy_services['keystone_public']['tls']='yes' is invalid; fix: set it to True or False" \
        in only(default_data)


def test_operator_files_come_in_pairs_and_must_exist(default_data, tmp_path):
    (tmp_path / "ca.crt").write_text("x")
    default_data["tls"]["ca_cert"] = str(tmp_path / "ca.crt")
    assert "tls['ca_cert'] and tls['ca_key'] go together" in only(default_data)
    default_data["tls"]["ca_key"] = str(tmp_path / "absent.key")
    assert only(default_data).startswith(f"tls['ca_key']='{tmp_path}/absent.key' is invalid; fix: set it to None "
                                         f"or the absolute path of a PEM file")


def test_renewal_window_below_the_lifetime(default_data):
    default_data["tls"]["renew_days"] = 365
    assert "tls['renew_days']=365 is not below tls['valid_days']=365" in only(default_data)


@pytest.mark.parametrize("names", [["bad name"], "cloud.example", ["-x.example"]])
def test_vip_names_are_dns_names(default_data, names):
    default_data["tls"]["vip_names"] = names
    assert only(default_data).startswith("tls['vip_names']=")


@pytest.mark.parametrize("value", [-1, "100", 2.5, True, "infinity"])
def test_vip_stickiness_is_a_score(default_data, value):
    default_data["pacemaker"]["vip_stickiness"] = value
    message = only(default_data)
    assert f"pacemaker['vip_stickiness']={value!r} is invalid" in message and "INFINITY" in message


@pytest.mark.parametrize("value", [0, 100, "INFINITY"])
def test_vip_stickiness_accepted(default_data, value):
    default_data["pacemaker"]["vip_stickiness"] = value
    assert problems(default_data) == []


def test_amqp_needs_a_listener(default_data):
    default_data["rabbitmq"].update(amqps=False, plain_amqp=False)
    assert only(default_data).startswith("rabbitmq['amqps'] and rabbitmq['plain_amqp'] are both False")
    default_data["rabbitmq"]["amqps"] = "yes"
    assert only(default_data) == "rabbitmq['amqps']='yes' is invalid; fix: set it to True (AMQPS on port 5671) or False"


def test_secure_sql_transport_needs_tls(default_data):
    default_data["galera"].update(tls=False, require_secure_transport=True)
    assert only(default_data).startswith("galera['require_secure_transport'] is True but galera['tls'] is False")
    default_data["galera"].update(tls=True)
    assert problems(default_data) == []
    default_data["galera"]["tls"] = "on"
    assert only(default_data) == "galera['tls']='on' is invalid; fix: set it to True (TLS for SQL clients, replication and SST) or False"


def test_sst_in_tls_needs_mariabackup(default_data):
    default_data["galera"].update(tls=True, sst_method="rsync")
    assert only(default_data).startswith("galera['tls'] is True but galera['sst_method'] is 'rsync'")
    default_data["galera"].update(tls=False)
    assert problems(default_data) == []
