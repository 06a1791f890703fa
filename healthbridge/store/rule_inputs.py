"""The typed rule-input table: per current resource, the fields the clinical rules read.

``healthbridge evaluate`` re-runs every rule for a whole district. Reading the inputs from the
stored JSON (:mod:`healthbridge.inputs.dbframes`) parses every document: at 100,000 children
and 3.4 million Observations that took minutes. This table holds, per current resource of the
types the rules read, those fields already extracted and typed (child, code, local date as
written, value and unit, encounter, status, a few small extras), so the batch reader
(:func:`healthbridge.pipeline.batch.read_district`) is a plain column scan.

Rows are written by the store itself, in the same transaction as the resource version
(:meth:`healthbridge.store.repository.Transaction._write` queues :func:`rows` with the search
index rows; replacing or deleting the current version deletes them), on every write path and
whatever hooks are installed. :func:`rows` is cheap (dict look-ups only, no parsing: a few
microseconds per resource) and pure.

**What is extracted** (the rules of :mod:`healthbridge.inputs.extract` as the batch reader
applies them; ``tests/healthbridge/pipeline/test_rule_inputs.py`` checks the frames built from
this table equal those built from the documents):

======================  =====================================================================
column                  meaning
======================  =====================================================================
``res_type, res_id``    the resource (primary key; SQLite ``WITHOUT ROWID``: rows clustered
                        by type, so a type is one range scan)
``child_id``            the local Patient referenced (:func:`healthbridge.fhir.facts.ref_id`:
                        ``Patient/<id>``, versioned or not; foreign URLs are not ours):
                        ``subject`` (Observation, Encounter), ``patient`` (Immunization),
                        ``subject``/``patient``/``for`` (QuestionnaireResponse); a Patient's
                        own id
``status``              ``status`` when it is a string
``code``                Observation: ``28163009`` for a tuberculin skin test, else the
                        first non-empty LOINC code of ``code.coding``
                        (:func:`healthbridge.fhir.facts.rule_code`);
                        Encounter: code of the last ``checkup-visit`` coding of ``type``;
                        Immunization: code of the last ``nip-vaccine`` coding of
                        ``vaccineCode`` (codings in document order)
``day``                 the local date as written (first 10 characters, not normalised to
                        UTC): Observation ``effectiveDateTime`` (else
                        ``effectivePeriod.start``), Encounter ``period.start``, Immunization
                        ``occurrenceDateTime``, QuestionnaireResponse ``authored``, Patient
                        ``birthDate``
``value``, ``unit``     Observation ``valueQuantity.value`` (finite numbers only) and
                        ``valueQuantity.code``; a tuberculin skin test: ``value`` 1.0
                        negative, 0.0 positive, NULL unreadable
                        (:func:`healthbridge.fhir.facts.tb_test_result`);
                        Immunization: ``value`` is
                        ``protocolApplied[0].doseNumberPositiveInt``
``encounter_id``        Observation ``encounter`` (an ``Encounter/<id>`` reference)
``written``             ``meta.lastUpdated`` (the latest-written re-measurement wins)
``extra``               small JSON: Observation symptom codes (``75325-1``, the
                        ``symptom`` CodeSystem codes of ``valueCodeableConcept``, an
                        array); a screening result's (its JSON names the
                        ``child-screening`` CodeSystem) ``code``, ``valueCodeableConcept``
                        and ``component`` (an object; :data:`SCREENING_ELEMENTS`); Encounter
                        the fields of the alert routing (``period.start``,
                        ``serviceProvider.reference``, ``participant``); Patient the elements
                        :func:`~healthbridge.inputs.extract.child_info` reads;
                        QuestionnaireResponse ``questionnaire``, ``status``, ``authored``
                        and the linkIds answered ``true``, in order
======================  =====================================================================

Derived growth-score Observations (their JSON names the ``growth-indicator`` CodeSystem) are
not rule inputs and get no row. The extraction has a version (:data:`EXTRACTOR_VERSION`); the
table ``rule_input_state`` records the version the whole table was built with (by migration
0005 on an empty database, by migration 0008 — :func:`backfill` — on a database that held
resources, or by :func:`healthbridge.store.reindex.rebuild_rule_inputs`). A table built by
another version, or left incomplete by an interrupted rebuild, is *stale*: the district read
rebuilds it before reading (:func:`healthbridge.district.gather.ensure_rule_inputs`) and
``healthbridge evaluate`` reads the documents until ``healthbridge db reindex --rule-inputs``
has run; a change of :func:`rows` therefore comes with a migration calling :func:`backfill`.
Anything that writes resource rows without the repository (bulk loaders) must write these
rows too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Connection, Table, delete, insert, select

from healthbridge import terminology as t
from healthbridge.fhir import facts
from healthbridge.store.models import ResourceRow, RuleInputRow, RuleInputStateRow

TABLE: Final = "rule_input"
RULE_INPUT: Table = RuleInputRow.__table__  # type: ignore[attr-defined]
STATE: Table = RuleInputStateRow.__table__  # type: ignore[attr-defined]
RESOURCE: Table = ResourceRow.__table__  # type: ignore[attr-defined]
#: Bump when :func:`rows` changes what it extracts: existing tables become stale.
#: 2: references read by facts; 3: CVX/ATC vaccine codes translated; 4: tuberculin skin tests
#: (code 28163009, value 1.0 negative / 0.0 positive); 5: screening results' elements.
EXTRACTOR_VERSION: Final = 5
#: The ``rule_input_state`` key holding the version the whole table was built with.
STATE_KEY: Final = "extractor"
#: Resource types with rule-input rows.
TYPES: Final = ("Patient", "Observation", "Encounter", "Immunization", "QuestionnaireResponse")
COLUMNS: Final = (
    "res_type",
    "res_id",
    "child_id",
    "status",
    "code",
    "day",
    "value",
    "unit",
    "encounter_id",
    "written",
    "extra",
)
LOINC_SYMPTOM: Final = "75325-1"
#: Patient elements :func:`healthbridge.inputs.extract.child_info` reads.
PATIENT_ELEMENTS: Final = ("id", "birthDate", "gender", "extension", "generalPractitioner")
#: Elements of a screening-result Observation :func:`healthbridge.inputs.screening.
#: screening_result` reads besides id, status and date (which are columns).
SCREENING_ELEMENTS: Final = ("code", "valueCodeableConcept", "component")

Row = dict[str, Any]


def _get(resource: Mapping[str, Any], key: str, sub: str) -> Any:
    """``resource.key.sub`` through objects only (as a JSON path ``$.key.sub``)."""
    inner = resource.get(key)
    return inner.get(sub) if isinstance(inner, dict) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def ref_id(ref: Any, resource_type: str) -> str | None:
    """The id of the local ``resource_type`` a reference string names, else None
    (:func:`healthbridge.fhir.facts.ref_id`, the rule of every reader)."""
    return facts.ref_id(ref, resource_type)


def _day(value: Any) -> str | None:
    """The date as written: the first 10 characters (validity is checked by the reader)."""
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        out = float(value)
    except OverflowError:
        return None
    return out if math.isfinite(out) else None


def first_code(codings: Any, system: str) -> str | None:
    """The first non-empty code of ``system`` in a coding array."""
    if isinstance(codings, list):
        for c in codings:
            if isinstance(c, dict) and c.get("system") == system and c.get("code"):
                return str(c["code"])
    return None


def last_code(codings: Any, system: str) -> str | None:
    """The code of the last coding of ``system`` (whatever it holds; None when absent)."""
    if system == t.CS_NIP_VACCINE:
        return facts.nip_vaccine(codings)
    found: Any = None
    if isinstance(codings, list):
        for c in codings:
            if isinstance(c, dict) and c.get("system") == system:
                found = c.get("code")
    return found if found is None or isinstance(found, str) else str(found)


def _concept_codings(concepts: Any) -> list[Any]:
    if not isinstance(concepts, list):
        return []
    return [
        c for concept in concepts if isinstance(concept, dict) for c in concept.get("coding") or ()
    ]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _row(
    rtype: str,
    res_id: str,
    child_id: str | None,
    status: Any,
    code: str | None,
    day: str | None,
    value: float | None = None,
    unit: str | None = None,
    encounter_id: str | None = None,
    written: str | None = None,
    extra: str | None = None,
) -> Row:
    return {
        "res_type": rtype,
        "res_id": res_id,
        "child_id": child_id,
        "status": _str(status),
        "code": code,
        "day": day,
        "value": value,
        "unit": unit,
        "encounter_id": encounter_id,
        "written": written,
        "extra": extra,
    }


def _observation(res_id: str, r: Mapping[str, Any], content: str) -> Row | None:
    if t.CS_GROWTH_INDICATOR in content:
        return None  # a derived growth score, not a measurement
    code = facts.rule_code(r)
    when = r.get("effectiveDateTime")
    if not (isinstance(when, str) and when):
        when = _get(r, "effectivePeriod", "start")
    quantity = r.get("valueQuantity")
    value = unit = None
    if code == facts.TB_SKIN_TEST:
        negative = facts.tb_test_result(r)
        value = None if negative is None else float(negative)
    elif isinstance(quantity, dict):
        value, unit = _number(quantity.get("value")), _str(quantity.get("code"))
    extra = None
    if t.CS_CHILD_SCREENING in content:
        elements = {k: r[k] for k in SCREENING_ELEMENTS if k in r}
        extra = _dumps(elements) if "code" in elements else None
    elif code == LOINC_SYMPTOM:
        concept = r.get("valueCodeableConcept")
        codings = concept.get("coding") if isinstance(concept, dict) else None
        symptoms = [
            str(c["code"])
            for c in (codings if isinstance(codings, list) else ())
            if isinstance(c, dict) and c.get("system") == t.CS_SYMPTOM and c.get("code")
        ]
        extra = _dumps(symptoms) if symptoms else None
    written = _get(r, "meta", "lastUpdated")
    return _row(
        "Observation",
        res_id,
        ref_id(_get(r, "subject", "reference"), "Patient"),
        r.get("status"),
        code,
        _day(when),
        value,
        unit,
        ref_id(_get(r, "encounter", "reference"), "Encounter"),
        "" if written is None else str(written),
        extra,
    )


def _encounter(res_id: str, r: Mapping[str, Any], _content: str) -> Row:
    start = _get(r, "period", "start")
    doc: dict[str, Any] = {}
    if start is not None:
        doc["period"] = {"start": start}
    provider = _get(r, "serviceProvider", "reference")
    if provider is not None:
        doc["serviceProvider"] = {"reference": provider}
    if r.get("participant") is not None:
        doc["participant"] = r["participant"]
    return _row(
        "Encounter",
        res_id,
        ref_id(_get(r, "subject", "reference"), "Patient"),
        r.get("status"),
        last_code(_concept_codings(r.get("type")), t.CS_CHECKUP_VISIT),
        _day(start),
        extra=_dumps(doc) if doc else None,
    )


def _immunization(res_id: str, r: Mapping[str, Any], _content: str) -> Row:
    applied = r.get("protocolApplied")
    dose = None
    if isinstance(applied, list) and applied and isinstance(applied[0], dict):
        dose = _number(applied[0].get("doseNumberPositiveInt"))
    return _row(
        "Immunization",
        res_id,
        ref_id(_get(r, "patient", "reference"), "Patient"),
        r.get("status"),
        last_code(_get(r, "vaccineCode", "coding"), t.CS_NIP_VACCINE),
        _day(r.get("occurrenceDateTime")),
        dose,
    )


def _patient(res_id: str, r: Mapping[str, Any], _content: str) -> Row:
    doc = {k: r[k] for k in PATIENT_ELEMENTS if k in r}
    return _row("Patient", res_id, res_id, None, None, _day(r.get("birthDate")), extra=_dumps(doc))


def _subject_ref(value: Any) -> str | None:
    """:func:`healthbridge.inputs.extract.ref_id` on a Reference object."""
    return facts.ref_id(value, "Patient")


def true_answers(items: Any) -> list[str]:
    """The linkIds of the items answered ``valueBoolean: true``, depth first (the walk of
    :func:`healthbridge.inputs.extract.screenings`)."""
    out: list[str] = []
    for item in items or ():
        for answer in item.get("answer") or ():
            if "valueBoolean" in answer and answer["valueBoolean"] is True:
                out.append(str(item.get("linkId")))
        out.extend(true_answers(item.get("item") or ()))
    return out


def _response(res_id: str, r: Mapping[str, Any], _content: str) -> Row:
    child = None
    for key in ("subject", "patient", "for"):
        child = _subject_ref(r.get(key))
        if child:
            break
    doc = {
        "questionnaire": r.get("questionnaire"),
        "status": r.get("status"),
        "authored": r.get("authored"),
        "true": true_answers(r.get("item") or ()),
    }
    return _row(
        "QuestionnaireResponse",
        res_id,
        child or None,
        r.get("status"),
        None,
        _day(r.get("authored")),
        extra=_dumps(doc),
    )


_BUILDERS = {
    "Observation": _observation,
    "Encounter": _encounter,
    "Immunization": _immunization,
    "Patient": _patient,
    "QuestionnaireResponse": _response,
}


def rows(rtype: str, res_id: str, resource: Mapping[str, Any], content: str) -> list[Row]:
    """The rule-input rows (none or one, every key of :data:`COLUMNS`) of a resource version;
    ``content`` is its stored JSON text."""
    build = _BUILDERS.get(rtype)
    if build is None:
        return []
    row = build(res_id, resource, content)
    return [] if row is None else [row]


def built_version(conn: Connection) -> int | None:
    """The extractor version the whole table was built with (None: incomplete)."""
    value = conn.execute(select(STATE.c.value).where(STATE.c.name == STATE_KEY)).scalar()
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


#: Ids per statement when :func:`scan` reads chosen resources (well under SQLite's limit of
#: bound parameters).
SCAN_CHUNK: Final = 5_000


def scan(
    conn: Connection,
    rtype: str,
    columns: str,
    where: str = "",
    *,
    res_ids: Sequence[str] | None = None,
) -> list[Any]:
    """``SELECT columns`` of one resource type's rows of the table (with ``res_ids``: only
    those resources', the ids bound as parameters), through the DBAPI cursor: whole-district
    readers fetch millions of rows, where SQLAlchemy's row objects would cost more than the
    scan. ``rtype``, ``columns`` and ``where`` are the callers' own constants (never input)."""
    stmt = f"SELECT {columns} FROM {TABLE} WHERE res_type = '{rtype}'{where}"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if res_ids is None:
            cursor.execute(stmt)
            return list(cursor.fetchall())
        postgres = conn.dialect.name == "postgresql"
        out: list[Any] = []
        for i in range(0, len(res_ids), SCAN_CHUNK):
            chunk = list(res_ids[i : i + SCAN_CHUNK])
            if postgres:  # one array parameter: psycopg parses a long query text in Python
                cursor.execute(f"{stmt} AND res_id = ANY(%s)", (chunk,))
            else:
                cursor.execute(f"{stmt} AND res_id IN ({', '.join('?' * len(chunk))})", chunk)
            out.extend(cursor.fetchall())
        return out
    finally:
        cursor.close()


