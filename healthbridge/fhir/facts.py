"""One reading of each fact: references, enrolment, growth units and vaccine codes.

Every part of HealthBridge that reads these facts out of a FHIR resource — access reach
(:mod:`healthbridge.store.access_tables`), the typed rule-input table
(:mod:`healthbridge.store.rule_inputs`), pipeline extraction
(:mod:`healthbridge.inputs.extract`), the batch read (:mod:`healthbridge.inputs.dbframes`,
:mod:`healthbridge.pipeline.batch`) and the district gather
(:mod:`healthbridge.district.gather`) — calls this module, so the same resource is read the same
way everywhere (``tests/healthbridge/fhir/test_facts_agreement.py`` feeds random resources to
every consumer and fails when two disagree). Pure: dicts and strings in, values out (plus a
vectorised form over pandas for the whole-district readers).

**References** (FHIR R4 §2.3.0 "Resource references", http://hl7.org/fhir/R4/references.html):

* relative ``Type/id`` — local;
* versioned ``Type/id/_history/vid`` — local, the version ignored (the consumers read the
  current resource, as HAPI does for a versioned reference it does not pin);
* absolute ``{base}/Type/id[/_history/vid]`` where ``{base}`` is *this server's* base URL —
  local. The store rewrites such references to relative form when it writes
  (:func:`localised`; HAPI's "treat base URLs as local"), so stored documents hold local
  references in relative form whatever the client sent, and readers without a request (the
  district gather, ``healthbridge evaluate``) need no base;
* any other absolute URL — a *foreign* resource, never local (not read as one of ours);
* ``urn:uuid:`` / ``urn:oid:`` — only inside a Bundle, resolved through the Bundle's
  ``fullUrl`` map (``bundle=``); outside a Bundle unresolvable;
* ``#id`` — a contained resource (:func:`contained`): part of the resource, not a stored one,
  so never a local id;
* a conditional reference (``Type?criteria``) or anything malformed — nothing.

The type and the id must be well-formed (a resource type name; an id per R4 §2.24.0.2
``[A-Za-z0-9\\-\\.]{1,64}``).

**Enrolment** is the ``childcare-enrollment`` extension on the child's Patient (docs/
fhir_profiles.md): parts ``centre`` (Reference(Organization)), ``class`` (Reference(Location)),
``period`` and the optional ``admission-check-state`` code; :func:`enrolments` returns them in
document order, each consumer choosing which ones it counts (the current one, every one).

**Growth units** (UCUM, http://unitsofmeasure.org): weight in ``kg``, ``g`` or ``[lb_av]``,
length/height and head circumference in ``cm``, ``mm`` or ``[in_i]`` — the units of the R4
vital-signs profiles' bindings (http://hl7.org/fhir/R4/observation-vitalsigns.html: BodyWeight
``kg | g | [lb_av]``, BodyLength/HeadCircum ``cm | [in_i]``) plus ``mm``, which our own
devices send. A quantity without a unit code is read in the standard unit (the profiles
require the code, so the door's profile check reports it). Any other unit, or a system other
than UCUM, raises :class:`UnitError`: the write path refuses it with 422
(:meth:`healthbridge.pipeline.engine.Pipeline.check_units`); readers of stored data skip it.

**Vaccine codes**: our NIP CodeSystem is read as it is; CVX and ATC codes are translated
through the ConceptMap ``nip-vaccine-cvx-atc`` (``fhir_profiles/ConceptMap``) backwards, target →
source, so a combination product mapped from several NIP vaccines yields all of them
(:func:`nip_codes`). The ConceptMap has no China national vaccine codes yet: such codings
translate to nothing (unconfirmed codes are not guessed).

**Tuberculin skin tests** (PPD/TST; profile ``hb-tb-skin-test``): an Observation whose
``code`` has the SNOMED CT coding 28163009 "Skin test for tuberculosis" (:func:`is_tb_skin_test`);
its result (:func:`tb_test_negative`) is ``valueCodeableConcept`` SNOMED CT 260385009 Negative /
10828004 Positive, else ``interpretation`` v3 ``NEG`` / ``POS`` (codes as the WHO SMART
Immunizations IG maps its TST data elements, see :mod:`healthbridge.terminology`). A value
naming both, or neither, is no readable result (None): such a test never makes BCG catch-up
due nor "not applicable". Every reader keys a TST's rule-input row by :data:`TB_SKIN_TEST`
(:func:`rule_code`), so the write path, the rule-input table and the batch read pick the same
Observations.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import numpy as np
import orjson
import pandas as pd

from healthbridge import terminology as t

#: R4 §2.24.0.2 id; resource type names are capitalised letters only.
_ID: Final = r"[A-Za-z0-9\-.]{1,64}"
_TYPE: Final = r"[A-Z][A-Za-z]{1,63}"
_ID_RE: Final = re.compile(_ID)
_TYPE_RE: Final = re.compile(_TYPE)
ENROLLMENT_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"
NIP_CONCEPT_MAP: Final = f"{t.CANONICAL_BASE}/ConceptMap/nip-vaccine-cvx-atc"


@dataclass(frozen=True, slots=True)
class Ref:
    """A resolved reference: a local resource ``type/id`` (the version, when one was named,
    is kept but consumers read the current resource)."""

    type: str
    id: str
    version: str | None = None

    @property
    def relative(self) -> str:
        return f"{self.type}/{self.id}"


def _parse_relative(text: str) -> Ref | None:
    parts = text.split("/")
    if len(parts) == 4 and parts[2] == "_history" and _ID_RE.fullmatch(parts[3]):
        version: str | None = parts[3]
    elif len(parts) == 2:
        version = None
    else:
        return None
    if _TYPE_RE.fullmatch(parts[0]) and _ID_RE.fullmatch(parts[1]):
        return Ref(parts[0], parts[1], version)
    return None


def reference(
    value: Any,
    *,
    base: str | None = None,
    bundle: Mapping[str, str] | None = None,
) -> Ref | None:
    """The local resource a reference names (a Reference object or its ``reference``
    string), or None (foreign, contained, unresolvable, malformed). ``base`` is this server's
    base URL (absolute references under it are local); ``bundle`` maps the ``fullUrl`` of the
    entries of an enclosing Bundle to their ``Type/id``."""
    text = value.get("reference") if isinstance(value, dict) else value
    if not isinstance(text, str) or not text or text.startswith("#"):
        return None
    if text.startswith(("urn:uuid:", "urn:oid:")):
        target = (bundle or {}).get(text)
        return _parse_relative(target) if target is not None else None
    if "://" in text:
        if bundle is not None and text in bundle:
            return _parse_relative(bundle[text])
        root = base.rstrip("/") + "/" if base else None
        if root is None or not text.startswith(root):
            return None  # a foreign server's resource
        text = text[len(root) :]
    return _parse_relative(text)


def ref_id(value: Any, resource_type: str, *, base: str | None = None) -> str | None:
    """The id of the local ``resource_type`` a reference names, else None."""
    ref = reference(value, base=base)
    return ref.id if ref is not None and ref.type == resource_type else None


def ref_ids(values: Sequence[Any] | pd.Series, resource_type: str) -> list[str | None]:
    """:func:`ref_id` over many reference strings (no base: stored documents hold local
    references in relative form), vectorised with one regular expression over the strings —
    the whole-district readers run this over millions of rows."""
    series = pd.Series(list(values) if not isinstance(values, pd.Series) else values, dtype=object)
    if series.empty:
        return []
    is_text = series.map(lambda v: isinstance(v, str))
    text = series.where(is_text, "")
    found = text.str.extract(
        rf"\A{re.escape(resource_type)}/({_ID})(?:/_history/{_ID})?\Z", expand=False
    )
    return [None if isinstance(v, float) else str(v) for v in found.tolist()]


def contained(resource: Mapping[str, Any], value: Any) -> dict[str, Any] | None:
    """The contained resource a ``#id`` reference of ``resource`` names (R4 §2.3.0.4)."""
    text = value.get("reference") if isinstance(value, dict) else value
    if not isinstance(text, str) or not text.startswith("#") or len(text) < 2:
        return None
    for item in resource.get("contained") or ():
        if isinstance(item, dict) and item.get("id") == text[1:]:
            return item
    return None


