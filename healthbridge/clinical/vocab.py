"""Shared clinical vocabularies (docs/CONVENTIONS.md): alert kinds, severities, evidence tags."""

from __future__ import annotations

from enum import StrEnum


class AlertKind(StrEnum):
    """CodeSystem ``alert-kind``."""

    UNDERWEIGHT = "underweight"
    STUNTING = "stunting"
    WASTING = "wasting"
    OVERWEIGHT = "overweight"
    OBESITY = "obesity"
    MICROCEPHALY = "microcephaly"
    MACROCEPHALY = "macrocephaly"
    GROWTH_FALTERING = "growth-faltering"
    FLAT_GROWTH = "flat-growth"
    RAPID_WEIGHT_GAIN = "rapid-weight-gain"
    MEASUREMENT_OVERDUE = "measurement-overdue"
    IMPLAUSIBLE_MEASUREMENT = "implausible-measurement"
    CHECKUP_DUE = "checkup-due"
    CHECKUP_OVERDUE = "checkup-overdue"
    CHECKUP_MISSED = "checkup-missed"
    VACCINE_DUE = "vaccine-due"
    VACCINE_OVERDUE = "vaccine-overdue"
    ADMISSION_VACCINATION_INCOMPLETE = "admission-vaccination-incomplete"
    FEVER = "fever"
    SYMPTOM = "symptom"
    OUTBREAK_CLUSTER = "outbreak-cluster"
    ANAEMIA = "anaemia"
    WARNING_SIGN_POSITIVE = "warning-sign-positive"
    CASE_FOLLOW_UP_OVERDUE = "case-follow-up-overdue"
    HIGH_RISK_NOT_MANAGED = "high-risk-not-managed"
    SCREENING_DUE = "screening-due"
    SCREENING_OVERDUE = "screening-overdue"
    SCREENING_ABNORMAL = "screening-abnormal"


class Severity(StrEnum):
    """CodeSystem ``alert-severity``, ordered low < moderate < high by :attr:`rank`."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MODERATE: 2, Severity.HIGH: 3}


class Evidence(StrEnum):
    """Evidence tags of DOMAIN.md: how well a rule's value is sourced."""

    CONFIRMED = "C"
    SECONDARY = "S"
    GENERAL_KNOWLEDGE = "M"
    UNCERTAIN = "?"


class SubjectType(StrEnum):
    """Who an alert is about: one child, or a centre (outbreak reporting)."""

    CHILD = "child"
    CENTRE = "centre"


class Sex(StrEnum):
    """Administrative sex as used by the schedules (HPV is for girls)."""

    MALE = "male"
    FEMALE = "female"


#: z-score columns produced by growth_standards (docs/CONVENTIONS.md) and their flag columns.
Z_COLUMNS: tuple[str, ...] = ("zwei", "zlen", "zwfl", "zbmi", "zhc")
FLAG_OF: dict[str, str] = {
    "zwei": "fwei",
    "zlen": "flen",
    "zwfl": "fwfl",
    "zbmi": "fbmi",
    "zhc": "fhc",
}

#: NIP vaccine codes (CodeSystem ``nip-vaccine``).
NIP_VACCINES: frozenset[str] = frozenset(
    {
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
        "HBIG",  # hepatitis B immunoglobulin: not a vaccine, scheduled for HBsAg-positive mothers
    }
)
