"""``healthbridge score``: scores a CSV, reports bad rows per row, never fails the file."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from healthbridge.cli import main

REPO = Path(__file__).resolve().parents[3]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_scores_a_file_with_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(
        tmp_path / "in.csv",
        "id,sex,age_days,weight_kg,lenhei_cm,measure,oedema\n"
        "a,1,1522,17,105,h,n\n"
        "b,x,300,8,70,l,n\n"
        "c,2,300,abc,70,l,\n"
        "d,f,300,8,70,q,maybe\n",
    )
    out = tmp_path / "sub" / "out.csv"
    assert main(["score", str(source), "-o", str(out), "--lang", "en"]) == 0
    result = pd.read_csv(out)
    assert list(result.id) == ["a", "b", "c", "d"]
    assert pd.isna(result.error[0])
    assert result.zwei[0] == pytest.approx(gs_zwei(1, 1522, 17.0), abs=1e-12)
    assert "sex must be" in result.error[1]
    assert "weight_kg is not a number" in result.error[2]
    assert pd.isna(result.zwei[2])
    assert not pd.isna(result.zlen[2])
    assert "measure must be" in result.error[3]
    assert "oedema must be" in result.error[3]
    printed = capsys.readouterr().out
    assert "rows: 4" in printed
    assert "rows with errors: 3" in printed
    assert "weight-for-age" in printed


def gs_zwei(sex: int, age: float, weight: float) -> float:
    import growth_standards as gs

    return float(gs.zscore("wfa", sex, age, weight))


def test_full_precision_in_output(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "sex,age_days,weight_kg\n2,1522,17\n")
    out = tmp_path / "out.csv"
    assert main(["score", str(source), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    zwei = float(next(csv.DictReader(text.splitlines()))["zwei"])
    assert zwei == gs_zwei(2, 1522, 17.0)  # round-trips exactly: written with repr
    assert len(str(zwei).split(".")[1]) > 6
    assert "zwei" in text


def test_chinese_messages_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "in.csv", "sex,age_days,weight_kg\nq,10,3\n")
    out = tmp_path / "out.csv"
    assert main(["score", str(source), "-o", str(out)]) == 0
    assert "性别" in pd.read_csv(out).error[0]
    assert "有错误的行: 1" in capsys.readouterr().out


def test_missing_sex_column_fails_the_file(tmp_path: Path, capsys) -> None:
    source = write(tmp_path / "in.csv", "age_days,weight_kg\n10,3\n")
    assert main(["score", str(source), "-o", str(tmp_path / "out.csv")]) == 2
    assert "sex" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_unreadable_file(tmp_path: Path, capsys) -> None:
    assert main(["score", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_corrected_age_option(tmp_path: Path) -> None:
    source = write(
        tmp_path / "in.csv", "sex,age_days,weight_kg,gestational_age_weeks\n1,100,5,32\n"
    )
    plain, corrected = tmp_path / "plain.csv", tmp_path / "corrected.csv"
    assert main(["score", str(source), "-o", str(plain)]) == 0
    assert main(["score", str(source), "-o", str(corrected), "--corrected-age"]) == 0
    assert pd.read_csv(corrected).cage_days[0] == 44
    assert pd.read_csv(corrected).zwei[0] > pd.read_csv(plain).zwei[0]


def test_demo_file_scores(tmp_path: Path) -> None:
    out = tmp_path / "demo.csv"
    assert main(["score", str(REPO / "examples" / "demo_measurements.csv"), "-o", str(out)]) == 0
    result = pd.read_csv(out)
    assert len(result) == 200
    assert result.error.notna().sum() == 6
    assert result.zwei.notna().sum() > 180
    assert abs(result.zlen.mean()) < 0.5
