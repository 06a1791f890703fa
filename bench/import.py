"""Time a session import: read + validate + transaction Bundle for a CSV of ``--rows`` rows.

.venv/bin/python bench/import.py               # 10,000 rows
.venv/bin/python bench/import.py --rows 1000   # a quick run
.venv/bin/python bench/import.py --http --rows 10000   # POST /exchange/session into a database

``--http`` times the served path end to end: a database holding the demo district
(bench/district_db.py, ``--children`` children), then one ``POST /exchange/session`` of a CSV
with ``--rows`` rows for those children (matching, validation, one transaction with every
Encounter and Observation, profile validation on write).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--http", action="store_true", help="time POST /exchange/session")
    parser.add_argument("--children", type=int, default=300, help="district size for --http")
    args = parser.parse_args()
    if args.http:
        served(args.rows, args.children)
        return
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
    from dataclasses import replace

    from healthbridge.api.deps import get_context

    return replace(get_context(request), principal="bench", roles=frozenset({"system"}))


def served(rows: int, children: int) -> None:
    """One HTTP import of ``rows`` rows into a database holding the demo district."""
    import tempfile
    from pathlib import Path

    from fastapi.testclient import TestClient

    from bench.district_db import AS_OF, database
    from healthbridge.api.app import create_app
    from healthbridge.api.deps import get_context
    from healthbridge.config import Settings

    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'district.sqlite3'}"
    repo, counts, seconds = database(url, children)
    repo.engine.dispose()
    print(f"database: {children:,} children, {sum(counts.values()):,} resources ({seconds:.1f} s)")
    with repo.engine.connect() as conn:
        from sqlalchemy import text

        patients = conn.execute(
            text("SELECT content FROM resource WHERE res_type = 'Patient'")
        ).scalars()
        kids = [json.loads(p) for p in patients]
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
    content = ("\n".join(lines) + "\n").encode("utf-8")
    app = create_app(Settings(database_url=url, data_dir=folder, max_request_bytes=1 << 30))

    app.dependency_overrides[get_context] = _system_context
    with TestClient(app) as client:
        start = time.perf_counter()
        got = client.post(
            "/exchange/session",
            files={"file": ("session.csv", content, "text/csv")},
        )
        elapsed = time.perf_counter() - start
    report = got.json()
    if got.status_code != 200:
        print(json.dumps(report, ensure_ascii=False)[:500])
    print(
        f"POST /exchange/session: {rows:,} rows ({len(content) / 1e6:.2f} MB) -> HTTP "
        f"{got.status_code}, {report.get('accepted', 0):,} accepted, "
        f"{report.get('rejected', 0):,} rejected, {report.get('created', 0):,} resources "
        f"created in {elapsed:.1f} s"
    )


if __name__ == "__main__":
    main()