def backfill(conn: Connection, *, batch_size: int = 2_000) -> int:
    """Fill the table from the current resources on ``conn`` (inside the caller's
    transaction: a migration's), replacing whatever rows it held, and mark it built by
    :data:`EXTRACTOR_VERSION`; returns the rows written. Resources are read in keyset pages
    of their primary key, so memory stays bounded on a large district."""
    res = RESOURCE
    conn.execute(delete(RULE_INPUT))
    written = 0
    for rtype in TYPES:
        after = ""
        while True:
            found = conn.execute(
                select(res.c.res_id, res.c.content)
                .where(res.c.res_type == rtype, res.c.res_id > after, res.c.deleted.is_(False))
                .order_by(res.c.res_id)
                .limit(batch_size)
            ).all()
            if not found:
                break
            after = str(found[-1].res_id)
            batch = [
                row
                for res_id, content in found
                for row in rows(rtype, str(res_id), json.loads(content), content)
            ]
            if batch:
                conn.execute(insert(RULE_INPUT), batch)
                written += len(batch)
    mark_built(conn)
    return written


def is_current(conn: Connection) -> bool:
    """Whether the table holds the rows of :data:`EXTRACTOR_VERSION` for every resource."""
    return built_version(conn) == EXTRACTOR_VERSION


def mark_built(conn: Connection, version: int | None = EXTRACTOR_VERSION) -> None:
    """Record that the whole table holds the rows of extractor ``version`` (None: that it
    may be incomplete)."""
    conn.execute(delete(STATE).where(STATE.c.name == STATE_KEY))
    if version is not None:
        conn.execute(insert(STATE).values(name=STATE_KEY, value=str(version)))
