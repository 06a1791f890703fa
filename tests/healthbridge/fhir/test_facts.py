"""One reading of each fact (healthbridge.fhir.facts): the reader itself, its vectorised forms,
and every consumer agreeing with it on random resources."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from healthbridge import terminology as t
from healthbridge.district import admission, bulk
from healthbridge.district.frames import children as _children
from healthbridge.fhir import facts
from healthbridge.fhir.searchparams import extract as index_rows
from healthbridge.inputs import dbframes as dbf
from healthbridge.inputs import extract as x
from healthbridge.pipeline import batch_frames
from healthbridge.store import access_tables, rule_inputs

BASE = "https://hb.example.org/fhir"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("Organization/c1", ("Organization", "c1")),
        ("Organization/c1/_history/2", ("Organization", "c1")),
        (f"{BASE}/Organization/c1", ("Organization", "c1")),
        (f"{BASE}/Organization/c1/_history/7", ("Organization", "c1")),
        (f"{BASE}/", None),
        ("https://other.example/fhir/Organization/c1", None),  # a foreign server's
        ("http://hb.example.org/fhir/Organization/c1", None),  # another scheme: not our base
        ("urn:uuid:8d1a6f5e-0b7e-4b7a-9c33-7d0b2f3d6a11", None),  # outside a Bundle
        ("#c1", None),  # contained: not a stored resource
        ("Organization?identifier=x|1", None),  # conditional
        ("Organization/c1/", None),
        ("organization/c1", None),
        ("Organization/c 1", None),
        ("Organization/c1\n", None),
        ("Organization/c1/_history/", None),
        ("", None),
        (None, None),
        (3, None),
    ],
)
def test_reference_forms(ref: Any, expected: tuple[str, str] | None) -> None:
    got = facts.reference(ref, base=BASE)
    assert (None if got is None else (got.type, got.id)) == expected
    assert facts.reference({"reference": ref}, base=BASE + "/") == got  # base with a slash


def test_bundle_and_contained_references() -> None:
    full = "urn:uuid:8d1a6f5e-0b7e-4b7a-9c33-7d0b2f3d6a11"
    bundle = {full: "Patient/p9", "https://other.example/fhir/Patient/x": "Patient/p8"}
    assert facts.reference(full, bundle=bundle) == facts.Ref("Patient", "p9")
    assert facts.reference("https://other.example/fhir/Patient/x", bundle=bundle) == facts.Ref(
        "Patient", "p8"
    )
    assert facts.reference("urn:uuid:other", bundle=bundle) is None
    obs = {"contained": [{"resourceType": "Patient", "id": "p1"}], "subject": {"reference": "#p1"}}
    assert facts.contained(obs, obs["subject"]) == {"resourceType": "Patient", "id": "p1"}
    assert facts.contained(obs, "#p2") is None
    assert facts.ref_id(obs["subject"], "Patient") is None


def test_localised_rewrites_only_references_under_the_base() -> None:
    resource = {
        "resourceType": "Observation",
        "subject": {"reference": f"{BASE}/Patient/p1/_history/3"},
        "performer": [
            {"reference": "https://other.example/fhir/Practitioner/d"},
            {"reference": f"{BASE}/Practitioner/d2"},
        ],
        "note": [{"text": f"{BASE}/Patient/p1"}],  # not a reference
        "focus": [{"reference": f"{BASE}/not a ref"}],
    }
    out = facts.localised(resource, BASE)
    assert out["subject"] == {"reference": "Patient/p1/_history/3"}
    assert out["performer"] == [
        {"reference": "https://other.example/fhir/Practitioner/d"},
        {"reference": "Practitioner/d2"},
    ]
    assert out["note"] is resource["note"]
    assert out["focus"] is resource["focus"]
    assert resource["subject"] == {"reference": f"{BASE}/Patient/p1/_history/3"}  # not mutated
    untouched = {"resourceType": "Patient", "link": [{"other": {"reference": "RelatedPerson/r"}}]}
    assert facts.localised(untouched, BASE) is untouched


def test_localised_finds_references_whatever_the_json_encoder_refuses() -> None:
    """The walk is skipped only where the base's text is not in the resource's JSON; a
    resource orjson refuses (an integer beyond 64 bits) is walked as before."""
    huge = {
        "resourceType": "Observation",
        "valueInteger": 2**70,
        "subject": {"reference": f"{BASE}/Patient/p1"},
    }
    assert facts.localised(huge, BASE)["subject"] == {"reference": "Patient/p1"}
    relative = {"resourceType": "Observation", "subject": {"reference": "Patient/p1"}}
    assert facts.localised(relative, BASE) is relative


def test_growth_units() -> None:
    weight, length = t.LOINC_BODY_WEIGHT, t.LOINC_BODY_LENGTH
    assert facts.growth_value(weight, {"value": 9.5, "code": "kg"}) == 9.5
    assert facts.growth_value(weight, {"value": 9500, "code": "g"}) == 9.5
    assert facts.growth_value(weight, {"value": 10, "code": "[lb_av]"}) == pytest.approx(4.5359237)
    assert facts.growth_value(length, {"value": 755, "code": "mm"}) == pytest.approx(75.5)
    assert facts.growth_value(length, {"value": 30, "code": "[in_i]"}) == pytest.approx(76.2)
    assert facts.growth_value(weight, {"value": 9.5}) == 9.5  # no code: the standard unit
    assert facts.growth_value(weight, {"value": "9.5", "code": "kg"}) is None
    assert facts.growth_value("8867-4", {"value": 80, "code": "/min"}) is None  # not growth
    for code, unit in ((weight, "cm"), (weight, "lb"), (length, "kg"), (length, "in")):
        with pytest.raises(facts.UnitError):
            facts.growth_value(code, {"value": 1, "code": unit})
    with pytest.raises(facts.UnitError, match="system"):
        facts.check_growth_unit(weight, {"value": 1, "code": "kg", "system": "urn:x"})
    facts.check_growth_unit(weight, {"value": 1, "code": "kg", "system": t.UCUM})


def test_the_vaccine_of_an_immunization() -> None:
    """Our code first; else a translated CVX/ATC code (a combination product is one NIP
    product code); else the raw coding, which the rules show as "not recognised"."""
    from healthbridge.clinical.ruleset import load_ruleset
    from healthbridge.clinical.vaccination import GivenDose, InvalidReason, expand_products

    nip = {"system": t.CS_NIP_VACCINE, "code": "HepB"}
    assert facts.nip_vaccine([{"system": t.CVX, "code": "19"}, nip]) == "HepB"
    assert facts.nip_vaccine([{"system": t.CVX, "code": "120"}]) == "DTaP-IPV-Hib"
    assert facts.nip_vaccine([{"system": t.CVX, "code": "999"}]) == f"{t.CVX}|999"
    assert facts.nip_vaccine([{"system": t.CVX}]) is None
    assert facts.nip_vaccine(None) is None
    table = load_ruleset("cn-child-health", "2026.1").vaccination
    doses = [GivenDose("i1", f"{t.CVX}|999", dt.date(2026, 1, 1))]
    _, invalid = expand_products(doses, table)
    assert [d.reason for d in invalid] == [InvalidReason.NOT_RECOGNISED]


def test_nip_codes_through_the_concept_map() -> None:
    assert facts.nip_codes(t.CS_NIP_VACCINE, "HepB") == ("HepB",)
    assert facts.nip_codes(t.CVX, "08") == ("HepB",)
    assert facts.nip_codes(t.CVX, "19") == ("BCG",)
    assert facts.nip_codes(t.ATC, "J07BC01") == ("HepB",)
    assert facts.nip_codes(t.CVX, "999") == ()
    assert facts.nip_codes("urn:other", "08") == ()
    assert facts.nip_codes(t.CVX, "") == ()
    # a combination product: every NIP vaccine mapped to that one code (our ConceptMap has
    # none yet, so a map of the same shape)
    combo = {
        "group": [
            {
                "source": t.CS_NIP_VACCINE,
                "target": t.CVX,
                "element": [
                    {"code": "HepB", "target": [{"code": "110", "equivalence": "relatedto"}]},
                    {"code": "IPV", "target": [{"code": "110", "equivalence": "relatedto"}]},
                    {"code": "DTaP", "target": [{"code": "110", "equivalence": "relatedto"}]},
                    {"code": "MMR", "target": [{"code": "94", "equivalence": "disjoint"}]},
                ],
            },
            {"source": "urn:other", "target": t.CVX, "element": [{"code": "z", "target": []}]},
        ]
    }
    assert facts.reverse_map(combo) == {(t.CVX, "110"): ("DTaP", "HepB", "IPV")}
    codings = [
        {"system": t.CVX, "code": "08"},
        {"system": t.CS_NIP_VACCINE, "code": "HepB"},
        {"system": t.CS_NIP_VACCINE, "code": "BCG"},
    ]
    assert facts.nip_vaccine(codings) == "BCG"
    assert facts.nip_vaccine(codings[:1]) == "HepB"  # translated through the ConceptMap
    assert facts.credited_vaccines(codings) == ("HepB", "BCG")
    assert facts.credited_vaccines([{"system": t.ATC, "code": "J07BC01"}, "x"]) == ("HepB",)
    assert facts.credited_vaccines(None) == ()


# ---------------------------------------------------------------- scalar = vectorised
_ids = st.from_regex(r"\A[A-Za-z0-9\-.]{1,8}\Z")
_junk = st.text(alphabet="Pa/ti-n_h.sory:#1\n ", max_size=24)


@st.composite
def references(draw: st.DrawFn, rtype: str = "Patient") -> Any:
    """References in every form the reader resolves (and some it must not)."""
    rid = draw(_ids)
    other = draw(st.sampled_from([rtype, "Organization", "Group", "patient"]))
    return draw(
        st.sampled_from(
            [
                f"{other}/{rid}",
                f"{other}/{rid}/_history/{draw(_ids)}",
                f"{BASE}/{other}/{rid}",
                f"{BASE}/{other}/{rid}/_history/2",
                f"https://other.example/fhir/{other}/{rid}",
                f"urn:uuid:{rid}",
                f"#{rid}",
                f"{other}?identifier={rid}",
                f"{other}/{rid}/",
                draw(_junk),
                None,
                7,
            ]
        )
    )


@settings(max_examples=300, deadline=None)
@given(refs=st.lists(references(), max_size=12))
def test_vectorised_references_agree_with_the_scalar_reader(refs: list[Any]) -> None:
    assert facts.ref_ids(refs, "Patient") == [facts.ref_id(r, "Patient") for r in refs]
    assert dbf.ref_ids(refs, "Patient") == [rule_inputs.ref_id(r, "Patient") for r in refs]


_units = st.sampled_from(["kg", "g", "[lb_av]", "cm", "mm", "[in_i]", "lb", "", None, 3])
_numbers = st.one_of(st.floats(allow_nan=True), st.integers(-(10**6), 10**6), st.none())


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(sorted(facts.GROWTH_QUANTITY)), _numbers, _units), max_size=12
    )
)
@example(rows=[("8302-2", 7.07753203e307, "[in_i]")])  # inf in both, no overflow warning
def test_vectorised_units_agree_with_the_scalar_reader(rows: list[Any]) -> None:
    def scalar(code: str, value: Any, unit: Any) -> float:
        try:
            out = facts.growth_value(code, {"value": value, "code": unit})
        except facts.UnitError:
            return math.nan
        return math.nan if out is None else out

    want = [scalar(*r) for r in rows]
    numbers = [facts.number(v) for _c, v, _u in rows]
    got = facts.growth_values(
        [facts.GROWTH_QUANTITY[c] for c, _v, _u in rows],
        np.array([math.nan if n is None else n for n in numbers], dtype="float64"),
        [u for _c, _v, u in rows],
    )
    np.testing.assert_allclose(got, np.array(want, dtype="float64"), equal_nan=True)


# ---------------------------------------------------------------- every consumer agrees
def _patient(rid: str, centre_refs: list[Any], ended: list[bool]) -> dict[str, Any]:
    extensions = []
    for ref, end in zip(centre_refs, ended, strict=True):
        period = {"start": "2026-01-05", **({"end": "2026-06-30"} if end else {})}
        extensions.append(
            {
                "url": facts.ENROLLMENT_EXTENSION,
                "extension": [
                    {"url": "centre", "valueReference": {"reference": ref}},
                    {"url": "period", "valuePeriod": period},
                ],
            }
        )
    return {
        "resourceType": "Patient",
        "id": rid,
        "birthDate": "2025-03-01",
        "gender": "female",
        "extension": extensions,
    }


@settings(max_examples=150, deadline=None)
@given(
    centres=st.lists(references("Organization"), min_size=1, max_size=3),
    data=st.data(),
    subject=references("Patient"),
    door=st.booleans(),
)
def test_every_consumer_reads_the_same_facts(
    centres: list[Any], data: st.DataObject, subject: Any, door: bool
) -> None:
    """Random enrolments and subjects (every reference form), optionally through the door's
    rewriting of references to this server: the access rows, the pipeline's child info, the
    district's children and admission checks, the bulk centre members, the rule-input table,
    the batch reader and the compartment all read what the reader reads."""
    ended = data.draw(st.lists(st.booleans(), min_size=len(centres), max_size=len(centres)))
    patient = _patient("kid", centres, ended)
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": t.LOINC, "code": t.LOINC_HAEMOGLOBIN}]},
        "subject": {"reference": subject},
        "effectiveDateTime": "2026-02-01",
        "valueQuantity": {"value": 110, "code": "g/L"},
    }
    if door:  # as stored: absolute references to this server made relative
        patient, obs = facts.localised(patient, BASE), facts.localised(obs, BASE)
    base = BASE if door else None

    # enrolment: every reader agrees with facts.enrolments
    read = facts.enrolments(patient)
    expected_centres = [facts.ref_id(c, "Organization", base=base) for c in centres]
    assert [e.centre_id for e in read] == expected_centres
    links = access_tables.patient_links(patient)
    assert [r["party"] for r in links] == [f"Organization/{c}" for c in expected_centres if c]
    current = [c for c, end in zip(expected_centres, ended, strict=True) if c and not end]
    info = x.child_info(patient)
    assert info.centre_id == (current[-1] if current else None)
    row = _children([patient]).iloc[0]
    centre = row["centre"] if isinstance(row["centre"], str) else None
    assert centre in (expected_centres[-1], str(expected_centres[-1]))  # the last enrolment
    checks = admission.enrolment_checks(patient)
    assert [c[1] for c in checks] == [c for c in expected_centres if c]
    for c in {c for c in expected_centres if c}:
        assert bulk._enrolled_in(patient, f"Organization/{c}")
    stored_patient = rule_inputs.rows("Patient", "kid", patient, "")[0]
    assert x.child_info(json.loads(stored_patient["extra"])).centre_id == info.centre_id

    # subject: the rule-input table, the pipeline, the batch reader and the compartment
    child = facts.ref_id(obs["subject"], "Patient")
    if door and isinstance(subject, str) and subject.startswith(BASE + "/"):
        assert child == facts.ref_id(subject, "Patient", base=BASE)
    assert rule_inputs.rows("Observation", "o1", obs, "")[0]["child_id"] == child
    assert x.subject_id(obs) == child
    assert dbf.ref_ids([obs["subject"]["reference"]], "Patient") == [child]
    compartment = access_tables.compartment_patients("Observation", "o1", index_rows(obs))
    assert compartment == ({child} if child else set())


# ---------------------------------------------------------------- tuberculin skin tests
def _coding(system: str, code: Any) -> dict[str, Any]:
    return {"system": system, "code": code}


_TST = _coding(t.SNOMED, t.SNOMED_TB_SKIN_TEST)
_NEG, _POS = _coding(t.SNOMED, t.SNOMED_NEGATIVE), _coding(t.SNOMED, t.SNOMED_POSITIVE)
_V3_NEG = _coding(t.V3_INTERPRETATION, t.V3_NEGATIVE)
_V3_POS = _coding(t.V3_INTERPRETATION, t.V3_POSITIVE)


def test_a_tuberculin_skin_test_and_its_result() -> None:
    """SNOMED CT 28163009 names the test; the result is the value (260385009 negative,
    10828004 positive), else the v3 interpretation (NEG/POS); a value naming both results,
    a coding with the right code in another system, or no result reads as None."""
    assert facts.is_tb_skin_test([_coding(t.LOINC, "718-7"), _TST])
    assert not facts.is_tb_skin_test([_coding(t.LOINC, t.SNOMED_TB_SKIN_TEST)])
    assert not facts.is_tb_skin_test(None)
    assert facts.tb_test_negative([_NEG], None) is True
    assert facts.tb_test_negative([_POS], [{"coding": [_V3_NEG]}]) is False  # the value first
    assert facts.tb_test_negative(None, [{"coding": [_V3_NEG]}]) is True
    assert facts.tb_test_negative([{"text": "?"}], [{"coding": [_V3_POS]}]) is False
    assert facts.tb_test_negative([_NEG, _POS], None) is None
    assert facts.tb_test_negative([_coding(t.SNOMED, ["x"])], "junk") is None
    assert facts.tb_test_negative(None, None) is None
    obs = {
        "code": {"coding": [_coding(t.LOINC, "718-7"), _TST]},
        "valueCodeableConcept": {"coding": [_NEG]},
    }
    assert facts.rule_code(obs) == facts.TB_SKIN_TEST
    assert facts.tb_test_result(obs) is True
    assert facts.rule_code({"code": {"coding": [_coding(t.LOINC, "718-7")]}}) == "718-7"
    assert facts.tb_test_result({"code": {"coding": [_coding(t.LOINC, "718-7")]}}) is None


_results = st.lists(
    st.sampled_from([_NEG, _POS, _V3_NEG, _coding(t.SNOMED, "x"), "junk"]), max_size=3
)


@settings(max_examples=200, deadline=None)
@given(
    code=st.lists(
        st.sampled_from([_TST, _coding(t.LOINC, "718-7"), _coding("urn:x", "1")]), max_size=3
    ),
    value=st.one_of(st.none(), _results),
    interp=st.one_of(st.none(), _results),
    status=st.sampled_from(["final", "amended", "entered-in-error", "preliminary"]),
)
def test_every_reader_reads_the_same_tb_skin_test(
    code: list[Any], value: list[Any] | None, interp: list[Any] | None, status: str
) -> None:
    """Random TST-like Observations: the write path (extract.tb_tests), the rule-input row
    and the batch document reader give the same test and result."""
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "tst",
        "status": status,
        "code": {"coding": code},
        "subject": {"reference": "Patient/kid"},
        "effectiveDateTime": "2026-02-01",
    }
    if value is not None:
        obs["valueCodeableConcept"] = {"coding": value}
    if interp is not None:
        obs["interpretation"] = [{"coding": interp}]
    written = [(r.observation_id, r.on, r.negative) for r in x.tb_tests([obs])]
    row = rule_inputs.rows("Observation", "tst", obs, "")[0]
    from_row = []
    if (
        row["code"] == facts.TB_SKIN_TEST
        and row["value"] is not None
        and status != "entered-in-error"
    ):
        from_row = [("tst", dt.date(2026, 2, 1), row["value"] == 1.0)]
    assert from_row == written
    raw = {name: [None] for name in batch_frames.OBSERVATION}
    raw.update(
        status=[status], coding=[code], subject=["Patient/kid"], effective=["2026-02-01"],
        concept=[value], interpretation=[obs.get("interpretation")],
    )  # fmt: skip
    frame = pd.DataFrame({"res_id": ["tst"], **raw}).astype(object)
    tst = batch_frames.tb_tests(
        batch_frames.observations(batch_frames.compact_observations(frame), {"kid"})
    )
    got = [(r.observation_id, r.date.date(), bool(r.negative)) for r in tst.itertuples()]
    assert got == written
