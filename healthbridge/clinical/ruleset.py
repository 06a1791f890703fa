"""Select and load a rule set: versioned rule tables for one region, with province overlays.

``rules/rulesets.toml`` lists rule sets by (id, version, national region). Each names its
tables, which live in ``rules/<region>/<table id>.toml``. A province region such as ``CN-44``
selects the national rule set of ``CN`` and deep-merges every overlay file found in
``rules/CN-44/`` into the table it targets before parsing (docs/clinical_rules.md). Nothing is
read at import; :func:`load_ruleset` caches what it loads from the shipped directory.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, TypeVar

from healthbridge.clinical._reader import Reader
from healthbridge.clinical.cases import CasesTable, parse_cases
from healthbridge.clinical.errors import RuleSetKeyError, RuleSetNotFoundError, RuleTableError
from healthbridge.clinical.tables import (
    CheckupTable,
    NutritionConvention,
    NutritionTable,
    Source,
    TableMeta,
    VelocityTable,
    parse_checkups,
    parse_meta,
    parse_nutrition,
    parse_velocity,
)
from healthbridge.clinical.tables_care import (
    AlertKindsTable,
    AnaemiaTable,
    DailyCheckTable,
    InterpretationTable,
    ScreeningTable,
    parse_alert_kinds,
    parse_anaemia,
    parse_daily_check,
    parse_interpretation,
    parse_screening,
)
from healthbridge.clinical.tables_screening import (
    ScreeningScheduleTable,
    parse_screening_schedule,
)
from healthbridge.clinical.tables_vaccination import (
    VaccinationTable,
    parse_products,
    parse_vaccination,
    with_history,
)

T = TypeVar("T")
_REGION_RE = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")
#: rule-set keys naming tables, with the parser of each.
_TABLE_KEYS: tuple[str, ...] = (
    "nutrition",
    "velocity",
    "checkups",
    "vaccination",
    "daily_check",
    "anaemia",
    "screening",
    "screening_schedule",
    "alerts",
    "interpretation",
    "cases",
)


@dataclass(frozen=True, slots=True)
class RuleSetRef:
    """One entry of ``rulesets.toml``."""

    id: str
    version: str
    region: str
    effective_from: date
    description: str


@dataclass(frozen=True, slots=True)
class Overlay:
    """A province overlay applied to one table (its own source and evidence)."""

    meta: TableMeta
    target: str


@dataclass(frozen=True, slots=True, repr=False)
class RuleSet:
    """Every rule table the evaluators need, as selected by (id, version, region)."""

    id: str
    version: str
    region: str
    base_region: str
    effective_from: date
    nutrition: NutritionTable
    nutrition_convention: NutritionConvention
    velocity: VelocityTable
    checkups: CheckupTable
    vaccination: VaccinationTable
    daily_check: DailyCheckTable
    anaemia: AnaemiaTable
    screening: ScreeningTable
    screening_schedule: ScreeningScheduleTable
    alerts: AlertKindsTable
    interpretation: InterpretationTable
    cases: CasesTable
    overlays: tuple[Overlay, ...]

    def __repr__(self) -> str:
        nutrition, nip = self.nutrition_convention.id, self.vaccination.meta.id
        return f"RuleSet({self.key}, nutrition={nutrition}, nip={nip})"

    @property
    def key(self) -> str:
        """``id@version/region``: what a finding records as its rule-set provenance."""
        return f"{self.id}@{self.version}/{self.region}"

    def tables(self) -> tuple[TableMeta, ...]:
        """Metadata of every table in use (for provenance listings)."""
        return (
            self.nutrition.meta,
            self.velocity.meta,
            self.checkups.meta,
            self.vaccination.meta,
            self.daily_check.meta,
            self.anaemia.meta,
            self.screening.meta,
            self.screening_schedule.meta,
            self.alerts.meta,
            self.interpretation.meta,
            *(e.meta for e in self.vaccination.history),
            *((self.vaccination.products.meta,) if self.vaccination.products else ()),
            self.cases.meta,
        )


def default_rules_dir() -> Traversable:
    """The rule tables shipped in the package."""
    return resources.files("healthbridge.clinical").joinpath("rules")


def _read_toml(node: Traversable) -> dict[str, Any]:
    try:
        return tomllib.loads(node.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RuleTableError(f"rule table file {node.name} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RuleTableError(f"{node.name}: invalid TOML: {exc}") from exc


def list_rulesets(rules_dir: Traversable | None = None) -> tuple[RuleSetRef, ...]:
    """All rule sets declared in ``rulesets.toml``."""
    root = Reader(
        _read_toml((rules_dir or default_rules_dir()).joinpath("rulesets.toml")), "rulesets.toml"
    )
    return tuple(
        RuleSetRef(
            r.text("id"),
            r.text("version"),
            r.text("region"),
            r.day("effective_from"),
            r.text("description", ""),
        )
        for r in root.tables("ruleset")
    )


def _deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (arrays included) replaces the base value."""
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _overlays(rules_dir: Traversable, region: str) -> list[tuple[Overlay, dict[str, Any]]]:
    folder = rules_dir.joinpath(region)
    if not folder.is_dir():
        return []
    found = []
    for node in sorted(folder.iterdir(), key=lambda n: n.name):
        if not node.name.endswith(".toml"):
            continue
        raw = _read_toml(node)
        reader = Reader(raw, f"{region}/{node.name}")
        meta = parse_meta(reader)
        if meta.region != region:
            raise RuleTableError(
                f"{region}/{node.name}: meta.region {meta.region!r} does not match its folder"
            )
        target = reader.table("overlay").text("target")
        patch = reader.table("set").mapping() if reader.has("set") else {}
        found.append((Overlay(meta, target), dict(patch)))
    return found


