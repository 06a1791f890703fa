"""``hb-screening-result`` Observations from typed screening entries (pure; no I/O).

The one writer of a screening result: the paediatrician's visit form
(:mod:`healthbridge.web.visit_screening` parses the form into :class:`ScreeningEntry`) and the
demo district (:mod:`healthbridge.demo.screenings`) both build their Observations here, so
what the demo records is what the form would have written. The reader is
:mod:`healthbridge.inputs.screening`. Profile ``hb-screening-result`` (docs/clinical_rules.md
"Scheduled screenings"): the examiner's ``screening-result`` (pass/refer) as
``valueCodeableConcept``, and ``screening-component`` components (visual acuities, teeth,
caries, fluoride varnish, instrument, score, DQ).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from healthbridge import terminology as t

WHOLE: Final = frozenset({"caries", "teeth"})
#: Form field → screening-component code.
COMPONENTS: Final = {
    "acuity_left": "visual-acuity-left",
    "acuity_right": "visual-acuity-right",
    "caries": "caries",
    "teeth": "teeth",
    "dev_score": "score",
    "dev_dq": "dq",
}


@dataclass(frozen=True, slots=True)
class ScreeningEntry:
    """One screening result typed at the visit."""

    screening: str  # child-screening code
    result: str | None = None  # "pass" / "refer"
    numbers: tuple[tuple[str, float], ...] = ()  # (form field, value)
    fluoride_varnish: bool | None = None
    instrument: str | None = None


def _coding(system: str, code: str) -> dict[str, str]:
    return {"system": system, "code": code}


def screening_observations(
    entries: tuple[ScreeningEntry, ...],
    *,
    patient: dict[str, str],
    encounter: dict[str, str],
    when: str,
    performer: list[dict[str, str]],
) -> list[dict[str, Any]]:
    """One ``hb-screening-result`` Observation per entry."""
    out = []
    for e in entries:
        components: list[dict[str, Any]] = []
        if e.instrument is not None:
            components.append({
                "code": {"coding": [_coding(t.CS_SCREENING_COMPONENT, "instrument")]},
                "valueCodeableConcept": {
                    "coding": [_coding(t.CS_DEVELOPMENTAL_INSTRUMENT, e.instrument)]
                },
            })  # fmt: skip
        for name, value in e.numbers:
            number: int | float = int(value) if name in WHOLE else value
            components.append({
                "code": {"coding": [_coding(t.CS_SCREENING_COMPONENT, COMPONENTS[name])]},
                "valueQuantity": {"value": number, "system": t.UCUM, "code": "1"},
            })  # fmt: skip
        if e.fluoride_varnish is not None:
            components.append({
                "code": {"coding": [_coding(t.CS_SCREENING_COMPONENT, "fluoride-varnish")]},
                "valueBoolean": e.fluoride_varnish,
            })  # fmt: skip
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "meta": {"profile": [f"{t.CANONICAL_BASE}/StructureDefinition/hb-screening-result"]},
            "status": "final",
            "category": [{"coding": [_coding(t.OBSERVATION_CATEGORY, "exam")]}],
            "code": {"coding": [_coding(t.CS_CHILD_SCREENING, e.screening)]},
            "subject": patient,
            "encounter": encounter,
            "effectiveDateTime": when,
            "performer": performer,
        }
        if e.result is not None:
            obs["valueCodeableConcept"] = {"coding": [_coding(t.CS_SCREENING_RESULT, e.result)]}
        if components:
            obs["component"] = components
        out.append(obs)
    return out
