"""The scheduled screenings a well-run district records at its checkups (synthetic).

The demo's paediatricians record, at each checkup visit, the screenings of the
``screening-schedule`` rule table (clinical/rules/CN/screening-schedule.toml; DOMAIN.md §2.1)
whose age point the visit serves — through the same Observations the visit form writes
(:func:`healthbridge.fhir.screening_result.screening_observations`):

* **eye** (眼保健): at the newborn home visit (the day-0 point), 1, 3, 6, 8, 12, 18, 24, 30 and
  36 months — pass, or refer (:data:`EYE_REFER`);
* **hearing** (听力): at 6, 12, 24 and 36 months — pass, or refer (:data:`HEARING_REFER`);
* **oral** (口腔): at 6, 12, 18, 24, 30 and 36 months — erupted teeth for the age and decayed
  teeth (:data:`CARIES_SHARE` by visit), fluoride varnish from 24 months where given;
* **haemoglobin** stays the visit's ``hb_g_l`` (:mod:`healthbridge.demo.growth`: 6, 8, 18,
  30 months); an Hb under 110 g/L raises ``anaemia``.

A realistic minority is not up to date: a visit that was missed records nothing
(``growth.MISSED_VISIT_SHARE``), a visit that took place leaves a screening out with
:data:`SKIPPED_SHARE`, and a child whose visit is still ahead of the report day has the point
due. The shares are **illustrative**, not survey figures: refer rates of a few per cent, and
caries far below the national 2015–2017 survey's (第四次全国口腔健康流行病学调查: about half of
3-year-olds have caries [C]) — the demo district runs a caries-prevention programme, so that
its alert list stays readable. Drawn with their own random stream (the other tables are
unchanged by it).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from healthbridge.fhir.screening_result import ScreeningEntry

#: The screenings recorded at each checkup visit (visit codes of ``demo.growth``).
BY_VISIT: Final[dict[str, tuple[str, ...]]] = {
    "newborn-home": ("eye",),
    "1m": ("eye",),
    "3m": ("eye",),
    "6m": ("eye", "hearing", "oral"),
    "8m": ("eye",),
    "12m": ("eye", "hearing", "oral"),
    "18m": ("eye", "oral"),
    "24m": ("eye", "hearing", "oral"),
    "30m": ("eye", "oral"),
    "36m": ("eye", "hearing", "oral"),
}
#: Chance that a screening due at a visit that took place was not recorded.
SKIPPED_SHARE: Final = 0.04
HEARING_REFER: Final = 0.015
EYE_REFER: Final = 0.02
#: Chance of one or more decayed teeth at the oral check of each visit.
CARIES_SHARE: Final[dict[str, float]] = {
    "6m": 0.0, "12m": 0.01, "18m": 0.03, "24m": 0.06, "30m": 0.10, "36m": 0.14,
}  # fmt: skip
#: Chance that fluoride varnish was applied at an oral check from 24 months.
VARNISH_SHARE: Final = 0.6


def _teeth(age_days: int, rng: np.random.Generator) -> int:
    """Erupted primary teeth: none before about 6 months, then about one a month to 20."""
    months = age_days / 30.4375
    return int(np.clip(round(months - 6 + rng.normal(0.0, 1.5)), 0, 20))


def _entry(code: str, visit: str, age_days: int, rng: np.random.Generator) -> ScreeningEntry:
    if code == "hearing":
        return ScreeningEntry("hearing", "refer" if rng.random() < HEARING_REFER else "pass")
    if code == "eye":
        return ScreeningEntry("eye", "refer" if rng.random() < EYE_REFER else "pass")
    teeth = _teeth(age_days, rng)
    caries = 0
    if teeth and rng.random() < CARIES_SHARE.get(visit, 0.0):
        caries = min(int(rng.integers(1, 4)), teeth)
    varnish = True if age_days >= 730 and rng.random() < VARNISH_SHARE else None
    return ScreeningEntry("oral", None, (("caries", caries), ("teeth", teeth)), varnish)


def screenings(rng: np.random.Generator, visits: pd.DataFrame) -> pd.Series:
    """Per row of ``visits`` (:func:`healthbridge.demo.growth.visits`) the tuple of
    :class:`ScreeningEntry` recorded at it (empty for births and centre sessions)."""
    out: list[tuple[ScreeningEntry, ...]] = []
    for visit, age in zip(visits["visit"], visits["age_days"], strict=True):
        entries = tuple(
            _entry(code, str(visit), int(age), rng)
            for code in BY_VISIT.get(str(visit), ())
            if rng.random() >= SKIPPED_SHARE
        )
        out.append(entries)
    return pd.Series(out, index=visits.index, dtype="object")
