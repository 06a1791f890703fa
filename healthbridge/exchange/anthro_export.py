"""Export measurements in WHO Anthro's CSV layout, to cross-check figures in WHO's own tools.

Layout: the column names are exactly the arguments of WHO's ``anthro`` R package
(``anthro_zscores`` / ``anthro_prevalence``): ``sex`` (1 = male, 2 = female), ``age`` (days,
so ``is_age_in_month = FALSE``), ``weight`` (kg), ``lenhei`` (cm), ``measure`` (``l`` lying /
``h`` standing), ``headc`` (cm), ``armc`` (cm), ``triskin`` and ``subskin`` (mm), ``oedema``
(``n``/``y``), preceded by our ``id`` and followed by ``othergr`` (anthro's "other grouping"
stratifier) holding the centre. Missing values are written ``NA``, which R's ``read.csv``
reads as missing for every column type (an empty string would be read as ``""`` in character
columns, which ``anthro_zscores`` rejects for ``measure``).

Why this layout: WHO Anthro Survey Analyser asks the user to map uploaded columns to exactly
these variables, and the R package takes them by these names, so the file is used without
renaming::

    d <- read.csv("export.csv")
    anthro_prevalence(sex = d$sex, age = d$age, weight = d$weight, lenhei = d$lenhei,
                      measure = d$measure, headc = d$headc, oedema = d$oedema,
                      othergr = d$othergr)
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from healthbridge.exchange.errors import ExportInputError

#: Output columns, in order.
ANTHRO_COLUMNS: tuple[str, ...] = (
    "id",
    "sex",
    "age",
    "weight",
    "lenhei",
    "measure",
    "headc",
    "armc",
    "triskin",
    "subskin",
    "oedema",
    "othergr",
)
#: Our measurement columns → anthro's.
_VALUE_COLUMNS = {
    "weight_kg": "weight",
    "lenhei_cm": "lenhei",
    "headc_cm": "headc",
    "armc_cm": "armc",
    "triskin_mm": "triskin",
    "subskin_mm": "subskin",
}
_SEX = {"1": 1, "m": 1, "male": 1, "2": 2, "f": 2, "female": 2}


def anthro_frame(measurements: pd.DataFrame) -> pd.DataFrame:
    """Measurements (one row per child and visit) in anthro's columns.

    Needs ``child_id``, ``sex``, ``birth_date``, ``date``; uses ``weight_kg``, ``lenhei_cm``,
    ``measure``, ``headc_cm``, ``armc_cm``, ``triskin_mm``, ``subskin_mm``, ``oedema`` and
    ``centre`` when present. Age is whole days from birth to measurement, as anthro expects.
    """
    missing = [c for c in ("child_id", "sex", "birth_date", "date") if c not in measurements]
    if missing:
        raise ExportInputError(f"missing column(s): {', '.join(missing)}")
    birth = pd.to_datetime(measurements["birth_date"], errors="coerce")
    date = pd.to_datetime(measurements["date"], errors="coerce")
    age = (date - birth).dt.days
    if (age < 0).any():
        raise ExportInputError("a measurement date is before the birth date")
    out = pd.DataFrame(index=measurements.index)
    out["id"] = measurements["child_id"].astype("string")
    sex = measurements["sex"].astype("string").str.strip().str.lower().map(_SEX)
    out["sex"] = sex.astype("Int64")
    out["age"] = age.astype("Int64")
    for ours, theirs in _VALUE_COLUMNS.items():
        out[theirs] = (
            pd.to_numeric(measurements[ours], errors="coerce")
            if ours in measurements.columns
            else np.nan
        )
    measure = (
        measurements["measure"].astype("string").str.strip().str.lower()
        if "measure" in measurements.columns
        else pd.Series(pd.NA, index=measurements.index, dtype="string")
    )
    out["measure"] = measure.where(measure.isin(["l", "h"]))
    oedema = (
        measurements["oedema"].astype("string").str.strip().str.lower()
        if "oedema" in measurements.columns
        else pd.Series("n", index=measurements.index, dtype="string")
    )
    out["oedema"] = np.where(oedema.isin(["y", "1", "true"]).fillna(False), "y", "n")
    out["othergr"] = (
        measurements["centre"].astype("string")
        if "centre" in measurements.columns
        else pd.Series(pd.NA, index=measurements.index, dtype="string")
    )
    return out[list(ANTHRO_COLUMNS)].reset_index(drop=True)


def anthro_csv(measurements: pd.DataFrame) -> str:
    """The CSV text of :func:`anthro_frame` (UTF-8, ``NA`` for missing, ``\\n`` line ends)."""
    buffer = io.StringIO()
    anthro_frame(measurements).to_csv(
        buffer, index=False, na_rep="NA", lineterminator="\n", float_format="%.10g"
    )
    return buffer.getvalue()
