"""``healthbridge db reindex`` against a SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from healthbridge.cli import main

ENROL = "https://healthbridge.github.io/fhir/StructureDefinition/childcare-enrollment"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from healthbridge.config import get_settings

    url = f"sqlite:///{tmp_path / 'hb.sqlite3'}"
    monkeypatch.setenv("HEALTHBRIDGE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_reindex_command(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.hooks import SYSTEM_CONTEXT
    from healthbridge.store.repository import Repository
    from healthbridge.store.search import index_table
    from tests import factories

    engine = make_engine(database)
    upgrade(engine)
    enrolment = {
        "url": ENROL,
        "extension": [
            {"url": "centre", "valueReference": {"reference": "Organization/c1"}},
            {"url": "period", "valuePeriod": {"start": "2026-01-01"}},
        ],
    }
    with Repository(engine).transaction(SYSTEM_CONTEXT) as txn:
        for _ in range(2):
            txn.create(factories.child(extension=[enrolment]))
    ref = index_table("reference")
    centre_rows = select(func.count()).where(ref.c.param == "enrollment-centre")
    with engine.begin() as conn:
        conn.execute(delete(ref).where(ref.c.param == "enrollment-centre"))
    engine.dispose()

    assert main(["db", "reindex", "--param", "enrollment-centre"]) == 0
    assert capsys.readouterr().out == "Patient: 2 resources, 2 index rows\n"
    with engine.connect() as conn:
        assert conn.execute(centre_rows).scalar_one() == 2
    assert main(["db", "reindex", "--param", "nope"]) == 1
    assert "nope" in capsys.readouterr().err
    engine.dispose()
