"""Validate a resource against our FHIR R4 profiles (``fhir_profiles/``), from their snapshots.

Checked, following FHIR R4 "Validating Resources" (§2.24.0.9) for the parts our profiles use:

- cardinality (min/max) of every snapshot element, and of slices (slice min/max);
- unknown elements where the snapshot lists an object's elements;
- types: the JSON type and lexical form of primitives (date, dateTime, positiveInt …), the
  allowed types of a choice element (``doseNumber[x]`` restricted to positiveInt), Reference
  targets (the type in ``reference`` against ``targetProfile``), and extensions against their
  own extension profile;
- fixed[x] (exact) and pattern[x] (the instance contains the pattern);
- required bindings to OUR value sets (expanded from the packaged ValueSets; for external code
  systems the codes listed in the ValueSet); bindings to HL7 value sets are left to the base R4
  validator;
- our invariants (``hb-*``), each implemented in :mod:`healthbridge.fhir.profile_invariants`.

Base R4 (``ele-1``, ``dom-*``, HL7 required bindings …) is not checked here: the base-R4
validator (:mod:`healthbridge.fhir.base_validation`) runs first on every write and in
``$validate``, then this one (base first, then profile); both report
issues (:class:`ValidationIssue`) and read primitives the same way
(:mod:`healthbridge.fhir.profile_primitives`).
Pure: no web or database imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from fhir_profiles import loader, terminology
from healthbridge.fhir.profile_invariants import INVARIANTS
from healthbridge.fhir.profile_primitives import primitive_problem

JSON = dict[str, Any]
_CORE = "http://hl7.org/fhir/StructureDefinition/"


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found; ``code`` is an OperationOutcome issue-type code (e.g. ``required``,
    ``value``, ``code-invalid``, ``invariant``, ``structure``) and ``expression`` a FHIRPath
    location such as ``Observation.valueQuantity.unit``."""

    severity: str
    code: str
    diagnostics: str
    expression: str


@dataclass(frozen=True)
class _Snapshot:
    url: str
    type: str
    elements: dict[str, JSON]
    children: dict[str, list[str]]
    slices: dict[str, list[str]]


@cache
def _snapshot(url: str) -> _Snapshot:
    sd = loader.resource_by_url(url, "StructureDefinition", copy=False)
    elements: dict[str, JSON] = {}
    children: dict[str, list[str]] = {}
    slices: dict[str, list[str]] = {}
    for element in sd["snapshot"]["element"]:
        eid = element["id"]
        elements[eid] = element
        parent, _, last = eid.rpartition(".")
        if not parent:
            continue
        if ":" in last:
            slices.setdefault(f"{parent}.{last.split(':', 1)[0]}", []).append(eid)
        else:
            children.setdefault(parent, []).append(eid)
    return _Snapshot(url, sd["type"], elements, children, slices)


def _type_codes(element: JSON) -> list[str]:
    return [
        "string" if t["code"].startswith("http://hl7.org/fhirpath/") else t["code"]
        for t in element.get("type", [])
    ]


def _upper(code: str) -> str:
    return code[:1].upper() + code[1:]


