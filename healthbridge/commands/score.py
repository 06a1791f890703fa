"""``healthbridge score IN.csv -o OUT.csv``: WHO z-scores for a CSV of measurements.

The CSV uses WHO Anthro's column names (``sex``, ``age_days``, ``weight_kg``, ``lenhei_cm``,
``measure``, ``headc_cm``, ``armc_cm``, ``triskin_mm``, ``subskin_mm``, ``oedema``,
``gestational_age_weeks``; only ``sex`` is required). The output is the input plus every
score, flag and percentile column of :func:`growth_standards.score`, at full precision, and an
``error`` column saying, per row, which values could not be used. A bad row never stops the
file; only a file that cannot be read or lacks ``sex`` does (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import pandas as pd

#: Indicators in the summary: score column -> (zh-CN, English) name.
_SUMMARY = {
    "zwei": ("年龄别体重", "weight-for-age"),
    "zlen": ("年龄别身长/身高", "length/height-for-age"),
    "zwfl": ("身长/身高别体重", "weight-for-length/height"),
    "zbmi": ("年龄别BMI", "BMI-for-age"),
    "zhc": ("年龄别头围", "head circumference-for-age"),
    "zac": ("年龄别上臂围", "arm circumference-for-age"),
    "zts": ("年龄别三头肌皮褶", "triceps skinfold-for-age"),
    "zss": ("年龄别肩胛下皮褶", "subscapular skinfold-for-age"),
}

_TEXT = {
    "zh": {
        "rows": "行数",
        "scored": "已计算（至少一项 z 评分）",
        "errors": "有错误的行",
        "header": ("指标", "人数", "均值", "标准差", "z<-2 (%)", "异常值标记"),
        "wrote": "已写入",
        "cannot_read": "无法读取",
        "note": "均值、标准差和 z<-2 患病率不含标记为生物学上不可信的值（WHO 规则）。",
    },
    "en": {
        "rows": "rows",
        "scored": "scored (at least one z-score)",
        "errors": "rows with errors",
        "header": ("indicator", "n", "mean", "SD", "z<-2 (%)", "flagged"),
        "wrote": "wrote",
        "cannot_read": "cannot read",
        "note": "Mean, SD and prevalence of z<-2 exclude flagged (implausible) values (WHO).",
    },
}


def register(subparsers: Any) -> None:
    """Add the ``score`` sub-command."""
    parser = subparsers.add_parser(
        "score",
        help="WHO growth z-scores for a CSV of measurements",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", type=Path, help="CSV of measurements (WHO Anthro columns)")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="CSV to write (input + scores)"
    )
    parser.add_argument(
        "--corrected-age",
        action="store_true",
        help="use corrected age for children born before 37 weeks, until 24 months",
    )
    parser.add_argument(
        "--lang", choices=("zh", "en"), default="zh", help="language of messages (default zh)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Score ``args.input`` into ``args.output`` and print a summary; returns the exit status."""
    import pandas as pd

    import growth_standards as gs

    text = _TEXT[args.lang]
    try:
        frame = pd.read_csv(args.input, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        sys.stderr.write(f"{text['cannot_read']} {args.input}: {error}\n")
        return 2
    try:
        scored = gs.score(frame, corrected_age=args.corrected_age)
        problems = gs.row_problems(frame, corrected_age=args.corrected_age, language=args.lang)
    except gs.InvalidFrameError as error:
        sys.stderr.write(f"{args.input}: {error}\n")
        return 2
    scored["error"] = problems
    args.output.parent.mkdir(parents=True, exist_ok=True)
    scored.to_csv(args.output, index=False)
    write_summary(scored, problems, args.lang, sys.stdout)
    sys.stdout.write(f"{text['wrote']} {args.output}\n")
    return 0


def _pad(text: str, width: int) -> str:
    """Left-justify ``text`` to ``width`` terminal columns (CJK characters take two)."""
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - shown, 1)


def write_summary(scored: pd.DataFrame, problems: pd.Series, lang: str, out: TextIO) -> None:
    """Rows scored and with errors; per indicator n, mean, SD, prevalence of z < -2, flags."""
    text = _TEXT[lang]
    z_columns = list(_SUMMARY)
    any_score = scored[z_columns].notna().any(axis=1)
    print(f"{text['rows']}: {len(scored)}", file=out)
    print(f"{text['scored']}: {int(any_score.sum())}", file=out)
    print(f"{text['errors']}: {int(problems.notna().sum())}", file=out)
    header = text["header"]
    print(
        f"{_pad(header[0], 30)}{header[1]:>7}{header[2]:>9}{header[3]:>9}"
        f"{header[4]:>11}{header[5]:>9}",
        file=out,
    )
    for column, names in _SUMMARY.items():
        flagged = scored["f" + column[1:]].fillna(0).astype(bool)
        z = scored.loc[~flagged, column].dropna()
        name = names[0] if lang == "zh" else names[1]
        if z.empty:
            print(f"{_pad(name, 30)}{0:>7}", file=out)
            continue
        sd = z.std(ddof=1) if len(z) > 1 else float("nan")
        print(
            f"{_pad(name, 30)}{len(z):>7}{z.mean():>9.2f}{sd:>9.2f}{100 * (z < -2).mean():>11.1f}"
            f"{int(flagged.sum()):>9}",
            file=out,
        )
    print(text["note"], file=out)
