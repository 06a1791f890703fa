"""One results file per benchmark: ``bench/results/<benchmark>.md`` with a dated history table.

Each benchmark that records figures calls :func:`record`, which appends one row to the table
under the file's ``## History`` heading (creating the file with that heading when it is new).
The text above the heading — what the benchmark measures, the command, the aim and the current
figures the README quotes — is written by hand; the history below it is what the runs left.
Single-run JSON files are not written any more: the row keeps the figures a reader compares
(size, throughput or latency, server CPU, load average), the label says which round of work the
run belongs to.

Hand-written rather than a library: appending a row to a Markdown table is a few lines, and the
table stays readable in a diff and on the forge without a renderer.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
HISTORY = "## History"

#: The columns of each benchmark's history table: (heading, dotted key into the figures).
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "ingest": (
        ("backend", "backend"),
        ("children", "children"),
        ("Observations", "observations"),
        ("clients", "client_concurrency"),
        ("workers", "server_workers"),
        ("pipeline", "clinical_pipeline"),
        ("mode", "pipeline_mode"),
        ("res/s", "observations_per_s"),
        ("server CPU ms/res", "server_cpu_ms_per_observation"),
        ("seconds", "seconds"),
        ("queue drained s", "drain_seconds"),
        ("end-to-end res/s", "end_to_end_per_s"),
    ),
    "burst": (
        ("backend", "backend"),
        ("mode", "mode"),
        ("worker processes", "pipeline_workers"),
        ("centres", "centres"),
        ("children", "children"),
        ("check Observations", "observations"),
        ("window s", "window_s"),
        ("mornings before", "history_days"),
        ("analysed", "analysed"),
        ("write p50 ms", "write_p50_ms"),
        ("write p95 ms", "write_p95_ms"),
        ("write p99 ms", "write_p99_ms"),
        ("write max ms", "write_max_ms"),
        ("lag p95 s", "lag_p95_s"),
        ("lag max s", "lag_max_s"),
        ("queued max", "queued_max"),
        ("queue drained s", "drain_s"),
        ("server CPU s", "server_cpu_s"),
        ("quiet: results written after ms (median)", "quiet_visible_ms_median"),
        ("max", "quiet_visible_ms_max"),
    ),
    "search": (
        ("backend", "backend"),
        ("children", "patients"),
        ("Observations", "observations"),
        ("queries", "queries"),
        ("Observation?subject&code&_sort p50 ms", "observation_subject_code_sort.p50_ms"),
        ("p95 ms", "observation_subject_code_sort.p95_ms"),
        ("Patient?identifier p50 ms", "patient_identifier.p50_ms"),
        ("p95 ms", "patient_identifier.p95_ms"),
    ),
    "read": (
        ("backend", "backend"),
        ("clients", "clients"),
        ("workers", "workers"),
        ("requests", "requests"),
        ("req/s", "requests_per_s"),
        ("server CPU ms/req", "server_cpu_ms_per_request"),
        ("errors", "errors"),
    ),
    "evaluate_district": (  # one row per run (re-run, source)
        ("run", "run"),
        ("children", "children"),
        ("Observations", "observations"),
        ("findings", "findings"),
        ("rule workers", "workers"),
        ("read workers", "read_workers"),
        ("total s", "seconds.total"),
        ("read s", "seconds.read"),
        ("rules s", "seconds.evaluate"),
        ("reconcile s", "seconds.reconcile_write"),
        ("children/s", "children_per_s"),
        ("CPU s main", "main_process_cpu_seconds"),
        ("CPU s workers", "worker_processes_cpu_seconds"),
    ),
    "import": (
        ("database", "database"),
        ("rows", "rows"),
        ("children", "children"),
        ("pipeline", "pipeline"),
        ("HTTP status", "http.status"),
        ("resources created", "http.created"),
        ("wall s", "http.wall"),
        ("CPU s", "http.cpu"),
    ),
    "charts": (
        ("language", "lang"),
        ("CJK font", "cjk_font"),
        ("weight-for-age PNG median ms", "charts.wfa.png.median_ms"),
        ("SVG ms", "charts.wfa.svg.median_ms"),
        ("PDF ms", "charts.wfa.pdf.median_ms"),
        ("centre children", "centre_children"),
        ("parent reports, 1 process: s", "batch.workers_1.wall_s"),
        ("CPU ms/report", "batch.workers_1.cpu_ms_per_report"),
        ("2 processes: s", "batch.workers_2.wall_s"),
    ),
    "drain": (
        ("backend", "backend"),
        ("mode", "mode"),
        ("children", "children"),
        ("Observations", "observations"),
        ("outbox rows", "outbox_rows"),
        ("drain CPU s", "drain_cpu_s"),
        ("drain wall s", "drain_wall_s"),
    ),
    "storage": (
        ("backend", "backend"),
        ("resources", "resources"),
        ("versions", "versions"),
        ("MB", "total_mb"),
        ("bytes/res", "bytes_per_resource"),
        ("current B/res", "groups.current.per_resource"),
        ("versions B/res", "groups.versions.per_resource"),
        ("search index B/res", "groups.search.per_resource"),
        ("access B/res", "groups.access.per_resource"),
        ("rule input B/res", "groups.rule_input.per_resource"),
        ("JSON B/res", "content.json_bytes_per_resource"),
        ("zlib B/res", "content.zlib_bytes_per_resource"),
    ),
    "pages": (  # one row per run of bench/pages.py: the pages issue 16 item 9 watches
        ("children", "children"),
        ("roles", "roles"),
        ("doctor's list ms", "median_ms./app/doctor"),
        ("admission list ms", "median_ms./app/centre/admission"),
        ("worklist ms", "median_ms./app/centre"),
        ("parent's access log ms", "median_ms./app/child/{patient_id}/access-log"),
        ("district page ms", "median_ms./app/district"),
        ("after a write", "after_write"),
        ("slowest page", "slowest.page"),
        ("slowest ms", "slowest.median_ms"),
        ("pages over the aim", "over_aim"),
        ("pages timed", "pages"),
    ),
    "reports": (  # the served path (--database); the first rows were written by hand
        ("database", "database"),
        ("children", "children"),
        ("Observations", "observations"),
        ("cold s", "cold_s"),
        ("after restart s", "after_restart_s"),
        ("warm s", "warm_s"),
        ("after a write s", "after_write_s"),
    ),
    "profile_validation": (
        ("resources", "resources"),
        ("seconds", "seconds"),
        ("res/s", "per_second"),
        ("ms/res", "ms_per_resource"),
    ),
}


def _value(figures: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``dotted`` (keys may hold dots themselves: ``charts.wfa.png.median_ms``)."""
    steps, value, at = dotted.split("."), figures, 0
    while at < len(steps):
        if not isinstance(value, Mapping):
            return None
        for end in range(len(steps), at, -1):
            key = ".".join(steps[at:end])
            if key in value:
                value, at = value[key], end
                break
        else:
            return None
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return " / ".join(_cell(v) for v in value)
    return str(value).replace("|", "\\|")


