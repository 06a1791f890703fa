#!/usr/bin/env python3
"""Write ``examples/demo_measurements.csv``: ~200 realistic, seeded demo measurements.

Children 0-6 years (most under 3, as in a childcare centre), measured the way a clinic
records them (weight to 0.1 kg, length/height and circumferences to 0.1 cm, skinfolds to
0.2 mm). Each child's z-scores are drawn from N(0, 1) (a few deliberately stunted, wasted or
overweight) and turned into measurements with :func:`growth_standards.value_at_z`, so the
file scores back to plausible values. A handful of rows carry typical data-entry errors so
that ``healthbridge score`` shows its per-row error column. Re-running writes the same file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import growth_standards as gs

OUT = Path(__file__).resolve().parent.parent / "examples" / "demo_measurements.csv"
SEED = 20260
ROWS = 200


def main() -> None:
    rng = np.random.default_rng(SEED)
    n = ROWS
    sex = rng.integers(1, 3, n)
    # mostly 0-3 years, some up to 6
    age = np.where(rng.random(n) < 0.85, rng.uniform(0, 1096, n), rng.uniform(1096, 2190, n))
    age = np.round(age)
    z_len = rng.normal(0, 1, n)
    z_wfl = rng.normal(0, 1, n)
    z_hc = rng.normal(0, 1, n)
    z_ac = rng.normal(0, 1, n)
    z_ts, z_ss = rng.normal(0, 1, n), rng.normal(0, 1, n)
    z_len[:6] -= 2.5  # stunted
    z_wfl[6:10] -= 2.6  # wasted
    z_wfl[10:14] += 2.4  # overweight
    height = age >= 731
    lenhei = gs.value_at_z("lhfa", sex, age, z_len)
    weight = np.where(
        height,
        gs.value_at_z("wfh", sex, np.clip(lenhei, 65, 120), z_wfl),
        gs.value_at_z("wfl", sex, np.clip(lenhei, 45, 110), z_wfl),
    )
    # after 60 months there is no weight-for-height: weight from weight-for-age instead
    old = age / 30.4375 >= 60
    weight[old] = gs.value_at_z("wfa", sex[old], age[old], z_wfl[old])
    headc = gs.value_at_z("hcfa", sex, np.minimum(age, 1826), z_hc)
    armc = gs.value_at_z("acfa", sex, np.clip(age, 91, 1826), z_ac)
    triskin = gs.value_at_z("tsfa", sex, np.clip(age, 91, 1826), z_ts)
    subskin = gs.value_at_z("ssfa", sex, np.clip(age, 91, 1826), z_ss)

    frame = pd.DataFrame(
        {
            "child_id": [f"C{i:04d}" for i in range(1, n + 1)],
            "sex": np.where(rng.random(n) < 0.2, np.where(sex == 1, "m", "f"), sex.astype(str)),
            "age_days": age.astype(int),
            "weight_kg": np.round(weight, 1),
            "lenhei_cm": np.round(lenhei, 1),
            "measure": np.where(height, "h", "l").astype(object),
            "headc_cm": np.where(age < 1096, np.round(headc, 1), np.nan),
            "armc_cm": np.where(age >= 180, np.round(armc, 1), np.nan),
            "triskin_mm": np.where(rng.random(n) < 0.25, np.round(triskin * 5) / 5, np.nan),
            "subskin_mm": np.where(rng.random(n) < 0.25, np.round(subskin * 5) / 5, np.nan),
            "oedema": "n",
            "gestational_age_weeks": np.nan,
        }
    )
    frame.loc[frame.age_days >= 1827, ["armc_cm", "triskin_mm", "subskin_mm"]] = np.nan
    # a few infants measured standing, a few without the position recorded
    frame.loc[[20, 21], "measure"] = None
    # preterm children (corrected age applies until 24 months)
    young = frame.index[(frame.age_days > 30) & (frame.age_days < 600)][:8]
    frame.loc[young, "gestational_age_weeks"] = [30, 31, 32, 33, 34, 35, 36, 28]
    frame.loc[frame.index[30], "oedema"] = "y"
    # typical data-entry errors, one per row
    frame = frame.astype({"age_days": object, "weight_kg": object, "lenhei_cm": object})
    frame.loc[frame.index[-6], "sex"] = "x"
    frame.loc[frame.index[-5], "weight_kg"] = "12,4"
    frame.loc[frame.index[-4], "age_days"] = -12
    frame.loc[frame.index[-3], "lenhei_cm"] = 0
    frame.loc[frame.index[-2], "measure"] = "s"
    frame.loc[frame.index[-1], "oedema"] = "maybe"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(OUT, index=False)
    print(f"wrote {OUT} ({len(frame)} rows)")


if __name__ == "__main__":
    main()
