"""The object stores of export files: a local directory and an S3-compatible service (moto's
S3 API served locally, tests/conftest.py ``s3_settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from healthbridge.config import Settings
from healthbridge.store.objects import LocalStore, ObjectStore, S3Store, open_store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return open_store(Settings(data_dir=tmp_path))
    overrides: dict[str, Any] = request.getfixturevalue("s3_settings")
    made = open_store(Settings(data_dir=tmp_path, **overrides))
    assert isinstance(made, S3Store)
    assert made.prefix == "exports"
    return made


def test_put_stream_delete(store: ObjectStore, tmp_path: Path) -> None:
    big = tmp_path / "big.ndjson"
    line = '{"resourceType":"Patient","name":[{"text":"王小明"}]}\n'
    big.write_text(line * 20_000, encoding="utf-8")  # > one streamed chunk
    small = tmp_path / "small.ndjson"
    small.write_text("{}\n", encoding="utf-8")
    store.put_file("job-1/Patient.ndjson", big)
    store.put_file("job-1/Observation.ndjson", small)
    store.put_file("job-2/Patient.ndjson", small)
    assert store.exists("job-1/Patient.ndjson")
    assert not store.exists("job-1/Encounter.ndjson")
    chunks = list(store.stream("job-1/Patient.ndjson"))
    assert len(chunks) > 1
    assert b"".join(chunks) == big.read_bytes()
    store.put_file("job-2/Patient.ndjson", big)  # replaced
    assert b"".join(store.stream("job-2/Patient.ndjson")) == big.read_bytes()
    with pytest.raises(FileNotFoundError):
        b"".join(store.stream("job-1/Encounter.ndjson"))
    assert store.delete_prefix("job-1") == 2
    assert not store.exists("job-1/Patient.ndjson")
    assert store.exists("job-2/Patient.ndjson")  # another job's files stay
    assert store.delete_prefix("job-1") == 0


@pytest.mark.parametrize("key", ["", "../x", "a//b", "a/./b", "/abs"])
def test_keys_cannot_leave_the_store(store: ObjectStore, tmp_path: Path, key: str) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    with pytest.raises(ValueError, match="not an object key"):
        store.put_file(key, path)


def test_open_store_settings(tmp_path: Path) -> None:
    local = open_store(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalStore)
    assert local.root == tmp_path / "bulk-export"
    other = open_store(Settings(data_dir=tmp_path, export_store=f"file://{tmp_path}/shared"))
    assert isinstance(other, LocalStore)
    assert other.root == tmp_path / "shared"
    with pytest.raises(ValueError, match="names no bucket"):
        open_store(Settings(export_store="s3://"))
    with pytest.raises(ValueError, match="use s3://"):
        open_store(Settings(export_store="ftp://x"))
