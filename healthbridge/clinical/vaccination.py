"""NIP vaccination status per child, catch-up dates, and the admission (入托) check.

Rules (``nip-<edition>`` table; DOMAIN.md §1.2–1.4):

* ages are chronological, also for preterm children, in calendar months with end-of-month
  clamping; a dose is valid from its minimum age, at least ``min_interval`` after the previous
  dose of its series (and ``extra_intervals`` after earlier ones);
* two injectable live vaccines not given on the same day need ``live_injectable_min_gap_days``
  between them: a live injectable dose given 1…gap−1 days after another does not count, and a
  missing live injectable dose is not planned inside that window;
* catch-up: only missing doses are given, a series never restarts — the next missing dose is
  planned from the last valid dose (or from the planned date of the missing dose before it);
* status: ``given``; ``overdue`` from the ``complete_before`` age (the edition's latest
  recommended age), or for doses without one from schedule age + ``overdue_after``; ``due``
  from the earliest valid date; else ``not-yet-due``;
  ``not-applicable`` for the other sex or from ``give_until`` (no catch-up from that age).

Series with alternative products (JE-L/JE-I, HepA-L/HepA-I) follow the product the child
started, else the table's default option.

Editions: each dose given is judged (minimum age, intervals, accepted products) by the edition
in force on the day it was given (``VaccinationTable.edition_at``: nip-2021 to 2024-12-31,
the Dec-2024 DTaP notice's nip-2025 from 2025-01-01, nip-2026 from 2026-06-17), so doses given
on the 2021 schedule (DTaP at 3/4/5 m) still count. What is still missing is planned by the
rule set's edition (the one in force today): a child part-way through the 2021 DTaP series
continues with the next dose number of the current schedule, never restarting (transition
rule of the Dec-2024 notice as far as DOMAIN.md records it: the notice's own transition text
was not retrieved, ``?``).

Products: a given product counts as the NIP vaccines of the product table (a combination
vaccine for each NIP antigen it contains); a recognised non-NIP product is ``not-in-schedule``,
a code in no table ``not-recognised``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum

from healthbridge.clinical._cache import per_table
from healthbridge.clinical.ages import Age, add_age
from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.tables_vaccination import DoseRule, VaccinationTable
from healthbridge.clinical.vocab import AlertKind, Sex


class DoseStatus(StrEnum):
    GIVEN = "given"
    DUE = "due"
    OVERDUE = "overdue"
    NOT_YET_DUE = "not-yet-due"
    NOT_APPLICABLE = "not-applicable"


class InvalidReason(StrEnum):
    BEFORE_MIN_AGE = "before-minimum-age"
    INTERVAL = "minimum-interval-not-met"
    LIVE_INTERVAL = "live-vaccine-interval-not-met"
    NOT_ACCEPTED = "product-not-accepted-for-dose"
    OTHER_OPTION = "other-product-option"
    SERIES_COMPLETE = "series-already-complete"
    UNSCHEDULED = "not-in-schedule"
    NOT_RECOGNISED = "not-recognised"


#: What staff see for each invalid-dose reason (zh, en).
INVALID_REASON_TEXT: dict[InvalidReason, tuple[str, str]] = {
    InvalidReason.BEFORE_MIN_AGE: ("未到最小接种月龄", "given before the minimum age"),
    InvalidReason.INTERVAL: ("未满最短间隔", "minimum interval not met"),
    InvalidReason.LIVE_INTERVAL: (
        "与另一注射减毒活疫苗间隔不足28天",
        "less than 28 days after another injectable live vaccine",
    ),
    InvalidReason.NOT_ACCEPTED: ("该剂次不接受此疫苗", "this product does not count for the dose"),
    InvalidReason.OTHER_OPTION: ("与已开始的疫苗种类不同", "other product option than started"),
    InvalidReason.SERIES_COMPLETE: ("该疫苗已全程接种", "series already complete"),
    InvalidReason.UNSCHEDULED: ("非免疫规划疫苗（不计入程序）", "not in the NIP schedule"),
    InvalidReason.NOT_RECOGNISED: (
        "疫苗编码无法识别，请核对",
        "vaccine code not recognised: please check the record",
    ),
}


@dataclass(frozen=True, slots=True)
class GivenDose:
    immunization_id: str
    vaccine: str
    on: date
    #: the product given when it was a combination product counted as ``vaccine``
    product: str = ""

    @property
    def product_code(self) -> str:
        return self.product or self.vaccine


@dataclass(frozen=True, slots=True)
class TbTest:
    """A tuberculin skin test (PPD/TST) result: BCG catch-up from 3 months needs a negative one."""

    observation_id: str
    on: date
    negative: bool


@dataclass(frozen=True, slots=True)
class ChildFacts:
    """Recorded facts the special-population rules read (2021 说明 特殊健康状态儿童):
    the mother's HBsAg status (``positive``/``negative``/``unknown``), the birth weight and
    tuberculin skin tests."""

    maternal_hbsag: str | None = None
    birth_weight_g: float | None = None
    tb_tests: tuple[TbTest, ...] = ()


#: Finding item suffix of a missing dose that needs a negative TB skin test first.
NEEDS_TEST_SUFFIX = ":tst"


def _latest_test(tests: Sequence[TbTest], as_of: date) -> TbTest | None:
    past = [t for t in tests if t.on <= as_of]
    if not past:
        return None
    return max(past, key=lambda t: (t.on, not t.negative, t.observation_id))


def negative_test_valid(tests: Sequence[TbTest], valid_for: Age, as_of: date) -> bool:
    """The latest test on or before ``as_of`` is negative and still recent enough."""
    latest = _latest_test(tests, as_of)
    return latest is not None and latest.negative and as_of < add_age(latest.on, valid_for)


def latest_test_positive(tests: Sequence[TbTest], as_of: date) -> bool:
    """The latest test on or before ``as_of`` is positive: no BCG catch-up (refer instead)."""
    latest = _latest_test(tests, as_of)
    return latest is not None and not latest.negative


@dataclass(frozen=True, slots=True)
class InvalidDose:
    dose: GivenDose
    reason: InvalidReason


@dataclass(frozen=True, slots=True)
class DoseState:
    """One scheduled dose: status, the dose that fulfilled it, or when it may/should be given."""

    dose_id: str
    series: str
    number: int
    vaccine: str
    status: DoseStatus
    scheduled: date
    earliest: date | None
    overdue_from: date | None
    given: GivenDose | None
    #: a missing dose that needs a negative TB skin test first (BCG catch-up from 3 months)
    needs_test: bool = False

    @property
    def item(self) -> str:
        """The finding item: the dose id, marked when a skin test must come first."""
        return self.dose_id + (NEEDS_TEST_SUFFIX if self.needs_test else "")


@dataclass(frozen=True, slots=True)
class VaccinationPlan:
    doses: tuple[DoseState, ...]
    invalid: tuple[InvalidDose, ...]
    edition: str

    def dose(self, dose_id: str) -> DoseState:
        for d in self.doses:
            if d.dose_id == dose_id:
                return d
        raise KeyError(dose_id)

    def with_status(self, *statuses: DoseStatus) -> tuple[DoseState, ...]:
        return tuple(d for d in self.doses if d.status in statuses)


@dataclass(frozen=True, slots=True)
class _Tracks:
    """The doses a child follows once the product options are chosen."""

    tracks: tuple[tuple[str, tuple[DoseRule, ...]], ...]
    series_of: dict[str, str]
    other_option: frozenset[str]


class _Derived:
    """Lookups derived from one schedule table (built once, see :mod:`._cache`)."""

    def __init__(self, table: VaccinationTable) -> None:
        self.table = table
        self.live = frozenset(v.code for v in table.vaccines if v.live_injectable)
        self.gap = timedelta(days=table.live_injectable_min_gap_days)
        #: per optioned series: (series, default option, options chosen by the product given,
        #: options chosen by a child's condition such as the low-birth-weight HepB course)
        self.options: list[
            tuple[str, str, list[tuple[str, frozenset[str]]], list[tuple[str, str]]]
        ] = []
        for series in sorted({d.series for d in table.doses if d.option is not None}):
            opts: dict[str, set[str]] = {}
            conditional: dict[str, str] = {}
            for d in table.doses:
                if d.series == series and d.option is not None:
                    if d.when is not None:
                        conditional.setdefault(d.option, d.when)
                    else:
                        opts.setdefault(d.option, set()).update(d.accepts)
            default = table.default_option(series) or ""
            self.options.append(
                (
                    series,
                    default,
                    [(o, frozenset(a)) for o, a in opts.items()],
                    list(conditional.items()),
                )
            )
        self._tracks: dict[tuple[str, ...], _Tracks] = {}
        self._dates: dict[date, dict[str, tuple[date, date, date | None]]] = {}

    def chosen(
        self, given: Sequence[GivenDose], conditions: frozenset[str] = frozenset()
    ) -> tuple[str, ...]:
        """Per optioned series: the option a condition of the child forces, else the option of
        the first dose given, else the default."""
        out = []
        for _series, default, opts, conditional in self.options:
            forced = next((o for o, c in conditional if c in conditions), None)
            started = next((o for g in given for o, acc in opts if g.vaccine in acc), None)
            out.append(forced or started or default)
        return tuple(out)

    def tracks(self, chosen: tuple[str, ...]) -> _Tracks:
        hit = self._tracks.get(chosen)
        if hit is not None:
            return hit
        pick = {
            series: option
            for (series, _d, _o, _c), option in zip(self.options, chosen, strict=True)
        }
        tracks: dict[str, list[DoseRule]] = {}
        for rule in self.table.doses:
            if rule.option is None or pick.get(rule.series) == rule.option:
                tracks.setdefault(rule.series, []).append(rule)
        followed = {v for rules in tracks.values() for r in rules for v in r.accepts}
        other = {v for r in self.table.doses if r.option is not None for v in r.accepts} - followed
        built = _Tracks(
            tuple((s, tuple(rules)) for s, rules in tracks.items()),
            {v: s for s, rules in tracks.items() for r in rules for v in r.accepts},
            frozenset(other),
        )
        self._tracks[chosen] = built
        return built

    def dates(self, birth_date: date) -> dict[str, tuple[date, date, date | None]]:
        """Per dose id: (scheduled date, overdue-from date, give-until date or None)."""
        hit = self._dates.get(birth_date)
        if hit is not None:
            return hit
        out = {}
        for rule in self.table.doses:
            scheduled = add_age(birth_date, rule.age)
            overdue = (
                add_age(birth_date, rule.complete_before)
                if rule.complete_before is not None
                else add_age(scheduled, self.table.overdue_after)
            )
            until = add_age(birth_date, rule.give_until) if rule.give_until is not None else None
            out[rule.dose_id] = (scheduled, overdue, until)
        self._dates[birth_date] = out
        return out


def edition_rules(table: VaccinationTable) -> dict[str, tuple[tuple[date, DoseRule], ...]]:
    """Per dose id of ``table``: (first day, rule judging doses given from that day) for each
    edition, oldest first. An edition without the dose judges it by ``table``'s rule; the
    products accepted are those of both (a dose valid under its edition stays counted)."""

    def build() -> dict[str, tuple[tuple[date, DoseRule], ...]]:
        out: dict[str, list[tuple[date, DoseRule]]] = {r.dose_id: [] for r in table.doses}
        for edition in table.editions():
            by_id = {r.dose_id: r for r in edition.doses}
            for rule in table.doses:
                old = by_id.get(rule.dose_id, rule)
                accepts = tuple(dict.fromkeys((*rule.accepts, *old.accepts)))
                merged = replace(old, accepts=accepts) if accepts != old.accepts else old
                entry = (edition.meta.effective_from, merged)
                if out[rule.dose_id] and out[rule.dose_id][-1][1] == merged:
                    continue
                out[rule.dose_id].append(entry)
        return {k: tuple(v) for k, v in out.items()}

    return per_table(table, "edition-rules", build)


def rule_at(variants: tuple[tuple[date, DoseRule], ...], on: date) -> DoseRule:
    """The rule of the edition in force on ``on`` (the oldest for earlier days)."""
    found = variants[0][1]
    for start, rule in variants:
        if start <= on:
            found = rule
    return found


def minimum_age(rule: DoseRule, product: str) -> Age:
    """The dose's minimum age for this product (``product_ages``, else ``age``)."""
    for code, age in rule.product_ages:
        if code == product:
            return age
    return rule.age


