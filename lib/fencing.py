"""Fencing (STONITH) from group_data ``fencing``: the devices of each controller, their names in
the CIB, their passwords' keys in secrets.json and files on the hosts, the Debian packages.

A controller's devices are tried in the order given (fencing levels 1, 2, ...). Each becomes a
stonith resource ``fence-<controller>-<level>`` that never runs on that controller. The password
is an operator's secret: ``python -m lib.secrets set fence_<controller>_<level>`` (read on
stdin) puts it in secrets.json; the deploy writes it on every controller into a 0600 file
(``password_file``), which the agent reads (fence_redfish: ``password_script``; fence_ipmilan:
through ``IPMITOOL_WRAPPER``, which hands it to ipmitool in its environment, never as ``-P``).
The CIB holds the file's path, not the password.

Example::

    devices = fence_devices({"devices": {"ctrl-1": [{"agent": "fence_ipmilan", "address": "10.0.9.11",
                                                     "user": "fence"}]}, "monitor_interval": "60s"})
    devices[0].rsc_id, devices[0].secret_key, devices[0].port   # fence-ctrl-1-1, fence_ctrl-1_1, 623
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

AGENTS = {"fence_ipmilan": 623, "fence_redfish": 443}  # agent -> default port
# The agent's own packages: Debian 12 ships every agent in fence-agents (fence_ipmilan needs
# ipmitool, only Recommended there); Debian 13 splits them (fence-agents is a transitional
# package pulling all of them).
PACKAGES = {
    12: {"fence_ipmilan": ["fence-agents", "ipmitool"], "fence_redfish": ["fence-agents"]},
    13: {"fence_ipmilan": ["fence-agents-ipmilan"], "fence_redfish": ["fence-agents-redfish"]},
}
SECRET_DIR = "/etc/prereqos/fence"
IPMI_PASSWORD_MAX = 20  # bytes: ipmitool refuses a longer one ("password is longer than 20 bytes")
IPMITOOL_WRAPPER = "/usr/local/sbin/prereqos-fence-ipmitool"
# Agent parameters the deploy sets itself (address, user, password, host): not in ``options``.
OWN_PARAMETERS = frozenset({
    "ip", "ipaddr", "ipport", "username", "login", "password", "passwd", "password_script",
    "passwd_script", "ipmitool_path", "pcmk_host_list", "pcmk_host_map", "plug", "port",
})
RESOURCE_PREFIX = "fence-"


@dataclass(frozen=True)
class FenceDevice:
    node: str  # the controller it powers off
    level: int  # 1 first, 2 if 1 failed, ...
    agent: str
    address: str
    port: int
    user: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def rsc_id(self) -> str:
        return f"{RESOURCE_PREFIX}{self.node}-{self.level}"

    @property
    def secret_key(self) -> str:
        return f"fence_{self.node}_{self.level}"

    @property
    def password_file(self) -> str:
        """Where the password is on every controller (0600 root). fence_ipmilan's wrapper only
        sees ipmitool's ``-H``/``-p``: the name comes from them."""
        return f"{SECRET_DIR}/{self.address}-{self.port}"

    def params(self) -> dict[str, Any]:
        """The stonith resource's instance attributes (no password: a path to it)."""
        params: dict[str, Any] = {"ip": self.address, "ipport": self.port, "username": self.user,
                                  "pcmk_host_list": self.node}
        if self.agent == "fence_ipmilan":
            params.update(lanplus=1, ipmitool_path=IPMITOOL_WRAPPER)
        else:
            params["password_script"] = f"cat {self.password_file}"
        return {**params, **self.options}


def fence_devices(fencing: Mapping[str, Any]) -> list[FenceDevice]:
    """Every device of group_data ``fencing`` (validated), by controller then level."""
    return [
        FenceDevice(node=node, level=level, agent=device["agent"], address=device["address"],
                    port=device.get("port", AGENTS[device["agent"]]), user=device["user"],
                    options=dict(device.get("options", {})))
        for node, devices in sorted(fencing["devices"].items())
        for level, device in enumerate(devices, 1)
    ]


def fence_levels(devices: list[FenceDevice]) -> dict[str, list[str]]:
    """Each controller's device ids, level 1 first."""
    levels: dict[str, list[str]] = {}
    for device in sorted(devices, key=lambda d: (d.node, d.level)):
        levels.setdefault(device.node, []).append(device.rsc_id)
    return levels


def packages(major: int, devices: list[FenceDevice]) -> list[str]:
    """Debian's packages of the agents ``devices`` use, on Debian ``major`` (12 or 13)."""
    wanted = {agent for agent in (d.agent for d in devices)}
    return sorted({package for agent in wanted for package in PACKAGES[major][agent]})
