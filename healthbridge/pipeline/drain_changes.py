"""What the outbox rows a worker claimed say changed: the parts of a child to evaluate again.

Each ``pipeline_outbox`` row names the write that queued it (``source``:
``Type/id/_history/version``; :meth:`healthbridge.pipeline.outbox.Outbox.enqueue` queues one
row per resource a transaction wrote about a child, see :func:`row_sources`). The vectorised
worker (:mod:`healthbridge.pipeline.drain_vector`) reads the child's whole record and runs
the rules every time, but re-scores and re-forecasts only what those writes can change:

* **growth scores** depend on the child's birth date, sex and gestational age (the Patient)
  and on the measurements of each session (an encounter, or a day: the key of
  :func:`~healthbridge.inputs.extract.growth_sessions`). A *created* Observation (version
  ``1``) existed in no earlier evaluation, so it can change only the session whose inputs it
  is now part of (a new session, a second measurement, a re-measurement that now wins); one
  that is part of no session (another code, void, lost to a later-written value) changed no
  score. Every other write — an Observation updated or deleted (its old session is not
  known), the Patient, an Encounter, a row without a source — re-scores **all** the child's
  sessions and reads all its stored scores back (the full reconciliation, which also
  retracts the scores of a session that disappeared);
* **the vaccination forecast** (:mod:`healthbridge.pipeline.forecast`) depends on the
  child's Immunizations, birth date and sex, the as-of day and the rule set: it is rebuilt
  when a row names an Immunization or the Patient (or has no source), or when the stored
  forecast is not dated the as-of day (it is written, with that ``date``, only when its
  content changed; a forecast of an earlier day may have changed with the calendar).

Not covered here, as in the write path: a change of the rule set's interpretation bands or
vaccination schedule without a write to the child is published by the batch evaluation
(``healthbridge evaluate``, run after a rule-set update; docs/pipeline.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: More writes about one child in one transaction than this: one row meaning "everything".
MAX_ROWS_PER_CHILD = 20
#: Writes about a child that can change no growth score nor the forecast.
_NEITHER = frozenset({"QuestionnaireResponse", "EpisodeOfCare"})


def row_sources(touched: Iterable[str]) -> list[str]:
    """The ``source`` of each outbox row to queue for one child, from the writes that touched
    it: one row per write; a single row when the Patient was written (the child is then
    evaluated in full anyway) or when there are many (``""``: everything)."""
    sources = sorted(touched)
    patient = [s for s in sources if s.startswith("Patient/")]
    if patient:
        return patient[:1]
    if not sources or len(sources) > MAX_ROWS_PER_CHILD:
        return [""]
    return sources


@dataclass(frozen=True)
class Changes:
    """What the claimed rows changed, per child (a child absent from :attr:`created` and
    :attr:`rescore_all` needs no growth score written)."""

    #: children whose every session is re-scored
    rescore_all: frozenset[str] = frozenset()
    #: child → the Observations created for it (each re-scores its session)
    created: dict[str, frozenset[str]] = field(default_factory=dict)
    #: children whose forecast inputs changed (rebuilt whatever its stored date)
    forecast: frozenset[str] = frozenset()

    @classmethod
    def everything(cls, children: Iterable[str]) -> Changes:
        """Every child evaluated in full (no row says what changed)."""
        every = frozenset(children)
        return cls(every, {}, every)


def changes_of(rows: Sequence[Any]) -> Changes:
    """The :class:`Changes` the claimed outbox ``rows`` (``child_id``, ``source``) name."""
    rescore_all: set[str] = set()
    forecast: set[str] = set()
    created: dict[str, set[str]] = {}
    for row in rows:
        cid, source = str(row.child_id), str(row.source or "")
        parts = source.split("/")
        if len(parts) != 4 or parts[2] != "_history":
            rescore_all.add(cid)
            forecast.add(cid)
            continue
        rtype, rid, version = parts[0], parts[1], parts[3]
        if rtype == "Immunization":
            forecast.add(cid)
        elif rtype == "Observation" and version == "1":
            created.setdefault(cid, set()).add(rid)
        elif rtype not in _NEITHER:
            rescore_all.add(cid)
            if rtype != "Observation":
                forecast.add(cid)
    return Changes(
        frozenset(rescore_all),
        {c: frozenset(ids) for c, ids in created.items() if c not in rescore_all},
        frozenset(forecast),
    )