def expand_products(
    given: Sequence[GivenDose], table: VaccinationTable
) -> tuple[list[GivenDose], list[InvalidDose]]:
    """Each given product as the NIP vaccines it counts as (one dose per NIP vaccine, same
    id and date); recognised non-NIP products and unrecognised codes as invalid doses."""
    out: list[GivenDose] = []
    invalid: list[InvalidDose] = []
    for g in given:
        counts = table.counts_as(g.vaccine)
        if counts is None:
            invalid.append(InvalidDose(g, InvalidReason.NOT_RECOGNISED))
        elif not counts:
            invalid.append(InvalidDose(g, InvalidReason.UNSCHEDULED))
        elif counts == (g.vaccine,):
            out.append(g)
        else:
            out.extend(GivenDose(g.immunization_id, v, g.on, g.vaccine) for v in counts)
    return out, invalid


def schedule_lookups(table: VaccinationTable) -> _Derived:
    """The lookups derived from ``table`` (live vaccines, product options, tracks; cached)."""
    return per_table(table, "vaccination", lambda: _Derived(table))


def vaccination_plan(
    birth_date: date,
    sex: Sex,
    given: Sequence[GivenDose],
    table: VaccinationTable,
    as_of: date,
    facts: ChildFacts | None = None,
) -> VaccinationPlan:
    """Each scheduled dose's status on ``as_of`` with catch-up dates (chronological age).

    ``facts`` (mother's HBsAg, birth weight, TB skin tests) select the special-population
    doses: HBIG and the 0/1/2/7-month HepB course, and the skin test before BCG catch-up."""
    facts = facts or ChildFacts()
    conditions = table.conditions_of(facts.maternal_hbsag, facts.birth_weight_g)
    derived = schedule_lookups(table)
    live, gap = derived.live, derived.gap
    by_edition = edition_rules(table)
    nip, invalid = expand_products([g for g in given if g.on <= as_of], table)
    doses = sorted(nip, key=lambda g: (g.on, g.immunization_id))
    live_dates = sorted({g.on for g in doses if g.vaccine in live})
    followed = derived.tracks(derived.chosen(doses, conditions))
    dates = derived.dates(birth_date)

    def expired(rule: DoseRule, on: date) -> bool:
        until = dates[rule.dose_id][2]
        return until is not None and on >= until

    filled: dict[str, dict[int, GivenDose]] = {s: {} for s, _ in followed.tracks}
    rules_of = dict(followed.tracks)
    cursor = {s: 0 for s, _ in followed.tracks}  # index of the next open dose of each series
    for g in doses:
        series = followed.series_of.get(g.vaccine)
        if series is None:
            reason = (
                InvalidReason.OTHER_OPTION
                if g.vaccine in followed.other_option
                else InvalidReason.UNSCHEDULED
            )
            invalid.append(InvalidDose(g, reason))
            continue
        rules = rules_of[series]
        # doses past their give-until age on this date are skipped (e.g. MPSV-A from 24 m:
        # the series continues with MPSV-AC), never filled late
        while cursor[series] < len(rules) and expired(rules[cursor[series]], g.on):
            cursor[series] += 1
        if cursor[series] >= len(rules):
            invalid.append(InvalidDose(g, InvalidReason.SERIES_COMPLETE))
            continue
        rule = rule_at(by_edition[rules[cursor[series]].dose_id], g.on)
        minimum = add_age(birth_date, minimum_age(rule, g.product_code))
        problem = _invalid_reason(rule, g, minimum, filled[series], live, live_dates, gap)
        if problem is not None:
            invalid.append(InvalidDose(g, problem))
        else:
            filled[series][rule.number] = g
            cursor[series] += 1

    states: list[DoseState] = []
    for series, rules in followed.tracks:
        planned: dict[int, date] = {}
        for rule in rules:
            scheduled, overdue, _until = dates[rule.dose_id]
            done = filled[series].get(rule.number)
            if done is not None:
                planned[rule.number] = done.on
                states.append(
                    DoseState(
                        rule.dose_id,
                        series,
                        rule.number,
                        done.vaccine,
                        DoseStatus.GIVEN,
                        scheduled,
                        None,
                        None,
                        done,
                    )
                )
                continue
            vaccine = rule.accepts[0]
            if (
                (rule.sex is not None and rule.sex != sex)
                or (rule.when is not None and rule.when not in conditions)
                or expired(rule, as_of)
                or (
                    rule.test_from is not None
                    and as_of >= add_age(birth_date, rule.test_from)
                    and latest_test_positive(facts.tb_tests, as_of)
                )
            ):
                states.append(
                    DoseState(
                        rule.dose_id,
                        series,
                        rule.number,
                        vaccine,
                        DoseStatus.NOT_APPLICABLE,
                        scheduled,
                        None,
                        None,
                        None,
                    )
                )
                continue
            earliest = earliest_valid(rule, scheduled, planned)
            if vaccine in live:
                # a dose cannot be given in the past: check the live window from today on
                today_or_later = max(earliest, as_of)
                pushed = _clear_live_window(today_or_later, live_dates, gap)
                if pushed != today_or_later:
                    earliest = pushed
            planned[rule.number] = max(earliest, as_of)
            previous = filled[series].get(rule.number - 1)
            if rule.max_interval is not None and previous is not None:
                overdue = min(overdue, add_age(previous.on, rule.max_interval) + timedelta(1))
            if as_of >= overdue:
                status = DoseStatus.OVERDUE
            elif as_of >= earliest:
                status = DoseStatus.DUE
            else:
                status = DoseStatus.NOT_YET_DUE
            needs_test = (
                rule.test_from is not None
                and table.tb_test is not None
                and as_of >= add_age(birth_date, rule.test_from)
                and not negative_test_valid(facts.tb_tests, table.tb_test.valid_for, as_of)
            )
            states.append(
                DoseState(
                    rule.dose_id,
                    series,
                    rule.number,
                    vaccine,
                    status,
                    scheduled,
                    earliest,
                    overdue,
                    None,
                    needs_test,
                )
            )
    states.sort(key=lambda s: (s.scheduled, s.series, s.number))
    invalid.sort(key=lambda i: (i.dose.on, i.dose.immunization_id))
    return VaccinationPlan(tuple(states), tuple(invalid), table.meta.id)


