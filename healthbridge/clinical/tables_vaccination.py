"""The NIP vaccination schedule table (one file per edition), the admission-check rule, and
the vaccine-product table (which NIP vaccines each product counts as).

A rule set names the edition in force today (``vaccination``) and the earlier editions
(``vaccination_history``): each dose given is judged by the edition in force on the day it was
given (:meth:`VaccinationTable.edition_at`), and the editions must cover every day from the
first one on, without a gap (docs/clinical_rules.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from itertools import pairwise

from healthbridge.clinical._reader import Reader
from healthbridge.clinical.ages import Age
from healthbridge.clinical.errors import RuleTableError
from healthbridge.clinical.tables import TableMeta, parse_meta
from healthbridge.clinical.vocab import NIP_VACCINES, Evidence, Severity, Sex


@dataclass(frozen=True, slots=True)
class VaccineInfo:
    code: str
    name_zh: str
    name_en: str
    live: bool
    injectable: bool

    @property
    def live_injectable(self) -> bool:
        """Subject to the 28-day rule between injectable live vaccines (DOMAIN.md §1.3)."""
        return self.live and self.injectable


@dataclass(frozen=True, slots=True)
class ExtraInterval:
    """Minimum interval from an earlier dose than the previous one (HepB D1→D3 ≥ 4 months)."""

    from_number: int
    min: Age


@dataclass(frozen=True, slots=True)
class DoseRule:
    """One dose of a series (optionally of one product option of the series)."""

    series: str
    number: int
    option: str | None
    accepts: tuple[str, ...]
    age: Age
    complete_before: Age | None
    min_interval: Age | None
    extra_intervals: tuple[ExtraInterval, ...]
    give_until: Age | None
    sex: Sex | None
    evidence: Evidence
    #: minimum age for some products (their label schedule) instead of ``age``: a combination
    #: product given by its label counts (2021 说明), and a 4th dose of an IPV-containing
    #: vaccine completes polio (no bOPV at 4 y). Keyed by product code (a NIP vaccine code, or
    #: a combination product of the product table).
    product_ages: tuple[tuple[str, Age], ...] = ()
    #: latest interval after the previous dose given (JE-I D1→D2 7–10 d): overdue the day after
    max_interval: Age | None = None
    #: the dose is only for children with this condition (``[[condition]]``; HBIG for an
    #: HBsAg-positive mother, the 4-dose HepB course for a low birth weight)
    when: str | None = None
    #: from this age a missing dose needs a negative TB skin test first (BCG catch-up 3 m–4 y)
    test_from: Age | None = None
    #: stable id such as ``DTP-3`` or ``JE-I-2`` (option or series, then number)
    dose_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "dose_id", f"{self.option or self.series}-{self.number}")


@dataclass(frozen=True, slots=True)
class Condition:
    """A special population of the schedule (2021 说明 特殊健康状态儿童), from recorded facts:
    the mother's HBsAg status and the birth weight."""

    id: str
    maternal_hbsag: tuple[str, ...]
    birth_weight_below_g: float | None
    evidence: Evidence

    def applies(self, maternal_hbsag: str | None, birth_weight_g: float | None) -> bool:
        if maternal_hbsag not in self.maternal_hbsag:
            return False
        if self.birth_weight_below_g is None:
            return True
        return birth_weight_g is not None and birth_weight_g < self.birth_weight_below_g


@dataclass(frozen=True, slots=True)
class TbTestRule:
    """BCG catch-up from 3 months needs a negative TB skin test (PPD/TST) this recent."""

    valid_for: Age
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class SeriesOptions:
    series: str
    default_option: str


@dataclass(frozen=True, slots=True)
class AdmissionCheckRule:
    """Entry check deadlines (《儿童入托、入学预防接种证查验办法》 2021)."""

    check_within_days: int
    recheck_by_month: int
    recheck_by_day: int
    incomplete_statuses: tuple[str, ...]
    severity: Severity
    deadline_passed_severity: Severity
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class VaccineProduct:
    """A product code (``nip-vaccine`` code system) and the NIP vaccines it counts as.

    A combination product counts for every NIP vaccine of its antigens (DTaP-IPV/Hib: DTaP and
    IPV; Hib is not in the NIP); a recognised non-NIP product counts as nothing.
    """

    code: str
    name_zh: str
    name_en: str
    counts_as: tuple[str, ...]
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class ProductTable:
    meta: TableMeta
    products: tuple[VaccineProduct, ...]

    def counts_as(self, code: str) -> tuple[str, ...] | None:
        """The NIP vaccines ``code`` counts as, or ``None`` for an unrecognised code."""
        for p in self.products:
            if p.code == code:
                return p.counts_as
        return None


