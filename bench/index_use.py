"""Which SQLite indexes the store's statements use: a pytest plugin that asks SQLite for the
query plan (``EXPLAIN QUERY PLAN``, https://www.sqlite.org/eqp.html) of every ``SELECT``,
``UPDATE``, ``DELETE`` and ``WITH`` statement the tests run, and writes how often each index
(or a table's primary key, or a full scan) appears to a JSON file.

    python -m pytest -p bench.index_use -k "not concurrency" tests/healthbridge/store \\
        tests/healthbridge/api tests/healthbridge/access tests/healthbridge/exchange -q
    # → bench/.data/index_use.json (HEALTHBRIDGE_INDEX_USE_OUT to change)

The store never runs ``ANALYZE``, so SQLite chooses plans from the schema alone: a plan seen
on a test database is the plan of a district's database. An index that no statement uses
across the suites is a candidate to drop (bench/results/storage.md "Index use").
Hand-written: a few lines on SQLAlchemy's ``before_cursor_execute`` event.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

USED: Counter[str] = Counter()
EXAMPLES: dict[str, tuple[str, str]] = {}
_STEP = re.compile(
    r"(?:SCAN|SEARCH) (\w+)(?: AS \w+)?"
    r"(?: USING (?:COVERING )?INDEX (\w+)| USING (?:INTEGER )?PRIMARY KEY)?"
)
_PLANNED = ("SELECT", "DELETE", "UPDATE", "WITH")


@event.listens_for(Engine, "before_cursor_execute")
def _plan(
    conn: Any, cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
) -> None:
    if conn.dialect.name != "sqlite" or executemany or not statement.strip():
        return
    if statement.lstrip().split(None, 1)[0].upper() not in _PLANNED:
        return
    try:
        plan = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters or ())
        steps = [str(row[3]) for row in plan.fetchall()]
    except Exception:  # a statement SQLite cannot plan alone is not counted
        return
    for line in steps:
        found = _STEP.search(line)
        if not found:
            continue
        table, index = found.group(1), found.group(2)
        if index:
            key = index
        elif "PRIMARY KEY" in line:
            key = f"{table} (primary key)"
        else:
            key = f"{table} ({'scan' if line.startswith('SCAN') else 'search'})"
        USED[key] += 1
        EXAMPLES.setdefault(key, (line, statement[:300]))


def pytest_sessionfinish() -> None:  # pytest passes the hook's arguments by name
    default = Path(__file__).resolve().parent / ".data" / "index_use.json"
    out = Path(os.environ.get("HEALTHBRIDGE_INDEX_USE_OUT", default))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"counts": dict(USED.most_common()), "examples": EXAMPLES}, indent=1))
