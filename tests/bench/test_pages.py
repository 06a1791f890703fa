"""bench/pages.py's history row: each watched page from the role that uses it."""

from __future__ import annotations

from bench._results import row
from bench.pages import Timing, figures


def test_the_history_row_takes_each_page_from_its_role() -> None:
    timings = [
        Timing("paediatrician", "/app/doctor", 2.5, 3.0, 1, 200),
        Timing("paediatrician", "/app/child/{patient_id}/access-log", 0.01, 0.01, 1, 403),
        Timing("parent", "/app/child/{patient_id}/access-log", 0.4, 0.5, 1, 200),
        Timing("health-manager", "/app/centre", 1.2, 1.3, 1, 200),
        Timing("health-manager", "/app/centre/admission", 0.9, 1.0, 1, 200),
    ]
    got = figures(timings, 10_000, "")
    assert got["median_ms"] == {
        "/app/doctor": 2500,
        "/app/child/{patient_id}/access-log": 400,
        "/app/centre": 1200,
        "/app/centre/admission": 900,
    }
    assert got["slowest"] == {"page": "paediatrician /app/doctor", "median_ms": 2500}
    assert got["over_aim"] == 1  # only the doctor's list is over 2 s at 10,000 children
    line = row("pages", "x", got, recorded="2026-12-07 03:00")
    # no district page timed (—), not the after-a-write mode (off)
    expected = "| 10,000 | all | 2,500 | 900 | 1,200 | 400 | — | off | paediatrician /app/doctor |"
    assert expected in line
