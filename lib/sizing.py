"""MariaDB, RabbitMQ and memcached sizes derived from the host's RAM and CPUs, unless group_data sets them.

Every size is ``"auto"`` (or ``None``) by default in group_data: then the rule below derives it
from the host (``facts.precheck.HostResources``); any other value is used as given (validated by
``lib/validate.py``). One rule per size, here only.

Example::

    from lib.sizing import Resources, galera_sizes, rabbitmq_sizes
    res = Resources(mem_mb=16384, cpus=4, nofile_hard=1048576)
    galera_sizes({"innodb_buffer_pool_size": "auto", "max_connections": 500,
                  "open_files_limit": "auto"}, res)
    # {"innodb_buffer_pool_size": "6528M", "max_connections": 500, "open_files_limit": 65536}
    rabbitmq_sizes({"memory_high_watermark": "auto", "schedulers": "auto",
                    "open_files_limit": "auto"}, res)
    # {"memory_high_watermark": 3435973836, "schedulers": 2, "open_files_limit": 65536}
    memcached_sizes({"memory_mb": "auto", "max_connections": "auto"}, res)
    # {"memory_mb": 1024, "max_connections": 4096}
"""

from __future__ import annotations

from dataclasses import dataclass

AUTO = "auto"
MIB = 1024 * 1024

# InnoDB buffer pool: 40 % of RAM (kolla), in 128 MiB chunks (innodb_buffer_pool_chunk_size),
# at least 128 MiB, at most 8 GiB (the controller also runs RabbitMQ and the API services).
BUFFER_POOL_SHARE = 0.40
BUFFER_POOL_CHUNK_MB = 128
BUFFER_POOL_MAX_MB = 8192
# Connections: 100 per vCPU (OpenStack-Ansible), between 200 and 1600.
CONNECTIONS_PER_CPU, CONNECTIONS_MIN, CONNECTIONS_MAX = 100, 200, 1600
# Open files wanted by MariaDB and RabbitMQ (OSA's rabbitmq_ulimit); never above PID 1's hard
# limit, which systemd would clamp LimitNOFILE to anyway (20000 in the lab's containers).
OPEN_FILES = 65536
# RabbitMQ blocks publishers above 20 % of RAM (OSA; RabbitMQ's own default of 40 % assumes a
# host of its own), at least 256 MiB.
RABBITMQ_MEMORY_SHARE = 0.20
RABBITMQ_MEMORY_MIN = 256 * MIB
# Erlang schedulers: half the vCPUs, at least min(2, vCPUs), at most 8 (kolla caps them too:
# the controller's other services need the CPUs).
SCHEDULERS_MAX = 8
# memcached's cache (-m): 1/16 of RAM, 64 MiB to 2 GiB: a cache of tokens and catalogs (a miss
# costs a database read, not an error); memcached takes the memory only as it fills.
MEMCACHED_MEMORY_SHARE = 1 / 16
MEMCACHED_MEMORY_MIN_MB, MEMCACHED_MEMORY_MAX_MB = 64, 2048
# memcached's connections (-c): 1024 per vCPU (every API worker of every service keeps a few),
# 1024 to 8192, never above the open files the host allows (memcached needs one per connection).
MEMCACHED_CONNECTIONS_PER_CPU, MEMCACHED_CONNECTIONS_MIN, MEMCACHED_CONNECTIONS_MAX = 1024, 1024, 8192


@dataclass(frozen=True)
class Resources:
    """What sizes derive from: RAM (MiB, the cgroup limit if lower), vCPUs, PID 1's hard nofile."""

    mem_mb: int
    cpus: int
    nofile_hard: int | None = None

    @classmethod
    def of(cls, fact) -> "Resources":
        """From ``facts.precheck.HostResources``."""
        return cls(mem_mb=fact["mem_mb"], cpus=fact["cpus"], nofile_hard=fact["nofile_hard"])


def is_auto(value) -> bool:
    return value is None or value == AUTO


def buffer_pool_size(res: Resources) -> str:
    chunks = int(res.mem_mb * BUFFER_POOL_SHARE) // BUFFER_POOL_CHUNK_MB
    return f"{min(max(chunks * BUFFER_POOL_CHUNK_MB, BUFFER_POOL_CHUNK_MB), BUFFER_POOL_MAX_MB)}M"


def max_connections(res: Resources) -> int:
    return min(max(CONNECTIONS_PER_CPU * res.cpus, CONNECTIONS_MIN), CONNECTIONS_MAX)


def open_files(res: Resources) -> int:
    return min(OPEN_FILES, res.nofile_hard) if res.nofile_hard else OPEN_FILES


def memory_high_watermark(res: Resources) -> int:
    """Bytes (``vm_memory_high_watermark.absolute``)."""
    return max(int(res.mem_mb * MIB * RABBITMQ_MEMORY_SHARE), RABBITMQ_MEMORY_MIN)


def schedulers(res: Resources) -> int:
    return min(res.cpus, max(2, res.cpus // 2), SCHEDULERS_MAX)


def memcached_memory(res: Resources) -> int:
    """MiB (``-m``)."""
    share = int(res.mem_mb * MEMCACHED_MEMORY_SHARE)
    return min(max(share, MEMCACHED_MEMORY_MIN_MB), MEMCACHED_MEMORY_MAX_MB)


def memcached_connections(res: Resources) -> int:
    """``-c``."""
    wanted = min(max(MEMCACHED_CONNECTIONS_PER_CPU * res.cpus, MEMCACHED_CONNECTIONS_MIN),
                 MEMCACHED_CONNECTIONS_MAX)
    return min(wanted, open_files(res))


GALERA_RULES = {"innodb_buffer_pool_size": buffer_pool_size, "max_connections": max_connections,
                "open_files_limit": open_files}
RABBITMQ_RULES = {"memory_high_watermark": memory_high_watermark, "schedulers": schedulers,
                  "open_files_limit": open_files}
MEMCACHED_RULES = {"memory_mb": memcached_memory, "max_connections": memcached_connections}


def _sizes(rules, conf, res: Resources) -> dict:
    return {key: rule(res) if is_auto(conf.get(key)) else conf[key] for key, rule in rules.items()}


def galera_sizes(conf, res: Resources) -> dict:
    """``conf`` is group_data's ``galera``: each size as set there, or derived when "auto"/None."""
    return _sizes(GALERA_RULES, conf, res)


def rabbitmq_sizes(conf, res: Resources) -> dict:
    """``conf`` is group_data's ``rabbitmq``: each size as set there, or derived when "auto"/None."""
    return _sizes(RABBITMQ_RULES, conf, res)


def memcached_sizes(conf, res: Resources) -> dict:
    """``conf`` is group_data's ``memcached``: each size as set there, or derived when "auto"/None."""
    return _sizes(MEMCACHED_RULES, conf, res)