def localised(resource: Any, base: str | None) -> Any:
    """``resource`` with every ``reference`` under ``base`` made relative (``Type/id`` or
    ``Type/id/_history/vid``); the same object when there is none (copies only the changed
    path)."""
    if not base:
        return resource
    root = base.rstrip("/") + "/"
    if not _may_hold(resource, root):
        return resource  # the usual case: references are written relative

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] | None = None
            for key, value in node.items():
                if key == "reference" and isinstance(value, str) and value.startswith(root):
                    new: Any = value[len(root) :]
                    if _parse_relative(new) is None:
                        new = value
                else:
                    new = walk(value)
                if new is not value:
                    out = dict(node) if out is None else out
                    out[key] = new
            return node if out is None else out
        if isinstance(node, list):
            items = [walk(v) for v in node]
            return node if all(a is b for a, b in zip(items, node, strict=True)) else items
        return node

    return walk(resource)


def _may_hold(resource: Any, root: str) -> bool:
    """Whether the text ``root`` can occur in ``resource``: searched in its JSON (orjson, in C):
    2.3 µs against 16.7 µs for :func:`localised`'s walk of a growth Observation, Flag or Task
    with no absolute reference, which every write takes (5 % of the server's CPU in
    bench/ingest.py). orjson writes a string as it is but for ``"``, ``\\`` and control
    characters, which no base URL holds (otherwise, and for what orjson refuses, the answer
    is yes)."""
    if any(c in root for c in '"\\') or not root.isprintable():
        return True
    try:
        return root.encode() in orjson.dumps(resource)
    except TypeError:
        return True