@dataclass(frozen=True, slots=True)
class VaccinationTable:
    meta: TableMeta
    live_injectable_min_gap_days: int
    overdue_after: Age
    rules_evidence: Evidence
    vaccines: tuple[VaccineInfo, ...]
    doses: tuple[DoseRule, ...]
    options: tuple[SeriesOptions, ...]
    admission: AdmissionCheckRule
    due_severity: Severity
    overdue_severity: Severity
    #: last day this edition is in force (``None``: still in force)
    effective_to: date | None = None
    #: the earlier editions, oldest first (set by the rule-set loader)
    history: tuple[VaccinationTable, ...] = field(default=(), compare=False)
    #: product codes → NIP vaccines (set by the rule-set loader)
    products: ProductTable | None = field(default=None, compare=False)
    conditions: tuple[Condition, ...] = ()
    tb_test: TbTestRule | None = None

    def conditions_of(
        self, maternal_hbsag: str | None, birth_weight_g: float | None
    ) -> frozenset[str]:
        """The special-population conditions a child's recorded facts meet."""
        return frozenset(c.id for c in self.conditions if c.applies(maternal_hbsag, birth_weight_g))

    def editions(self) -> tuple[VaccinationTable, ...]:
        """Every edition of this rule set, oldest first, this one last."""
        return (*self.history, self)

    def edition_at(self, day: date) -> VaccinationTable:
        """The edition in force on ``day`` (the oldest one for days before all editions)."""
        found = self.history[0] if self.history else self
        for edition in self.editions():
            if edition.meta.effective_from <= day:
                found = edition
        return found

    def counts_as(self, code: str) -> tuple[str, ...] | None:
        """NIP vaccines a given product counts as; ``None`` when the code is not recognised."""
        if code in {v.code for v in self.vaccines}:
            return (code,)
        if self.products is None:
            return None
        return self.products.counts_as(code)

    def vaccine(self, code: str) -> VaccineInfo:
        for v in self.vaccines:
            if v.code == code:
                return v
        raise RuleTableError(f"vaccine {code!r} not in schedule {self.meta.id}")

    def default_option(self, series: str) -> str | None:
        for o in self.options:
            if o.series == series:
                return o.default_option
        return None


