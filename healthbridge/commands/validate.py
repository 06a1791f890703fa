"""``healthbridge validate``: check FHIR JSON files against our profiles, print OperationOutcomes.

The same check the server runs on writes (``meta.profile``) and in ``$validate`` (``profile=``).
Base R4 validation is the Medplum script in ``tools/node/validate.mjs``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``validate`` sub-command."""
    parser = subparsers.add_parser(
        "validate",
        help="validate FHIR JSON resources (or Bundles) against the HealthBridge profiles",
        description=__doc__,
    )
    parser.add_argument("files", nargs="+", type=Path, help="JSON resource or Bundle files")
    parser.add_argument(
        "--profile",
        action="append",
        dest="profiles",
        metavar="URL",
        help="validate against this profile instead of meta.profile (repeatable)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print one JSON line per resource: source, OperationOutcome. Exit 1 if any error."""
    from healthbridge.fhir.profile_validation import (
        validate_against_profiles,
        validate_operation_outcome,
    )

    failed = False
    for path in args.files:
        document = json.loads(path.read_text(encoding="utf-8"))
        resources: list[tuple[str, dict[str, Any]]] = [(str(path), document)]
        if document.get("resourceType") == "Bundle":
            resources = [
                (f"{path}#entry[{i}]", entry["resource"])
                for i, entry in enumerate(document.get("entry", []))
                if "resource" in entry
            ]
        for source, resource in resources:
            issues = validate_against_profiles(resource, args.profiles)
            failed = failed or any(i.severity in {"error", "fatal"} for i in issues)
            line = {"source": source, "outcome": validate_operation_outcome(issues)}
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 1 if failed else 0
