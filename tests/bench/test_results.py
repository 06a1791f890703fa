"""The benchmarks' one results file each: rows appended under ``## History``."""

from __future__ import annotations

from pathlib import Path

from bench import _results


def test_a_row_goes_to_the_end_of_the_history_table_and_not_after_the_notes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "search.md"
    path.write_text(
        "# Search\n\nintro\n\n## History\n\n"
        + "\n".join(_results.header("search"))
        + "\n| 2026-01-01 00:00 | old | sqlite |\n\n## Notes\n\ntext\n",
        encoding="utf-8",
    )
    figures = {
        "backend": "postgresql",
        "patients": 10000,
        "observation_subject_code_sort": {"p50_ms": 7.33, "p95_ms": 11.05},
        "load_average_before": [0.5, 0.6, 0.7],
    }
    _results.append(path, "search", _results.row("search", "new", figures, "2026-12-06 23:00"))
    lines = path.read_text(encoding="utf-8").splitlines()
    new = lines.index(next(line for line in lines if "| new |" in line))
    assert lines[new - 1].startswith("| 2026-01-01 00:00 | old")
    assert lines[new + 1] == ""
    assert lines[new + 2] == "## Notes"
    cells = [cell.strip() for cell in lines[new].strip("|").split("|")]
    assert cells[:4] == ["2026-12-06 23:00", "new", "postgresql", "10,000"]
    assert "7.33" in cells
    assert "11.1" in cells
    assert cells[-1] == "0.5"


def test_a_new_file_gets_the_heading_and_the_table(tmp_path: Path) -> None:
    path = tmp_path / "read.md"
    _results.append(
        path, "read", _results.row("read", "", {"backend": "sqlite"}, "2026-12-06 23:00")
    )
    text = path.read_text(encoding="utf-8")
    assert "## History" in text
    assert text.count("| recorded (UTC) |") == 1
    assert "| 2026-12-06 23:00 | — | sqlite |" in text


def test_keys_holding_dots_and_runs_as_rows() -> None:
    chart = {"charts": {"wfa.png": {"median_ms": 44.3}}}
    assert _results._value(chart, "charts.wfa.png.median_ms") == 44.3
    rows = _results.rows(
        "evaluate_district",
        "x",
        {"children": 5, "runs": [{"run": "first", "seconds": {"total": 2.0}}, {"run": "second"}]},
        "2026-12-06 23:00",
    )
    assert len(rows) == 2
    assert "| first |" in rows[0]
    assert "| second |" in rows[1]
