"""Apache, the build env and the admin openrc on the lab: Apache answers on each srv address
only with mod_wsgi/mod_proxy_uwsgi, the venv's uwsgi serves a WSGI app, the venv holds the pinned
packages and a re-run with PyPI unreachable changes nothing, /root/.openrc sources cleanly; a
second run changes nothing and no run prints the password."""

from __future__ import annotations

import hmac
import json
import urllib.error
import urllib.request

import pytest

from lib.secrets import load as load_secrets
from tests.bench.packages import pip_packages
from tests.lab_tests.conftest import ROOT, changed_ops, ok

pytestmark = pytest.mark.lab

DEPLOYS = ("deploys/apache.py", "deploys/buildenv.py", "deploys/openrc.py")
VENV = "/opt/openstack/venv"
PORT = 80  # group_data apache["port"]


@pytest.fixture(scope="module")
def password() -> str:
    return load_secrets()["openstack_admin_password"].unmask()


@pytest.fixture(scope="module")
def runs(lab):
    """Two runs of the three deploys: the first converges (verbose), the second must not change."""
    first = lab.pyinfra(*DEPLOYS, "-vv")
    ok(first)
    second = lab.pyinfra(*DEPLOYS, "--json")
    ok(second)
    return first, second


def test_second_run_changes_nothing(runs):
    assert changed_ops(json.loads(runs[1].stdout)) == {}


def test_password_never_in_pyinfra_output(runs, password):
    for proc in runs:
        assert password not in proc.stdout + proc.stderr, "admin password printed by pyinfra"


def http_status(url: str) -> int | str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except urllib.error.URLError as error:
        return type(error.reason).__name__


def test_apache_answers_on_srv_address_only(lab, runs):
    for n in lab.hosts:
        assert http_status(f"http://{lab.address('srv', n)}:{PORT}/") == 200
        assert http_status(f"http://{lab.address('api', n)}:{PORT}/") == "ConnectionRefusedError"
        # Nothing else on the port: no *:80, no [::]:80, no VIP (HAProxy binds those).
        listening = ok(lab.ssh(n, f"ss -Hltn 'sport = :{PORT}'")).split()
        assert [word for word in listening if word.endswith(f":{PORT}")] == [f"{lab.address('srv', n)}:{PORT}"]
        assert ok(lab.ssh(n, "systemctl is-active apache2; systemctl is-enabled apache2")).split() == [
            "active", "enabled"]


def test_apache_loads_wsgi_and_proxy_uwsgi(lab, runs):
    for n in lab.hosts:
        modules = {line.split()[0] for line in ok(lab.ssh(n, "apache2ctl -M 2>/dev/null")).splitlines()[1:]}
        assert {"wsgi_module", "proxy_module", "proxy_uwsgi_module"} <= modules, (n, modules)


APP = "def application(env, start_response):\n" \
      "    start_response('200 OK', [('Content-Type', 'text/plain')])\n" \
      "    return [b'served by uwsgi ' + env['SERVER_PROTOCOL'].encode()]\n"
FETCH = "import urllib.request, time\n" \
        "for _ in range(50):\n" \
        "    try:\n" \
        "        print(urllib.request.urlopen('http://127.0.0.1:9181/', timeout=2).read().decode()); break\n" \
        "    except OSError:\n" \
        "        time.sleep(0.2)\n"


def test_venv_uwsgi_serves_a_wsgi_app(lab, runs):
    for n in lab.hosts:
        assert ok(lab.ssh(n, f"{VENV}/bin/uwsgi --version")).strip().startswith("2.")
        script = (
            f"cat > /tmp/pq_app.py <<'EOF'\n{APP}EOF\n"
            f"{VENV}/bin/uwsgi --http-socket 127.0.0.1:9181 --wsgi-file /tmp/pq_app.py --master "
            "--processes 1 --die-on-term >/tmp/pq_uwsgi.log 2>&1 &\n"
            f"pid=$!; python3 - <<'EOF'\n{FETCH}EOF\n"
            "kill $pid; wait $pid; rm -f /tmp/pq_app.py"
        )
        assert ok(lab.ssh(n, script)).strip() == "served by uwsgi HTTP/1.1", n


PINNED = pip_packages(ROOT / "group_data/all.py")


def test_venv_holds_the_pinned_packages(lab, runs):
    assert PINNED and all("==" in package for package in PINNED), PINNED  # the default pins all
    for n in lab.hosts:
        frozen = ok(lab.ssh(n, f"{VENV}/bin/pip freeze --all --disable-pip-version-check")).lower().split()
        assert {package.lower() for package in PINNED} <= set(frozen), (n, frozen)


def test_rerun_with_pypi_unreachable_changes_nothing(lab, runs):
    """The lab reaches PyPI only through its proxy: with the proxy stopped, the venv's pip cannot
    reach the index, and the build env deploy (pinned packages installed) still succeeds unchanged."""
    lab.lab.stop_proxy()
    try:
        cut = lab.ssh(1, f"{VENV}/bin/pip index versions pip --disable-pip-version-check --retries 0 --timeout 5")
        rerun = lab.pyinfra("deploys/buildenv.py", "--json")
    finally:
        lab.lab.ensure_proxy()
    assert cut.returncode != 0, "PyPI still reachable with the lab proxy stopped: the test proves nothing"
    ok(rerun)
    assert changed_ops(json.loads(rerun.stdout)) == {}


def test_build_user_and_tmp_dir(lab, runs):
    for n in lab.hosts:
        passwd = ok(lab.ssh(n, "getent passwd osbuild")).strip().split(":")
        assert passwd[5] == "/home/osbuild" and passwd[6] == "/bin/bash"
        assert ok(lab.ssh(n, "stat -c '%U %G %a' /home/osbuild/tmp")).strip() == "osbuild osbuild 750"
        ok(lab.ssh(n, "su osbuild -c 'touch /home/osbuild/tmp/probe && rm /home/osbuild/tmp/probe'"))
        ok(lab.ssh(n, "dpkg -s build-essential python3-dev libpcre2-dev libmariadb-dev git >/dev/null"))


def test_openrc_sources_cleanly(lab, runs, password):
    api_vip = lab.vip("api")
    for n in lab.hosts:
        assert ok(lab.ssh(n, "stat -c '%a %U %G' /root/.openrc")).strip() == "600 root root"
        env = ok(lab.ssh(n, "env -i OS_TOKEN=stale PATH=/usr/bin:/bin bash -euc '. /root/.openrc; env -0'"))
        env = dict(item.split("=", 1) for item in env.split("\0") if item.startswith("OS_"))
        assert env.pop("OS_AUTH_URL") == f"https://{api_vip}:5000/v3"
        assert env.pop("OS_CACERT") == "/etc/ssl/certs/ca-certificates.crt"
        assert env.pop("OS_IDENTITY_API_VERSION") == "3"
        assert hmac.compare_digest(env.pop("OS_PASSWORD"), password), "OS_PASSWORD is not the secrets file's"
        assert "OS_TOKEN" not in env
        assert env == {
            "OS_AUTH_TYPE": "password", "OS_USERNAME": "admin", "OS_PROJECT_NAME": "admin",
            "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": "RegionOne", "OS_INTERFACE": "internal", "OS_ENDPOINT_TYPE": "internalURL",
        }
