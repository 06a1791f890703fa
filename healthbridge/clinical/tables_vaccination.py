"""The NIP vaccination schedule table (one file per edition) and the admission-check rule."""

from __future__ import annotations

from dataclasses import dataclass

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
    #: stable id such as ``DTP-3`` or ``JE-I-2`` (option or series, then number)
    dose_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "dose_id", f"{self.option or self.series}-{self.number}")


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
    return VaccinationTable(
        meta=parse_meta(root),
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
