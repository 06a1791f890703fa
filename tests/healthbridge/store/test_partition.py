"""``healthbridge db partition``: versions and AuditEvents in monthly partitions on PostgreSQL
(healthbridge.store.partition). The store's interactions keep working on the partitioned
layout; rows land in their month; old AuditEvent months detach; SQLite is left alone."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from healthbridge.cli import main
from healthbridge.config import get_settings
from healthbridge.fhir.query import parse_search
from healthbridge.store.db import make_engine, upgrade
from healthbridge.store.partition import (
    PartitionError,
    audit_date_floor,
    bound,
    detach_audit_before,
    month_name,
    month_start,
    partition,
    partitions,
)
from healthbridge.store.search import R, where_clause
from tests import factories as f

FHIR = {"Content-Type": "application/fhir+json"}
THIS_MONTH = month_start(dt.datetime.now(dt.UTC).date())


def _admin_url(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def _partition_server() -> str:
    url = os.environ.get("HEALTHBRIDGE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("HEALTHBRIDGE_TEST_POSTGRES_URL is not set in CI")
        pytest.skip("HEALTHBRIDGE_TEST_POSTGRES_URL is not set")
    return url


@pytest.fixture
def database_url(_partition_server: str) -> Iterator[str]:
    """A fresh, migrated, partitioned database of its own (the shared test database is not
    converted: the other tests expect the default layout)."""
    name = f"{make_url(_partition_server).database}_partition"
    admin = make_engine(_admin_url(_partition_server, "postgres"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = _admin_url(_partition_server, name)
    engine = make_engine(url)
    upgrade(engine)
    report = partition(engine, ahead=2)
    assert report.converted == ["resource_version", "resource"]
    engine.dispose()
    yield url
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def client(client_as: Any) -> Any:
    """Requests with a real token, so that the server audits them (access.auditing)."""
    return client_as("system")


@pytest.fixture
def admin(client_as: Any) -> Any:
    """The role that reads the audit trail."""
    return client_as("admin", user="admin-1")


def _where(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_conversion_leaves_statistics_for_the_parents(database_url: str) -> None:
    """Autovacuum never analyses a partitioned parent: the conversion does (docs/deployment.md)."""
    analysed = _where(
        database_url,
        "SELECT c.relname FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid"
        " WHERE c.relname IN ('resource', 'resource_version') AND s.last_analyze IS NOT NULL",
    )
    assert sorted(r[0] for r in analysed) == ["resource", "resource_version"]


@pytest.mark.postgres
def test_the_clinical_partition_is_analysed_as_often_as_the_table_was(database_url: str) -> None:
    """Migration 0013's autovacuum parameters follow the rows into ``resource_clinical``
    (a partitioned parent takes none), and a downgrade and upgrade go through the leaves."""
    from alembic import command

    from healthbridge.store.db import alembic_config

    def options() -> dict[str, Any]:
        rows = _where(
            database_url,
            "SELECT relname, reloptions FROM pg_class WHERE relname IN "
            "('resource_clinical', 'idx_token')",
        )
        return {name: opts for name, opts in rows}

    wanted = "autovacuum_analyze_scale_factor=0.01"
    assert all(wanted in (o or []) for o in options().values()), options()
    engine = make_engine(database_url)
    try:
        command.downgrade(alembic_config(engine), "0012")
        assert not any(options().values()), options()
        command.upgrade(alembic_config(engine), "head")
    finally:
        engine.dispose()
    assert all(wanted in (o or []) for o in options().values()), options()


@pytest.mark.postgres
def test_store_interactions_work_and_rows_land_in_their_month(
    client: Any, admin: Any, database_url: str
) -> None:
    patient = client.post("/fhir/Patient", json=f.child(), headers=FHIR).json()
    assert "id" in patient, patient
    pid = patient["id"]
    patient["gender"] = "female"
    updated = client.put(f"/fhir/Patient/{pid}", json=patient, headers=FHIR)
    assert updated.status_code == 200, updated.text
    assert updated.json()["meta"]["versionId"] == "2"
    history = client.get(f"/fhir/Patient/{pid}/_history").json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    since = client.get(f"/fhir/Patient/{pid}/_history?_since={THIS_MONTH.isoformat()}").json()
    assert since["total"] == 2
    assert client.get(f"/fhir/Patient/{pid}/_history/1").json()["gender"] == patient_gender_v1(
        history
    )
    found = client.get(f"/fhir/Patient?gender=female&_id={pid}").json()
    assert [e["resource"]["id"] for e in found["entry"]] == [pid]

    # the server audits each access (healthbridge.access.auditing): search those by date
    by_date = admin.get(f"/fhir/AuditEvent?date=ge{THIS_MONTH.isoformat()}&entity=Patient/{pid}")
    audits = [e["resource"]["id"] for e in by_date.json()["entry"]]
    assert audits, by_date.text
    aid = audits[0]
    assert admin.get(f"/fhir/AuditEvent/{aid}").status_code == 200
    before = admin.get(f"/fhir/AuditEvent?date=lt{THIS_MONTH.isoformat()}&entity=Patient/{pid}")
    assert "entry" not in before.json()
    by_updated = admin.get(f"/fhir/AuditEvent?_lastUpdated=ge{THIS_MONTH.isoformat()}&_id={aid}")
    assert by_updated.json()["total"] == 1

    assert client.delete(f"/fhir/Patient/{pid}").status_code in (200, 204)
    assert client.get(f"/fhir/Patient/{pid}").status_code == 410
    assert client.get(f"/fhir/Patient/{pid}/_history").json()["total"] == 3

    month = month_name("resource_audit", THIS_MONTH)
    rows = dict(
        _where(
            database_url,
            "SELECT res_id, tableoid::regclass::text FROM resource"
            f" WHERE res_id IN ('{pid}', '{aid}')",
        )
    )
    assert rows == {pid: "resource_clinical", aid: month}
    versions = _where(
        database_url,
        f"SELECT DISTINCT tableoid::regclass::text FROM resource_version WHERE res_id = '{pid}'",
    )
    assert versions == [(month_name("resource_version", THIS_MONTH),)]


def _home(url: str, res_id: str) -> str:
    """The partition holding the resource row ``res_id``."""
    rows = _where(url, f"SELECT tableoid::regclass::text FROM resource WHERE res_id = '{res_id}'")
    return str(rows[0][0])


def patient_gender_v1(history: dict[str, Any]) -> str:
    return str(history["entry"][1]["resource"].get("gender"))


@pytest.mark.postgres
def test_sessions_plan_each_statement_for_its_parameters(database_url: str) -> None:
    """Generic plans of prepared statements chose bad join orders on the partitioned table."""
    assert _where(database_url, "SHOW plan_cache_mode") == [("force_custom_plan",)]


@pytest.mark.postgres
def test_clinical_ids_stay_unique(database_url: str) -> None:
    engine = make_engine(database_url)
    row = "('Patient', 'p-dup', 1, :t, false, '{}')"
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO resource VALUES {row}"), {"t": bound(THIS_MONTH)})
    with pytest.raises(IntegrityError, match="ux_resource_clinical_id"), engine.begin() as conn:
        conn.execute(text(f"INSERT INTO resource VALUES {row}"), {"t": bound(dt.date(2020, 1, 1))})
    engine.dispose()


@pytest.mark.postgres
def test_late_rows_move_into_their_month_and_old_months_detach(
    client: Any, admin: Any, database_url: str
) -> None:
    pid = client.post("/fhir/Patient", json=f.child(), headers=FHIR).json()["id"]
    client.get(f"/fhir/Patient/{pid}")  # audited: a second AuditEvent naming the child
    found = admin.get(f"/fhir/AuditEvent?entity=Patient/{pid}&_sort=_lastUpdated").json()
    old, kept = [e["resource"]["id"] for e in found["entry"]][:2]
    engine = make_engine(database_url)
    with engine.begin() as conn:  # as if written in January 2025 (before partitioning)
        for table in ("resource", "resource_version"):
            conn.execute(
                text(f"UPDATE {table} SET last_updated = :t WHERE res_id = :id"),
                {"t": "2025-01-15T10:00:00.000000", "id": old},
            )
    assert _home(database_url, old) == "resource_audit_default"

    report = partition(engine, ahead=2)  # the monthly run creates January and moves the row
    assert month_name("resource_audit", dt.date(2025, 1, 1)) in report.created
    assert report.moved_rows == 2  # its resource row and its version row
    assert _home(database_url, old) == "resource_audit_y2025m01"

    assert detach_audit_before(engine, dt.date(2025, 2, 1)) == ["resource_audit_y2025m01"]
    with engine.connect() as conn:
        assert "resource_audit_y2025m01" not in partitions(conn, "resource_audit")
    engine.dispose()
    # the detached table keeps the rows for archiving; the store no longer sees them
    assert _where(database_url, "SELECT res_id FROM resource_audit_y2025m01") == [(old,)]
    assert admin.get(f"/fhir/AuditEvent/{old}").status_code == 404
    found = admin.get(f"/fhir/AuditEvent?entity=Patient/{pid}").json()
    assert [e["resource"]["id"] for e in found["entry"]] == [kept]
    leftovers = _where(database_url, f"SELECT count(*) FROM idx_reference WHERE res_id = '{old}'")
    assert leftovers == [(0,)]
    # a second monthly run does not create the detached month again
    engine = make_engine(database_url)
    assert "resource_audit_y2025m01" not in partition(engine, ahead=2).created
    engine.dispose()


@pytest.mark.postgres
def test_a_date_bounded_audit_search_reads_only_its_months(database_url: str) -> None:
    """``AuditEvent?date=ge2025-03-01`` prunes January and February (audit_date_floor):
    PostgreSQL's plan names only the partitions from March on."""
    engine = make_engine(database_url)
    partition(engine, ahead=3, today=dt.date(2025, 1, 1))  # January to April 2025
    query = parse_search("AuditEvent", [("date", "ge2025-03-01")], default_count=50, max_count=50)
    stmt = select(R.c.res_id).where(where_clause(query, ""))
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = "\n".join(str(r[0]) for r in conn.execute(text("EXPLAIN " + sql)))
    engine.dispose()
    for month in ("resource_audit_y2025m03", "resource_audit_y2025m04"):
        assert month in plan, plan
    for month in ("resource_audit_y2025m01", "resource_audit_y2025m02"):
        assert month not in plan, plan
    assert "resource_clinical" not in plan, plan


