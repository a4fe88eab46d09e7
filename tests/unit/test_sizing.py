"""lib/sizing.py: each size derived from the host by its rule, or taken from group_data as set."""

import pytest

from lib.sizing import (
    Resources,
    buffer_pool_size,
    galera_sizes,
    max_connections,
    memory_high_watermark,
    open_files,
    rabbitmq_sizes,
    schedulers,
)

AUTO = {"innodb_buffer_pool_size": "auto", "max_connections": None, "open_files_limit": "auto"}
LAB = Resources(mem_mb=24105, cpus=2, nofile_hard=20000)  # HostResources of a lab 7 container


@pytest.mark.parametrize(("mem_mb", "expected"), [
    (1024, "384M"),      # 40 % = 409 MiB, down to a 128 MiB chunk
    (200, "128M"),       # never below one chunk
    (16384, "6528M"),
    (24105, "8192M"),    # 9642 MiB capped at 8 GiB
    (262144, "8192M"),
])
def test_buffer_pool_is_40_percent_of_ram_in_chunks_capped(mem_mb, expected):
    assert buffer_pool_size(Resources(mem_mb=mem_mb, cpus=4)) == expected


@pytest.mark.parametrize(("cpus", "connections", "threads"), [(1, 200, 1), (2, 200, 2), (4, 400, 2), (8, 800, 4),
                                                              (16, 1600, 8), (64, 1600, 8)])
def test_connections_and_schedulers_follow_the_vcpus(cpus, connections, threads):
    res = Resources(mem_mb=8192, cpus=cpus)
    assert (max_connections(res), schedulers(res)) == (connections, threads)


def test_open_files_never_above_the_hard_limit_systemd_would_clamp_to():
    assert open_files(LAB) == 20000
    assert open_files(Resources(mem_mb=8192, cpus=4, nofile_hard=1048576)) == 65536
    assert open_files(Resources(mem_mb=8192, cpus=4)) == 65536


def test_rabbitmq_watermark_is_a_fifth_of_ram_at_least_256_mib():
    assert memory_high_watermark(LAB) == int(24105 * 1024 * 1024 * 0.2)
    assert memory_high_watermark(Resources(mem_mb=512, cpus=1)) == 256 * 1024 * 1024


def test_auto_or_none_derives_a_set_value_is_kept():
    assert galera_sizes(AUTO, LAB) == {"innodb_buffer_pool_size": "8192M", "max_connections": 200,
                                       "open_files_limit": 20000}
    assert galera_sizes({**AUTO, "max_connections": 1000, "innodb_buffer_pool_size": "2G"}, LAB) == {
        "innodb_buffer_pool_size": "2G", "max_connections": 1000, "open_files_limit": 20000}
    assert rabbitmq_sizes({"schedulers": 4}, LAB) == {"memory_high_watermark": 5055184896, "schedulers": 4,
                                                      "open_files_limit": 20000}


def test_resources_of_the_host_resources_fact():
    fact = {"cpus": 2, "mem_mb": 24105, "nofile_hard": 20000, "container": "lxc"}
    assert Resources.of(fact) == LAB
