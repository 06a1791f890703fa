"""The gathered district kept on disk: a restart loads it and refreshes what changed since.

A snapshot is only a starting point: after loading it :func:`gather` checks its watermark
against the database as it checks the in-memory frames, so the frames handed out must equal a
fresh full read whatever happened in between (writes of every kind, a write stamped before the
watermark, rows gone, a corrupt or foreign file, another extractor version).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from healthbridge.demo.load import load_demo
from healthbridge.district import snapshot
from healthbridge.district.cache import DistrictCache
from healthbridge.district.gather import gather
from healthbridge.store import rule_inputs as ri
from healthbridge.store.repository import Repository
from tests.healthbridge.district.conftest import AS_OF, DEMO_CHILDREN
from tests.healthbridge.district.document_read import read_documents
from tests.healthbridge.district.test_gather_refresh import Writer, _late_write, assert_same


@pytest.fixture
def district(repository: Repository) -> Iterator[Repository]:
    load_demo(repository, children=DEMO_CHILDREN, as_of=AS_OF)
    return repository


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[DistrictCache]:
    """The cache of a server whose data directory is ``tmp_path``."""
    district_cache = DistrictCache(tmp_path)
    yield district_cache
    district_cache.close()


def _restart(cache: DistrictCache) -> DistrictCache:
    """A server restart: the cache closed (the snapshot being written finishes), a new one
    made, the frames kept in memory lost."""
    cache.close()
    return DistrictCache(cache.snapshot_dir)


def _file(repo: Repository, directory: Path) -> Path:
    """The snapshot's manifest."""
    key = repo.engine.url.render_as_string(hide_password=True)
    return snapshot.manifest_path(directory, key)


def test_a_restart_loads_the_snapshot(
    district: Repository, cache: DistrictCache, tmp_path: Path
) -> None:
    first = cache.gather(district)
    assert cache.last.mode == "full"
    cache.wait()
    assert _file(district, tmp_path).is_file()
    cache = _restart(cache)
    again = cache.gather(district)
    assert cache.last.mode == "snapshot"
    assert not cache.last.changed
    assert_same(again, first)
    assert_same(again, gather(district), reports=True)
    cache.gather(district)
    assert cache.last.mode == "cached"


def test_without_a_directory_nothing_is_written(district: Repository, tmp_path: Path) -> None:
    cache = DistrictCache()
    cache.gather(district)
    cache.close()
    assert not list(tmp_path.glob("**/district-frames-*"))


@pytest.mark.parametrize("seed", [2, 6])
def test_writes_while_down_are_refreshed(
    district: Repository, cache: DistrictCache, seed: int
) -> None:
    cache.gather(district)
    cache = _restart(cache)
    writer = Writer(district, random.Random(seed))
    for _ in range(6):
        writer.any()
    got = cache.gather(district)
    info = cache.last
    assert info.mode == "snapshot", info
    assert sum(info.changed.values()) > 0
    assert_same(got, gather(district), reports=True)
    # the refreshed state was saved again: a second restart starts from it
    cache = _restart(cache)
    writer.any()
    got = cache.gather(district)
    assert cache.last.mode == "snapshot"
    assert_same(got, gather(district))
    writer.any()
    got = cache.gather(district)
    assert cache.last.mode == "incremental"
    assert_same(got, gather(district))


def test_a_write_stamped_before_the_watermark_discards_it(
    district: Repository, cache: DistrictCache
) -> None:
    cache.gather(district)
    cache = _restart(cache)
    _late_write(district, "2000-01-01T00:00:00.000000")
    got = cache.gather(district)
    info = cache.last
    assert info.mode == "full"
    assert info.reason.startswith("snapshot: ")
    assert 99.5 in got.measurements["weight_kg"].tolist()
    assert_same(got, gather(district))


def test_rows_gone_discard_it(district: Repository, cache: DistrictCache) -> None:
    """As when another database (or a restored backup) answers at the same URL."""
    cache.gather(district)
    cache = _restart(cache)
    with district.engine.begin() as conn:
        rid = conn.execute(
            text("SELECT res_id FROM resource WHERE res_type = 'Patient' ORDER BY res_id LIMIT 1")
        ).scalar_one()
        for table in ("resource", "resource_version", "rule_input"):
            conn.execute(
                text(f"DELETE FROM {table} WHERE res_type = 'Patient' AND res_id = :i"),
                {"i": rid},
            )
    got = cache.gather(district)
    assert cache.last.mode == "full"
    assert cache.last.reason.startswith("snapshot: ")
    assert rid not in set(got.children["child_id"])
    assert_same(got, gather(district))