def test_only_lower_date_bounds_become_floors() -> None:
    def floors(value: str, rtype: str = "AuditEvent") -> list[str]:
        query = parse_search(rtype, [("date", value)], default_count=1, max_count=1)
        return [
            str(c.compile(compile_kwargs={"literal_binds": True})) for c in audit_date_floor(query)
        ]

    assert floors("ge2025-03-01") == ["resource.last_updated >= '2025-03-01T00:00:00.000000'"]
    assert floors("ge2025-03-01,eq2025-02") == [
        "resource.last_updated >= '2025-02-01T00:00:00.000000'"
    ]
    assert floors("le2025-03-01") == []  # no lower bound
    assert floors("ge2025-03-01,lt2025-01-01") == []  # one value without a lower bound
    assert floors("ge2025-03-01", "Observation") == []  # only AuditEvents are written on record


@pytest.mark.postgres
def test_backup_and_restore_keep_the_partitioned_layout(
    client: Any, admin: Any, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from healthbridge.store.backup import backup, restore

    if os.environ.get("HEALTHBRIDGE_TEST_PGBIN"):
        monkeypatch.setenv("HEALTHBRIDGE_PG_BIN", os.environ["HEALTHBRIDGE_TEST_PGBIN"])
    pid = client.post("/fhir/Patient", json=f.child(), headers=FHIR).json()["id"]
    found = admin.get(f"/fhir/AuditEvent?entity=Patient/{pid}").json()
    aid = found["entry"][0]["resource"]["id"]
    backup(database_url, tmp_path / "db.dump")
    client.delete(f"/fhir/Patient/{pid}")
    restore(database_url, tmp_path / "db.dump")
    assert client.get(f"/fhir/Patient/{pid}").status_code == 200
    assert admin.get(f"/fhir/AuditEvent/{aid}").status_code == 200
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert month_name("resource_audit", THIS_MONTH) in partitions(conn, "resource_audit")
    engine.dispose()


def test_sqlite_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'hb.sqlite3'}"
    engine = make_engine(url)
    with pytest.raises(PartitionError, match="PostgreSQL feature"):
        partition(engine)
    engine.dispose()
    monkeypatch.setenv("HEALTHBRIDGE_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        assert main(["db", "partition"]) == 0
    finally:
        get_settings.cache_clear()
    assert "nothing to do" in capsys.readouterr().out
