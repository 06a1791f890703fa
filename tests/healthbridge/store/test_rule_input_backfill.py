"""Migration 0008 fills the rule-input table of a database that holds resources without rows.

A database at 0007 whose resources have no rule-input rows (stored before the table existed,
or by a loader that did not write them), upgraded, must give the district exactly the frames
and reports it gives with the rows the store writes itself — and the same as the documents say
(the oracle read) — on both databases.
"""

from __future__ import annotations

from alembic import command
from sqlalchemy import func, select, text

from healthbridge.demo.load import load_demo
from healthbridge.district.gather import gather
from healthbridge.store import rule_inputs as ri
from healthbridge.store.db import alembic_config, current_revision, upgrade
from healthbridge.store.repository import Repository
from tests.healthbridge.district.conftest import AS_OF, DEMO_CHILDREN
from tests.healthbridge.district.document_read import read_documents
from tests.healthbridge.district.test_gather_refresh import assert_same


def _rows(repo: Repository) -> int:
    with repo.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ri.RULE_INPUT)).scalar_one())


def test_upgrade_from_0007_backfills_the_rule_inputs(repository: Repository) -> None:
    load_demo(repository, children=DEMO_CHILDREN, as_of=AS_OF)
    fresh = gather(repository)  # the rows the store wrote with every resource
    rows = _rows(repository)
    assert rows > 0
    command.downgrade(alembic_config(repository.engine), "0007")
    assert current_revision(repository.engine) == "0007"
    with repository.engine.begin() as conn:  # resources without rule-input rows
        conn.execute(text("DELETE FROM rule_input"))
        ri.mark_built(conn, None)
    assert _rows(repository) == 0

    upgrade(repository.engine)
    assert current_revision(repository.engine) >= "0008"  # the backfill ran
    with repository.engine.connect() as conn:
        assert ri.is_current(conn)  # built by the migration, not by the read below
    assert _rows(repository) == rows
    upgraded = gather(repository)
    assert_same(upgraded, fresh, reports=True)
    assert_same(upgraded, read_documents(repository), reports=True)


def test_backfill_replaces_wrong_rows(repository: Repository) -> None:
    """Rows left by another extractor are replaced, and rows of deleted resources dropped."""
    load_demo(repository, children=DEMO_CHILDREN, as_of=AS_OF)
    want = gather(repository)
    with repository.engine.begin() as conn:
        conn.execute(text("UPDATE rule_input SET code = 'x' WHERE res_type = 'Immunization'"))
        conn.execute(
            text(
                "INSERT INTO rule_input (res_type, res_id, child_id) VALUES"
                " ('Patient', 'gone', 'gone')"
            )
        )
        ri.backfill(conn)
    with repository.engine.connect() as conn:
        assert ri.is_current(conn)
        gone = conn.execute(
            select(func.count()).select_from(ri.RULE_INPUT).where(ri.RULE_INPUT.c.res_id == "gone")
        ).scalar_one()
    assert gone == 0
    assert_same(gather(repository), want, reports=True)
