"""Search index rows of an AuditEvent, fast for events naming thousands of records.

An AuditEvent of a request names every record it touched (``entity``) and the children they
belong to (docs/access.md "Audit"): a Bulk Data export, a centre's admission list or a
worklist names thousands. The generic extractor (:func:`healthbridge.fhir.searchparams.
extract`) walks such an event through the FHIRPath plans entity by entity (its per-shape
cache stops at :data:`~healthbridge.fhir.searchparams.MAX_SHAPE_LEAVES` leaves): ~1.8 s for
an event naming 27,000 records, inside the request that wrote it.

Here the entities are grouped by *form*: everything but the id in ``what.reference`` (the
entity's type, role, name, description…, and the referenced resource type). The rows of one
form are computed once, by the generic extractor on a one-entity event whose reference holds a
placeholder id; each entity of that form gets the form's reference rows with its own id put
back, and the form's other rows (``entity-type``, ``entity-role``… which do not depend on the
id) once — the store writes each distinct row once anyway
(:func:`~healthbridge.fhir.searchparams.distinct_rows`). The rest of the event (agents,
source, type, dates…) goes through the generic extractor as it is. An entity whose reference
is not a plain relative ``Type/id`` (an absolute URL, a version, a fragment), or a form whose
rows the substitution cannot account for, is extracted the generic way.

The result has the same distinct rows per table as the generic extractor's
(``tests/healthbridge/store/test_audit_index.py`` compares them); only their order differs.
Hand-written rather than a change to the generic extractor: the grouping relies on what the
AuditEvent search parameters of R4 are (each evaluates one entity at a time), which holds for
this resource type, not for every one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from healthbridge.fhir.searchparams import IndexRows, extract

#: a relative literal reference ``Type/id`` (R4 §2.1.0.1 id: ``[A-Za-z0-9\-\.]{1,64}``)
_PLAIN: Final = re.compile(r"([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})")
#: stands for an entity's id while the rows of its form are computed (a valid FHIR id that no
#: stored record uses: ids are at most 64 characters and this one is checked against the form)
_PLACEHOLDER: Final = "hb-audit-entity-id-placeholder"
_MAX_FORMS: Final = 256


def _form(entity: Mapping[str, Any]) -> tuple[str, str, Any] | None:
    """(resource type, id, the entity's form key), or None when extracted the generic way."""
    what = entity.get("what")
    if not isinstance(what, dict) or set(what) != {"reference"}:
        return None
    ref = what["reference"]
    match = _PLAIN.fullmatch(ref) if isinstance(ref, str) else None
    if match is None:
        return None
    rtype, rid = match.group(1, 2)
    if rid == _PLACEHOLDER:
        return None
    # the entity's other elements as a key: flat Codings (what audit_event writes) by their
    # items, anything else by its repr (the same content in another key order is just
    # another form)
    parts: list[Any] = [rtype]
    for k, v in entity.items():
        if k != "what":
            flat = type(v) is dict and all(type(x) is str for x in v.values())
            parts.append((k, tuple(v.items()) if flat else repr(v)))
    return rtype, rid, tuple(parts)


class _FormRows:
    """The rows of one entity form: reference rows naming the id, and the others."""

    __slots__ = ("by_id", "fixed", "ok")

    def __init__(self, entity: Mapping[str, Any], rtype: str) -> None:
        probe = dict(entity)
        probe["what"] = {"reference": f"{rtype}/{_PLACEHOLDER}"}
        rows = extract({"resourceType": "AuditEvent", "entity": [probe]})
        self.by_id: list[dict[str, Any]] = []  # reference rows with the placeholder id
        self.fixed: list[tuple[str, dict[str, Any]]] = []
        self.ok = rows.canonical
        for kind, found in rows.tables():
            for row in found:
                if kind == "reference" and row.get("target_id") == _PLACEHOLDER:
                    self.ok = self.ok and row.get("url") == f"{rtype}/{_PLACEHOLDER}"
                    self.by_id.append(row)
                elif _PLACEHOLDER in repr(row):
                    self.ok = False  # the id is somewhere the substitution does not handle
                else:
                    self.fixed.append((kind, row))


def extract_audit_event(event: Mapping[str, Any]) -> IndexRows:
    """Index rows of an AuditEvent: the generic extractor's rows (see the module doc)."""
    head = {k: v for k, v in event.items() if k != "entity"}
    rows = extract(head)
    entities = event.get("entity")
    if not isinstance(entities, list) or not entities:
        return extract(dict(event)) if "entity" in event else rows
    forms: dict[Any, _FormRows] = {}
    emitted: set[Any] = set()
    generic: list[Any] = []
    references = rows.reference
    for entity in entities:
        found = _form(entity) if isinstance(entity, dict) else None
        if found is None or (len(forms) >= _MAX_FORMS and found[2] not in forms):
            generic.append(entity)
            continue
        rtype, rid, key = found
        form = forms.get(key)
        if form is None:
            form = forms[key] = _FormRows(entity, rtype)
        if not form.ok:
            generic.append(entity)
            continue
        ref = f"{rtype}/{rid}"
        for row in form.by_id:
            references.append({**row, "target_id": rid, "url": ref})
        if key not in emitted:
            emitted.add(key)
            for kind, row in form.fixed:
                getattr(rows, kind).append(dict(row))
    if generic:
        more = extract({"resourceType": "AuditEvent", "entity": generic})
        rows.canonical = rows.canonical and more.canonical
        for kind, found_rows in more.tables():
            getattr(rows, kind).extend(found_rows)
    return rows
