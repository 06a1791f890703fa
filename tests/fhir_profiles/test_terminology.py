from __future__ import annotations

import pytest

from fhir_profiles import loader, terminology

BASE = loader.CANONICAL_BASE
CVX = "http://hl7.org/fhir/sid/cvx"
ATC = "http://www.whocc.no/atc"
NIP = f"{BASE}/CodeSystem/nip-vaccine"
CONCEPT_MAP = f"{BASE}/ConceptMap/nip-vaccine-cvx-atc"
CONVENTIONS_NIP = [
    "HepB",
    "BCG",
    "IPV",
    "bOPV",
    "DTaP",
    "DT",
    "MMR",
    "JE-L",
    "JE-I",
    "MPSV-A",
    "MPSV-AC",
    "HepA-L",
    "HepA-I",
    "HPV2",
    "HBIG",
    # combination and non-NIP products (docs/CONVENTIONS.md)
    "DTaP-IPV-Hib",
    "DTaP-Hib",
    "DTaP-IPV",
    "DTaP-IPV-Hib-HepB",
    "MMRV",
    "HepA-HepB",
    "Hib",
    "PCV13",
    "EV71",
    "VAR",
    "Rota",
    "Flu",
    "MenAC-conj",
    "MR",
]
ALERT_KINDS = [
    "underweight",
    "stunting",
    "wasting",
    "overweight",
    "obesity",
    "microcephaly",
    "macrocephaly",
    "growth-faltering",
    "flat-growth",
    "rapid-weight-gain",
    "measurement-overdue",
    "implausible-measurement",
    "checkup-due",
    "checkup-overdue",
    "checkup-missed",
    "vaccine-due",
    "vaccine-overdue",
    "admission-vaccination-incomplete",
    "fever",
    "symptom",
    "outbreak-cluster",
    "anaemia",
    "warning-sign-positive",
    "case-follow-up-overdue",
    "high-risk-not-managed",
    "screening-due",
    "screening-overdue",
    "screening-abnormal",
]
VISITS = [
    "birth",
    "newborn-home",
    "1m",
    "3m",
    "6m",
    "8m",
    "12m",
    "18m",
    "24m",
    "30m",
    "36m",
    "4y",
    "5y",
    "6y",
    "admission",
    "centre-growth",
    "daily-check",
]
INDICATORS = ["wfa", "lhfa", "wfl", "wfh", "bfa", "hcfa", "acfa", "tsfa", "ssfa"]


def codes(vs: str) -> list[str]:
    return sorted(c.code for c in terminology.expand(f"{BASE}/ValueSet/{vs}"))


def test_code_systems_match_docs_conventions() -> None:
    assert codes("nip-vaccine") == sorted(CONVENTIONS_NIP)
    assert codes("alert-kind") == sorted(ALERT_KINDS)
    assert codes("alert-severity") == ["high", "low", "moderate"]
    assert codes("checkup-visit") == sorted(VISITS)
    expected = INDICATORS + [f"{i}-{k}" for i in INDICATORS for k in ("z", "p")]
    assert codes("growth-indicator") == sorted(expected)  # nested concepts are expanded too


def test_growth_score_codes_include_loinc_percentiles_only_where_verified() -> None:
    concepts = terminology.expand(f"{BASE}/ValueSet/growth-score-code")
    loinc = {c.code for c in concepts if c.system == "http://loinc.org"}
    assert loinc == {"59576-9", "77606-2", "8289-1"}
    ours = {c.code for c in concepts if c.system == f"{BASE}/CodeSystem/growth-indicator"}
    assert ours == {f"{i}-{k}" for i in INDICATORS for k in ("z", "p")}
    vs = f"{BASE}/ValueSet/growth-score-code"
    assert terminology.contains(vs, f"{BASE}/CodeSystem/growth-indicator", "wfa-z")
    assert not terminology.contains(vs, f"{BASE}/CodeSystem/growth-indicator", "wfa")
    assert terminology.contains(vs, None, "8289-1")
    assert not terminology.contains(vs, "http://snomed.info/sct", "8289-1")


def test_every_code_system_concept_has_a_chinese_designation() -> None:
    for url in loader.urls("CodeSystem"):
        cs = loader.code_system(url)
        stack = list(cs["concept"])
        while stack:
            concept = stack.pop()
            stack.extend(concept.get("concept", []))
            assert concept["display"]
            assert any(d["language"] == "zh-CN" for d in concept.get("designation", [])), concept[
                "code"
            ]


@pytest.mark.parametrize(
    "component",
    [
        {"system": "http://loinc.org"},  # a whole external code system
        {"valueSet": [f"{BASE}/ValueSet/alert-kind"]},
        {"system": f"{BASE}/CodeSystem/alert-kind", "filter": [{"property": "concept"}]},
    ],
)
def test_unsupported_compose_is_an_error(component: dict[str, object]) -> None:
    with pytest.raises(terminology.ExpansionError):
        terminology._component(component)


def test_every_packaged_value_set_expands_to_known_codes() -> None:
    for url in loader.urls("ValueSet"):
        concepts = terminology.expand(url)
        assert concepts, url
        for c in concepts:
            if c.system.startswith(BASE):
                cs = loader.code_system(c.system)
                stack, codes = list(cs["concept"]), set()
                while stack:
                    concept = stack.pop()
                    codes.add(concept["code"])
                    stack.extend(concept.get("concept", []))
                assert c.code in codes, (url, c)


def test_concept_map_covers_every_vaccine_in_both_targets() -> None:
    cm = loader.concept_map(CONCEPT_MAP)
    assert [g["target"] for g in cm["group"]] == [CVX, ATC]
    for group in cm["group"]:
        assert sorted(e["code"] for e in group["element"]) == sorted(CONVENTIONS_NIP)
        for element in group["element"]:
            for target in element["target"]:
                assert target["equivalence"] in {"equivalent", "wider", "relatedto", "unmatched"}
                assert ("code" in target) == (target["equivalence"] != "unmatched")
                if target["equivalence"] == "relatedto":  # unverified: must say so
                    assert "Not verified" in target["comment"]


@pytest.mark.parametrize(
    ("nip", "target", "code", "equivalence"),
    [
        ("bOPV", CVX, "178", "equivalent"),
        ("MPSV-A", CVX, "191", "equivalent"),
        ("MPSV-AC", CVX, "192", "equivalent"),
        ("JE-L", CVX, "129", "wider"),  # CVX has only "JE, unspecified formulation"
        ("DTaP", CVX, "20", "relatedto"),  # [M] in DOMAIN.md
        ("HepB", ATC, "J07BC01", "wider"),
        ("HepA-L", ATC, None, "unmatched"),
    ],
)
def test_translate(nip: str, target: str, code: str | None, equivalence: str) -> None:
    (mapped,) = terminology.translate(CONCEPT_MAP, NIP, nip, target)
    assert (mapped.system, mapped.code, mapped.equivalence) == (target, code, equivalence)


def test_translate_unknown_code_is_empty() -> None:
    assert terminology.translate(CONCEPT_MAP, NIP, "not-a-vaccine") == ()


def test_translate_combination_product() -> None:
    """The 5-in-1 product code maps to CVX 120 (DTaP-Hib-IPV), marked unverified; the clinical
    rule table vaccine-products counts it as DTaP and IPV."""
    (cvx, atc) = terminology.translate(CONCEPT_MAP, NIP, "DTaP-IPV-Hib")
    assert (cvx.code, cvx.equivalence) == ("120", "relatedto")
    assert "Not verified" in (cvx.comment or "")
    assert atc.code == "J07CA06"
