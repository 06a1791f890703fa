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

# A centre's day (issue 16): the daily care log (保育日志) and its answer code systems.
CS_CARE_LOG: Final = f"{CANONICAL_BASE}/CodeSystem/care-log"
CS_MEAL_AMOUNT: Final = f"{CANONICAL_BASE}/CodeSystem/meal-amount"
CS_TOILETING: Final = f"{CANONICAL_BASE}/CodeSystem/toileting"
CS_MOOD: Final = f"{CANONICAL_BASE}/CodeSystem/mood"
CS_TASK_KIND: Final = f"{CANONICAL_BASE}/CodeSystem/task-kind"
CS_LEAVE_REASON: Final = f"{CANONICAL_BASE}/CodeSystem/leave-reason"
