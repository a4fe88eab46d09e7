"""pyinfra inventory of the lab (``tests/lab/lab up`` first).

The same deploys and the same ``group_data/`` run here; only the addresses (netprefix,
netsuffix), the package proxies (apt and pip) and the limit of one ``apt-get update`` are
overridden, as per-host data, from the lab's state.
``LAB_ID`` picks the lab instance (default 0). Refuses to address a lab whose bridges or
guard route are missing, or a stopped host (set ``LAB_ALLOW_STOPPED=1`` in drills that
want the stopped host listed: its address then leads nowhere, never out of the machine).
``LAB_INVENTORY_HOSTS=N`` lists only the first N lab hosts (scale-out drills: deploy on 3 of a
lab of 5, then on all 5).

    pyinfra tests/lab/inventory.py deploys/prereqos.py -y
"""

import os as _os
import runpy as _runpy
from pathlib import Path as _Path

from tests.lab.lab import Lab as _Lab

_lab = _Lab.from_env()
_lab.require_network()
_desc = _lab.describe()
_hosts = _desc["hosts"][: int(_os.environ.get("LAB_INVENTORY_HOSTS") or len(_desc["hosts"]))]
_stopped = [h["name"] for n, h in enumerate(_hosts, 1) if _lab.state(n) != "RUNNING"]
if _stopped and not _os.environ.get("LAB_ALLOW_STOPPED"):
    raise SystemExit(f"lab {_lab.lab_id}: {', '.join(_stopped)} not running; `tests/lab/lab up` (or start N)")

_common = {
    "ssh_user": "root",
    "ssh_key": _desc["key"],
    "ssh_strict_host_key_checking": "no",
    "ssh_known_hosts_file": "/dev/null",
    "ssh_connect_retries": 1,
    "netprefix": _desc["netprefix"],
    "netsuffix": _desc["netsuffix"],
    # The lab's apt-cacher-ng, written on the hosts by the deploy itself (deploys/base.py,
    # deploys/buildenv.py) as on any site behind a proxy. PyPI's HTTPS is re-signed by the
    # machine's CA, which the lab's template trusts: pip must use the system bundle.
    "apt_proxy": _desc["proxy"],
    "pip_proxy": _desc["proxy"],
    "pip_cert": "/etc/ssl/certs/ca-certificates.crt",
    # The lab's apt-cacher-ng now and then leaves one host's `apt-get update` hanging after it
    # served that host a truncated InRelease that another host's request was fetching (its log:
    # "O 218" bytes of 151293; seen in 2 of 3 fresh converges on 2026-12-03). A whole update
    # takes 2-4 s here: the host kills it at 60 s, not group_data's 300 s, and the retry passes.
    "timeouts": {**_runpy.run_path(str(_Path(__file__).resolve().parents[2] / "group_data/all.py"))["timeouts"],
                 "apt_update": 60},
}

controllers = [(h["name"], {**_common, "ssh_hostname": h["ssh"]}) for h in _hosts]
