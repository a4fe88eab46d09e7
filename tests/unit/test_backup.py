"""The backup catalog fact, the restore decision and the freshness rule, on real captured output
(tests/fixtures/backup/)."""

from __future__ import annotations

import copy
import json

import pytest
from pyinfra.api import FactProcessError
from pyinfra.api.exceptions import DeployError

from facts.backup import BackupCatalog
from lib.backup import BackupChoiceError, backup_nodes, freshness, restore_chain
from operations import backup
from tests.unit.conftest import NAMES, ROOT

FIXTURES = ROOT / "tests/fixtures/backup"
CHAIN = "20261201T202721Z"
FULL, INCREMENTAL = f"{CHAIN}-full", "20261201T202724Z-incremental"


def catalog(name: str = "catalog_verified.json") -> dict | None:
    return BackupCatalog().process((FIXTURES / name).read_text().splitlines())


def test_catalog_parses_the_backup_node():
    found = catalog()
    assert found["dir"] == "/var/backups/prereqos" and found["limits"] == {"max_full_age_hours": 26, "max_age_hours": 2}
    assert [(b["name"], b["kind"], b["good"], b["checksum"]) for b in found["backups"]] == [
        ("20261201T202659Z-full", "full", True, None), (FULL, "full", True, "ok"),
        (INCREMENTAL, "incremental", True, "ok")]


def test_catalog_of_another_node_is_none():
    assert catalog("catalog_not_a_backup_node.json") is None


@pytest.mark.parametrize("output", [["not json"], ['{"backups": [{"name": "x"}]}'], ['{"dir": "/x"}']])
def test_catalog_refuses_unexpected_output(output):
    with pytest.raises(FactProcessError):
        BackupCatalog().process(output)


def test_catalog_command_verifies_only_when_asked():
    assert "20261201T202721Z" in str(BackupCatalog().command(verify=CHAIN))
    assert str(BackupCatalog().command()).endswith("/etc/systemd/system/prereqos-backup-full.timer")


@pytest.mark.parametrize(("setting", "nodes"), [
    ("first", ["ctrl-2"]), ("all", NAMES), (["ctrl-3", "ctrl-1"], ["ctrl-1", "ctrl-3"])])
def test_backup_nodes(setting, nodes):
    assert backup_nodes(setting, NAMES, "ctrl-2") == nodes


def test_newest_good_backup_and_its_chain():
    assert restore_chain(catalog()["backups"]) == (CHAIN, [FULL, INCREMENTAL])
    assert restore_chain(catalog()["backups"], FULL) == (CHAIN, [FULL])
    assert restore_chain(catalog()["backups"], "20261201T202659Z-full") == ("20261201T202659Z", ["20261201T202659Z-full"])


def test_unknown_unfinished_or_broken_backups_are_refused():
    backups = catalog()["backups"]
    with pytest.raises(BackupChoiceError, match="restore_backup='nope' is not a backup"):
        restore_chain(backups, "nope")
    unfinished = copy.deepcopy(backups)
    unfinished[2]["good"] = False
    with pytest.raises(BackupChoiceError, match="no GOOD mark"):
        restore_chain(unfinished, INCREMENTAL)
    assert restore_chain(unfinished) == (CHAIN, [FULL])  # the newest good one
    broken = copy.deepcopy(backups)
    broken[2]["from_lsn"] = 1
    with pytest.raises(BackupChoiceError, match="the chain is broken"):
        restore_chain(broken)
    with pytest.raises(BackupChoiceError, match="no good backup"):
        restore_chain([])


def test_freshness():
    found = catalog()
    finished = found["backups"][-1]["finished"]
    ok, line = freshness(found, now=finished + 3600)
    assert ok and line.startswith("newest good full 1.0 h (limit 26 h), incremental 1.0 h"), line
    ok, line = freshness(found, now=finished + 3 * 3600)
    assert not ok and "newest of either 3.0 h (limit 2 h)" in line
    empty = {**found, "backups": []}
    assert freshness(empty, now=found["since"] + 3600)[0]
    ok, line = freshness(empty, now=found["since"] + 3 * 3600)
    assert not ok and "timers installed 3.0 h ago" in line


class Data(dict):
    __getattr__ = dict.get


def test_restore_plan_needs_the_confirmation():
    with pytest.raises(DeployError) as refused:
        backup.plan_restore("ctrl-1", CHAIN, catalog(), Data())
    message = str(refused.value)
    assert "\n" not in message and "--data restore_confirm=yes" in message and INCREMENTAL in message
    assert "2026-12-01 20:27:24 UTC" in message and "LOST" in message
    plan = backup.plan_restore("ctrl-1", CHAIN, catalog(), Data(restore_confirm="yes"))
    assert (plan.node, plan.chain, plan.backups, plan.parts) == ("ctrl-1", CHAIN, [FULL, INCREMENTAL],
                                                                ("mariadb", "rabbitmq"))


def test_a_corrupt_backup_is_refused():
    corrupt = catalog()
    corrupt["backups"][1]["checksum"] = "mariadb.xbstream.zst does not match its SHA256SUMS checksum"
    with pytest.raises(DeployError, match=f"backup {FULL} on ctrl-1 is corrupt"):
        backup.plan_restore("ctrl-1", CHAIN, corrupt, Data(restore_confirm="yes"))


def test_rabbitmq_part_needs_definitions():
    found = catalog()
    found["backups"][0]["checksum"] = "ok"  # the first chain, as read with verify=20261201T202659Z
    with pytest.raises(DeployError, match="holds no RabbitMQ definitions"):
        backup.plan_restore("ctrl-1", "20261201T202659Z", found,
                            Data(restore_confirm="yes", restore_backup="20261201T202659Z-full"))


def test_restore_choices():
    found = catalog()
    assert backup.choose({"ctrl-1": found, "ctrl-2": None}, Data()) == ("ctrl-1", CHAIN, [FULL, INCREMENTAL])
    with pytest.raises(DeployError, match="restore_node='ctrl-9' is not a backup node"):
        backup.choose({"ctrl-1": found}, Data(restore_node="ctrl-9"))
    with pytest.raises(DeployError, match="ctrl-1: unreachable or not set up"):
        backup.choose({"ctrl-1": None}, Data())
    with pytest.raises(DeployError, match="restore_parts='mysql'"):
        backup.parts_of(Data(restore_parts="mysql"))
    assert backup.parts_of(Data(restore_parts="rabbitmq")) == ("rabbitmq",)


def test_catalog_script_output_is_one_json_line():
    assert len((FIXTURES / "catalog_verified.json").read_text().splitlines()) == 1
    json.loads((FIXTURES / "catalog_verified.json").read_text())
