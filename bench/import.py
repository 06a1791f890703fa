"""Time a session import: read + validate + transaction Bundle for a CSV of ``--rows`` rows.

.venv/bin/python bench/import.py               # 10,000 rows
.venv/bin/python bench/import.py --rows 1000   # a quick run
.venv/bin/python bench/import.py --http --rows 10000   # POST /exchange/session into a database
.venv/bin/python bench/import.py --http --stages --no-pipeline --rows 10000  # per stage

``--http`` times the served path end to end: a database holding the demo district
(bench/district_db.py, ``--children`` children), then one ``POST /exchange/session`` of a CSV
with ``--rows`` rows for those children (matching, validation, one transaction with every
Encounter and Observation, profile validation on write, the clinical pipeline unless
``--no-pipeline``). ``--stages`` runs the import in-process instead, timing read + match +
validate, building the resources and writing them (wall and CPU seconds), by the direct route
and by the former transaction-Bundle route, each on a fresh copy of the database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from typing import Any

import numpy as np
from fastapi import Request

from healthbridge.exchange.session_bundle import session_bundle
from healthbridge.exchange.session_import import ChildMatch, read_session, validate_session

TODAY = dt.date(2026, 11, 22)


def make_csv(rows: int, seed: int) -> tuple[bytes, dict[str, ChildMatch]]:
    rng = np.random.default_rng(seed)
    children = {
        f"HB{i:06d}": ChildMatch(f"Patient/{i}", TODAY - dt.timedelta(days=int(d)))
        for i, d in enumerate(rng.integers(30, 1100, rows))
    }
    ids = list(children)
    lines = ["儿童编号,测量日期,体重(kg),身长/身高(cm),测量方式,头围(cm),体温(℃)"]
    for i in range(rows):
        ident = ids[i] if rng.random() > 0.01 else f"XX{i}"  # 1 % unknown children
        weight = f"{rng.normal(11, 2):.2f}" if rng.random() > 0.01 else "110"  # 1 % grams typo
        lines.append(
            f"{ident},2026-11-0{1 + i % 9},{weight},{rng.normal(85, 8):.1f},"
            f"{'卧位' if i % 2 else '立位'},{rng.normal(46, 2):.1f},{rng.normal(36.6, 0.3):.1f}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8"), children


def pure(args: argparse.Namespace) -> None:
    """Read + validate + Bundle, without a database."""
    content, children = make_csv(args.rows, args.seed)
    timings: dict[str, list[float]] = {"read": [], "validate": [], "bundle": [], "total": []}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        table = read_session(content, "session.csv")
        t1 = time.perf_counter()
        result = validate_session(table, children.get, today=TODAY)
        t2 = time.perf_counter()
        bundle = session_bundle(result, centre_reference="Organization/centre-001")
        t3 = time.perf_counter()
        for name, value in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
            timings[name].append(value)
    size = len(json.dumps(bundle, ensure_ascii=False)) / 1e6
    print(
        f"{args.rows:,} rows ({len(content) / 1e6:.2f} MB): {len(result.accepted):,} accepted, "
        f"{len(result.rejected):,} rejected; "
        f"bundle {len(bundle['entry']):,} entries, {size:.1f} MB JSON"
    )
    for name, values in timings.items():
        print(f"{name:>9}: best {min(values):6.3f} s  median {float(np.median(values)):6.3f} s")


def _system_context(request: Request) -> Any:
    """The import runs as the district platform (system role; no reach filter)."""
    from healthbridge.api.deps import base_url
    from healthbridge.store.hooks import RequestContext

    return RequestContext(
        principal="bench", roles=frozenset({"system"}), base_url=base_url(request)
    )


def _session_csv(url: str, rows: int) -> bytes:
    """``rows`` measurement rows for the children stored at ``url`` (round robin)."""
    from sqlalchemy import text

    from bench.district_db import AS_OF
    from healthbridge.store.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        patients = conn.execute(
            text("SELECT content FROM resource WHERE res_type = 'Patient' ORDER BY res_id")
        ).scalars()
        kids = [json.loads(p) for p in patients]
    engine.dispose()
    rng = np.random.default_rng(5)
    lines = ["儿童编号,测量日期,体重(kg),身长/身高(cm),测量方式,头围(cm),体温(℃)"]
    for i in range(rows):
        kid = kids[i % len(kids)]
        day = AS_OF - dt.timedelta(days=1 + i // len(kids))
        birth = dt.date.fromisoformat(kid["birthDate"])
        if day <= birth:
            day = birth + dt.timedelta(days=1 + i // len(kids))
        number = kid["identifier"][0]["value"]
        lines.append(
            f"{number},{day.isoformat()},{rng.uniform(4, 15):.2f},{rng.uniform(55, 100):.1f},,"
            f"{rng.uniform(38, 50):.1f},{rng.uniform(36, 37.4):.1f}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def _stages(app: Any, content: bytes, route: str) -> dict[str, float]:
    """One import in-process, timed per stage (wall and CPU seconds)."""
    from bench.district_db import AS_OF
    from healthbridge.district import session
    from healthbridge.exchange.session_bundle import session_bundle, session_resources
    from healthbridge.store.bundle import process
    from healthbridge.store.hooks import RequestContext
    from healthbridge.store.repository import new_id

    repo = app.state.repository
    ctx = RequestContext(principal="bench", roles=frozenset({"system"}))
    out: dict[str, float] = {}
    wall0, cpu0 = time.perf_counter(), time.process_time()

    def lap(name: str) -> None:
        nonlocal wall0, cpu0
        wall, cpu = time.perf_counter(), time.process_time()
        out[f"{name}_wall"], out[f"{name}_cpu"] = wall - wall0, cpu - cpu0
        wall0, cpu0 = wall, cpu

    table = read_session(content, "session.csv")
    ids = {str(c["identifier"]).strip() for _n, c in table.rows if c.get("identifier")}
    matches = session.match_children(repo, ctx, ids)
    result = validate_session(table, matches.get, today=AS_OF)
    lap("read_match_validate")
    if route == "bundle":  # the former route: a transaction Bundle processed entry by entry
        bundle = session_bundle(result)
        for entry in bundle["entry"]:
            entry["request"].pop("ifNoneExist", None)
        lap("build")
        response = process(repo, ctx, bundle, max_entries=len(bundle["entry"]), base="")
        lap("write")
        out["created"] = len(response["entry"])
    else:
        items = session_resources(result, new_id=new_id)
        lap("build")
        created, _unchanged = session.write_session(repo, ctx, result)
        lap("write")
        out["created"] = created
        del items
    out["accepted"] = len(result.accepted)
    return out


def _pg_database(server: str, name: str, template: str | None = None) -> str:
    """(Re)create database ``name`` on the PostgreSQL ``server`` (a URL of any database there,
    e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``), optionally as a copy of
    ``template``; returns its URL."""
    from sqlalchemy import create_engine, make_url, text

    from healthbridge.store.db import normalise_url

    url = make_url(normalise_url(server))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        copy = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def served(
    rows: int, children: int, *, pipeline: bool, stages: bool, postgres: str | None = None
) -> dict[str, Any]:
    """Import ``rows`` rows into a database holding the demo district: one HTTP
    ``POST /exchange/session``, or (``stages``) in-process, per stage, by the direct route
    and by the former transaction-Bundle route, each on its own copy of the database
    (SQLite files, or with ``postgres`` databases copied from a template on that server)."""
    import shutil
    import tempfile
    from pathlib import Path

    from fastapi.testclient import TestClient

    from bench.district_db import database
    from healthbridge.api.deps import get_context
    from healthbridge.config import Settings
    from healthbridge.server.app import create_app

    folder = Path(tempfile.mkdtemp())
    template = folder / "district.sqlite3"
    template_url = (
        f"sqlite:///{template}"
        if postgres is None
        else _pg_database(postgres, "hb_import_template")
    )
    repo, counts, seconds = database(template_url, children)
    repo.engine.dispose()
    if postgres is None:
        import sqlite3

        raw = sqlite3.connect(template)  # the copies below take the database file alone
        try:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            raw.close()
    print(f"database: {children:,} children, {sum(counts.values()):,} resources ({seconds:.1f} s)")
    content = _session_csv(template_url, rows)
    ruleset = "cn-child-health@2026.1/CN" if pipeline else ""
    figures: dict[str, Any] = {
        "rows": rows,
        "children": children,
        "pipeline": pipeline,
        "database": "sqlite" if postgres is None else "postgresql",
    }
    for route in ("direct", "bundle") if stages else ("http",):
        if postgres is None:
            copy = folder / f"{route}.sqlite3"
            shutil.copy(template, copy)
            url = f"sqlite:///{copy}"
        else:
            url = _pg_database(postgres, f"hb_import_{route}", "hb_import_template")
        settings = Settings(
            database_url=url,
            data_dir=folder,
            max_request_bytes=1 << 30,
            max_bundle_entries=1 << 30,
            clinical_ruleset=ruleset,
        )
        app = create_app(settings)
        app.dependency_overrides[get_context] = _system_context
        with TestClient(app) as client:
            if route == "http":
                load = os.getloadavg()[0]
                wall, cpu = time.perf_counter(), time.process_time()
                got = client.post(
                    "/exchange/session", files={"file": ("session.csv", content, "text/csv")}
                )
                report = got.json()
                done = time.perf_counter()
                cpu_done = time.process_time()
                # a bulk write empties the WAL after its response (the store runtime's thread)
                app.state.store_runtime.wait_idle()
                figures["http"] = {
                    "status": got.status_code,
                    "wall": done - wall,
                    "cpu": cpu_done - cpu,
                    "wal_restart_after_response_wall": time.perf_counter() - done,
                    "load_before": load,
                    "load_after": os.getloadavg()[0],
                    "accepted": report.get("accepted"),
                    "created": report.get("created"),
                }
            else:
                figures[route] = _stages(app, content, route)
        print(route, json.dumps(figures[route]))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--http", action="store_true", help="time POST /exchange/session")
    parser.add_argument(
        "--stages", action="store_true", help="with --http: in-process, per stage, both routes"
    )
    parser.add_argument("--no-pipeline", action="store_true", help="clinical pipeline off")
    parser.add_argument("--children", type=int, default=300, help="district size for --http")
    parser.add_argument("--write", action="store_true", help="append to bench/results/import.md")
    parser.add_argument("--label", default="", help="the history row's label (round of work)")
    parser.add_argument(
        "--postgres",
        help="with --http: a PostgreSQL server URL (any database on it) to run on instead of"
        " SQLite; databases hb_import_* are (re)created there",
    )
    args = parser.parse_args()
    if args.http:
        figures = served(
            args.rows,
            args.children,
            pipeline=not args.no_pipeline,
            stages=args.stages,
            postgres=args.postgres,
        )
        if args.write and "http" in figures:
            from bench._results import record

            print("wrote", record("import", args.label, figures))
        return
    pure(args)


if __name__ == "__main__":
    main()
