"""Build environment for OpenStack from PyPI: compilers and -dev headers, a build user with
its tmp dir, and a venv (PEP 668: no system-wide pip) with the packages group_data pins (pip and
uWSGI's wheel by default: nothing compiled), through the site's proxy or index if group_data
names one.

Runnable alone::

    pyinfra inventory.py deploys/buildenv.py
"""

from pyinfra import host

from lib.deploy import prologue
from lib.steps import limit
from operations import buildenv, steady

topo = prologue()
conf = host.data.buildenv
user = conf["user"]
home = f"/home/{user}"
# The packages and pip's settings below: one reading when nothing changes (operations/steady.py).
snap = steady.Snapshot()

steady.packages(
    snap,
    name="Install compilers, git and -dev headers",
    packages=buildenv.PACKAGES,
    no_recommends=True,
    **limit("apt"),
)
steady.user(
    snap,
    name=f"Build user {user}",
    user=user,
    home=home,
    shell="/bin/bash",
    system=True,
    create_home=True,
)
steady.directory(
    snap,
    name=f"Build tmp dir {home}/tmp",
    path=f"{home}/tmp",
    user=user,
    group=user,
    mode="750",
)
steady.venv(
    snap,
    name=f"Python venv {conf['venv']}",
    path=conf["venv"],
    python="python3",
    **limit("pip"),
)
# pip's proxy, index and CA bundle (group_data pip_proxy, pip_index_url, pip_cert) for the venv's
# pip only (its site config: nothing else's pip.conf is touched); all None removes the file.
PIP_SETTINGS = ("pip_proxy", "pip_index_url", "pip_cert")
pip_settings = {key: host.data.get(key) for key in PIP_SETTINGS}
pip_conf = f"{conf['venv'].rstrip('/')}/pip.conf"
if any(pip_settings.values()):
    steady.template(snap, name=f"pip settings {pip_conf}", src="templates/buildenv/pip.conf.j2", dest=pip_conf,
                    mode="644", **pip_settings)
else:
    steady.absent(snap, name=f"No pip settings {pip_conf}", path=pip_conf)
buildenv.current_packages(
    name=f"Current {', '.join(conf['pip_packages'])} in the venv (from PyPI)",
    packages=conf["pip_packages"],
    virtualenv=conf["venv"],
    **limit("pip"),
)
