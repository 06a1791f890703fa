"""The ``db`` command and the default database location."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthbridge.cli import main
from healthbridge.config import Settings, get_settings


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", database_url="")
    assert (
        settings.resolved_database_url()
        == f"sqlite:///{(tmp_path / 'd' / 'healthbridge.sqlite3').resolve()}"
    )


def test_db_upgrade_creates_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEALTHBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HEALTHBRIDGE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert main(["db", "upgrade"]) == 0
        assert "revision 0018" in capsys.readouterr().out
        assert (tmp_path / "data" / "healthbridge.sqlite3").is_file()
        assert main(["db", "current"]) == 0
        assert capsys.readouterr().out.strip() == "0018"
    finally:
        get_settings.cache_clear()


def test_serve_help() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--help"])
    assert exc.value.code == 0


@pytest.mark.slow
def test_demo_command_loads_a_district(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``healthbridge demo`` runs end to end (it once failed on a name imported only for
    type checking: the store runtime it starts around the load)."""
    import sqlite3

    monkeypatch.setenv("HEALTHBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HEALTHBRIDGE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert main(["demo", "--children", "2", "--seed", "1", "--as-of", "2026-12-01"]) == 0
        assert "2 children" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()
    with sqlite3.connect(tmp_path / "data" / "healthbridge.sqlite3") as conn:
        count = conn.execute("SELECT count(*) FROM resource WHERE res_type = 'Patient'")
        assert count.fetchone()[0] == 2
