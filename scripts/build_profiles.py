#!/usr/bin/env python3
"""Build (or check) the FHIR conformance resources in ``fhir_profiles/``.

    python scripts/build_profiles.py           # write fhir_profiles/**.json and pages
    python scripts/build_profiles.py --check   # exit 1 if the committed files differ

Differentials, terminology and examples come from ``scripts/profilegen``; snapshots are
generated from the R4 base definitions in ``tools/node/node_modules`` (``npm install`` there).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from profilegen.build import build_all

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fhir_profiles"
MANAGED = (
    "StructureDefinition",
    "CodeSystem",
    "ValueSet",
    "ConceptMap",
    "Questionnaire",
    "examples",
    "pages",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed files, write nothing"
    )
    parser.add_argument(
        "--node-modules", type=Path, default=ROOT / "tools" / "node" / "node_modules"
    )
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (fhir_profiles/)")
    args = parser.parse_args(argv)
    out: Path = args.out
    files = build_all(args.node_modules)
    existing = {
        p.relative_to(out).as_posix()
        for d in MANAGED
        for p in (out / d).rglob("*")
        if p.is_file() and p.suffix in {".json", ".md"}
    }
    existing |= {"index.json"} if (out / "index.json").exists() else set()
    if args.check:
        problems = [f"stale: {name}" for name in sorted(existing - files.keys())]
        for name, text in sorted(files.items()):
            path = out / name
            if not path.exists():
                problems.append(f"missing: {name}")
            elif path.read_text(encoding="utf-8") != text:
                problems.append(f"differs: {name}")
        for line in problems:
            print(line)
        print(f"{len(files)} files checked, {len(problems)} problem(s)")
        return 1 if problems else 0
    for name in sorted(existing - files.keys()):
        (out / name).unlink()
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
