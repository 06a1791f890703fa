#!/usr/bin/env python3
"""Generate healthbridge/fhir/data/search-parameters.json from the official R4 definitions.

Source: ``Bundle-searchParams.json`` of the npm package ``hl7.fhir.r4.examples`` 4.0.1
(installed by ``npm install`` in tools/node). Only parameters whose base includes a supported
resource type (or Resource / DomainResource) are kept; multi-type expressions are cut down to
the part for each type. Run from the repository root:

    .venv/bin/python scripts/build_search_parameters.py
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tools/node/node_modules/hl7.fhir.r4.examples/Bundle-searchParams.json"
TARGET = ROOT / "healthbridge/fhir/data/search-parameters.json"

sys.path.insert(0, str(ROOT))
from healthbridge.fhir.fhirpath_nodes import split_union  # noqa: E402 (the repo root is on the path now)


def part_for(expression: str, resource_type: str) -> str | None:
    """The sub-expression of ``expression`` that applies to ``resource_type``."""
    pattern = re.compile(rf"^\(*{re.escape(resource_type)}(\.|\)|$)")
    keep = [p for p in split_union(expression) if pattern.match(p)]
    return " | ".join(keep) if keep else None


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from healthbridge.fhir.r4 import SUPPORTED_TYPES

    raw = SOURCE.read_bytes()
    bundle = json.loads(raw)
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in ("Resource", "DomainResource")}
    out.update({t: [] for t in SUPPORTED_TYPES})
    for entry in bundle["entry"]:
        sp = entry["resource"]
        for base in sp["base"]:
            if base not in out:
                continue
            expression = sp.get("expression")
            if expression is not None and base not in ("Resource", "DomainResource"):
                expression = part_for(expression, base)
                if expression is None:
                    continue
            item: dict[str, Any] = {
                "code": sp["code"],
                "type": sp["type"],
                "expression": expression,
                "url": sp["url"],
            }
            if sp.get("target"):
                item["target"] = sorted(sp["target"])
            if sp.get("component"):
                item["component"] = [c["expression"] for c in sp["component"]]
            out[base].append(item)
    for items in out.values():
        items.sort(key=lambda i: i["code"])
    document = {
        "source": "hl7.fhir.r4.examples 4.0.1: Bundle-searchParams.json",
        "sourceSha256": hashlib.sha256(raw).hexdigest(),
        "fhirVersion": "4.0.1",
        "generator": "scripts/build_search_parameters.py",
        "resources": out,
    }
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}: {sum(len(v) for v in out.values())} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
