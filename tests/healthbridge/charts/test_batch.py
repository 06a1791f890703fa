"""A centre's parent reports in one batch (library and ``healthbridge parent-reports``)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pypdf
import pytest

from healthbridge.charts.batch import BatchError, centre_children, centre_reports, report_file
from healthbridge.charts.labels import Lang
from healthbridge.cli import main
from healthbridge.config import Settings
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from tests import factories as f

ENROLLMENT = "https://healthbridge.github.io/fhir/StructureDefinition/childcare-enrollment"
AS_OF = dt.date(2026, 6, 1)


def _enrolled(centre: str) -> dict[str, Any]:
    return {
        "url": ENROLLMENT,
        "extension": [
            {"url": "centre", "valueReference": {"reference": f"Organization/{centre}"}},
            {"url": "class", "valueReference": {"reference": "Location/room1"}},
            {"url": "period", "valuePeriod": {"start": "2025-09-01"}},
        ],
    }


def _district(repository: Repository) -> None:
    """Two centres; three children at ``sun`` (one inactive), one at ``moon``."""
    children = [
        ("a1", "sun", True, "王", "子涵"),
        ("a2", "sun", True, "李", "一诺"),
        ("a3", "sun", False, "张", "可"),
        ("b1", "moon", True, "陈", "乐"),
    ]
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        for org, name in (("sun", "小太阳托育园"), ("moon", "月亮湾托育中心")):
            txn.update(
                "Organization",
                org,
                {**f.organization(name=name, code=org, kind="other"), "id": org},
            )
        for pid, centre, active, family, given in children:
            patient = f.child(family=family, given=given, birth_date="2025-03-01")
            patient |= {"id": pid, "active": active, "extension": [_enrolled(centre)]}
            txn.update("Patient", pid, patient)
            for n, (day, weight) in enumerate((("2025-03-01", 3.3), ("2026-03-01", 9.4))):
                obs = f.observation(f"Patient/{pid}", value=weight, date=day)
                txn.update("Observation", f"{pid}w{n}", {**obs, "id": f"{pid}w{n}"})


def test_centre_children_are_the_active_enrolled_ones(repository: Repository) -> None:
    _district(repository)
    with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:

        def ids(centre: str) -> list[str]:
            return [c["id"] for c in centre_children(txn, centre)]

        assert ids("sun") == ["a1", "a2"]
        assert ids("moon") == ["b1"]
        assert ids("nowhere") == []


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_writes_one_report_per_child(
    repository: Repository, settings: Settings, tmp_path: Path, workers: int
) -> None:
    _district(repository)
    out = tmp_path / "reports"
    result = centre_reports(
        settings.resolved_database_url(),
        "sun",
        out,
        ruleset_key=settings.ruleset_key,
        lang=Lang.ZH,
        as_of=AS_OF,
        workers=workers,
    )
    assert result.files == (report_file(out, "a1"), report_file(out, "a2"))
    assert sorted(p.name for p in out.iterdir()) == ["report-a1.pdf", "report-a2.pdf"]
    for path, name in zip(result.files, ("王子涵", "李一诺"), strict=True):
        pages = pypdf.PdfReader(io.BytesIO(path.read_bytes())).pages
        summary = pages[0].extract_text()
        assert name in summary
        assert "小太阳托育园" in summary  # the centre's name, read from its Organization
        assert "2026-06-01" in summary
        assert "年龄别体重" in pages[1].extract_text()


def test_unknown_or_empty_centre_is_an_error(
    repository: Repository, settings: Settings, tmp_path: Path
) -> None:
    _district(repository)
    url = settings.resolved_database_url()
    with pytest.raises(BatchError, match="no Organization/nowhere"):
        centre_reports(url, "nowhere", tmp_path, ruleset_key=settings.ruleset_key, workers=1)
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Organization", "empty", {**f.organization(code="e"), "id": "empty"})
    with pytest.raises(BatchError, match="no enrolled children"):
        centre_reports(url, "empty", tmp_path, ruleset_key=settings.ruleset_key, workers=1)


def test_command_line(
    repository: Repository,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _district(repository)
    monkeypatch.setattr("healthbridge.config.get_settings", lambda: settings)
    out = tmp_path / "moon"
    args = ["parent-reports", "--centre", "moon", "--out", str(out), "--workers", "1"]
    assert main([*args, "--lang", "en", "--as-of", "2026-06-01"]) == 0
    assert [p.name for p in out.iterdir()] == ["report-b1.pdf"]
    assert "1 reports for Organization/moon" in capsys.readouterr().out
    assert main(["parent-reports", "--centre", "nowhere", "--out", str(out)]) == 2
