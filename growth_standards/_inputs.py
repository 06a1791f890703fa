"""Reading a measurements frame: required columns, value cleaning, per-row problems.

Invalid values never raise: each becomes missing (NaN) for scoring, and the reason is kept per
row, so that :func:`row_problems` can say what was wrong (zh-CN by default, or English). Only a
frame that cannot be scored at all raises (:class:`~growth_standards.errors.InvalidFrameError`).
Codes are WHO Anthro's: sex 1/2 or m/f, measure l/h, oedema y/n (or 1/2); missing oedema is
"n" (``anthro``'s ``standardize_oedema_var``), an unreadable one blanks the weight-based scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from growth_standards._reference import round_half_up
from growth_standards.errors import InvalidArgumentError, InvalidFrameError, MissingColumnsError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: The input columns (WHO Anthro's names). Only ``sex`` is required.
INPUT_COLUMNS: tuple[str, ...] = (
    "sex",
    "age_days",
    "weight_kg",
    "lenhei_cm",
    "measure",
    "headc_cm",
    "armc_cm",
    "triskin_mm",
    "subskin_mm",
    "oedema",
    "gestational_age_weeks",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("sex",)

#: Corrected age: born before 37 weeks, corrected towards 40 weeks, while the *corrected* age is
#: below 24 months (731 days), as for the warning-signs screening (DOMAIN.md §4.1: "use corrected
#: age for growth and development until about 24 months"; 早产儿保健工作规范 2017 [M]).
PRETERM_BEFORE_WEEKS = 37.0
TERM_WEEKS = 40.0
CORRECT_UNTIL_DAYS = 731
#: Plausible gestational ages for the correction (weeks); outside is a data error.
GESTATION_RANGE_WEEKS = (20.0, 44.0)

_NUMERIC_COLUMNS = (
    "age_days",
    "weight_kg",
    "lenhei_cm",
    "headc_cm",
    "armc_cm",
    "triskin_mm",
    "subskin_mm",
    "gestational_age_weeks",
)
_MEASUREMENT_COLUMNS = ("weight_kg", "lenhei_cm", "headc_cm", "armc_cm", "triskin_mm", "subskin_mm")
#: Problems a row can have: code -> (zh-CN, English) message.
MESSAGES: Mapping[str, tuple[str, str]] = {
    "sex_missing": ("性别缺失，无法计算", "sex is missing; nothing can be scored"),
    "sex_invalid": ("性别取值无效（应为 1/2 或 m/f）", "sex must be 1, 2, m or f"),
    "age_days_nan": ("age_days 不是数字", "age_days is not a number"),
    "age_days_negative": ("age_days 不能为负数", "age_days cannot be negative"),
    **{
        f"{column}_nan": (f"{column} 不是数字", f"{column} is not a number")
        for column in _MEASUREMENT_COLUMNS
    },
    **{
        f"{column}_not_positive": (f"{column} 必须大于 0", f"{column} must be greater than 0")
        for column in _MEASUREMENT_COLUMNS
    },
    "measure_invalid": (
        "measure 取值无效（应为 l=卧位身长、h=立位身高，或留空）",
        "measure must be l (recumbent length), h (standing height) or empty",
    ),
    "oedema_invalid": (
        "oedema 取值无效（应为 y/n），与体重有关的 z 评分未计算",
        "oedema must be y or n; weight-based z-scores were not computed",
    ),
    "gestational_age_weeks_nan": (
        "gestational_age_weeks 不是数字",
        "gestational_age_weeks is not a number",
    ),
    "gestational_age_weeks_range": (
        "gestational_age_weeks 超出 20–44 周",
        "gestational_age_weeks is outside 20-44 weeks",
    ),
}


@dataclass
class Inputs:
    """Cleaned input arrays plus one boolean mask per problem found."""

    n: int
    sex: npt.NDArray[np.int8]
    age: FloatArray
    numbers: dict[str, FloatArray]
    measure: npt.NDArray[np.int8]  # 0 missing, 1 'l', 2 'h'
    oedema: BoolArray  # True: oedema (or unknown), blanks weight-based scores
    gestation: FloatArray
    problems: dict[str, BoolArray] = field(default_factory=dict)

    def problem(self, code: str, mask: BoolArray) -> None:
        if mask.any():
            self.problems[code] = mask


def _numeric(frame: pd.DataFrame, column: str, inputs: Inputs) -> FloatArray:
    """Column as float64; values that are present but not numbers become NaN (reported)."""
    if column not in frame.columns:
        return np.full(inputs.n, np.nan)
    series = frame[column]
    if pd.api.types.is_bool_dtype(series.dtype):
        values = np.full(inputs.n, np.nan)
        inputs.problem(f"{column}_nan", np.ones(inputs.n, dtype=bool))
        return values
    if series.dtype == np.float64:
        values = series.to_numpy()  # NaN is already the missing value; read-only is fine
    elif pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        coerced = pd.to_numeric(series, errors="coerce")
        values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
        blank = series.isna().to_numpy() | (series.astype("string").str.strip() == "").to_numpy(
            dtype=bool, na_value=True
        )
        inputs.problem(f"{column}_nan", np.isnan(values) & ~blank)
    infinite = np.isinf(values)
    if infinite.any():
        inputs.problem(f"{column}_nan", infinite | inputs.problems.get(f"{column}_nan", infinite))
        values = np.where(infinite, np.nan, values)
    return values


def _codes(
    frame: pd.DataFrame, column: str, mapping: Mapping[str, int], n: int
) -> tuple[npt.NDArray[np.int8], BoolArray]:
    """Map a categorical column through ``mapping`` (keys lower-case, stripped); returns
    codes (0 = missing) and a mask of present values that are not in ``mapping``."""
    if column not in frame.columns:
        return np.zeros(n, dtype=np.int8), np.zeros(n, dtype=bool)
    codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
    lookup = np.zeros(len(uniques) + 1, dtype=np.int8)  # last slot: the NA sentinel (-1)
    bad = np.zeros(len(uniques) + 1, dtype=bool)
    for position, value in enumerate(uniques):
        if isinstance(value, float | np.floating) and float(value).is_integer():
            key = str(int(value))
        else:
            key = str(value).strip().lower()
        if key == "":
            continue
        if key in mapping:
            lookup[position] = mapping[key]
        else:
            bad[position] = True
    return lookup[codes], bad[codes]


def prepare(frame: pd.DataFrame, *, corrected_age: bool, pool: Executor | None = None) -> Inputs:
    """Check the frame's structure, clean every input column and note each row's problems.

    With ``corrected_age``, the age of a child born before 37 weeks is corrected while the
    corrected age (rounded) is below 731 days. With a ``pool``, the coded columns are
    read on it while the numeric ones are read here.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidFrameError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise MissingColumnsError(missing)
    if not frame.columns.is_unique:
        duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise InvalidFrameError(f"duplicate column(s): {', '.join(duplicated)}")
    n = len(frame)
    inputs = Inputs(
        n=n,
        sex=np.zeros(n, dtype=np.int8),
        age=np.empty(0),
        numbers={},
        measure=np.zeros(n, dtype=np.int8),
        oedema=np.zeros(n, dtype=bool),
        gestation=np.empty(0),
    )
    coded = {
        "sex": {"1": 1, "2": 2, "m": 1, "f": 2},
        "measure": {"l": 1, "h": 2},
        "oedema": {"y": 1, "1": 1, "n": 2, "2": 2},
    }
    if pool is None:
        codes = {column: _codes(frame, column, mapping, n) for column, mapping in coded.items()}
    else:
        futures = {c: pool.submit(_codes, frame, c, mapping, n) for c, mapping in coded.items()}
    numbers = {column: _numeric(frame, column, inputs) for column in _NUMERIC_COLUMNS}
    if pool is not None:
        codes = {column: future.result() for column, future in futures.items()}

    sex_codes, sex_bad = codes["sex"]
    inputs.sex = (sex_codes - 1).astype(np.int8)  # 0 male, 1 female, -1 unknown
    inputs.problem("sex_invalid", sex_bad)
    inputs.problem("sex_missing", (sex_codes == 0) & ~sex_bad)

    age = numbers["age_days"]
    with np.errstate(invalid="ignore"):
        negative = age < 0
    inputs.problem("age_days_negative", negative)
    inputs.age = np.where(negative, np.nan, age)
    for column in _MEASUREMENT_COLUMNS:
        values = numbers[column]
        with np.errstate(invalid="ignore"):
            not_positive = values <= 0
        inputs.problem(f"{column}_not_positive", not_positive)
        inputs.numbers[column] = (
            np.where(not_positive, np.nan, values) if not_positive.any() else values
        )

    inputs.measure, measure_bad = codes["measure"]
    inputs.problem("measure_invalid", measure_bad)
    oedema, oedema_bad = codes["oedema"]
    inputs.problem("oedema_invalid", oedema_bad)
    inputs.oedema = (oedema == 1) | oedema_bad

    gestation = numbers["gestational_age_weeks"]
    low, high = GESTATION_RANGE_WEEKS
    with np.errstate(invalid="ignore"):
        out_of_range = (gestation < low) | (gestation > high)
    inputs.problem("gestational_age_weeks_range", out_of_range)
    inputs.gestation = np.where(out_of_range, np.nan, gestation)

    if corrected_age:
        with np.errstate(invalid="ignore"):
            corrected = inputs.age - (TERM_WEEKS - inputs.gestation) * 7.0
            correct = (inputs.gestation < PRETERM_BEFORE_WEEKS) & (
                round_half_up(corrected) < CORRECT_UNTIL_DAYS
            )
        inputs.age = np.where(correct, corrected, inputs.age)
    return inputs


def row_problems(
    frame: pd.DataFrame, *, corrected_age: bool = False, language: str = "zh"
) -> pd.Series:
    """Per row, what is wrong with its values (``None`` when nothing is), as one message.

    Messages are in Simplified Chinese (``language="zh"``, default) or English (``"en"``).
    Values reported here are the ones :func:`score` treated as missing.
    """
    if language not in ("zh", "en"):
        raise InvalidArgumentError(f"language must be 'zh' or 'en', not {language!r}")
    inputs = prepare(frame, corrected_age=corrected_age)
    which = 1 if language == "en" else 0
    separator = "; " if language == "en" else "；"
    messages: list[list[str]] = [[] for _ in range(inputs.n)]
    for code, mask in inputs.problems.items():
        text = MESSAGES[code][which]
        for row in np.flatnonzero(mask):
            messages[row].append(text)
    joined = [separator.join(m) if m else None for m in messages]
    return pd.Series(joined, index=frame.index, dtype=object, name="error")