def _contains_pattern(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and _contains_pattern(value[k], p) for k, p in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(value, list) and all(
            any(_contains_pattern(v, p) for v in value) for p in pattern
        )
    return bool(value == pattern and type(value) is type(pattern))


def _fixed_or_pattern(element: JSON) -> tuple[str, Any] | None:
    for key, value in element.items():
        if key.startswith(("fixed", "pattern")):
            return key, value
    return None


def _profile_type(url: str) -> str | None:
    if url.startswith(_CORE):
        return url.removeprefix(_CORE)
    if loader.is_known(url):
        return loader.resource_by_url(url, "StructureDefinition", copy=False)["type"]  # type: ignore[no-any-return]
    return None


class _Validator:
    def __init__(self) -> None:
        self.issues: list[ValidationIssue] = []

    def add(self, code: str, expression: str, diagnostics: str, severity: str = "error") -> None:
        self.issues.append(ValidationIssue(severity, code, diagnostics, expression))

    # -- structure -------------------------------------------------------------------------
    def children(self, snap: _Snapshot, parent_id: str, obj: JSON, loc: str) -> None:
        child_ids = snap.children.get(parent_id)
        if not child_ids:
            return
        known: set[str] = set()
        for cid in child_ids:
            element = snap.elements[cid]
            name = cid.rpartition(".")[2]
            values: list[tuple[str, Any, str | None, str]] = []
            if name.endswith("[x]"):
                prefix = name[:-3]
                allowed = _type_codes(element)
                shown = f"{loc}.{prefix}"
                for key, value in obj.items():
                    if not (
                        key.startswith(prefix) and key[len(prefix) : len(prefix) + 1].isupper()
                    ):
                        continue
                    known.add(key)
                    tcode = next((t for t in allowed if _upper(t) == key[len(prefix) :]), None)
                    if tcode is None:
                        self.add(
                            "structure",
                            f"{loc}.{key}",
                            f"Type {key[len(prefix) :]} is not allowed for {prefix}[x]"
                            f" (allowed: {', '.join(allowed)})",
                        )
                        continue
                    values.append((f"{loc}.{key}", value, tcode, key))
            else:
                shown = f"{loc}.{name}"
                known.add(name)
                raw = obj.get(name)
                repeating = element.get("base", {}).get("max", element.get("max")) != "1"
                if raw is not None:
                    if repeating and not isinstance(raw, list):
                        self.add("structure", shown, "Expected an array of values")
                        raw = [raw]
                    if not repeating and isinstance(raw, list):
                        self.add("structure", shown, "Expected a single value, not an array")
                        raw = raw[:1]
                    items = raw if isinstance(raw, list) else [raw]
                    types = _type_codes(element)
                    tcode = types[0] if len(types) == 1 else None
                    values = [
                        (f"{shown}[{i}]" if repeating else shown, v, tcode, name)
                        for i, v in enumerate(items)
                    ]
            self.cardinality(element, len(values), shown)
            for vloc, value, tcode, _ in values:
                self.value(snap, cid, element, value, vloc, tcode)
            if cid in snap.slices:
                self.slices(snap, cid, element, values, shown)
        for key in obj:
            base = key[1:] if key.startswith("_") else key
            if base not in known and not (key == "resourceType" and parent_id == snap.type):
                self.add("structure", f"{loc}.{key}", f"Unknown element '{key}'")

    def cardinality(self, element: JSON, count: int, loc: str, what: str = "") -> None:
        low, high = int(element.get("min", 0)), element.get("max", "*")
        if count < low:
            self.add(
                "required",
                loc,
                f"{what}Minimum cardinality of {element['id']} is {low}, found {count}",
            )
        if high != "*" and count > int(high):
            self.add(
                "structure",
                loc,
                f"{what}Maximum cardinality of {element['id']} is {high}, found {count}",
            )

    def slices(
        self,
        snap: _Snapshot,
        cid: str,
        element: JSON,
        values: list[tuple[str, Any, str | None, str]],
        loc: str,
    ) -> None:
        slicing = element.get("slicing", {})
        discriminators = slicing.get("discriminator", [])
        matched_any: set[int] = set()
        for sid in snap.slices[cid]:
            slice_el = snap.elements[sid]
            matched = [
                (i, v)
                for i, v in enumerate(values)
                if self.matches(snap, sid, slice_el, v[1], v[3], discriminators)
            ]
            matched_any.update(i for i, _ in matched)
            self.cardinality(slice_el, len(matched), loc, f"Slice '{slice_el['sliceName']}': ")
            for _, (vloc, value, tcode, _key) in matched:
                self.value(snap, sid, slice_el, value, vloc, tcode)
        if slicing.get("rules") == "closed":
            for i, (vloc, *_rest) in enumerate(values):
                if i not in matched_any:
                    self.add(
                        "structure", vloc, f"Value matches no slice of closed slicing on {cid}"
                    )

    def matches(
        self,
        snap: _Snapshot,
        sid: str,
        slice_el: JSON,
        value: Any,
        key: str,
        discriminators: list[JSON],
    ) -> bool:
        for disc in discriminators:
            path = disc["path"]
            if disc["type"] == "type":
                types = _type_codes(slice_el)
                prefix = slice_el["path"].rsplit(".", 1)[-1].removesuffix("[x]")
                if not (
                    key == slice_el.get("sliceName") or key in {prefix + _upper(t) for t in types}
                ):
                    return False
                continue
            target = slice_el if path == "$this" else snap.elements.get(f"{sid}.{path}")
            rule = _fixed_or_pattern(target) if target is not None else None
            actual = value if path == "$this" else _at_path(value, path)
            if rule is None and path == "url":
                profiles = [p for t in slice_el.get("type", []) for p in t.get("profile", [])]
                if not profiles or not any(a == profiles[0] for a in actual):
                    return False
                continue
            if rule is None:
                return False
            candidates = [actual] if path == "$this" else actual
            if rule[0].startswith("fixed"):
                if not any(c == rule[1] for c in candidates):
                    return False
            elif not any(_contains_pattern(c, rule[1]) for c in candidates):
                return False
        return True

    # -- values ------------------------------------------------------------------------------
    def value(
        self, snap: _Snapshot, eid: str, element: JSON, value: Any, loc: str, tcode: str | None
    ) -> None:
        if tcode is not None and tcode[:1].islower():
            self.primitive(tcode, value, loc)
        elif tcode is not None and not isinstance(value, dict):
            self.add("structure", loc, f"Expected a {tcode} object")
            return
        rule = _fixed_or_pattern(element)
        if rule is not None:
            key, expected = rule
            ok = (
                value == expected if key.startswith("fixed") else _contains_pattern(value, expected)
            )
            if not ok:
                how = "exactly" if key.startswith("fixed") else "matching the pattern"
                self.add("value", loc, f"Value must be {how} {expected!r} ({element['id']})")
        binding = element.get("binding", {})
        if binding.get("strength") == "required" and terminology.is_expandable(
            binding.get("valueSet", "")
        ):
            self.binding(
                binding["valueSet"], value, loc, tcode or (_type_codes(element) or [""])[0]
            )
        for t in element.get("type", []):
            if t["code"] == "Reference" and t.get("targetProfile") and isinstance(value, dict):
                self.reference(t["targetProfile"], value, loc)
            if t["code"] == "Extension" and isinstance(value, dict):
                for profile in t.get("profile", []):
                    if loader.is_known(profile):
                        ext = _snapshot(loader.split_canonical(profile)[0])
                        self.element(ext, ext.type, value, loc)
        self.invariants(element, value, loc)
        if isinstance(value, dict):
            self.children(snap, eid, value, loc)

    def element(self, snap: _Snapshot, eid: str, value: JSON, loc: str) -> None:
        self.invariants(snap.elements[eid], value, loc)
        self.children(snap, eid, value, loc)

    def primitive(self, tcode: str, value: Any, loc: str) -> None:
        problem = primitive_problem(tcode, value)
        if problem is not None:
            self.add(problem[0], loc, problem[1])

    def binding(self, value_set: str, value: Any, loc: str, tcode: str) -> None:
        if tcode == "code" and isinstance(value, str):
            ok = terminology.contains(value_set, None, value)
        elif tcode in {"Coding", "Quantity"} and isinstance(value, dict):
            ok = terminology.contains(value_set, value.get("system"), str(value.get("code")))
        elif tcode == "CodeableConcept" and isinstance(value, dict):
            ok = any(
                isinstance(c, dict)
                and terminology.contains(value_set, c.get("system"), str(c.get("code")))
                for c in value.get("coding", [])
            )
        else:
            return
        if not ok:
            self.add("code-invalid", loc, f"No code from the required value set {value_set}")

    def reference(self, targets: list[str], value: JSON, loc: str) -> None:
        ref = value.get("reference")
        if not isinstance(ref, str) or ref.startswith(("#", "urn:")) or "/" not in ref:
            return
        parts = ref.split("/_history/")[0].split("/")
        rtype = parts[-2]
        allowed = {_profile_type(t) for t in targets} - {None}
        if allowed and rtype not in allowed and "Resource" not in allowed:
            self.add(
                "invalid",
                loc,
                f"Reference to {rtype} is not allowed here"
                f" (allowed: {', '.join(sorted(a for a in allowed if a))})",
            )

    def invariants(self, element: JSON, value: Any, loc: str) -> None:
        for constraint in element.get("constraint", []):
            key = constraint["key"]
            if not key.startswith("hb-"):
                continue
            invariant = INVARIANTS.get(key)
            if invariant is None:
                self.add("not-supported", loc, f"Invariant {key} has no implementation")
            elif isinstance(value, dict) and not invariant.check(value):
                self.add("invariant", loc, f"Constraint {key} failed: {constraint['human']}")


def _at_path(value: Any, path: str) -> list[Any]:
    current = [value]
    for step in path.split("."):
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict) and step in item:
                got = item[step]
                nxt.extend(got if isinstance(got, list) else [got])
        current = nxt
    return current