def _invalid_reason(
    rule: DoseRule,
    g: GivenDose,
    minimum: date,
    filled: dict[int, GivenDose],
    live: frozenset[str],
    live_dates: list[date],
    gap: timedelta,
) -> InvalidReason | None:
    if g.vaccine not in rule.accepts:
        return InvalidReason.NOT_ACCEPTED
    if g.on < minimum:
        return InvalidReason.BEFORE_MIN_AGE
    previous = filled.get(rule.number - 1)
    if (
        previous is not None
        and rule.min_interval is not None
        and g.on < add_age(previous.on, rule.min_interval)
    ):
        return InvalidReason.INTERVAL
    for extra in rule.extra_intervals:
        earlier = filled.get(extra.from_number)
        if earlier is not None and g.on < add_age(earlier.on, extra.min):
            return InvalidReason.INTERVAL
    if g.vaccine in live and any(timedelta(0) < g.on - d < gap for d in live_dates):
        return InvalidReason.LIVE_INTERVAL
    return None


def earliest_valid(rule: DoseRule, scheduled: date, planned: dict[int, date]) -> date:
    """The first day from ``scheduled`` on which the dose keeps the minimum interval after the
    previous dose of its series and its ``extra_intervals`` after earlier ones (``planned``:
    dose number → date of the series' given or planned doses)."""
    earliest = scheduled
    previous = planned.get(rule.number - 1)
    if previous is not None and rule.min_interval is not None:
        earliest = max(earliest, add_age(previous, rule.min_interval))
    for extra in rule.extra_intervals:
        earlier = planned.get(extra.from_number)
        if earlier is not None:
            earliest = max(earliest, add_age(earlier, extra.min))
    return earliest


