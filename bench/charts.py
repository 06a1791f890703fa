"""Chart and parent-report speed (issue 7 targets: a chart < 150 ms; 150 reports < 30 s).

* chart: per indicator and format, the time of ``chart_bytes`` (the ``$growth-chart`` path:
  read the Patient and its growth Observations, score, assemble, draw, PNG/SVG/PDF), in
  Chinese. ``first_ms`` is the first chart of its chart set in the process (the reference
  layer is drawn then); median, p95 and ``cpu_median_ms`` (process CPU time) are over
  ``--repeat`` further renders. Wall-clock figures depend on what else runs on the machine;
  CPU time is the cost on an idle core.

* batch: a centre's ``--reports`` parent reports through the batch entry point
  (``healthbridge parent-reports``: :func:`healthbridge.charts.batch.centre_reports`), in one
  process and in ``--workers`` processes, from a cold cache each time. The demo district is
  loaded into a temporary SQLite database and, so that one centre has ``--reports`` children,
  every child is enrolled at the first centre.

    .venv/bin/python -m bench.charts --repeat 20 --reports 150 --workers 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._results import record

INDICATORS = ("wfa", "lhfa", "wfl", "wfh", "bfa", "hcfa")
ENROLLMENT = "https://healthbridge.github.io/fhir/StructureDefinition/childcare-enrollment"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--reports", type=int, default=150)
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    parser.add_argument("--workers", type=int, default=2, help="processes for the batch")
    parser.add_argument("--write", action="store_true", help="append to bench/results/charts.md")
    parser.add_argument("--label", default="", help="the history row's label (round of work)")
    args = parser.parse_args()

    from growth_standards import Indicator
    from healthbridge.charts import compose
    from healthbridge.charts.batch import centre_reports
    from healthbridge.charts.child_chart import chart_bytes
    from healthbridge.charts.fonts import cjk_font_available
    from healthbridge.charts.labels import Lang
    from healthbridge.config import DEFAULT_RULESET_KEY, Settings
    from healthbridge.demo.load import load_demo
    from healthbridge.server.app import default_hooks
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.hooks import SYSTEM_CONTEXT
    from healthbridge.store.repository import Repository

    load_start = os.getloadavg()
    lang = Lang(args.lang)
    folder = Path(tempfile.mkdtemp(prefix="bench-charts-"))
    settings = Settings(data_dir=folder)
    url = settings.resolved_database_url()
    engine = make_engine(url)
    upgrade(engine)
    repo = Repository(engine, hooks=default_hooks(settings))
    started = time.perf_counter()
    summary_load = load_demo(repo, children=args.reports, seed=20261122)
    print(f"loaded {summary_load.children} children in {time.perf_counter() - started:.1f} s")
    centre, ids = _one_centre(repo, SYSTEM_CONTEXT)
    print(f"{len(ids)} children enrolled at Organization/{centre}")

    child = ids[0]
    charts: dict[str, dict[str, float]] = {}
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        chart_bytes(txn, child, Indicator.WFA, fmt="svg", lang=lang)  # fonts, tables
        compose.clear_cache()
        for indicator in INDICATORS:
            for fmt in ("png", "svg", "pdf"):
                t0 = time.perf_counter()
                chart_bytes(txn, child, Indicator(indicator), fmt=fmt, lang=lang)
                first = (time.perf_counter() - t0) * 1000
                times, cpu = [], []
                for _ in range(args.repeat):
                    t0, c0 = time.perf_counter(), time.process_time()
                    chart_bytes(txn, child, Indicator(indicator), fmt=fmt, lang=lang)
                    times.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                times.sort()
                charts[f"{indicator}.{fmt}"] = {
                    "first_ms": round(first, 1),
                    "median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                    "cpu_median_ms": round(statistics.median(cpu), 1),
                }
                print(f"{indicator:5} {fmt}: {charts[f'{indicator}.{fmt}']}")
    engine.dispose()

    batch: dict[str, Any] = {}
    for workers in (1, args.workers):
        compose.clear_cache()
        out = folder / f"reports-{workers}"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0, c0 = time.perf_counter(), time.process_time()
        result = centre_reports(
            url, centre, out, ruleset_key=DEFAULT_RULESET_KEY, lang=lang, workers=workers
        )
        wall, cpu_self = time.perf_counter() - t0, time.process_time() - c0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_workers = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        pages = sum(_pages(path.read_bytes()) for path in result.files)
        size = sum(path.stat().st_size for path in result.files)
        batch[f"workers_{workers}"] = {
            "reports": len(result.files),
            "reference_layers_in_parent_cache": len(compose._cache),
            "pages": pages,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu_self + cpu_workers, 2),
            "cpu_ms_per_report": round((cpu_self + cpu_workers) / len(result.files) * 1000, 1),
            "mean_kb_per_report": round(size / len(result.files) / 1024, 1),
        }
        print(f"{len(result.files)} parent reports, {workers} process(es): {batch}")
    result_json = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load_start],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "lang": lang.value,
        "cjk_font": cjk_font_available(),
        "repeat": args.repeat,
        "charts": charts,
        "centre_children": len(ids),
        "batch": batch,
    }
    print(json.dumps(result_json, indent=2))
    if args.write:
        print("wrote", record("charts", args.label, result_json))
    return 0


def _one_centre(repo: Any, context: Any) -> tuple[str, list[str]]:
    """Enrol every child at the first centre that has children; (centre id, child ids)."""
    from healthbridge.charts.summary import enrolment

    with repo.transaction(context) as txn:
        patients = [
            m.resource
            for m in txn.search_params("Patient", [("_count", "10000")]).matches
            if m.resource is not None
        ]
        enrolled = sorted({enrolment(p) for p in patients if enrolment(p)[0] is not None}, key=str)
        centre, room = enrolled[0]
        extension = {
            "url": ENROLLMENT,
            "extension": [
                {"url": "centre", "valueReference": {"reference": f"Organization/{centre}"}},
                {"url": "class", "valueReference": {"reference": f"Location/{room}"}},
                {"url": "period", "valuePeriod": {"start": "2026-09-01"}},
            ],
        }
        for patient in patients:
            if enrolment(patient)[0] == centre and patient.get("active", True):
                continue
            others = [e for e in patient.get("extension", []) if e.get("url") != ENROLLMENT]
            patient = {**patient, "active": True, "extension": [*others, extension]}
            txn.update("Patient", patient["id"], patient)
    return str(centre), sorted(str(p["id"]) for p in patients)


def _pages(pdf: bytes) -> int:
    import pikepdf

    with pikepdf.Pdf.open(io.BytesIO(pdf)) as doc:
        return len(doc.pages)


if __name__ == "__main__":
    raise SystemExit(main())