def _parse(
    rules_dir: Traversable,
    base_region: str,
    table_id: str,
    key: str,
    patches: list[tuple[Overlay, dict[str, Any]]],
    parser: Callable[[Reader], T],
) -> T:
    raw = _read_toml(rules_dir.joinpath(base_region, f"{table_id}.toml"))
    for overlay, patch in patches:
        if overlay.target == key:
            raw = _deep_merge(raw, patch)
    reader = Reader(raw, f"{base_region}/{table_id}.toml")
    table = parser(reader)
    meta = parse_meta(reader)
    if meta.id != table_id or meta.region != base_region:
        raise RuleTableError(
            f"{reader.where}: meta id/region ({meta.id}, {meta.region}) do not match the file"
        )
    return table


def _vaccination(
    rules_dir: Traversable,
    base_region: str,
    entry: Reader,
    patches: list[tuple[Overlay, dict[str, Any]]],
) -> VaccinationTable:
    """The edition in force with its earlier editions (``vaccination_history``) and the
    product table (``vaccine_products``); overlays patch every edition alike."""

    def edition(table_id: str) -> VaccinationTable:
        return _parse(rules_dir, base_region, table_id, "vaccination", patches, parse_vaccination)

    history = tuple(edition(t) for t in entry.texts("vaccination_history", ()))
    products_id = entry.opt_text("vaccine_products")
    products = (
        _parse(rules_dir, base_region, products_id, "vaccine_products", [], parse_products)
        if products_id
        else None
    )
    return with_history(edition(entry.text("vaccination")), history, products, "rulesets.toml")


def load_ruleset(
    ruleset_id: str,
    version: str,
    region: str = "CN",
    *,
    nutrition_convention: str | None = None,
    rules_dir: Traversable | None = None,
) -> RuleSet:
    """Load and validate the rule set (id, version) for ``region`` (``CN`` or e.g. ``CN-44``).

    ``nutrition_convention`` overrides the rule set's default (``who-z-wst423-2022``, formerly
    ``cn-2024``, or ``who-2006``).
    Raises :class:`RuleSetNotFoundError` or :class:`RuleTableError`. Results for the shipped
    directory are cached.
    """
    if rules_dir is None:
        return _load_shipped(ruleset_id, version, region, nutrition_convention)
    return _load(rules_dir, ruleset_id, version, region, nutrition_convention)


def load_ruleset_key(key: str) -> RuleSet:
    """The shipped rule set named ``id@version/region`` (region defaults to ``CN``): the form
    of ``Settings.clinical_ruleset``. Every consumer of the configured rules (pipeline, pages,
    API operations, parent reports, district coverage) loads them with
    ``load_ruleset_key(settings.ruleset_key)``.

    Raises :class:`RuleSetKeyError` for a malformed key, :class:`RuleSetNotFoundError` for an
    unknown rule set."""
    ident, sep, rest = key.partition("@")
    if not sep or not ident or not rest:
        raise RuleSetKeyError(f"rule set {key!r} is not of the form id@version/region")
    version, _slash, region = rest.partition("/")
    return load_ruleset(ident, version, region or "CN")


@lru_cache(maxsize=16)
def _load_shipped(ruleset_id: str, version: str, region: str, convention: str | None) -> RuleSet:
    return _load(default_rules_dir(), ruleset_id, version, region, convention)


def _load(
    rules_dir: Traversable, ruleset_id: str, version: str, region: str, convention: str | None
) -> RuleSet:
    if not _REGION_RE.match(region):
        raise RuleSetNotFoundError(f"region {region!r} is not a code like 'CN' or 'CN-44'")
    base_region = region.split("-")[0]
    raw = _read_toml(rules_dir.joinpath("rulesets.toml"))
    entries = [
        r
        for r in Reader(raw, "rulesets.toml").tables("ruleset")
        if r.text("id") == ruleset_id
        and r.text("version") == version
        and r.text("region") == base_region
    ]
    if len(entries) != 1:
        known = ", ".join(f"{r.id}@{r.version}/{r.region}" for r in list_rulesets(rules_dir))
        raise RuleSetNotFoundError(
            f"no unique rule set {ruleset_id}@{version}/{base_region}; known: {known}"
        )
    entry = entries[0]
    for key in _TABLE_KEYS:
        entry.text(key)
    patches = _overlays(rules_dir, region) if region != base_region else []
    unknown = {o.target for o, _ in patches} - set(_TABLE_KEYS)
    if unknown:
        raise RuleTableError(f"overlays in {region}/ target unknown tables {sorted(unknown)}")

    def table(key: str, parser: Callable[[Reader], T]) -> T:
        return _parse(rules_dir, base_region, entry.text(key), key, patches, parser)

    nutrition = table("nutrition", parse_nutrition)
    return RuleSet(
        id=ruleset_id,
        version=version,
        region=region,
        base_region=base_region,
        effective_from=entry.day("effective_from"),
        nutrition=nutrition,
        nutrition_convention=nutrition.convention(convention or entry.text("nutrition_convention")),
        velocity=table("velocity", parse_velocity),
        checkups=table("checkups", parse_checkups),
        vaccination=_vaccination(rules_dir, base_region, entry, patches),
        daily_check=table("daily_check", parse_daily_check),
        anaemia=table("anaemia", parse_anaemia),
        screening=table("screening", parse_screening),
        screening_schedule=table("screening_schedule", parse_screening_schedule),
        alerts=table("alerts", parse_alert_kinds),
        interpretation=table("interpretation", parse_interpretation),
        cases=table("cases", parse_cases),
        overlays=tuple(o for o, _ in patches),
    )


__all__ = [
    "Overlay",
    "RuleSet",
    "RuleSetRef",
    "Source",
    "default_rules_dir",
    "list_rulesets",
    "load_ruleset",
]