def _clear_live_window(candidate: date, live_dates: list[date], gap: timedelta) -> date:
    """Move ``candidate`` out of (L, L + gap) for every given live injectable dose date L."""
    for d in live_dates:
        if d < candidate < d + gap:
            candidate = d + gap
    return candidate


def vaccination_findings(
    child_id: str, plan: VaccinationPlan, table: VaccinationTable
) -> tuple[Finding, ...]:
    """vaccine-due and vaccine-overdue findings (one per kind, listing dose ids)."""
    out = []
    for kind, status in (
        (AlertKind.VACCINE_DUE, DoseStatus.DUE),
        (AlertKind.VACCINE_OVERDUE, DoseStatus.OVERDUE),
    ):
        doses = plan.with_status(status)
        if not doses:
            continue
        series = {d.series for d in doses}
        evidence = tuple(
            d.given.immunization_id
            for d in plan.doses
            if d.given is not None and d.series in series
        )
        severity = table.due_severity if kind is AlertKind.VACCINE_DUE else table.overdue_severity
        out.append(
            Finding(
                child_id,
                kind,
                severity,
                "",
                evidence,
                tuple(d.item for d in doses),
                f"{status.value}: " + ",".join(d.item for d in doses),
                table.meta.id,
                table.meta.version,
                min(d.scheduled for d in doses),
            )
        )
    return tuple(out)
