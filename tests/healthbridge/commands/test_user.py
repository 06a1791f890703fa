"""``healthbridge user``: the first administrator and the development demo accounts."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from healthbridge.access import accounts
from healthbridge.access.accounts import Outcome
from healthbridge.access.tokens import Role
from healthbridge.cli import main
from healthbridge.config import get_settings
from healthbridge.store.db import make_engine
from healthbridge.store.repository import Repository


@pytest.fixture
def _data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("HEALTHBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HEALTHBRIDGE_ENVIRONMENT", "development")
    monkeypatch.delenv("HEALTHBRIDGE_AUTH_SECRET", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.usefixtures("_data_dir")
def test_create_admin_reads_the_password_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-admin-password\n"))
    assert main(["user", "create-admin", "--username", "Root", "--password-stdin"]) == 0
    assert "root" in capsys.readouterr().out
    engine = make_engine(get_settings().resolved_database_url())
    outcome, account = accounts.check_password(engine, "root", "a-long-admin-password", "cli")
    assert outcome is Outcome.OK
    assert account is not None
    assert account.role is Role.ADMIN
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "create-admin", "--username", "other", "--password-stdin"]) == 2
    engine.dispose()


@pytest.mark.usefixtures("_data_dir")
def test_demo_accounts_only_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTHBRIDGE_ENVIRONMENT", "test")
    monkeypatch.setenv("HEALTHBRIDGE_AUTH_SECRET", "x" * 40)
    get_settings.cache_clear()
    assert main(["user", "demo-accounts"]) == 2


def test_demo_accounts_sign_in_with_the_demo_password(repository: Repository) -> None:
    from healthbridge.commands.user import create_demo_accounts
    from healthbridge.demo.load import load_demo
    from healthbridge.web.pages_signin import DEMO_PASSWORD

    load_demo(repository, children=6, seed=7)
    made = create_demo_accounts(repository)
    assert made > 6
    assert create_demo_accounts(repository) == 0  # idempotent
    with repository.engine.connect() as conn:
        listed = accounts.list_accounts(conn)
    parent = next(a for a in listed if a.role is Role.PARENT)
    assert parent.fhir_user == f"RelatedPerson/{parent.username}"
    assert {a.role for a in listed} >= {Role.PARENT, Role.HEALTH_MANAGER, Role.PAEDIATRICIAN}
    assert Role.ADMIN not in {a.role for a in listed}
    ok, found = accounts.check_password(repository.engine, parent.username, DEMO_PASSWORD, "t")
    assert ok is Outcome.OK
    assert found == parent
