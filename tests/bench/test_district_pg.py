"""bench/district_pg.py: a copied child's alerts are what ``healthbridge evaluate`` would write.

The 100,000-child PostgreSQL district is the base copied in SQL; if a copy's Flags and review
Tasks differed from the evaluator's own (e.g. a Task still pointing at the base's Flag), the
first re-run would rewrite every copied alert and the benchmark would time a copy artefact.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bench import district_pg
from bench.district_db import fast_load
from healthbridge.pipeline import parse_ruleset_key
from healthbridge.pipeline.batch import BatchReport, evaluate_database
from healthbridge.store.db import make_engine
from healthbridge.store.repository import Repository

pytestmark = pytest.mark.postgres


def _evaluate(repo: Repository, *, dry_run: bool = False) -> BatchReport:
    from bench.district_db import AS_OF

    rules = parse_ruleset_key("cn-child-health@2026.1/CN")
    return evaluate_database(repo, rules, AS_OF, workers=1, source="table", dry_run=dry_run)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_copied_district_re_evaluates_to_what_the_base_does(database_url: str) -> None:
    engine = make_engine(database_url)
    repo = Repository(engine)
    try:
        fast_load(engine, 12)
        first = _evaluate(repo)
        assert sum(first.actions.values()) > 0  # the base's alerts are written
        base_rerun = _evaluate(repo, dry_run=True)
        district_pg.stage(engine)
        district_pg.copy(engine, 1)
        district_pg.copy(engine, 2)
        with engine.connect() as conn:
            focus = conn.execute(
                text(
                    "SELECT count(*) FROM idx_reference r JOIN resource f"
                    " ON f.res_type = 'Flag' AND f.res_id = r.target_id"
                    " WHERE r.res_type = 'Task' AND r.param = 'focus'"
                    " AND r.res_id = 'review-' || f.res_id"
                )
            ).scalar_one()
            flags = conn.execute(
                text("SELECT count(*) FROM resource WHERE res_type = 'Flag'")
            ).scalar_one()
        assert focus == flags  # every Task's focus index row names its own Flag
        copied = _evaluate(repo)
        assert copied.children == 3 * first.children
        assert copied.open_alerts == 3 * base_rerun.open_alerts
        assert copied.actions == base_rerun.actions
        assert copied.forecasts == 3 * base_rerun.forecasts
    finally:
        with engine.begin() as conn:
            for table in (*district_pg.KEYED, "patient_link"):
                conn.execute(text(f"DROP TABLE IF EXISTS bench_base_{table}"))
        engine.dispose()