def test_a_corrupt_file_is_ignored(
    district: Repository, cache: DistrictCache, tmp_path: Path
) -> None:
    cache.gather(district)
    cache = _restart(cache)
    path = _file(district, tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    cache.gather(district)
    assert cache.last.mode == "full"
    assert cache.last.reason == "first read"


@pytest.mark.parametrize("damage", ["truncated", "foreign", "missing"])
def test_a_damaged_frame_file_is_ignored(
    district: Repository, cache: DistrictCache, tmp_path: Path, damage: str
) -> None:
    """A Parquet file of the snapshot cut short, replaced by something else, or gone: the
    snapshot is not used, the district is read again (and the snapshot rewritten)."""
    want = cache.gather(district)
    cache = _restart(cache)
    files = sorted(tmp_path.glob("district-frames-*-frames.measurements.parquet"))
    assert len(files) == 1
    if damage == "truncated":
        files[0].write_bytes(files[0].read_bytes()[:200])
    elif damage == "foreign":
        pd.DataFrame({"x": [1, 2]}).to_parquet(files[0])
    else:
        files[0].unlink()
    got = cache.gather(district)
    assert cache.last.mode == "full"
    assert cache.last.reason == "first read"
    assert_same(got, want)
    cache = _restart(cache)
    assert_same(cache.gather(district), want)
    assert cache.last.mode == "snapshot"


def test_a_snapshot_being_written_is_never_read(
    district: Repository, cache: DistrictCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails before its manifest is renamed into place (a crash, a full disk)
    leaves the previous snapshot whole and no file of its own behind."""
    cache.gather(district)
    cache.wait()
    before = sorted(p.name for p in tmp_path.glob("district-frames-*"))
    Writer(district, random.Random(3)).session()
    state = cache._state
    assert state is not None

    def fail(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(snapshot.os, "replace", fail)
    key = district.engine.url.render_as_string(hide_password=True)
    with pytest.raises(OSError, match="disk full"):
        snapshot.save(tmp_path, key, state)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.glob("district-frames-*")) == before
    cache = _restart(cache)
    got = cache.gather(district)
    assert cache.last.mode == "snapshot"
    assert sum(cache.last.changed.values()) > 0  # the old snapshot, refreshed
    assert_same(got, gather(district))


def test_close_waits_for_the_snapshot_and_leaves_no_thread(
    district: Repository, tmp_path: Path
) -> None:
    cache = DistrictCache(tmp_path)
    cache.gather(district)
    cache.close()
    assert _file(district, tmp_path).is_file()
    assert not [t for t in threading.enumerate() if t.name == "district-snapshot"]
    cache.gather(district)  # still serves after close, without writing
    assert cache._saver is None or not cache._saver.is_alive()


def test_no_pickle_is_written(district: Repository, cache: DistrictCache, tmp_path: Path) -> None:
    cache.gather(district)
    cache.wait()
    names = {p.suffix for p in tmp_path.glob("district-frames-*")}
    assert names == {".json", ".parquet"}


def test_a_snapshot_of_another_version_is_ignored(
    district: Repository, cache: DistrictCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.gather(district)
    cache = _restart(cache)
    monkeypatch.setattr(snapshot, "SNAPSHOT_FORMAT", snapshot.SNAPSHOT_FORMAT + 1)
    cache.gather(district)
    assert cache.last.mode == "full"
    cache = _restart(cache)
    monkeypatch.setattr(ri, "EXTRACTOR_VERSION", ri.EXTRACTOR_VERSION + 1)
    got = cache.gather(district)
    assert cache.last.mode == "full"
    assert cache.last.rebuilt  # the table was stale for that version too
    assert_same(got, read_documents(district))


def test_another_database_file_is_not_read(
    district: Repository, cache: DistrictCache, tmp_path: Path
) -> None:
    cache.gather(district)
    cache = _restart(cache)
    _file(district, tmp_path).rename(
        snapshot.manifest_path(tmp_path, "sqlite:////elsewhere.sqlite3")
    )
    cache.gather(district)
    assert cache.last.mode == "full"
    assert cache.last.reason == "first read"
