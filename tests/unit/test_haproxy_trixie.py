"""HAProxy on Debian 13 (trixie): ``show stat`` of HAProxy 3.0.11 (206 columns, 2.6 has 129)
captured on lab 5's ctrl-1 with HaproxyBackends' own command, the whole stack converged."""

from __future__ import annotations

from facts.haproxy import HaproxyBackends
from tests.unit.conftest import ROOT

FIXTURES = ROOT / "tests/fixtures/haproxy"


def test_show_stat_of_haproxy_3_0():
    output = (FIXTURES / "show_stat_trixie.csv").read_text().splitlines()
    backends = HaproxyBackends().process(output)
    assert len(backends) == 15  # the 14 services of the catalog and the stats page
    assert backends["galera_cluster"] == {
        "status": "UP",
        "servers": {
            "ctrl-1": {"status": "UP", "backup": False},
            "ctrl-2": {"status": "UP", "backup": True},
            "ctrl-3": {"status": "UP", "backup": True},
        },
    }
    assert backends["stats"] == {"status": "UP", "servers": {}}
    assert backends["dashboard_cluster"]["status"] == "DOWN"  # no Horizon on the lab
    assert not any("FRONTEND" in backend["servers"] for backend in backends.values())
