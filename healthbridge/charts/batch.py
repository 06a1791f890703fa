"""Parent reports for every child of a childcare centre, in one batch.

A centre prints its children's reports together (e.g. after the termly checkups). One report
is the child's compartment read from the store, the summary (:mod:`healthbridge.charts.summary`)
and the PDF (:mod:`healthbridge.charts.parent_report`). A batch spreads the children over
worker processes (matplotlib's drawing is single-threaded Python), each with its own database
connection and its own cache of reference layers (:mod:`healthbridge.charts.compose`), and
writes one file per child: ``report-<Patient id>.pdf``.

Children of a centre are the active Patients whose ``childcare-enrollment`` extension names
it (docs/CONVENTIONS.md), as the centre's own pages list them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Final

from healthbridge.charts.labels import Lang
from healthbridge.charts.summary import enrolment
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.errors import ForbiddenError, GoneError, NotFoundError
from healthbridge.store.paging import search_all
from healthbridge.store.repository import Repository, Transaction

#: The Patient search parameter on the enrolment's centre (fhir_profiles/SearchParameter).
ENROLMENT_SEARCH: Final = "enrollment-centre"
#: Children handed to a worker at a time (small enough to keep both workers busy to the end).
CHUNK: Final = 8


class BatchError(ValueError):
    """A batch that cannot be made (e.g. the centre is unknown or has no children)."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch wrote: one file per child, in the order of the children's ids."""

    centre_id: str
    files: tuple[Path, ...]
    seconds: float
    workers: int


def centre_children(txn: Transaction, centre_id: str) -> list[dict[str, Any]]:
    """The active children enrolled at ``centre_id`` now, sorted by id (all search pages).

    One search on the ``enrollment-centre`` SearchParameter (fhir_profiles), which also
    matches past enrolments; the child's current enrolment (the latest one) decides.
    Read through ``txn``, so the caller's reach applies.
    """
    params = [(ENROLMENT_SEARCH, f"Organization/{centre_id}"), ("active", "true")]
    found = {
        s.id: s.resource
        for s in search_all(txn, "Patient", params, page_size=10_000)
        if s.resource is not None and enrolment(s.resource)[0] == centre_id
    }
    return [found[i] for i in sorted(found)]


def report_pdf(
    txn: Transaction, patient_id: str, *, lang: Lang, as_of: dt.date, rules: RuleSet
) -> bytes:
    """One child's parent report, read through ``txn`` (so its access rules apply), with the
    deployment's rule set (``load_ruleset_key(settings.ruleset_key)``) for its schedules.

    Raises :class:`healthbridge.charts.record.RecordError` when the record cannot be charted
    (e.g. no full birth date).
    """
    from healthbridge.charts.parent_report import render_parent_report
    from healthbridge.charts.summary import parent_report, summarise

    resources = [s.resource for s in txn.everything(patient_id) if s.resource]
    summary = summarise(resources, patient_id, rules, as_of=as_of, lang=lang)
    centre = None
    if summary.centre_id:
        org = next((r for r in resources if r.get("id") == summary.centre_id and "name" in r), None)
        if org is None:
            try:
                org = txn.read("Organization", summary.centre_id).resource
            except (NotFoundError, GoneError, ForbiddenError):
                org = None  # the report is made without the centre's name
        centre = str(org["name"]) if org and "name" in org else None
    report = parent_report(summary, lang, as_of=as_of, centre=centre)
    return render_parent_report(report, lang)


def report_file(out_dir: Path, patient_id: str) -> Path:
    """Where a batch writes a child's report."""
    return out_dir / f"report-{patient_id}.pdf"


# One repository per worker process (set by _start_worker), reused across its chunks.
_worker_repo: Repository | None = None


def _start_worker(database_url: str) -> None:
    global _worker_repo  # per-process state of a pool worker
    from healthbridge.store.db import make_engine
    from healthbridge.store.hooks import StoreHooks

    _worker_repo = Repository(make_engine(database_url), hooks=StoreHooks())


def _write_chunk(
    ids: Sequence[str], out_dir: str, lang: str, as_of: str, ruleset_key: str
) -> list[str]:
    assert _worker_repo is not None, "worker not started"
    day = dt.date.fromisoformat(as_of)
    return write_reports(_worker_repo, ids, Path(out_dir), Lang(lang), day, ruleset_key)


def write_reports(
    repo: Repository,
    ids: Sequence[str],
    out_dir: Path,
    lang: Lang,
    as_of: dt.date,
    ruleset_key: str,
) -> list[str]:
    """Write the reports of ``ids`` (system context: an operator's batch), one after another."""
    from healthbridge.clinical.ruleset import load_ruleset_key
    from healthbridge.store.hooks import SYSTEM_CONTEXT

    rules = load_ruleset_key(ruleset_key)
    written: list[str] = []
    for patient_id in ids:
        with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
            pdf = report_pdf(txn, patient_id, lang=lang, as_of=as_of, rules=rules)
        path = report_file(out_dir, patient_id)
        path.write_bytes(pdf)
        written.append(str(path))
    return written


def centre_reports(
    database_url: str,
    centre_id: str,
    out_dir: Path,
    *,
    ruleset_key: str,
    lang: Lang = Lang.ZH,
    as_of: dt.date | None = None,
    workers: int = 2,
) -> BatchResult:
    """Write the parent report of every child at ``centre_id`` into ``out_dir``, with the
    rule set ``ruleset_key`` (``settings.ruleset_key``).

    ``workers`` processes share the children (1: in this process). Reads run in the system
    context: this is an operator's command on the server, not a user's request.
    """
    from healthbridge.store.db import make_engine
    from healthbridge.store.hooks import SYSTEM_CONTEXT, StoreHooks

    started = time.perf_counter()
    day = as_of or dt.date.today()
    engine = make_engine(database_url)
    try:
        repo = Repository(engine, hooks=StoreHooks())
        with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
            try:
                txn.read("Organization", centre_id)
            except (NotFoundError, GoneError) as exc:
                raise BatchError(f"no Organization/{centre_id}") from exc
            ids = [str(c["id"]) for c in centre_children(txn, centre_id)]
        if not ids:
            raise BatchError(f"Organization/{centre_id} has no enrolled children")
        out_dir.mkdir(parents=True, exist_ok=True)
        if workers <= 1:
            written = write_reports(repo, ids, out_dir, lang, day, ruleset_key)
            seconds = time.perf_counter() - started
            return BatchResult(centre_id, tuple(map(Path, written)), seconds, 1)
    finally:
        engine.dispose()  # workers open their own connections (never a forked one)
    _warm_up(ruleset_key)
    chunks = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("fork"),  # workers inherit the warmed-up modules
        initializer=_start_worker,
        initargs=(database_url,),
    ) as pool:
        parts = pool.map(
            _write_chunk,
            chunks,
            [str(out_dir)] * len(chunks),
            [lang.value] * len(chunks),
            [day.isoformat()] * len(chunks),
            [ruleset_key] * len(chunks),
        )
        files = tuple(Path(f) for part in parts for f in part)
    return BatchResult(centre_id, files, time.perf_counter() - started, workers)


def _warm_up(ruleset_key: str) -> None:
    """Load what every worker needs before they are forked (fonts, growth tables, rules)."""
    from healthbridge.charts import compose, fonts, parent_report, summary  # noqa: F401
    from healthbridge.clinical.ruleset import load_ruleset_key

    fonts.cjk_family()
    load_ruleset_key(ruleset_key)
