"""The gathered district kept on disk: a restart loads it and refreshes what changed since.

A snapshot is only a starting point: after loading it :func:`gather` checks its watermark
against the database as it checks the in-memory frames, so the frames handed out must equal a
fresh full read whatever happened in between (writes of every kind, a write stamped before the
watermark, rows gone, a corrupt or foreign file, another extractor version).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from healthbridge.demo.load import load_demo
from healthbridge.district import gather as gather_module
from healthbridge.district.gather import gather, last_gather, snapshot_path, wait_for_snapshots
from healthbridge.store import rule_inputs as ri
from healthbridge.store.repository import Repository
from tests.healthbridge.district.conftest import AS_OF, DEMO_CHILDREN
from tests.healthbridge.district.test_gather_refresh import Writer, _late_write, assert_same


@pytest.fixture
def district(repository: Repository) -> Iterator[Repository]:
    load_demo(repository, children=DEMO_CHILDREN, as_of=AS_OF)
    yield repository
    gather_module._CACHE.clear()
    gather_module._SAVED.clear()


def _restart() -> None:
    """What a server restart loses: the frames kept in memory."""
    wait_for_snapshots()
    gather_module._CACHE.clear()
    gather_module._SAVED.clear()


def _file(repo: Repository, directory: Path) -> Path:
    return snapshot_path(directory, repo.engine.url.render_as_string(hide_password=True))


def test_a_restart_loads_the_snapshot(district: Repository, tmp_path: Path) -> None:
    first = gather(district, snapshot_dir=tmp_path)
    assert last_gather().mode == "full"
    wait_for_snapshots()
    assert _file(district, tmp_path).is_file()
    _restart()
    again = gather(district, snapshot_dir=tmp_path)
    assert last_gather().mode == "snapshot"
    assert not last_gather().changed
    assert_same(again, first)
    assert_same(again, gather(district, cached=False), reports=True)
    gather(district, snapshot_dir=tmp_path)
    assert last_gather().mode == "cached"


def test_without_a_directory_nothing_is_written(district: Repository, tmp_path: Path) -> None:
    gather(district)
    wait_for_snapshots()
    assert not list(tmp_path.glob("**/district-frames-*"))


@pytest.mark.parametrize("seed", [2, 6])
def test_writes_while_down_are_refreshed(district: Repository, tmp_path: Path, seed: int) -> None:
    gather(district, snapshot_dir=tmp_path)
    _restart()
    writer = Writer(district, random.Random(seed))
    for _ in range(6):
        writer.any()
    got = gather(district, snapshot_dir=tmp_path)
    info = last_gather()
    assert info.mode == "snapshot", info
    assert sum(info.changed.values()) > 0
    assert_same(got, gather(district, cached=False), reports=True)
    # the refreshed state was saved again: a second restart starts from it
    _restart()
    writer.any()
    got = gather(district, snapshot_dir=tmp_path)
    assert last_gather().mode == "snapshot"
    assert_same(got, gather(district, cached=False))
    writer.any()
    got = gather(district, snapshot_dir=tmp_path)
    assert last_gather().mode == "incremental"
    assert_same(got, gather(district, cached=False))


def test_a_write_stamped_before_the_watermark_discards_it(
    district: Repository, tmp_path: Path
) -> None:
    gather(district, snapshot_dir=tmp_path)
    _restart()
    _late_write(district, "2000-01-01T00:00:00.000000")
    got = gather(district, snapshot_dir=tmp_path)
    info = last_gather()
    assert info.mode == "full"
    assert info.reason.startswith("snapshot: ")
    assert 99.5 in got.measurements["weight_kg"].tolist()
    assert_same(got, gather(district, cached=False))


def test_rows_gone_discard_it(district: Repository, tmp_path: Path) -> None:
    """As when another database (or a restored backup) answers at the same URL."""
    gather(district, snapshot_dir=tmp_path)
    _restart()
    with district.engine.begin() as conn:
        rid = conn.execute(
            text("SELECT res_id FROM resource WHERE res_type = 'Patient' ORDER BY res_id LIMIT 1")
        ).scalar_one()
        for table in ("resource", "resource_version", "rule_input"):
            conn.execute(
                text(f"DELETE FROM {table} WHERE res_type = 'Patient' AND res_id = :i"),
                {"i": rid},
            )
    got = gather(district, snapshot_dir=tmp_path)
    assert last_gather().mode == "full"
    assert last_gather().reason.startswith("snapshot: ")
    assert rid not in set(got.children["child_id"])
    assert_same(got, gather(district, cached=False))


def test_a_corrupt_file_is_ignored(district: Repository, tmp_path: Path) -> None:
    gather(district, snapshot_dir=tmp_path)
    _restart()
    path = _file(district, tmp_path)
    path.write_bytes(path.read_bytes()[:1000])
    gather(district, snapshot_dir=tmp_path)
    assert last_gather().mode == "full"
    assert last_gather().reason == "first read"


def test_a_snapshot_of_another_version_is_ignored(
    district: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gather(district, snapshot_dir=tmp_path)
    _restart()
    monkeypatch.setattr(gather_module, "SNAPSHOT_FORMAT", gather_module.SNAPSHOT_FORMAT + 1)
    gather(district, snapshot_dir=tmp_path)
    assert last_gather().mode == "full"
    _restart()
    monkeypatch.setattr(ri, "EXTRACTOR_VERSION", ri.EXTRACTOR_VERSION + 1)
    got = gather(district, snapshot_dir=tmp_path)
    assert last_gather().mode == "full"
    assert last_gather().source == "documents"  # the table is stale for that version too
    assert_same(got, gather(district, cached=False, source="documents"))


def test_another_database_file_is_not_read(district: Repository, tmp_path: Path) -> None:
    gather(district, snapshot_dir=tmp_path)
    _restart()
    _file(district, tmp_path).rename(snapshot_path(tmp_path, "sqlite:////elsewhere.sqlite3"))
    gather(district, snapshot_dir=tmp_path)
    assert last_gather().mode == "full"
    assert last_gather().reason == "first read"