# ---------------------------------------------------------------------------- enrolment
@dataclass(frozen=True, slots=True)
class EnrolmentFact:
    """One ``childcare-enrollment`` of a child: centre and class ids (local references only),
    the period's start and end as written (first 10 characters), whether the period has an
    end at all (``ended``: a past enrolment, even when the end is not a readable date) and the
    admission-check code."""

    centre_id: str | None
    class_id: str | None
    start: str | None
    end: str | None
    state: str | None
    ended: bool = False


def _day(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def date_of(value: Any) -> dt.date | None:
    """The calendar date of a FHIR ``date`` / ``dateTime`` / ``instant`` (its first ten
    characters, the local date as written); None for a partial date or anything else."""
    text = _day(value)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _parts(extension: Mapping[str, Any]) -> dict[Any, dict[str, Any]]:
    return {e.get("url"): e for e in extension.get("extension") or () if isinstance(e, dict)}


def enrolments(patient: Mapping[str, Any]) -> tuple[EnrolmentFact, ...]:
    """Every ``childcare-enrollment`` extension of a Patient, in document order."""
    out = []
    for ext in patient.get("extension") or ():
        if not isinstance(ext, dict) or ext.get("url") != ENROLLMENT_EXTENSION:
            continue
        parts = _parts(ext)
        period = (parts.get("period") or {}).get("valuePeriod")
        period = period if isinstance(period, dict) else {}
        state = (parts.get("admission-check-state") or {}).get("valueCode")
        out.append(
            EnrolmentFact(
                ref_id((parts.get("centre") or {}).get("valueReference"), "Organization"),
                ref_id((parts.get("class") or {}).get("valueReference"), "Location"),
                _day(period.get("start")),
                _day(period.get("end")),
                state if isinstance(state, str) else None,
                bool(period.get("end")),
            )
        )
    return tuple(out)


def current_enrolment(patient: Mapping[str, Any]) -> EnrolmentFact | None:
    """The enrolment in force: the last one naming a centre and not ended."""
    found = None
    for e in enrolments(patient):
        if e.centre_id is not None and not e.ended:
            found = e
    return found


# ---------------------------------------------------------------------------- growth units
class UnitError(ValueError):
    """A measurement in a unit this reader does not know (never read as another unit)."""

    def __init__(self, quantity: str, unit: str | None, system: Any = None) -> None:
        self.quantity, self.unit, self.system = quantity, unit, system
        known = ", ".join(sorted(UNITS[quantity])) if quantity in UNITS else ""
        super().__init__(
            f"unit {unit!r} (system {system!r}) is not a unit of {quantity}; use one of {known}"
            if system not in (None, t.UCUM)
            else f"unit {unit!r} is not a unit of {quantity}; use one of {known}"
        )


#: Growth quantity of each LOINC code.
GROWTH_QUANTITY: Final = {
    t.LOINC_BODY_WEIGHT: "weight",
    t.LOINC_BODY_LENGTH: "lenhei",
    t.LOINC_BODY_HEIGHT: "lenhei",
    t.LOINC_HEAD_CIRCUMFERENCE: "headc",
}
_LENGTH: Final = {"cm": 1.0, "mm": 0.1, "[in_i]": 2.54}
#: Factor to the standard unit (kg, cm) of each accepted UCUM code (``[lb_av]`` = 0.45359237
#: kg and ``[in_i]`` = 2.54 cm exactly, by definition of the international pound and inch).
UNITS: Final[dict[str, dict[str, float]]] = {
    "weight": {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237},
    "lenhei": _LENGTH,
    "headc": _LENGTH,
}


def unit_factor(quantity: str, unit: Any) -> float:
    """The factor from UCUM code ``unit`` to the standard unit of ``quantity`` (no unit:
    1.0); raises :class:`UnitError` for any other unit."""
    if unit is None:
        return 1.0
    factor = UNITS[quantity].get(unit) if isinstance(unit, str) else None
    if factor is None:
        raise UnitError(quantity, unit if isinstance(unit, str) else repr(unit))
    return factor


def growth_value(code: Any, quantity: Any) -> float | None:
    """A growth measurement (``code`` a growth LOINC code, ``quantity`` the valueQuantity)
    in kg or cm; None when the value is missing or not a finite number; :class:`UnitError`
    for an unknown unit code (the unit's system is checked at the door,
    :func:`check_growth_unit`)."""
    kind = GROWTH_QUANTITY.get(code) if isinstance(code, str) else None
    if kind is None or not isinstance(quantity, dict):
        return None
    value = number(quantity.get("value"))
    if value is None:
        return None
    unit = quantity.get("code")
    return value * unit_factor(kind, unit if isinstance(unit, str) else None)


def check_growth_unit(code: Any, quantity: Any) -> None:
    """The door's check of a growth measurement's unit: :class:`UnitError` unless the unit
    is one :func:`growth_value` reads and its system (when given) is UCUM."""
    kind = GROWTH_QUANTITY.get(code) if isinstance(code, str) else None
    if kind is None or not isinstance(quantity, dict):
        return
    unit, system = quantity.get("code"), quantity.get("system")
    if system is not None and system != t.UCUM:
        raise UnitError(kind, unit if isinstance(unit, str) else None, system)
    if unit is not None:
        unit_factor(kind, unit)


def number(value: Any) -> float | None:
    """A JSON number as a finite float (booleans, strings, non-finite: None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        out = float(value)
    except OverflowError:
        return None
    return out if math.isfinite(out) else None


def growth_values(
    kinds: Sequence[Any], values: Sequence[Any] | np.ndarray[Any, Any], units: Sequence[Any]
) -> np.ndarray[Any, Any]:
    """:func:`growth_value` over columns (kind ``weight``/``lenhei``/``headc``, finite
    number or NaN, unit code or None; the unit's system is checked at the door): values in
    kg/cm, NaN where the number is missing or the unit unknown (stored data is read, never
    refused). Vectorised: one factor look-up per (kind, unit) pair."""
    kind = pd.Series(list(kinds), dtype=object)
    unit = pd.Series(list(units), dtype=object).where(lambda s: s.map(_is_str), None)
    factor = np.full(len(kind), np.nan)
    for name, table in UNITS.items():
        of_kind = (kind == name).to_numpy()
        factor[of_kind & unit.isna().to_numpy()] = 1.0
        for code, f in table.items():
            factor[of_kind & (unit == code).to_numpy()] = f
    # a stored number near the float limit times a unit factor is inf, as in growth_value
    # (Python's float multiply does not warn; numpy's would, once per call)
    with np.errstate(over="ignore"):
        out: np.ndarray[Any, Any] = np.asarray(values, dtype="float64") * factor
    return out


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


# ---------------------------------------------------------------------------- vaccine codes
@cache
def _reverse_map() -> dict[tuple[str, str], tuple[str, ...]]:
    from fhir_profiles.loader import resource_by_url

    return reverse_map(resource_by_url(NIP_CONCEPT_MAP, "ConceptMap", copy=False))


def reverse_map(cm: Mapping[str, Any]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(target system, target code) → the NIP codes a ConceptMap maps to it (all of them: a
    combination product is the target of each of its components); ``unmatched`` and
    ``disjoint`` targets are not mappings (R4 ConceptMap equivalence)."""
    out: dict[tuple[str, str], list[str]] = {}
    for group in cm.get("group", []):
        if group.get("source") != t.CS_NIP_VACCINE:
            continue
        for element in group.get("element", []):
            for target in element.get("target", []):
                if target.get("code") and target.get("equivalence") not in (
                    "unmatched",
                    "disjoint",
                ):
                    key = (str(group["target"]), str(target["code"]))
                    codes = out.setdefault(key, [])
                    if element["code"] not in codes:
                        codes.append(str(element["code"]))
    return {k: tuple(sorted(v)) for k, v in out.items()}


def nip_codes(system: Any, code: Any) -> tuple[str, ...]:
    """Our NIP vaccine code(s) for one coding: the code itself in CodeSystem ``nip-vaccine``;
    for CVX and ATC every NIP vaccine the ConceptMap maps to that code (several for a
    combination product); nothing for a code the ConceptMap does not have."""
    if not isinstance(system, str) or not isinstance(code, str) or not code:
        return ()
    if system == t.CS_NIP_VACCINE:
        return (code,)
    return _reverse_map().get((system, code), ())


def nip_vaccine(codings: Any) -> str | None:
    """The vaccine a ``vaccineCode.coding`` array records, as the clinical rules read it — the
    rule every reader of Immunizations applies:

    * the code of the last ``nip-vaccine`` coding (whatever it holds);
    * else the NIP code (a vaccine or a combination product) of the first coding the ConceptMap
      translates (CVX, ATC: :func:`nip_codes`), so a dose recorded elsewhere is credited;
    * else ``"<system>|<code>"`` of the first coding, which no rule table knows, so staff see
      it as "not recognised" rather than the dose vanishing;
    * None when the array holds no coded coding.
    """
    found: Any = None
    if not isinstance(codings, list):
        return None
    for c in codings:
        if isinstance(c, dict) and c.get("system") == t.CS_NIP_VACCINE:
            found = c.get("code")
    if found is not None:
        return found if isinstance(found, str) else str(found)
    coded = [
        (c.get("system"), c.get("code"))
        for c in codings
        if isinstance(c, dict) and isinstance(c.get("code"), str) and c.get("code")
    ]
    for system, code in coded:
        mapped = nip_codes(system, code)
        if mapped:
            return mapped[0]
    if coded:
        system, code = coded[0]
        return f"{system}|{code}" if isinstance(system, str) and system else str(code)
    return None


def credited_vaccines(codings: Any) -> tuple[str, ...]:
    """Every NIP vaccine a ``vaccineCode.coding`` array records, through :func:`nip_codes`
    (our codes and translated CVX/ATC codes), each once, in document order — for readers that
    credit a dose recorded in a foreign code system."""
    out: list[str] = []
    for c in codings if isinstance(codings, list) else ():
        if isinstance(c, dict):
            for code in nip_codes(c.get("system"), c.get("code")):
                if code not in out:
                    out.append(code)
    return tuple(out)


# ---------------------------------------------------------------------------- TB skin tests
#: The rule-input code of a tuberculin skin test Observation (whatever else its code holds).
TB_SKIN_TEST: Final = t.SNOMED_TB_SKIN_TEST
_RESULTS: Final = {
    (t.SNOMED, t.SNOMED_NEGATIVE): True,
    (t.SNOMED, t.SNOMED_POSITIVE): False,
    (t.V3_INTERPRETATION, t.V3_NEGATIVE): True,
    (t.V3_INTERPRETATION, t.V3_POSITIVE): False,
}


def is_tb_skin_test(codings: Any) -> bool:
    """Whether an Observation ``code.coding`` array names a tuberculin skin test."""
    return isinstance(codings, list) and any(
        isinstance(c, dict) and c.get("system") == t.SNOMED and c.get("code") == TB_SKIN_TEST
        for c in codings
    )


def _result(codings: Any) -> bool | None:
    found = {
        _RESULTS[key]
        for c in (codings if isinstance(codings, list) else ())
        if isinstance(c, dict)
        and isinstance(c.get("code"), str)
        and (key := (c.get("system"), c["code"])) in _RESULTS
    }
    return found.pop() if len(found) == 1 else None


def tb_test_negative(value_codings: Any, interpretation: Any) -> bool | None:
    """The result of a tuberculin skin test: True negative, False positive, None unreadable.
    ``value_codings`` is ``valueCodeableConcept.coding``, read first; ``interpretation`` the
    ``interpretation`` list of CodeableConcepts, read when the value gives no result."""
    found = _result(value_codings)
    if found is not None:
        return found
    codings = [
        c
        for concept in (interpretation if isinstance(interpretation, list) else ())
        if isinstance(concept, dict) and isinstance(concept.get("coding"), list)
        for c in concept["coding"]
    ]
    return _result(codings)


def rule_code(observation: Mapping[str, Any]) -> str | None:
    """The code an Observation counts under as a rule input: :data:`TB_SKIN_TEST` for a
    tuberculin skin test, else the first non-empty LOINC code of ``code.coding``."""
    code = observation.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    if is_tb_skin_test(codings):
        return TB_SKIN_TEST
    for c in codings if isinstance(codings, list) else ():
        if isinstance(c, dict) and c.get("system") == t.LOINC and c.get("code"):
            return str(c["code"])
    return None


def tb_test_result(observation: Mapping[str, Any]) -> bool | None:
    """:func:`tb_test_negative` of a whole Observation (None when it is no TST)."""
    code = observation.get("code")
    if not is_tb_skin_test(code.get("coding") if isinstance(code, dict) else None):
        return None
    value = observation.get("valueCodeableConcept")
    return tb_test_negative(
        value.get("coding") if isinstance(value, dict) else None, observation.get("interpretation")
    )


# ---------------------------------------------------------------------- alert Flags
#: how the severity extension's url ends (``{base}/StructureDefinition/alert-severity``)
SEVERITY_SUFFIX: Final = "/alert-severity"


def flag_severity(flag: Mapping[str, Any]) -> str | None:
    """An alert Flag's ``alert-severity`` code: the first extension whose url ends with
    ``/alert-severity`` (None when there is none, or it has no code). Read here for every
    consumer — the worklist, the parent summary, notifications and the lists' SQL reading
    (:func:`healthbridge.inputs.elements.alert_marks` mirrors it)."""
    code = next(
        (
            e.get("valueCode")
            for e in flag.get("extension") or ()
            if str(e.get("url", "")).endswith(SEVERITY_SUFFIX)
        ),
        None,
    )
    return None if code is None else str(code)