#: Benchmarks whose figures hold a list of ``runs``, each recorded as its own row.
PER_RUN = frozenset({"evaluate_district"})


def _load(figures: Mapping[str, Any]) -> str:
    http: Mapping[str, Any] = figures["http"] if isinstance(figures.get("http"), Mapping) else {}
    before = (
        figures.get("load_average_before")
        or figures.get("load_average_at_start")
        or http.get("load_before")
    )
    after = (
        figures.get("load_average_after")
        or figures.get("load_average_at_end")
        or http.get("load_after")
    )
    if before is None and "load_average_1_5_15min" in figures:  # evaluate_district's runs
        before = figures.get("load_average_before_1_5_15min")
        after = figures["load_average_1_5_15min"]
    parts = [f"{v:.1f}" if isinstance(v, float) else f"{v[0]:.1f}" for v in (before, after) if v]
    return " → ".join(parts) or "—"


def header(benchmark: str) -> list[str]:
    """The heading row and the separator of ``benchmark``'s history table."""
    names = ["recorded (UTC)", "label", *(name for name, _ in COLUMNS[benchmark]), "load 1 min"]
    return ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]


def row(benchmark: str, label: str, figures: Mapping[str, Any], recorded: str | None = None) -> str:
    """One history row for ``figures`` (``recorded``: ``YYYY-MM-DD HH:MM``, default now)."""
    when = recorded or time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    cells = [when, label or "—"]
    cells += [_cell(_value(figures, key)) for _, key in COLUMNS[benchmark]]
    cells.append(_load(figures))
    return "| " + " | ".join(cells) + " |"


def append(path: Path, benchmark: str, line: str) -> None:
    """Insert ``line`` as the last row of the table under ``## History`` in ``path``."""
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
    else:
        lines = [f"# `bench/{benchmark}.py`", ""]
    if HISTORY not in lines:
        lines += ["", HISTORY, "", *header(benchmark)]
    at = lines.index(HISTORY) + 1
    while at < len(lines) and not lines[at].startswith("|"):
        at += 1
    if at == len(lines):
        lines += header(benchmark)
    while at < len(lines) and lines[at].startswith("|"):
        at += 1
    lines.insert(at, line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def rows(
    benchmark: str, label: str, figures: Mapping[str, Any], recorded: str | None = None
) -> list[str]:
    """The history rows of one recorded run (one per entry of ``runs`` where it has them)."""
    if benchmark in PER_RUN:
        shared = {k: v for k, v in figures.items() if k != "runs"}
        return [row(benchmark, label, {**shared, **run}, recorded) for run in figures["runs"]]
    return [row(benchmark, label, figures, recorded)]


def record(benchmark: str, label: str, figures: Mapping[str, Any]) -> Path:
    """Append this run's figures to ``bench/results/<benchmark>.md``; returns the file."""
    path = RESULTS / f"{benchmark}.md"
    RESULTS.mkdir(parents=True, exist_ok=True)
    load_now = {"load_average_after": os.getloadavg()}
    for line in rows(benchmark, label, {**load_now, **figures}):
        append(path, benchmark, line)
    return path


def machine() -> str:
    """The machine line printed by the benchmarks (the results README describes the host)."""
    return f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}"
