"""``healthbridge db backup`` / ``db restore`` round-trip a demo district on both databases."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from healthbridge.cli import main
from healthbridge.config import get_settings
from healthbridge.demo.bundles import bundles
from healthbridge.demo.population import generate
from healthbridge.store import backup as backup_module
from healthbridge.store.db import make_engine
from healthbridge.store.models import ResourceRow, ResourceVersionRow
from tests import factories as f
from tests.conftest import AppFactory
from tests.live_server import client_headers


@pytest.fixture
def configured(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI's settings point at the test database."""
    monkeypatch.setenv("HEALTHBRIDGE_DATABASE_URL", database_url)
    if os.environ.get("HEALTHBRIDGE_TEST_PGBIN"):
        monkeypatch.setenv("HEALTHBRIDGE_PG_BIN", os.environ["HEALTHBRIDGE_TEST_PGBIN"])
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def _snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored version and current row, plus index row counts."""
    engine = make_engine(database_url)
    out: dict[str, list[tuple[Any, ...]]] = {}
    try:
        with engine.connect() as conn:
            for name, table in (
                ("versions", ResourceVersionRow.__table__),  # type: ignore[attr-defined]
                ("current", ResourceRow.__table__),  # type: ignore[attr-defined]
            ):
                rows = conn.execute(select(table)).all()
                out[name] = sorted(tuple(r) for r in rows)
            for kind in ("idx_token", "idx_string", "idx_date", "idx_reference"):
                table = ResourceRow.metadata.tables[kind]
                out[kind] = sorted(tuple(map(str, r)) for r in conn.execute(select(table)).all())
    finally:
        engine.dispose()
    return out


@pytest.mark.slow
def test_backup_restore_round_trips_a_demo_district(
    configured: str, app_factory: AppFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    district = generate(children=4, seed=7, as_of=dt.date(2026, 11, 1))
    headers = client_headers()
    with TestClient(app_factory()) as client:
        for bundle in bundles(district):
            assert client.post("/fhir", json=bundle, headers=headers).status_code == 200
        # a second version and a deletion, so history is more than version 1
        pid = district.children[0].id
        current = client.get(f"/fhir/Patient/{pid}", headers=headers).json()
        assert client.put(f"/fhir/Patient/{pid}", json=current, headers=headers).status_code == 200
        obs = client.get(f"/fhir/Observation?subject=Patient/{pid}", headers=headers).json()
        oid = obs["entry"][0]["resource"]["id"]
        assert client.delete(f"/fhir/Observation/{oid}", headers=headers).status_code == 204
    before = _snapshot(configured)
    assert len(before["versions"]) > 50

    archive = tmp_path / "backups" / "hb.backup"
    assert main(["db", "backup", str(archive)]) == 0
    assert archive.is_file()

    with TestClient(app_factory()) as client:  # changes after the backup are undone
        assert client.post("/fhir/Patient", json=f.child(), headers=headers).status_code == 201
        assert client.delete(f"/fhir/Patient/{pid}", headers=headers).status_code == 204
    assert _snapshot(configured) != before

    assert main(["db", "restore", str(archive)]) == 0
    assert "restored" in capsys.readouterr().out
    assert _snapshot(configured) == before
    with TestClient(app_factory()) as client:  # and the restored database serves
        assert (
            client.get(f"/fhir/Patient/{pid}", headers=headers).json()["meta"]["versionId"] == "2"
        )


@pytest.mark.usefixtures("configured")
def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.backup"
    bogus.write_bytes(b"not a backup at all")
    assert main(["db", "restore", str(bogus)]) == 1
    assert main(["db", "restore", str(tmp_path / "missing")]) == 1
    with pytest.raises(backup_module.BackupError):
        backup_module.backup("sqlite://", tmp_path / "x")
