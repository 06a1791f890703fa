"""Time a session import: read + validate + transaction Bundle for a CSV of ``--rows`` rows.

.venv/bin/python bench/import.py               # 10,000 rows
.venv/bin/python bench/import.py --rows 1000   # a quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import numpy as np

from healthbridge.exchange.session_bundle import session_bundle
from healthbridge.exchange.session_import import ChildMatch, read_session, validate_session

TODAY = dt.date(2026, 11, 22)


def make_csv(rows: int, seed: int) -> tuple[bytes, dict[str, ChildMatch]]:
    rng = np.random.default_rng(seed)
    children = {
        f"HB{i:06d}": ChildMatch(f"Patient/{i}", TODAY - dt.timedelta(days=int(d)))
        for i, d in enumerate(rng.integers(30, 1100, rows))
    }
    ids = list(children)
    lines = ["儿童编号,测量日期,体重(kg),身长/身高(cm),测量方式,头围(cm),体温(℃)"]
    for i in range(rows):
        ident = ids[i] if rng.random() > 0.01 else f"XX{i}"  # 1 % unknown children
        weight = f"{rng.normal(11, 2):.2f}" if rng.random() > 0.01 else "110"  # 1 % grams typo
        lines.append(
            f"{ident},2026-11-0{1 + i % 9},{weight},{rng.normal(85, 8):.1f},"
            f"{'卧位' if i % 2 else '立位'},{rng.normal(46, 2):.1f},{rng.normal(36.6, 0.3):.1f}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8"), children


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    content, children = make_csv(args.rows, args.seed)
    timings: dict[str, list[float]] = {"read": [], "validate": [], "bundle": [], "total": []}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        table = read_session(content, "session.csv")
        t1 = time.perf_counter()
        result = validate_session(table, children.get, today=TODAY)
        t2 = time.perf_counter()
        bundle = session_bundle(result, centre_reference="Organization/centre-001")
        t3 = time.perf_counter()
        for name, value in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
            timings[name].append(value)
    size = len(json.dumps(bundle, ensure_ascii=False)) / 1e6
    print(
        f"{args.rows:,} rows ({len(content) / 1e6:.2f} MB): {len(result.accepted):,} accepted, "
        f"{len(result.rejected):,} rejected; "
        f"bundle {len(bundle['entry']):,} entries, {size:.1f} MB JSON"
    )
    for name, values in timings.items():
        print(f"{name:>9}: best {min(values):6.3f} s  median {float(np.median(values)):6.3f} s")


if __name__ == "__main__":
    main()
