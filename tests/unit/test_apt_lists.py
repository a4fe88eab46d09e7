"""operations/apt_lists.py: pyinfra's apt.update whose apt-get update the host kills at its limit."""

from __future__ import annotations

from datetime import datetime, timedelta

from pyinfra.facts.files import File
from pyinfra.facts.server import Date

from operations import apt_lists
from tests.unit.fakes import FakeHost, run

NOW = datetime(2026, 12, 2, 10, 0, 0)
STAMP = {"mtime": NOW - timedelta(days=2)}


def test_stale_lists_are_updated_under_the_hosts_own_limit_then_stamped():
    host = FakeHost({File: STAMP, Date: NOW})
    assert run(apt_lists.update, host, limit=300, cache_time=86400) == [
        "timeout --kill-after=5 300 apt-get update",
        "touch /var/lib/apt/periodic/update-success-stamp",
    ]


def test_fresh_lists_are_left_alone_as_pyinfra_does():
    host = FakeHost({File: {"mtime": NOW - timedelta(hours=1)}, Date: NOW})
    assert run(apt_lists.update, host, limit=300, cache_time=86400) == []
    assert host.noops == ["apt is already up to date"]


def test_without_cache_time_it_always_updates():
    assert run(apt_lists.update, FakeHost(), limit=60) == ["timeout --kill-after=5 60 apt-get update"]


def test_pyinfra_waits_as_long_and_retries_twice():
    assert apt_lists.retried(300) == {"_timeout": 300, "_retries": 2, "_retry_delay": 10}
