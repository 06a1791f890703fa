"""The session import's bulk write path writes exactly what the generic path wrote (both backends).

The same file is imported three times into the same (emptied) database:

* **reference** — the former route: the rows as one transaction Bundle (``POST /fhir``), each
  entry a conditional create validated by the R4 model and the profile validator, index rows
  from the FHIRPath interpreter (:func:`~healthbridge.fhir.searchparams.extract_interpreted`,
  no per-structure locations or memo) and inserted by ``executemany`` (no multi-row
  ``INSERT``), no write-behind thread, the collector on;
* **bulk** — ``POST /exchange/session`` as served, with the write-behind thread handed a
  batch every few hundred rows (so batches, their order and the final synchronous flush are
  all exercised with a small file);
* **sync** — the same without write-behind handovers (every row in the commit's flush, as
  multi-row ``INSERT``\\ s on SQLite / ``COPY`` on PostgreSQL).

After each, every table is read back and normalised (ids replaced by the resources' import
identifiers, children by their numbers, write times dropped): resource JSON, versions,
every index table in insertion order, compartment rows, rule-input rows and the audit
records must be equal, and the business validator registered in the hooks must have seen
every resource.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from healthbridge.errors import Issue
from healthbridge.exchange.session_bundle import SID_SESSION_IMPORT, session_bundle
from healthbridge.exchange.session_import import ChildMatch, read_session, validate_session
from healthbridge.fhir import searchparams
from healthbridge.store import inserts, repository, transaction, write_behind
from healthbridge.store.db import make_engine
from healthbridge.store.hooks import StoreHooks, WriteContext
from tests import factories

HEADER = "儿童编号,测量日期,体重(kg),身长/身高(cm),测量方式,头围(cm),体温\n"
CHILDREN = {"HB-101": "2024-02-10", "HB-102": "2025-03-05", "HB-103": "2023-12-24"}
ROWS = 90
CENTRE = "Organization/centre-9"
INDEX_TABLES = (
    "idx_token",
    "idx_string",
    "idx_date",
    "idx_reference",
    "idx_quantity",
    "idx_number",
    "idx_uri",
)


def _csv() -> str:
    """Rows of several structures (head and temperature present or not, lying/standing)."""
    lines = [HEADER]
    numbers = list(CHILDREN)
    for i in range(ROWS):
        number = numbers[i % len(numbers)]
        day = dt.date(2026, 6, 1) + dt.timedelta(days=i // len(numbers))
        head = f"{44 + (i % 7) * 0.3:.1f}" if i % 4 else ""
        temp = f"{36.2 + (i % 5) * 0.2:.1f}" if i % 3 == 0 else ""
        measure = "l" if i % 2 else "h"
        lines.append(
            f"{number},{day},{9 + (i % 11) * 0.25:.2f},{75 + (i % 13) * 0.5:.1f},"
            f"{measure},{head},{temp}\n"
        )
    return "".join(lines)


def _empty(url: str) -> None:
    """Remove every row (the schema and its migrations stay)."""
    if url.startswith("postgresql"):
        from tests.conftest import _truncate

        _truncate(url)
        return
    engine = make_engine(url)
    with engine.begin() as conn:
        names = [
            r[0]
            for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
            if r[0] not in ("alembic_version", "rule_input_state")
        ]
        for name in names:
            conn.execute(text(f'DELETE FROM "{name}"'))
    engine.dispose()


def _snapshot(url: str) -> dict[str, Any]:
    """Everything stored, normalised so that two imports of one file compare equal."""
    engine = make_engine(url)
    with engine.connect() as conn:
        resources = conn.execute(
            text("SELECT res_type, res_id, version_id, deleted, content FROM resource")
        ).all()
        keys: dict[str, str] = {}  # "Type/id" → "Type/<import identifier or child number>"
        for rtype, rid, _v, _d, content in resources:
            doc = json.loads(content)
            for ident in doc.get("identifier", ()):
                if ident.get("system") == SID_SESSION_IMPORT or rtype == "Patient":
                    keys[f"{rtype}/{rid}"] = f"{rtype}/{ident['value']}"
        audit_ids = {rid for rtype, rid, *_ in resources if rtype == "AuditEvent"}

        def key(rtype: str, rid: str | None) -> str | None:
            return None if rid is None else keys.get(f"{rtype}/{rid}", f"{rtype}/?{rid}")

        def norm(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: norm(v) for k, v in value.items()}
            if isinstance(value, list):
                return [norm(v) for v in value]
            if isinstance(value, str) and value in keys:
                return keys[value]
            return value

        def document(content: str) -> Any:
            doc = json.loads(content)
            doc.pop("id", None)
            meta = doc.get("meta", {})
            meta.pop("versionId", None)
            meta.pop("lastUpdated", None)
            if doc["resourceType"] == "AuditEvent":
                doc.pop("recorded", None)
                doc.pop("period", None)
            return norm(doc)

        out: dict[str, Any] = {}
        out["resource"] = sorted(
            (
                key(rtype, rid),
                version,
                bool(deleted),
                json.dumps(document(content), sort_keys=True, ensure_ascii=False),
            )
            for rtype, rid, version, deleted, content in resources
            if rtype != "AuditEvent"
        )
        out["audit"] = sorted(
            json.dumps(document(content), sort_keys=True, ensure_ascii=False)
            for rtype, _rid, _v, _d, content in resources
            if rtype == "AuditEvent"
        )
        versions = conn.execute(
            text(
                "SELECT res_type, res_id, version_id, deleted, method, content "
                "FROM resource_version WHERE res_type <> 'AuditEvent'"
            )
        ).all()
        out["resource_version"] = sorted(
            (
                key(rtype, rid),
                version,
                bool(deleted),
                method,
                # NULL for the current version (its JSON is the resource row's)
                json.dumps(
                    document(content) if content is not None else None,
                    sort_keys=True,
                    ensure_ascii=False,
                ),
            )
            for rtype, rid, version, deleted, method, content in versions
        )
        for table in INDEX_TABLES:
            rows = conn.execute(text(f"SELECT * FROM {table}")).mappings().all()
            normalised = []
            for row in rows:
                if row["res_id"] in audit_ids:
                    continue  # audit records are compared as documents (their times differ)
                item = dict(row)
                item["res_id"] = key(item.pop("res_type"), item["res_id"])
                if table == "idx_reference" and item["target_id"] is not None:
                    item["target_id"] = key(str(item["target_type"]), item["target_id"])
                    item["url"] = norm(item["url"])
                normalised.append(item)
            out[table] = sorted(normalised, key=lambda i: json.dumps(i, sort_keys=True))
        out["compartment"] = sorted(
            (key(rtype, rid), key("Patient", patient))
            for rtype, rid, patient in conn.execute(
                text("SELECT res_type, res_id, patient_id FROM compartment")
            )
            if rid not in audit_ids
        )
        inputs = conn.execute(text("SELECT * FROM rule_input")).mappings().all()

        def extra(row: Any) -> Any:
            value = json.loads(row["extra"]) if row["extra"] else row["extra"]
            if isinstance(value, dict) and row["res_type"] == "Patient":
                value["id"] = key("Patient", value.get("id"))  # a child's own id
            return norm(value)

        out["rule_input"] = sorted(
            json.dumps(
                {
                    **{k: v for k, v in row.items() if k != "written"},
                    "res_id": key(row["res_type"], row["res_id"]),
                    "child_id": key("Patient", row["child_id"]),
                    "encounter_id": key("Encounter", row["encounter_id"]),
                    "has_written": row["written"] is not None,
                    "extra": extra(row),
                },
                sort_keys=True,
                ensure_ascii=False,
            )
            for row in inputs
        )
    engine.dispose()
    return out


def _load_children(client: Any) -> dict[str, str]:
    ids = {}
    for number, birth in CHILDREN.items():
        got = client.post("/fhir/Patient", json=factories.child(child_id=number, birth_date=birth))
        assert got.status_code == 201, got.text
        ids[number] = got.json()["id"]
    return ids


def _upload(client: Any, content: str) -> Any:
    return client.client.post(
        "/exchange/session",
        files={"file": ("session.csv", content.encode("utf-8"), "text/csv")},
        data={"centre": CENTRE},
        headers=client.headers,
    )


def _reference_bundle(content: str, ids: dict[str, str]) -> dict[str, Any]:
    births = {n: dt.date.fromisoformat(b) for n, b in CHILDREN.items()}
    matches = {n: ChildMatch(f"Patient/{ids[n]}", births[n]) for n in ids}
    table = read_session(content.encode("utf-8"), "session.csv")
    result = validate_session(table, matches.get, today=dt.date.today())
    assert len(result.accepted) == ROWS
    assert not result.rejected
    return session_bundle(result, centre_reference=CENTRE)


def _run(
    app_factory: Callable[..., Any],
    hooks: StoreHooks,
    write: Callable[[Any, dict[str, str]], int],
) -> int:
    from fastapi.testclient import TestClient

    from tests.factories import RoleClient, auth_headers

    with TestClient(app_factory(hooks=hooks, authenticated=True)) as started:
        client = RoleClient(started, auth_headers("system"))
        ids = _load_children(client)
        return write(client, ids)


def test_the_bulk_import_writes_what_the_generic_path_wrote(
    app_factory: Callable[..., Any],
    database_url: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from healthbridge.server.app import default_hooks

    content = _csv()
    seen: list[str] = []

    def business(resource: dict[str, Any], ctx: WriteContext) -> Iterable[Issue]:
        del ctx
        if resource["resourceType"] in ("Encounter", "Observation"):
            seen.append(resource["identifier"][0]["value"])
        return ()

    hooks = default_hooks(settings)
    hooks.add_validator(business)

    def bundle_route(client: Any, ids: dict[str, str]) -> int:
        got = client.post("/fhir", json=_reference_bundle(content, ids))
        assert got.status_code == 200, got.text
        return len(got.json()["entry"])

    def import_route(client: Any, _ids: dict[str, str]) -> int:
        got = _upload(client, content)
        assert got.status_code == 200, got.text
        report = got.json()
        assert (report["accepted"], report["rejected"]) == (ROWS, 0)
        again = _upload(client, content).json()  # re-import: nothing new
        assert (again["created"], again["unchanged"]) == (0, report["created"])
        return int(report["created"])

    snapshots: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    with monkeypatch.context() as m:
        m.setattr(repository, "extract", searchparams.extract_interpreted)
        m.setattr(transaction, "extract", searchparams.extract_interpreted)
        m.setattr(inserts, "_SQLITE_PARAMS", 1 << 30)  # executemany only
        counts["reference"] = _run(app_factory, hooks, bundle_route)
    snapshots["reference"] = _snapshot(database_url)
    reference_seen, seen[:] = list(seen), []

    for name, rows in (("bulk", 250), ("sync", 1 << 30)):
        _empty(database_url)
        searchparams._BY_SHAPE.clear()  # structures located afresh, memos filled again
        with monkeypatch.context() as m:
            m.setattr(write_behind, "WRITE_BEHIND_ROWS", rows)
            m.setattr(write_behind, "SQLITE_BEHIND_PARAMS", 700)  # several statements a batch
            counts[name] = _run(app_factory, hooks, import_route)
        snapshots[name] = _snapshot(database_url)
        assert sorted(seen) == sorted(reference_seen), name  # every resource validated once
        seen[:] = []

    assert counts["reference"] == counts["bulk"] == counts["sync"] == len(reference_seen)
    reference = snapshots["reference"]
    assert len(reference["resource"]) == len(CHILDREN) + counts["reference"]
    for table in ("idx_reference", "rule_input", "audit"):
        assert reference[table], table
    for name in ("bulk", "sync"):
        for table, rows in reference.items():
            assert snapshots[name][table] == rows, (name, table)


def test_write_behind_errors_roll_the_transaction_back(
    app_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An insert failing on the write-behind thread fails the import: nothing is written."""
    from fastapi.testclient import TestClient

    from tests.factories import RoleClient, auth_headers

    original = repository.Transaction._insert_pending
    calls = {"n": 0}

    def failing(self: Any, pending: Any, conn: Any, max_params: int = 0) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch handed over
            raise IntegrityError("INSERT", None, RuntimeError("a conflicting row"))
        original(self, pending, conn, max_params)

    with TestClient(app_factory(authenticated=True)) as started:
        client = RoleClient(started, auth_headers("system"))
        _load_children(client)
        before = client.get("/fhir/Observation?_summary=count").json()["total"]
        monkeypatch.setattr(write_behind, "WRITE_BEHIND_ROWS", 200)
        monkeypatch.setattr(repository.Transaction, "_insert_pending", failing)
        got = _upload(client, _csv())
        monkeypatch.undo()
        assert got.status_code == 409, got.text
        assert calls["n"] >= 2
        assert client.get("/fhir/Observation?_summary=count").json()["total"] == before
        assert client.get("/fhir/Encounter?_summary=count").json()["total"] == 0
