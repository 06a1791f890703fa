"""Code systems, codes and canonical URLs used across HealthBridge (docs/CONVENTIONS.md).

Plain constants only (no FHIR model imports), so pure layers may use them too. External codes
cite where they were checked: LOINC codes are those of the FHIR R4 vital-signs profiles
(http://hl7.org/fhir/R4/observation-vitalsigns.html) and the LOINC table.
"""

from __future__ import annotations

from typing import Final

CANONICAL_BASE: Final = "https://healthbridge.github.io/fhir"

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
CVX: Final = "http://hl7.org/fhir/sid/cvx"
ATC: Final = "http://www.whocc.no/atc"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
V3_ROLE_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V3_ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_INTERPRETATION: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ORGANIZATION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/organization-type"

# Our own code systems and identifier systems (canonical base + path).
CS_GROWTH_INDICATOR: Final = f"{CANONICAL_BASE}/CodeSystem/growth-indicator"
CS_NIP_VACCINE: Final = f"{CANONICAL_BASE}/CodeSystem/nip-vaccine"
CS_ALERT_KIND: Final = f"{CANONICAL_BASE}/CodeSystem/alert-kind"
CS_ALERT_SEVERITY: Final = f"{CANONICAL_BASE}/CodeSystem/alert-severity"
CS_CHECKUP_VISIT: Final = f"{CANONICAL_BASE}/CodeSystem/checkup-visit"
CS_ORG_KIND: Final = f"{CANONICAL_BASE}/CodeSystem/organization-kind"
CS_CLASS_KIND: Final = f"{CANONICAL_BASE}/CodeSystem/class-kind"
CS_SYMPTOM: Final = f"{CANONICAL_BASE}/CodeSystem/daily-check-symptom"
#: Managed cases (体弱儿/高危儿专案管理): EpisodeOfCare.type and the closing outcome (转归).
CS_CASE_CONDITION: Final = f"{CANONICAL_BASE}/CodeSystem/managed-case-condition"
CS_CASE_OUTCOME: Final = f"{CANONICAL_BASE}/CodeSystem/case-outcome"
EXT_CASE_OUTCOME: Final = f"{CANONICAL_BASE}/StructureDefinition/case-outcome"
#: Scheduled screenings (rule table screening-schedule): local codes, no LOINC code verified.
CS_CHILD_SCREENING: Final = f"{CANONICAL_BASE}/CodeSystem/child-screening"
CS_SCREENING_COMPONENT: Final = f"{CANONICAL_BASE}/CodeSystem/screening-component"
CS_SCREENING_RESULT: Final = f"{CANONICAL_BASE}/CodeSystem/screening-result"
CS_DEVELOPMENTAL_INSTRUMENT: Final = f"{CANONICAL_BASE}/CodeSystem/developmental-instrument"
SID_CHILD_ID: Final = f"{CANONICAL_BASE}/sid/child-id"
SID_ORG_CODE: Final = f"{CANONICAL_BASE}/sid/org-code"
SID_STAFF_ID: Final = f"{CANONICAL_BASE}/sid/staff-id"

# LOINC observation codes (FHIR R4 vital-signs profiles; haemoglobin 718-7).
LOINC_BODY_WEIGHT: Final = "29463-7"
LOINC_BODY_LENGTH: Final = "8306-3"  # lying
LOINC_BODY_HEIGHT: Final = "8302-2"  # standing
LOINC_HEAD_CIRCUMFERENCE: Final = "9843-4"
LOINC_BMI: Final = "39156-5"
LOINC_BODY_TEMPERATURE: Final = "8310-5"
LOINC_HAEMOGLOBIN: Final = "718-7"
LOINC_BIRTH_WEIGHT: Final = "8339-4"
LOINC_GESTATIONAL_AGE: Final = "76516-4"

# Tuberculin skin test (PPD/TST) and its result: SNOMED CT as the WHO SMART Immunizations IG's
# ConceptMap IMMZ.D → SNOMED CT maps them (http://smart.who.int/immunizations: DE245 "TST" ≡
# 28163009 "Skin test for tuberculosis"; DE248 "Negative" → 260385009, DE247 "Positive" →
# 10828004); v3 ObservationInterpretation NEG / POS as the alternative result. No LOINC code
# for the TST result was verified, so none is used (unconfirmed codes are not guessed).
SNOMED_TB_SKIN_TEST: Final = "28163009"
SNOMED_NEGATIVE: Final = "260385009"
SNOMED_POSITIVE: Final = "10828004"
V3_NEGATIVE: Final = "NEG"
V3_POSITIVE: Final = "POS"
# A centre's day (issue 16): the daily care log (保育日志) and its answer code systems.
CS_CARE_LOG: Final = f"{CANONICAL_BASE}/CodeSystem/care-log"
CS_MEAL_AMOUNT: Final = f"{CANONICAL_BASE}/CodeSystem/meal-amount"
CS_TOILETING: Final = f"{CANONICAL_BASE}/CodeSystem/toileting"
CS_MOOD: Final = f"{CANONICAL_BASE}/CodeSystem/mood"
CS_TASK_KIND: Final = f"{CANONICAL_BASE}/CodeSystem/task-kind"
CS_LEAVE_REASON: Final = f"{CANONICAL_BASE}/CodeSystem/leave-reason"