def _claimed_profiles(resource: JSON) -> list[str]:
    meta = resource.get("meta")
    claimed = meta.get("profile") if isinstance(meta, dict) else None
    return [p for p in claimed if isinstance(p, str)] if isinstance(claimed, list) else []


def validate_against_profiles(
    resource: JSON, profiles: list[str] | None = None
) -> list[ValidationIssue]:
    """Every issue of ``resource`` against ``profiles`` (default: its ``meta.profile``).

    An unknown profile URL is itself an issue (``not-found``). Profiles that are not ours
    (e.g. core HL7 profiles) are ignored when taken from ``meta.profile``.
    """
    v = _Validator()
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(rtype, str):
        v.add("required", "resourceType", "The resource has no resourceType")
        return v.issues
    claimed = profiles if profiles is not None else _claimed_profiles(resource)
    for url in claimed:
        if (
            not loader.is_known(url)
            or loader.resource_by_url(url, copy=False)["resourceType"] != "StructureDefinition"
        ):
            if profiles is not None or url.startswith(loader.CANONICAL_BASE):
                v.add("not-found", f"{rtype}.meta.profile", f"Unknown profile {url}")
            continue
        snap = _snapshot(loader.split_canonical(url)[0])
        if snap.type != rtype:
            v.add("invalid", rtype, f"Profile {url} constrains {snap.type}, not {rtype}")
            continue
        v.element(snap, snap.type, resource, rtype)
    return list(dict.fromkeys(v.issues))


def validate_operation_outcome(issues: list[ValidationIssue]) -> JSON:
    """The OperationOutcome for ``issues`` (one informational "All OK" issue when empty)."""
    if not issues:
        return {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "information", "code": "informational", "diagnostics": "All OK"}
            ],
        }
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": i.severity,
                "code": i.code,
                "diagnostics": i.diagnostics,
                "expression": [i.expression],
            }
            for i in issues
        ],
    }