def parse_vaccination(root: Reader) -> VaccinationTable:
    rules = root.table("rules")
    vaccines = tuple(
        VaccineInfo(
            v.text("code"),
            v.text("name_zh"),
            v.text("name_en"),
            v.boolean("live"),
            v.boolean("injectable"),
        )
        for v in root.tables("vaccine")
    )
    codes = {v.code for v in vaccines}
    if not codes <= NIP_VACCINES:
        raise RuleTableError(f"{root.where}: unknown vaccine codes {sorted(codes - NIP_VACCINES)}")
    doses = []
    for d in root.tables("dose"):
        accepts = d.texts("accepts")
        if not accepts or not set(accepts) <= codes:
            raise RuleTableError(f"{d.where}.accepts: must name vaccines of this table")
        extra = tuple(
            ExtraInterval(e.integer("from_number"), e.age("min"))
            for e in d.tables("extra_intervals", required=False)
        )
        doses.append(
            DoseRule(
                series=d.text("series"),
                number=d.integer("number"),
                option=d.opt_text("option"),
                accepts=accepts,
                age=d.age("age"),
                complete_before=d.opt_age("complete_before"),
                min_interval=d.opt_age("min_interval"),
                extra_intervals=extra,
                give_until=d.opt_age("give_until"),
                sex=d.enum("sex", Sex) if d.has("sex") else None,
                evidence=d.evidence(),
                product_ages=tuple(
                    (p.text("product"), p.age("age"))
                    for p in d.tables("product_ages", required=False)
                ),
                max_interval=d.opt_age("max_interval"),
                when=d.opt_text("when"),
                test_from=d.opt_age("test_from"),
            )
        )
    options = tuple(
        SeriesOptions(s.text("id"), s.text("default_option"))
        for s in root.tables("series", required=False)
    )
    _validate_doses(root.where, doses, options)
    a = root.table("admission_check")
    admission = AdmissionCheckRule(
        a.integer("check_within_days"),
        a.integer("recheck_by_month"),
        a.integer("recheck_by_day"),
        a.texts("incomplete_statuses"),
        a.enum("severity", Severity),
        a.enum("deadline_passed_severity", Severity),
        a.evidence(),
    )
    conditions = tuple(
        Condition(
            c.text("id"),
            c.texts("maternal_hbsag"),
            c.opt_number("birth_weight_below_g"),
            c.evidence(),
        )
        for c in root.tables("condition", required=False)
    )
    known = {c.id for c in conditions}
    for rule in doses:
        if rule.when is not None and rule.when not in known:
            raise RuleTableError(
                f"{root.where}: dose {rule.dose_id} names unknown condition {rule.when}"
            )
    tb = root.table("tb_test") if root.has("tb_test") else None
    tb_test = TbTestRule(tb.age("valid_for"), tb.evidence()) if tb is not None else None
    if tb_test is None and any(d.test_from is not None for d in doses):
        raise RuleTableError(f"{root.where}: test_from needs a [tb_test] table")
    meta_reader = root.table("meta")
    effective_to = meta_reader.day("effective_to") if meta_reader.has("effective_to") else None
    return VaccinationTable(
        meta=parse_meta(root),
        effective_to=effective_to,
        conditions=conditions,
        tb_test=tb_test,
        live_injectable_min_gap_days=rules.integer("live_injectable_min_gap_days"),
        overdue_after=rules.age("overdue_after"),
        rules_evidence=rules.evidence(),
        vaccines=vaccines,
        doses=tuple(doses),
        options=options,
        admission=admission,
        due_severity=root.table("severity").enum("due", Severity),
        overdue_severity=root.table("severity").enum("overdue", Severity),
    )


def with_history(
    current: VaccinationTable,
    earlier: tuple[VaccinationTable, ...],
    products: ProductTable | None,
    where: str,
) -> VaccinationTable:
    """``current`` with its earlier editions and product table; the editions must follow one
    another without a gap or overlap (each ``effective_to`` is the day before the next
    edition's ``effective_from``)."""
    editions = (*sorted(earlier, key=lambda t: t.meta.effective_from), current)
    for old, new in pairwise(editions):
        if old.effective_to is None or old.effective_to + timedelta(days=1) != (
            new.meta.effective_from
        ):
            raise RuleTableError(
                f"{where}: edition {old.meta.id} must end the day before {new.meta.id} starts "
                f"({new.meta.effective_from}); no day may be left uncovered"
            )
    return replace(current, history=editions[:-1], products=products)


def parse_products(root: Reader) -> ProductTable:
    products = tuple(
        VaccineProduct(
            p.text("code"),
            p.text("name_zh"),
            p.text("name_en"),
            p.texts("counts_as"),
            p.evidence(),
        )
        for p in root.tables("product")
    )
    codes = [p.code for p in products]
    if len(set(codes)) != len(codes):
        raise RuleTableError(f"{root.where}: product codes repeat")
    for p in products:
        if not set(p.counts_as) <= NIP_VACCINES:
            raise RuleTableError(f"{root.where}: {p.code} counts as unknown NIP vaccines")
    return ProductTable(parse_meta(root), products)


def _validate_doses(where: str, doses: list[DoseRule], options: tuple[SeriesOptions, ...]) -> None:
    """Dose numbers must run 1..n in order within each (series, option); options must exist."""
    tracks: dict[tuple[str, str | None], list[int]] = {}
    for d in doses:
        tracks.setdefault((d.series, d.option), []).append(d.number)
    for (series, option), numbers in tracks.items():
        if numbers != list(range(1, len(numbers) + 1)):
            raise RuleTableError(
                f"{where}: doses of {series}/{option} must be numbered 1..n in order"
            )
    optioned = {s for (s, o) in tracks if o is not None}
    for series in optioned:
        if (series, None) in tracks:
            raise RuleTableError(f"{where}: series {series} mixes doses with and without options")
        declared = [o for o in options if o.series == series]
        if len(declared) != 1 or (series, declared[0].default_option) not in tracks:
            raise RuleTableError(
                f"{where}: series {series} needs one [[series]] with a valid default_option"
            )
