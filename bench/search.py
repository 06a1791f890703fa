"""Search latency benchmark (p50/p95) over HTTP on loopback.

Runs ``Observation?subject=Patient/X&code=LOINC|29463-7&_sort=-date`` and
``Patient?identifier=SYSTEM|C0000042`` for random children against a database populated by
bench/ingest.py (same ``--database-url``; default the SQLite file under bench/.data).

    .venv/bin/python -m bench.search --queries 500

``--sample-from-database`` draws the children to query from the database instead (2,000
Patient identifiers at random, read in SQL before the server starts): for a district built by
bench/district_pg.py or bench/district_db.py, whose identifiers are not bench/ingest.py's
``C0000000…`` series.

``--audit`` also times ``AuditEvent?date=ge{this month's first day}&entity=Patient/X`` as the
admin role, for the children the run has just read (each read is audited, so each has
AuditEvents this month): the date-bounded AuditEvent search that ``healthbridge db partition``
prunes by month (docs/capacity.md); printed and kept in the run's figures (not a column of the
history table).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from pathlib import Path

import httpx

from bench._common import (
    CHILD_ID,
    LOINC,
    auth_headers,
    backend_name,
    percentile,
    server,
    write_result,
)

DATA = Path(__file__).resolve().parent / ".data"


def sample_identifiers(url: str, size: int = 2000) -> list[str]:
    """``system|value`` of ``size`` Patients drawn at random from the database."""
    from sqlalchemy import text

    from healthbridge.store.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT system, code FROM idx_token WHERE res_type = 'Patient'"
                " AND param = 'identifier' ORDER BY random() LIMIT :n"
            ),
            {"n": size},
        ).all()
    engine.dispose()
    return [f"{system}|{code}" for system, code in rows]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=f"sqlite:///{DATA / 'bench.sqlite3'}")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--sample-from-database", action="store_true", help="query identifiers read in SQL"
    )
    parser.add_argument("--audit", action="store_true", help="also AuditEvent?date=ge&entity")
    args = parser.parse_args()
    sample = sample_identifiers(args.database_url) if args.sample_from_database else []
    rng = random.Random(7)
    out: dict[str, object] = {"backend": backend_name(args.database_url), "queries": args.queries}
    with (
        server(args.database_url, DATA) as base,
        httpx.Client(timeout=60, headers=auth_headers()) as client,
    ):
        counts = (
            client.get(f"{base}/Patient?_summary=count").json()["total"],
            client.get(f"{base}/Observation?_summary=count").json()["total"],
        )
        out["patients"], out["observations"] = counts
        n_children = int(counts[0])

        def identifier() -> str:
            if sample:
                return rng.choice(sample)
            return f"{CHILD_ID}|C{rng.randrange(n_children):07d}"

        ids: list[str] = []
        for _ in range(min(args.queries, 200)):
            bundle = client.get(f"{base}/Patient?identifier={identifier()}").json()
            ids.append(bundle["entry"][0]["resource"]["id"])

        def patient_query() -> str:
            return f"{base}/Patient?identifier={identifier()}"

        def observation_query() -> str:
            subject = rng.choice(ids)
            return f"{base}/Observation?subject=Patient/{subject}&code={LOINC}|29463-7&_sort=-date"

        month = dt.datetime.now(dt.UTC).date().replace(day=1).isoformat()

        def audit_query() -> str:
            return f"{base}/AuditEvent?date=ge{month}&entity=Patient/{rng.choice(ids)}"

        queries = [
            ("patient_identifier", patient_query),
            ("observation_subject_code_sort", observation_query),
        ]
        if args.audit:
            queries.append(("audit_date_entity", audit_query))
        admin = httpx.Client(timeout=60, headers=auth_headers("admin"))  # reads AuditEvents
        for name, make in queries:
            http = admin if name == "audit_date_entity" else client
            for _ in range(20):  # warm-up
                http.get(make())
            times = []
            for _ in range(args.queries):
                url = make()
                t = time.perf_counter()
                r = http.get(url)
                times.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
            out[name] = stats = {
                "p50_ms": round(percentile(times, 50), 2),
                "p95_ms": round(percentile(times, 95), 2),
            }
            print(f"{out['backend']} {name}: p50 {stats['p50_ms']} ms, p95 {stats['p95_ms']} ms")
        admin.close()
    print("wrote", write_result("search", args.label, out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
