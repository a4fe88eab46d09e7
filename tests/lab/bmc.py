"""The lab's power controller: one IPMI BMC per container, as a real controller's BMC would be.

Started by ``tests/lab/lab up`` (``Lab.ensure_bmc``), stopped by ``lab down`` and ``lab destroy``.
One process per lab serves one BMC per host (pyghmi's ``Bmc``, RMCP+ / ``lanplus`` only),
each on its own UDP port of the lab's srv bridge address and nowhere else: ctrl-N answers
on ``10.<100+ID>.2.1:<BMC_PORT_BASE + N>``. The user and password are the lab's own (generated
by ``lab up`` into ``<state_dir>/bmc.json``, mode 0600; nothing shipped for real sites).

Power commands act on that lab's container of the host, and on nothing else:

- status: ``on`` while the container exists and is not stopped (a frozen one is ``on``: a
  hung machine still has power), ``off`` otherwise;
- off: ``lxc-stop -k`` (the power is cut: no shutdown, a frozen container dies too);
- on: ``lxc-start`` (the host boots, as after a power-on);
- cycle / reset: off then on.

Example (on a lab host, with ``ipmitool`` installed)::

    IPMI_PASSWORD=... ipmitool -I lanplus -H 10.103.2.1 -p 6231 -U fence -E power status
    # Chassis Power is on
"""

from __future__ import annotations

import json
import subprocess
import sys

import pyghmi.ipmi.bmc as bmc

from tests.lab.lab import BMC_PORT_BASE, Lab, log


class ContainerBmc(bmc.Bmc):
    """The BMC of lab host ``n``: its power is its container's state."""

    def __init__(self, lab: Lab, n: int, user: str, password: str) -> None:
        self.lab, self.n = lab, n
        super().__init__({user: password}, port=BMC_PORT_BASE + n, address=lab.gateway("srv"))

    def _lxc(self, *command: str) -> int:
        result = subprocess.run([*command, "-n", self.lab.container(self.n)], capture_output=True, text=True)
        log(f"bmc ctrl-{self.n}: {command[0]} -> {result.returncode} {result.stderr.strip()}")
        return 0 if result.returncode == 0 else 0xd5  # "cannot execute command in present state"

    def get_power_state(self) -> str:
        return "off" if self.lab.state(self.n) in ("STOPPED", "ABSENT") else "on"

    def power_off(self) -> int:
        return self._lxc("lxc-stop", "-k") if self.get_power_state() == "on" else 0

    def power_on(self) -> int:
        return self._lxc("lxc-start") if self.get_power_state() == "off" else 0

    def power_cycle(self) -> int:
        return self.power_off() or self.power_on()

    def power_reset(self) -> int:
        return self.power_cycle()


def serve(lab: Lab) -> None:
    credentials = json.loads(lab.bmc_credentials_file.read_text())
    bmcs = [ContainerBmc(lab, n, credentials["user"], credentials["password"]) for n in range(1, lab.hosts + 1)]
    log(f"bmc: {len(bmcs)} BMCs on {lab.gateway('srv')} ports {BMC_PORT_BASE + 1}-{BMC_PORT_BASE + lab.hosts}")
    while True:  # serves every BMC of this process, forever
        try:
            bmc.Bmc.listen(timeout=30)
        except Exception as error:  # noqa: BLE001 - one client's exchange, not the power controller
            # pyghmi 1.6.19 raises on a RAKP3 reaching a session that has not seen its RAKP1 (a
            # client retransmitting under load): that client's login fails, the others go on.
            log(f"bmc: {type(error).__name__}: {error}: serving on")


if __name__ == "__main__":
    sys.exit(serve(Lab.from_env()))
