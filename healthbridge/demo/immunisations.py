"""The immunisations of the synthetic children and the entry check of their certificates.

Doses follow the schedule's default products at their minimum age, judged by the clinical
rules themselves (:mod:`healthbridge.clinical.vaccination`: the edition in force on the day,
the minimum intervals, the overdue date; a catch-up is kept only when
:func:`~healthbridge.clinical.vaccination.vaccination_plan` finds it valid), with some doses
missed and some of those caught up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from growth_standards import Sex
from healthbridge.clinical.ages import add_age
from healthbridge.clinical.tables_vaccination import DoseRule, VaccinationTable
from healthbridge.clinical.vaccination import (
    GivenDose,
    earliest_valid,
    edition_rules,
    minimum_age,
    rule_at,
    vaccination_plan,
)
from healthbridge.clinical.vocab import Sex as ClinicalSex

if TYPE_CHECKING:
    from healthbridge.demo.population import Child


#: Chance that a scheduled vaccine dose was not given on time; a third of those are caught up.
MISSED_DOSE_SHARE = 0.04
CATCH_UP_SHARE = 0.35


#: Share of entrants past the 30-day check deadline whose certificate is still not checked.
UNCHECKED_SHARE = 0.05


def admission_states(
    rng: np.random.Generator,
    kids: Sequence[Child],
    doses: pd.DataFrame,
    as_of: dt.date,
    table: VaccinationTable,
) -> tuple[list[Child], list[dict[str, object]]]:
    """The entry check of each enrolled child (查验办法 2021, DOMAIN.md §1.4), and the
    catch-up doses it led to (rows for the ``doses`` table).

    A child entered less than ``check_within_days`` ago may not have submitted the certificate
    yet; later entrants were assessed (a few are overdue). The assessment is *incomplete* when
    a dose was missing on the entry date as the clinical entry check reads it
    (:func:`_missing_at`). Most guardians then take the child for catch-up (more the longer
    ago the entry): the missing doses are given in rounds from two to six weeks after entry —
    every series' next missing dose on one day, rounds at least 28 days apart and each dose
    after its series' minimum interval — as far as ``as_of`` allows. State: catch-up recorded
    (mostly re-checked a month later) once every missing dose is given, in progress when some
    are.
    """
    from dataclasses import replace

    live = {v.code for v in table.vaccines if v.live_injectable}
    gap = table.live_injectable_min_gap_days
    given: dict[str, set[tuple[str, int, dt.date]]] = {}
    live_days: dict[str, set[dt.date]] = {}
    for child_id, vaccine, series, dose, day in doses[
        ["child_id", "vaccine", "series", "dose", "date"]
    ].itertuples(index=False):
        given.setdefault(str(child_id), set()).add((str(series), int(dose), day))
        if vaccine in live:
            live_days.setdefault(str(child_id), set()).add(day)
    doses_of: dict[str, list[tuple[str, str, int, dt.date]]] = {}
    for child_id, vaccine, series, dose, day in doses[
        ["child_id", "vaccine", "series", "dose", "date"]
    ].itertuples(index=False):
        doses_of.setdefault(str(child_id), []).append((str(vaccine), str(series), int(dose), day))
    out: list[Child] = []
    catch_up: list[dict[str, object]] = []
    for child in kids:
        entry = child.enrolled_since
        if entry is None or child.centre_id is None:
            out.append(child)
            continue
        recent = (as_of - entry).days <= table.admission.check_within_days
        if rng.random() < (0.6 if recent else UNCHECKED_SHARE):  # not assessed yet
            state = "not_submitted" if rng.random() < 0.5 else "submitted"
            out.append(replace(child, admission_state=state))
            continue
        mine = given.get(child.id, set())
        missing = _missing_at(child, doses_of.get(child.id, []), table, entry)
        still = [r for r in missing if not any(s == r.series and n == r.number for s, n, _ in mine)]
        if not missing:
            state = "assessed_complete"
        elif not still:  # the late doses were given after entry anyway
            state = "rechecked" if rng.random() < 0.7 else "catchup_recorded"
        else:
            waited = (as_of - entry).days
            share = 0.9 if waited > 90 else 0.6 if waited > 45 else 0.0
            days = live_days.get(child.id, set())
            rows = (
                _catch_up(rng, child, still, mine, entry, as_of, (live, days, gap))
                if rng.random() < share
                else []
            )
            if rows and not _valid_with(child, doses_of.get(child.id, []), rows, table, as_of):
                rows = []  # e.g. a product no longer given at the child's age: not caught up
            catch_up.extend(rows)
            if len(rows) == len(still):
                last = max(d for d in (r["date"] for r in rows) if isinstance(d, dt.date))
                done_long_ago = (as_of - last).days > 30
                state = "rechecked" if done_long_ago and rng.random() < 0.8 else "catchup_recorded"
            elif rows:
                state = "catchup_in_progress"
            else:
                state = "catchup_in_progress" if rng.random() < 0.5 else "assessed_incomplete"
        out.append(replace(child, admission_state=state))
    return out, catch_up


def _sex(child: Child) -> ClinicalSex:
    return ClinicalSex.MALE if child.sex is Sex.MALE else ClinicalSex.FEMALE


def _given(existing: Sequence[tuple[str, str, int, dt.date]]) -> list[GivenDose]:
    return [GivenDose(f"{s}-{n}", v, d) for v, s, n, d in existing]


def _missing_at(
    child: Child,
    existing: Sequence[tuple[str, str, int, dt.date]],
    table: VaccinationTable,
    entry: dt.date,
) -> list[DoseRule]:
    """The doses the entry check finds missing on ``entry``: the clinical rules' plan on that
    day (:func:`~healthbridge.clinical.vaccination.vaccination_plan`, the doses given by then)
    and the table's incomplete statuses, as
    :func:`~healthbridge.clinical.admission.admission_check` reads them."""
    by_entry = [d for d in existing if d[3] <= entry]
    plan = vaccination_plan(child.birth_date, _sex(child), _given(by_entry), table, entry)
    statuses = set(table.admission.incomplete_statuses)
    rules = {r.dose_id: r for r in table.doses}
    return [rules[d.dose_id] for d in plan.doses if d.status.value in statuses]


def _valid_with(
    child: Child,
    existing: Sequence[tuple[str, str, int, dt.date]],
    rows: Sequence[dict[str, object]],
    table: VaccinationTable,
    as_of: dt.date,
) -> bool:
    """Whether the child's doses plus the catch-up ``rows`` pass the schedule's checks
    (products accepted at that age, intervals) as the clinical rules read them."""
    given = _given(existing) + [
        GivenDose(f"{r['series']}-{r['dose']}", str(r["vaccine"]), r["date"])  # type: ignore[arg-type]
        for r in rows
    ]
    return vaccination_plan(child.birth_date, _sex(child), given, table, as_of).invalid == ()


def _catch_up(
    rng: np.random.Generator,
    child: Child,
    missing: Sequence[DoseRule],
    given: set[tuple[str, int, dt.date]],
    entry: dt.date,
    as_of: dt.date,
    live_rule: tuple[set[str], set[dt.date], int],
) -> list[dict[str, object]]:
    """Catch-up doses of ``missing`` in rounds (see :func:`admission_states`).

    ``live_rule`` is (injectable live vaccine codes, the days the child already had one, the
    minimum gap): a round with such a vaccine is moved until it is on the same day as, or at
    least the gap away from, every other injectable live dose (DOMAIN.md §1.3)."""
    live, live_days, gap = live_rule
    on: dict[str, dict[int, dt.date]] = {}  # series -> dose number -> date
    for series, number, day in given:
        on.setdefault(series, {})[number] = day
    queues: dict[str, list[DoseRule]] = {}
    for rule in sorted(missing, key=lambda r: (r.series, r.number)):
        queues.setdefault(rule.series, []).append(rule)
    rows: list[dict[str, object]] = []
    day = entry + dt.timedelta(days=int(rng.integers(14, 43)))
    while any(queues.values()):
        batch = [q.pop(0) for q in queues.values() if q]
        for rule in batch:
            day = earliest_valid(rule, day, on.get(rule.series, {}))
        if any(rule.accepts[0] in live for rule in batch):
            while any(0 < abs((day - d).days) < gap for d in live_days):
                day += dt.timedelta(days=1)
            live_days.add(day)
        if day > as_of:
            break
        for rule in batch:
            on.setdefault(rule.series, {})[rule.number] = day
            rows.append(
                {
                    "child_id": child.id,
                    "vaccine": rule.accepts[0],
                    "series": rule.series,
                    "dose": rule.number,
                    "date": day,
                    "lot": f"{day.year}{int(rng.integers(1, 999)):03d}{int(rng.integers(10)):d}",
                    "place_id": child.hospital_id,
                }
            )
        day += dt.timedelta(days=28)  # injectable live vaccines: 28 days between visits
    return rows


def _in_edition(
    birth: dt.date,
    day: dt.date,
    variants: tuple[tuple[dt.date, DoseRule], ...],
    product: str,
    series_on: dict[int, dt.date],
) -> dt.date:
    """``day`` moved, if needed, to the minimum age and intervals of the NIP edition in force
    on the day the dose is given (the clinical rules judge each dose so): a child born in 2024
    had DTaP 1 at 3 months, by the 2021 edition. Editions only move forward in time, so this
    settles in a few steps."""
    while True:
        judge = rule_at(variants, day)
        youngest = add_age(birth, minimum_age(judge, product))
        moved = earliest_valid(judge, max(day, youngest), series_on)
        if moved == day:
            return day
        day = moved


def doses(
    rng: np.random.Generator, kids: Sequence[Child], as_of: dt.date, table: VaccinationTable
) -> pd.DataFrame:
    """Doses on the schedule's default products, given at the visit for their minimum age.

    Doses due at the same age are given on the same day (so injectable live vaccines never
    fall within 28 days of each other); a missed dose delays the rest of its series, and is
    sometimes caught up later, always keeping the series' minimum intervals.
    """
    defaults = {o.series: o.default_option for o in table.options}
    rules = [
        r
        for r in table.doses
        if r.when is None and (r.option is None or r.option == defaults.get(r.series))
    ]  # special-population doses (HBIG) are not given to the demo children
    editions = edition_rules(table)
    rows: list[dict[str, object]] = []
    for child in kids:
        visit_jitter: dict[str, int] = {}
        given_on: dict[str, dict[int, dt.date]] = {}  # series -> dose number -> date
        stopped: set[str] = set()
        for rule in rules:
            if rule.sex is not None and rule.sex.value != (
                "male" if child.sex is Sex.MALE else "female"
            ):
                continue
            if rule.series in stopped:
                continue
            target = add_age(child.birth_date, rule.age)
            key = str(rule.age)
            # birth doses within 24 hours (HepB1, BCG); later visits within two weeks
            spread = 1 if rule.age.approx_days() == 0 else 15
            jitter = visit_jitter.setdefault(key, int(rng.integers(0, spread)))
            day = target + dt.timedelta(days=jitter)
            series_on = given_on.setdefault(rule.series, {})
            day = earliest_valid(rule, day, series_on)  # e.g. HepB D1 -> D3 at least 4 months
            if rng.random() < MISSED_DOSE_SHARE:
                if rng.random() >= CATCH_UP_SHARE:
                    stopped.add(rule.series)
                    continue
                day = day + dt.timedelta(days=int(rng.integers(45, 120)))
            day = _in_edition(
                child.birth_date, day, editions[rule.dose_id], rule.accepts[0], series_on
            )
            if day > as_of:
                stopped.add(rule.series)
                continue
            series_on[rule.number] = day
            rows.append(
                {
                    "child_id": child.id,
                    "vaccine": rule.accepts[0],
                    "series": rule.series,
                    "dose": rule.number,
                    "date": day,
                    "lot": f"{day.year}{int(rng.integers(1, 999)):03d}{int(rng.integers(10)):d}",
                    "place_id": child.hospital_id,
                }
            )
    return pd.DataFrame(
        rows, columns=["child_id", "vaccine", "series", "dose", "date", "lot", "place_id"]
    )
