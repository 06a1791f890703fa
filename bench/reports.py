"""Time a full district report: prevalences (both conventions) and every coverage figure.

Synthetic, seeded district: ``--children`` children aged 0-6 years in ``--centres`` centres
and 5 districts, ``--observations`` scored observations (z-scores drawn directly, since scoring
is another package), about 8 checkups and the NIP-like dose table's vaccinations per child.

    .venv/bin/python bench/reports.py                     # 100,000 children, 2,000,000 obs
    .venv/bin/python bench/reports.py --children 5000 --observations 100000   # a quick run
    .venv/bin/python bench/reports.py --database --children 2000   # served path, from a database

``--database`` loads the demo district (healthbridge.demo, ``--children`` children) into a
database (``--url``, default a temporary SQLite file; bench/district_db.py) and times what
``/reports/...`` does per request: reading the district out of the store and scoring it
(the server's healthbridge.district.cache.DistrictCache), then the prevalence, z-score and
coverage tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from healthbridge.reports.coverage import CoverageInputs, coverage_table
from healthbridge.reports.coverage_inputs import load_checkup_schedule
from healthbridge.reports.prevalence import WHO_GROUPINGS, latest_per_child, prevalence_table

AS_OF = dt.date(2026, 11, 22)
#: A dose table shaped like the NIP schedule (vaccine, dose, due age in days).
DOSES = [
    ("HepB", 1, 0),
    ("HepB", 2, 30),
    ("HepB", 3, 180),
    ("BCG", 1, 0),
    ("IPV", 1, 60),
    ("IPV", 2, 90),
    ("bOPV", 1, 120),
    ("bOPV", 2, 1460),
    ("DTaP", 1, 60),
    ("DTaP", 2, 120),
    ("DTaP", 3, 180),
    ("DTaP", 4, 540),
    ("DTaP", 5, 2190),
    ("MMR", 1, 240),
    ("MMR", 2, 540),
    ("JE-L", 1, 240),
    ("JE-L", 2, 730),
    ("MPSV-A", 1, 180),
    ("MPSV-A", 2, 270),
    ("MPSV-AC", 1, 1095),
    ("MPSV-AC", 2, 2190),
    ("HepA-L", 1, 540),
]


def district(
    children: int, observations: int, centres: int, seed: int
) -> tuple[pd.DataFrame, CoverageInputs]:
    rng = np.random.default_rng(seed)
    as_of = np.datetime64(AS_OF, "D")
    ids = np.array([f"c{i:06d}" for i in range(children)], dtype=object)
    birth = as_of - rng.integers(0, 6 * 365, children).astype("timedelta64[D]")
    centre_names = np.array([f"centre-{i:03d}" for i in range(centres)], dtype=object)
    centre_of = rng.integers(0, centres, children)
    enrolled = rng.random(children) < 0.6
    kids = pd.DataFrame(
        {
            "child_id": ids,
            "birth_date": birth,
            "sex": rng.choice(["male", "female"], children),
            "centre": pd.Series(centre_names[centre_of]).where(enrolled),
            "district": np.array([f"district-{i}" for i in range(5)], dtype=object)[centre_of % 5],
            "enrolled_on": np.where(
                enrolled, birth + np.timedelta64(200, "D"), np.datetime64("NaT")
            ),
        }
    )
    owner = rng.integers(0, children, observations)
    age_now = (as_of - birth[owner]).astype(np.int64)
    age = (rng.random(observations) * age_now).astype(np.int64)
    obs = pd.DataFrame(
        {
            "child_id": ids[owner],
            "date": birth[owner] + age.astype("timedelta64[D]"),
            "age_days": age,
            "sex": kids["sex"].to_numpy()[owner],
            "centre": kids["centre"].to_numpy()[owner],
            "district": kids["district"].to_numpy()[owner],
        }
    )
    for z, f, mu in (
        ("zlen", "flen", -0.4),
        ("zwei", "fwei", -0.1),
        ("zwfl", "fwfl", 0.3),
        ("zbmi", "fbmi", 0.35),
        ("zhc", "fhc", 0.0),
    ):
        obs[z] = rng.normal(mu, 1.15, observations).round(2)
        obs[f] = (rng.random(observations) < 0.005).astype(np.int8)

    visits = load_checkup_schedule().visits
    rows = []
    for v in visits:
        due = birth + np.array(v.due_months * 30, dtype="timedelta64[D]")
        took = (due <= as_of) & (rng.random(children) < 0.9)
        rows.append(pd.DataFrame({"child_id": ids[took], "date": due[took], "visit_code": v.code}))
    checkups = pd.concat(rows, ignore_index=True)
    doses = pd.DataFrame(DOSES, columns=["vaccine", "dose", "due_age_days"])
    rows = []
    for vaccine, dose, due_days in DOSES:
        due = birth + np.timedelta64(due_days + 10, "D")
        took = (due <= as_of) & (rng.random(children) < 0.95)
        rows.append(
            pd.DataFrame(
                {"child_id": ids[took], "vaccine": vaccine, "dose": dose, "date": due[took]}
            )
        )
    vaccinations = pd.concat(rows, ignore_index=True)
    entrants = np.flatnonzero(enrolled)
    states = ["submitted", "assessed_complete", "assessed_incomplete", "catchup_recorded"]
    admission = pd.DataFrame(
        {
            "child_id": ids[entrants],
            "centre": centre_names[centre_of[entrants]],
            "entry_date": kids["enrolled_on"].to_numpy()[entrants],
            "status": rng.choice(states, len(entrants), p=[0.1, 0.7, 0.1, 0.1]),
        }
    )
    centre_frame = pd.DataFrame(
        {
            "centre": centre_names,
            "district": [f"district-{i % 5}" for i in range(centres)],
            "places": rng.integers(20, 200, centres),
        }
    )
    signed = rng.random(centres) < 0.7
    agreements = pd.DataFrame(
        {
            "centre": centre_names[signed],
            "hospital": "hospital-1",
            "signed_on": np.datetime64("2025-03-01"),
        }
    )
    inputs = CoverageInputs(
        children=kids,
        checkups=checkups,
        vaccinations=vaccinations,
        required_doses=doses,
        admission_checks=admission,
        centres=centre_frame,
        agreements=agreements,
        population=children * 25,
    )
    return obs, inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--observations", type=int, default=2_000_000)
    parser.add_argument("--centres", type=int, default=400)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", action="store_true", help="time the served path")
    parser.add_argument("--url", default=None, help="database URL for --database")
    parser.add_argument("--reuse", action="store_true", help="--url already holds the district")
    parser.add_argument(
        "--writes",
        type=int,
        default=0,
        help="with --database: then this many rounds of a small write (a session of 30 "
        "children's measurements, then a birth-date correction), each followed by a report",
    )
    parser.add_argument(
        "--snapshot-dir",
        default=None,
        help="with --database: keep the gathered district there too, as the server does in "
        "its data directory (a second run is then a restart that loads it)",
    )
    parser.add_argument("--label", default="", help="with --database: record the figures")
    args = parser.parse_args()
    if args.database:
        served(
            args.children,
            args.url,
            args.repeat,
            reuse=args.reuse,
            writes=args.writes,
            snapshot_dir=args.snapshot_dir,
            label=args.label,
        )
        return
    t0 = time.perf_counter()
    obs, inputs = district(args.children, args.observations, args.centres, args.seed)
    print(
        f"district: {args.children:,} children, {len(obs):,} observations, "
        f"{len(inputs.checkups):,} checkups, {len(inputs.vaccinations):,} vaccinations "
        f"(generated in {time.perf_counter() - t0:.1f} s)"
    )
    groupings = [*WHO_GROUPINGS, ("centre",), ("district",), ("district", "sex")]
    timings: dict[str, list[float]] = {"latest": [], "prevalence": [], "coverage": [], "total": []}
    for _ in range(args.repeat):
        start = time.perf_counter()
        latest = latest_per_child(
            obs, start=pd.Timestamp(AS_OF) - pd.Timedelta(days=364), end=pd.Timestamp(AS_OF)
        )
        t1 = time.perf_counter()
        who = prevalence_table(latest, convention="who", groupings=groupings)
        cn = prevalence_table(latest, convention="cn-2024", groupings=groupings)
        t2 = time.perf_counter()
        cov = coverage_table(inputs, as_of=AS_OF, groupings=[(), ("centre",), ("district",)])
        t3 = time.perf_counter()
        timings["latest"].append(t1 - start)
        timings["prevalence"].append(t2 - t1)
        timings["coverage"].append(t3 - t2)
        timings["total"].append(t3 - start)
    print(
        f"rows out: prevalence {len(who.prevalence) + len(cn.prevalence):,}, "
        f"z summaries {len(who.zscores):,}, coverage {len(cov):,}; "
        f"children in the prevalence period: {len(latest):,}"
    )
    for name, values in timings.items():
        print(f"{name:>10}: best {min(values):6.2f} s  median {float(np.median(values)):6.2f} s")
    stunting = who.prevalence.query("grouping == 'all' and indicator == 'stunting'").iloc[0]
    print(f"check: stunting {stunting['prevalence']:.2f} % (n = {stunting['n']:,})")


def session_write(repo: Any, children: int = 30) -> int:
    """One measurement session written through the store, as a session import does: for
    ``children`` children, a checkup Encounter with a weight and a length Observation (copies
    of stored ones, new ids, dated the benchmark's as-of day), in one transaction."""
    from bench.district_db import AS_OF as DB_AS_OF
    from healthbridge.store.hooks import RequestContext

    tag = dt.datetime.now(dt.UTC).strftime("%H%M%S%f")
    with repo.engine.connect() as conn:
        patients = [r[0] for r in conn.exec_driver_sql(_sql(conn, PATIENTS_SQL), (children,)).all()]
        templates = {
            suffix: json.loads(
                conn.exec_driver_sql(_sql(conn, TEMPLATE_SQL), (rtype, f"%{suffix}")).scalar_one()
            )
            for rtype, suffix in (("Encounter", "-01"), ("Observation", "-wt"))
        }
        templates["-len"] = json.loads(
            conn.exec_driver_sql(_sql(conn, TEMPLATE_SQL), ("Observation", "%-len")).scalar_one()
        )
    day = DB_AS_OF.isoformat()
    written = []
    for k, cid in enumerate(patients):
        enc = {**templates["-01"], "id": f"bench-enc-{tag}-{k}"}
        enc["subject"] = {"reference": f"Patient/{cid}"}
        enc["period"] = {"start": f"{day}T09:00:00+08:00", "end": f"{day}T09:20:00+08:00"}
        written.append(enc)
        for suffix, value in (("-wt", 12.0 + k / 10), ("-len", 85.0 + k / 10)):
            obs = {**templates[suffix], "id": f"bench-obs-{tag}-{k}{suffix}"}
            obs["subject"] = {"reference": f"Patient/{cid}"}
            obs["encounter"] = {"reference": f"Encounter/{enc['id']}"}
            obs["effectiveDateTime"] = f"{day}T09:00:00+08:00"
            obs["valueQuantity"] = {**obs["valueQuantity"], "value": value}
            written.append(obs)
    with repo.transaction(RequestContext(principal="bench", roles=frozenset({"system"}))) as txn:
        for r in written:
            body = {k: v for k, v in r.items() if k != "meta"}
            txn.update(body["resourceType"], body["id"], body)
    return len(written)


def birth_date_correction(repo: Any) -> str:
    """One Patient's birth date corrected by a day (a PUT through the store)."""
    from healthbridge.store.hooks import RequestContext

    with repo.engine.connect() as conn:
        cid = conn.exec_driver_sql(_sql(conn, PATIENTS_SQL), (1,)).scalar_one()
    with repo.transaction(RequestContext(principal="bench", roles=frozenset({"system"}))) as txn:
        patient = dict(txn.read("Patient", cid).resource or {})
        born = dt.date.fromisoformat(patient["birthDate"])
        patient["birthDate"] = (born + dt.timedelta(days=1 if born.day < 28 else -1)).isoformat()
        patient.pop("meta", None)
        txn.update("Patient", cid, patient)
    return str(cid)


def _sql(conn: Any, statement: str) -> str:
    return statement.replace("?", "%s") if conn.dialect.name == "postgresql" else statement


#: The first children by id (the benchmark's write targets).
PATIENTS_SQL = (
    "SELECT res_id FROM resource WHERE res_type = 'Patient' AND res_id LIKE 'child-%'"
    " ORDER BY res_id LIMIT ?"
)
TEMPLATE_SQL = (
    "SELECT content FROM resource WHERE res_type = ? AND res_id LIKE ? ORDER BY res_id LIMIT 1"
)


def _saved(wait: Any, kept: Any) -> tuple[float, str]:
    """Wait for a snapshot being written in the background (the server does not wait; it is
    waited for here so that its CPU time is not counted in the reports'): (seconds, note)."""
    if kept is None:
        return 0.0, ""
    start, cpu = time.perf_counter(), time.process_time()
    wait()
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    if took < 0.05:
        return took, ""
    return took, f"; snapshot written in the background, waited {took:.2f} s (cpu {cpu:.2f} s)"


def served(
    children: int,
    url: str | None,
    repeat: int,
    *,
    reuse: bool = False,
    writes: int = 0,
    snapshot_dir: str | None = None,
    label: str = "",
) -> None:
    """Full report as the API computes it, from a loaded database (``label``: record the
    figures in bench/results/reports.md)."""
    from pathlib import Path

    from bench.district_db import AS_OF as DB_AS_OF
    from bench.district_db import database
    from healthbridge.district.cache import DistrictCache
    from healthbridge.district.reports import coverage_report, prevalence_report

    load_before = os.getloadavg()
    from healthbridge.clinical.ruleset import load_ruleset_key

    ruleset = load_ruleset_key("cn-child-health@2026.1/CN")  # the default deployment's
    repo, counts, seconds = database(url, children, load=not reuse)
    after_write: list[float] = []
    kept = None if snapshot_dir is None else Path(snapshot_dir)
    cache = DistrictCache(kept)  # as the server's lifespan makes it
    print(
        f"database: {children:,} children, {sum(counts.values()):,} resources "
        f"({counts.get('Observation', 0):,} Observations, {counts.get('Encounter', 0):,} "
        f"Encounters, {counts.get('Immunization', 0):,} Immunizations) loaded in {seconds:.1f} s"
    )
    timings: dict[str, list[float]] = {"gather+score": [], "reports": [], "total": []}
    for k in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        # the first read is cold; later ones reuse the unchanged frames
        frames = cache.gather(repo)
        t1, cpu = time.perf_counter(), time.process_time() - cpu
        info = cache.last
        saved = _saved(cache.wait, kept)
        r0, rcpu = time.perf_counter(), time.process_time()
        who = prevalence_report(frames, as_of=DB_AS_OF)
        prevalence_report(frames, as_of=DB_AS_OF, convention="cn-2024")
        cov = coverage_report(frames, as_of=DB_AS_OF, ruleset=ruleset)
        t2, rcpu = time.perf_counter(), time.process_time() - rcpu
        how = {"full": "full read from the table", "snapshot": "snapshot loaded"}
        changes = sum(info.changed.values())
        print(
            f"{'cold' if k == 0 else 'warm'}: gather {t1 - start:.2f} s (cpu {cpu:.2f} s"
            f"{', ' + how[info.mode] if info.mode in how else ''}"
            f"{f', {changes} changed resources re-read' if changes else ''}), "
            f"reports {t2 - r0:.2f} s (cpu {rcpu:.2f} s),"
            f" total {t1 - start + t2 - r0:.2f} s (load average {os.getloadavg()[0]:.1f})"
            f"{saved[1]}",
            flush=True,
        )
        timings["gather+score"].append(t1 - start)
        timings["reports"].append(t2 - r0)
        timings["total"].append(t1 - start + t2 - r0)
    print(
        f"read: {len(frames.children):,} children, {len(frames.measurements):,} scored visits, "
        f"{len(frames.checkups):,} checkups, {len(frames.vaccinations):,} doses; "
        f"rows out: prevalence {len(who.prevalence):,}, coverage {len(cov):,}"
    )
    for name, values in timings.items():
        print(f"{name:>12}: best {min(values):6.2f} s  median {float(np.median(values)):6.2f} s")
    for _ in range(writes):
        for label in ("session of 30 children", "birth-date correction"):
            t0 = time.perf_counter()
            if label.startswith("session"):
                what = f"{session_write(repo)} resources"
            else:
                what = f"Patient/{birth_date_correction(repo)}"
            start, cpu = time.perf_counter(), time.process_time()
            frames = cache.gather(repo)
            t1, cpu = time.perf_counter(), time.process_time() - cpu
            saved = _saved(cache.wait, kept)
            r0, rcpu = time.perf_counter(), time.process_time()
            prevalence_report(frames, as_of=DB_AS_OF)
            prevalence_report(frames, as_of=DB_AS_OF, convention="cn-2024")
            coverage_report(frames, as_of=DB_AS_OF, ruleset=ruleset)
            t2, rcpu = time.perf_counter(), time.process_time() - rcpu
            info = cache.last
            after_write.append(t1 - start + t2 - r0)
            changed = ", ".join(f"{k} {v}" for k, v in info.changed.items() if v)
            print(
                f"after a write ({label}: {what}, written in {start - t0:.2f} s): "
                f"gather {t1 - start:.2f} s (cpu {cpu:.2f} s) "
                f"[{info.mode}{': ' + changed if changed else ''}{info.reason}], "
                f"reports {t2 - r0:.2f} s (cpu {rcpu:.2f} s), total {t1 - start + t2 - r0:.2f} s "
                f"(load average {os.getloadavg()[0]:.1f}){saved[1]}",
                flush=True,
            )
    cache.close()
    backend = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(repo.engine.dialect.name)
    repo.engine.dispose()
    if label:
        from bench._results import record

        def span(values: list[float]) -> str | None:
            return f"{min(values):.2f}–{max(values):.2f}" if values else None

        figures = {
            "database": backend,
            "children": len(frames.children),
            "observations": counts.get("Observation", 0),
            "cold_s": round(timings["total"][0], 2),
            "warm_s": span(timings["total"][1:]),
            "after_write_s": span(after_write),
            "load_average_before": load_before,
        }
        print(f"recorded in {record('reports', label, figures)}")


if __name__ == "__main__":
    main()
