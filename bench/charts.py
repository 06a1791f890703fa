"""Chart and parent-report speed (issue 7 targets: a chart < 150 ms; 150 reports < 30 s).

* chart: per indicator and format, the time to turn one child's record into a rendered chart
  (points from the FHIR Observations, reference lines, draw, PNG/SVG/PDF), median and p95 of
  ``--repeat`` renders, in Chinese;
Wall-clock figures depend on what else runs on the machine; ``cpu_median_ms`` (process CPU time)
is the cost of one chart on an idle core.

* batch: a centre's ``--reports`` parent reports (the ``$parent-report`` path: the child's
  compartment read from the store, summary, PDF), one after another in one process, on a demo
  district loaded into a temporary SQLite database.

    .venv/bin/python -m bench.charts --repeat 20 --reports 150
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench._common import RESULTS

INDICATORS = ("wfa", "lhfa", "wfl", "wfh", "bfa", "hcfa")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--reports", type=int, default=150)
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    parser.add_argument("--workers", type=int, default=2, help="processes for the batch")
    args = parser.parse_args()

    from growth_standards import Indicator
    from healthbridge.api.app import default_hooks
    from healthbridge.api.chart_operations import chart_bytes
    from healthbridge.charts.fonts import cjk_font_available
    from healthbridge.charts.labels import Lang
    from healthbridge.config import Settings
    from healthbridge.demo.load import load_demo
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.hooks import SYSTEM_CONTEXT
    from healthbridge.store.repository import Repository

    lang = Lang(args.lang)
    folder = Path(tempfile.mkdtemp(prefix="bench-charts-"))
    settings = Settings(data_dir=folder)
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    repo = Repository(engine, hooks=default_hooks(settings))
    started = time.perf_counter()
    summary_load = load_demo(repo, children=args.reports, seed=20261122)
    print(f"loaded {summary_load.children} children in {time.perf_counter() - started:.1f} s")
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        ids = [s.id for s in txn.search_params("Patient", [("_count", "1000")]).matches]
    # one child aged 2-5 years has every indicator on the same chart set
    child = ids[0]
    charts: dict[str, dict[str, float]] = {}
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        chart_bytes(txn, child, Indicator.WFA, fmt="png", lang=lang)  # warm-up (fonts, tables)
        for indicator in INDICATORS:
            for fmt in ("png", "svg", "pdf"):
                times, cpu = [], []
                for _ in range(args.repeat):
                    t0, c0 = time.perf_counter(), time.process_time()
                    chart_bytes(txn, child, Indicator(indicator), fmt=fmt, lang=lang)
                    times.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                times.sort()
                charts[f"{indicator}.{fmt}"] = {
                    "median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                    "cpu_median_ms": round(statistics.median(cpu), 1),
                }
                print(f"{indicator:5} {fmt}: {charts[f'{indicator}.{fmt}']}")
    today = dt.date.today()
    batch_ids = ids[: args.reports]
    t0, c0 = time.perf_counter(), time.process_time()
    pages = _reports(str(folder), batch_ids, lang.value)
    serial, serial_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"{len(batch_ids)} parent reports, 1 process: {serial:.1f} s "
        f"(CPU {serial_cpu:.1f} s, {pages} pages)"
    )
    t0 = time.perf_counter()
    shares = [batch_ids[i :: args.workers] for i in range(args.workers)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        list(pool.map(_reports, [str(folder)] * args.workers, shares, [lang.value] * args.workers))
    parallel = time.perf_counter() - t0
    print(f"{len(batch_ids)} parent reports, {args.workers} processes: {parallel:.1f} s")
    engine.dispose()
    result = {
        "date": today.isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "lang": lang.value,
        "cjk_font": cjk_font_available(),
        "repeat": args.repeat,
        "charts": charts,
        "reports": len(batch_ids),
        "report_batch_seconds_1_process": round(serial, 2),
        "report_batch_cpu_seconds_1_process": round(serial_cpu, 2),
        "report_seconds_each": round(serial / max(1, len(batch_ids)), 3),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "report_batch_seconds_parallel": round(parallel, 2),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "charts.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _reports(data_dir: str, ids: list[str], lang_code: str) -> int:
    """Render the parent reports of ``ids`` (the ``$parent-report`` path); pages produced."""
    from healthbridge.api.chart_operations import DEFAULT_RULESET
    from healthbridge.charts.labels import Lang
    from healthbridge.charts.parent_report import render_parent_report
    from healthbridge.charts.summary import parent_report, summarise
    from healthbridge.clinical.ruleset import load_ruleset
    from healthbridge.config import Settings
    from healthbridge.store.db import make_engine
    from healthbridge.store.hooks import SYSTEM_CONTEXT, StoreHooks
    from healthbridge.store.repository import Repository

    lang = Lang(lang_code)
    engine = make_engine(Settings(data_dir=Path(data_dir)).resolved_database_url())
    repo = Repository(engine, hooks=StoreHooks())
    rules = load_ruleset(*DEFAULT_RULESET)
    today = dt.date.today()
    pages = 0
    for pid in ids:
        with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
            items = [s.resource for s in txn.everything(pid) if s.resource]
        summary = summarise(items, pid, rules, as_of=today, lang=lang)
        pdf = render_parent_report(parent_report(summary, lang, as_of=today), lang)
        pages += pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ")
    engine.dispose()
    return pages


if __name__ == "__main__":
    raise SystemExit(main())
