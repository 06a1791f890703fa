"""``healthbridge import-session FILE`` against a SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from healthbridge.cli import main


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from healthbridge.config import get_settings

    url = f"sqlite:///{tmp_path / 'hb.sqlite3'}"
    monkeypatch.setenv("HEALTHBRIDGE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_import_session_command(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.hooks import SYSTEM_CONTEXT
    from healthbridge.store.repository import Repository
    from tests import factories

    engine = make_engine(database)
    upgrade(engine)
    with Repository(engine).transaction(SYSTEM_CONTEXT) as txn:
        txn.create(factories.child(child_id="HB-9", birth_date="2025-02-01"))
    engine.dispose()
    good = tmp_path / "good.csv"
    good.write_text("identifier,date,weight\nHB-9,2026-01-05,8.4\n", encoding="utf-8")
    assert main(["import-session", str(good), "--lang", "en"]) == 0
    assert "1 accepted, 0 rejected, 2 resources created" in capsys.readouterr().out

    mixed = tmp_path / "mixed.csv"
    mixed.write_text("identifier,date,weight\nHB-9,2026-01-06,8.5\nX,2026-01-06,8\n", "utf-8")
    assert main(["import-session", str(mixed), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "row 3 X" in out

    bad = tmp_path / "bad.csv"
    bad.write_text("weight\n8\n", encoding="utf-8")
    assert main(["import-session", str(bad)]) == 2


def test_imported_rows_get_their_results(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command writes through the server's pipeline: in the default (outbox) mode the
    rows' evaluation is queued, and a worker writes the growth scores."""
    from sqlalchemy import func, select

    from healthbridge.pipeline.pending import queued_children
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.hooks import SYSTEM_CONTEXT
    from healthbridge.store.models import ResourceRow
    from healthbridge.store.repository import Repository
    from tests import factories

    engine = make_engine(database)
    upgrade(engine)
    repo = Repository(engine)
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        child = txn.create(factories.child(child_id="HB-9", birth_date="2025-02-01")).stored
    good = tmp_path / "good.csv"
    good.write_text("identifier,date,weight\nHB-9,2026-01-05,8.4\n", encoding="utf-8")
    assert main(["import-session", str(good), "--lang", "en"]) == 0
    assert "queued for the clinical pipeline" in capsys.readouterr().out
    assert queued_children(repo, [child.id]) == {child.id}

    def observations() -> int:
        query = select(func.count()).where(ResourceRow.res_type == "Observation")
        with engine.connect() as conn:
            return int(conn.execute(query.select_from(ResourceRow)).scalar_one())

    assert observations() == 1  # the weight; no derived score yet
    assert main(["worker", "--once"]) == 0
    assert queued_children(repo, [child.id]) == set()
    assert observations() > 1  # the weight-for-age scores
    engine.dispose()
