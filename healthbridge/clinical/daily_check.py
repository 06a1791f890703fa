"""Morning/noon check (晨午检): same-day fever and symptom alerts, class outbreak clusters.

Per child (``daily-check`` table; DOMAIN.md §3.3, §3.5): an axillary temperature at or above
the fever threshold (37.3 °C), or "fever" reported as a symptom, raises ``fever`` for that day
(``high`` from the high-fever threshold); any other listed symptom raises ``symptom``. Only
the evaluation day's checks count: the alert clears the next day.

Per centre: a class where at least ``min_children`` distinct children show the same syndrome
within a window of ``days`` consecutive days ending on the evaluation day (≥ 3 in 1 day,
≥ 5 in 3 days) raises one ``outbreak-cluster`` alert for the centre (report within 24 h).
Symptom codes not in the table are ignored (free-text notes are not syndromes).

Single-case report within 24 h (学校和托幼机构传染病疫情报告工作规范（试行）2006, condition
(2)): unexplained high fever is the ``fever`` alert graded ``high``; rapid breathing, severe
vomiting or severe diarrhoea (the table's ``single_case_report`` symptoms) make the
``symptom`` alert high severity, graded ``report-24h`` (no numeric definition in the source;
the staff judge it [?]).

Checks count whether the child was present or not: a sick absence's symptoms are recorded
as the same symptom Observations (healthbridge.web.attendance), so ill children at home are
cases of the class cluster too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.tables_care import DailyCheckTable
from healthbridge.clinical.vocab import AlertKind, SubjectType

FEVER = "fever"


@dataclass(frozen=True, slots=True)
class DailyCheck:
    check_id: str
    child_id: str
    centre_id: str
    class_id: str
    on: date
    temperature_c: float | None = None
    symptoms: tuple[str, ...] = ()

    def has_fever(self, table: DailyCheckTable) -> bool:
        t = self.temperature_c
        return (
            t is not None and not math.isnan(t) and t >= table.fever_threshold_c
        ) or FEVER in self.symptoms

    def syndromes(self, table: DailyCheckTable) -> frozenset[str]:
        found = {s for s in (table.syndrome_of(code) for code in self.symptoms) if s is not None}
        if self.has_fever(table):
            found.add(table.syndrome_of(FEVER) or FEVER)
        return frozenset(found)


def daily_check_findings(
    child_id: str, checks: Sequence[DailyCheck], table: DailyCheckTable, as_of: date
) -> tuple[Finding, ...]:
    """Same-day ``fever`` / ``symptom`` findings of one child on ``as_of``."""
    today = sorted(
        (c for c in checks if c.on == as_of and c.child_id == child_id), key=lambda c: c.check_id
    )
    meta = table.meta
    out = []
    febrile = [c for c in today if c.has_fever(table)]
    if febrile:
        temps = [
            c.temperature_c
            for c in febrile
            if c.temperature_c is not None and not math.isnan(c.temperature_c)
        ]
        peak = max(temps) if temps else None
        high = peak is not None and peak >= table.high_fever_threshold_c
        out.append(
            Finding(
                child_id,
                AlertKind.FEVER,
                table.high_fever_severity if high else table.fever_severity,
                "high" if high else "",
                tuple(c.check_id for c in febrile),
                (FEVER,),
                f"temperature {peak:.1f} C" if peak is not None else "fever reported",
                meta.id,
                meta.version,
                as_of,
            )
        )
    listed = {s.code for s in table.symptoms} - {FEVER}
    symptomatic = [(c, tuple(s for s in c.symptoms if s in listed)) for c in today]
    symptomatic = [(c, s) for c, s in symptomatic if s]
    if symptomatic:
        codes = tuple(sorted({s for _, ss in symptomatic for s in ss}))
        report = bool(set(codes) & set(table.report_symptoms))
        out.append(
            Finding(
                child_id,
                AlertKind.SYMPTOM,
                table.report_severity if report else table.symptom_severity,
                table.report_grade if report else "",
                tuple(c.check_id for c, _ in symptomatic),
                codes,
                "symptoms: " + ",".join(codes),
                meta.id,
                meta.version,
                as_of,
            )
        )
    return tuple(out)


def cluster_findings(
    centre_id: str, checks: Sequence[DailyCheck], table: DailyCheckTable, as_of: date
) -> tuple[Finding, ...]:
    """At most one ``outbreak-cluster`` finding for the centre on ``as_of``."""
    longest = max(w.days for w in table.cluster_windows)
    start = as_of - timedelta(days=longest - 1)
    recent = [c for c in checks if c.centre_id == centre_id and start <= c.on <= as_of]
    # (class, syndrome) -> list of (date, child, check id)
    cases: dict[tuple[str, str], list[tuple[date, str, str]]] = {}
    for c in recent:
        for syndrome in c.syndromes(table):
            cases.setdefault((c.class_id, syndrome), []).append((c.on, c.child_id, c.check_id))
    items: list[str] = []
    evidence: list[str] = []
    details: list[str] = []
    for (class_id, syndrome), rows in sorted(cases.items()):
        for window in table.cluster_windows:
            first = as_of - timedelta(days=window.days - 1)
            inside = [r for r in rows if r[0] >= first]
            children = {r[1] for r in inside}
            if len(children) >= window.min_children:
                items.append(f"{class_id}:{syndrome}")
                evidence += [r[2] for r in inside]
                details.append(
                    f"class {class_id} {syndrome}: {len(children)} children in {window.days} d"
                )
                break
    if not items:
        return ()
    meta = table.meta
    return (
        Finding(
            centre_id,
            AlertKind.OUTBREAK_CLUSTER,
            table.cluster_severity,
            "",
            tuple(evidence),
            tuple(items),
            "; ".join(details),
            meta.id,
            meta.version,
            as_of,
            SubjectType.CENTRE,
        ),
    )
