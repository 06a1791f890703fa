"""Care and workflow profiles: vaccination, alert, review, referral, consent, screening."""

from __future__ import annotations

from .common import (
    CONSENT_SCOPE,
    CORE,
    JSON,
    LOINC,
    SNOMED,
    V3_ACT_CODE,
    V3_ACT_REASON,
    V3_PARTICIPATION,
    coding,
    coding_slice,
    cs_url,
    el,
    inv,
    q_url,
    ref,
    required,
    sd_url,
)
from .spec import CHILD_REF, PATTERN_SLICING, Invalid, Profile, meta


def immunization() -> Profile:
    pid = "hb-immunization"
    i1 = inv(
        "hb-imm-1",
        "A completed dose records its lot number (疫苗追溯).",
        "status = 'completed' implies lotNumber.exists()",
    )
    nip = cs_url("nip-vaccine")
    elements = [
        el(
            "Immunization",
            short="NIP vaccine dose",
            definition="A dose of a National Immunization Programme vaccine.",
            constraint=[i1],
        ),
        *coding_slice("Immunization.vaccineCode.coding", "nip", "nip-vaccine", nip),
        el("Immunization.patient", type=ref("hb-child")),
        el("Immunization.occurrence[x]", type=[{"code": "dateTime"}]),
        el("Immunization.protocolApplied", min=1, max="1"),
        el("Immunization.protocolApplied.doseNumber[x]", type=[{"code": "positiveInt"}]),
    ]
    valid: JSON = {
        "resourceType": "Immunization",
        "id": "immunization-1",
        "meta": meta(pid),
        "status": "completed",
        "vaccineCode": {
            "coding": [
                coding(nip, "DTaP", "Diphtheria, tetanus and acellular pertussis vaccine"),
                coding("http://hl7.org/fhir/sid/cvx", "20"),
            ]
        },
        "patient": CHILD_REF,
        "occurrenceDateTime": "2025-08-04T10:15:00+08:00",
        "lotNumber": "202504017",
        "performer": [{"actor": {"reference": "Organization/chc-1"}}],
        "protocolApplied": [{"series": "NIP 2026", "doseNumberPositiveInt": 1}],
    }
    invalid = [
        Invalid(
            "cvx-only",
            [("set", ["vaccineCode"], {"coding": [coding("http://hl7.org/fhir/sid/cvx", "20")]})],
            [("Immunization.vaccineCode.coding", "required")],
        ),
        Invalid(
            "not-nip",
            [("set", ["vaccineCode", "coding", 0, "code"], "XYZ-1")],
            [("Immunization.vaccineCode.coding[0]", "code-invalid")],
        ),
        Invalid("no-lot", [("del", ["lotNumber"], None)], [("Immunization", "invariant")]),
        Invalid(
            "dose-as-text",
            [("set", ["protocolApplied", 0], {"series": "NIP 2026", "doseNumberString": "first"})],
            [
                ("Immunization.protocolApplied[0].doseNumberString", "structure"),
                ("Immunization.protocolApplied[0].doseNumber", "required"),
            ],
        ),
        Invalid(
            "dose-zero",
            [("set", ["protocolApplied", 0, "doseNumberPositiveInt"], 0)],
            [("Immunization.protocolApplied[0].doseNumberPositiveInt", "value")],
            base_r4=True,
        ),
    ]
    return Profile(
        pid,
        "Immunization",
        CORE + "Immunization",
        "NIP vaccination",
        "A dose of a China NIP vaccine, with dose number and lot.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def alert_flag() -> Profile:
    pid = "hb-alert-flag"
    kind = cs_url("alert-kind")
    elements = [
        el(
            "Flag",
            short="Early-intervention alert",
            definition=(
                "What is wrong, for which child (ARCHITECTURE.md: an alert is a Flag, "
                "its review a Task)."
            ),
        ),
        el(
            "Flag.extension",
            min=1,
            slicing={
                "discriminator": [{"type": "value", "path": "url"}],
                "ordered": False,
                "rules": "open",
            },
        ),
        el(
            "Flag.extension:severity",
            sliceName="severity",
            min=1,
            max="1",
            type=[{"code": "Extension", "profile": [sd_url("alert-severity")]}],
        ),
        el("Flag.extension:severity.url", fixedUri=sd_url("alert-severity")),
        *coding_slice("Flag.code.coding", "kind", "alert-kind", kind),
        el("Flag.subject", type=ref("hb-child")),
        el("Flag.period", min=1),
        el("Flag.period.start", min=1),
    ]
    valid: JSON = {
        "resourceType": "Flag",
        "id": "alert-1",
        "meta": meta(pid),
        "extension": [{"url": sd_url("alert-severity"), "valueCode": "moderate"}],
        "status": "active",
        "code": {
            "coding": [coding(kind, "stunting", "Stunting (length/height-for-age below -2 SD)")],
            "text": "生长迟缓",
        },
        "subject": CHILD_REF,
        "period": {"start": "2026-05-12"},
    }
    invalid = [
        Invalid(
            "bad-severity",
            [("set", ["extension", 0, "valueCode"], "urgent")],
            [("Flag.extension[0].valueCode", "code-invalid")],
        ),
        Invalid("no-severity", [("del", ["extension"], None)], [("Flag.extension", "required")]),
        Invalid(
            "unknown-kind",
            [("set", ["code", "coding", 0, "code"], "tall")],
            [("Flag.code.coding[0]", "code-invalid")],
        ),
        Invalid(
            "bad-status", [("set", ["status"], 7)], [("Flag.status", "structure")], base_r4=True
        ),
    ]
    return Profile(
        pid,
        "Flag",
        CORE + "Flag",
        "Early-intervention alert",
        "An early-intervention alert: kind (alert-kind) and severity (alert-severity extension).",
        elements,
        valid=valid,
        invalid=invalid,
    )


def review_task() -> Profile:
    pid = "hb-review-task"
    t1 = inv(
        "hb-task-1",
        "A completed review records its outcome.",
        "status = 'completed' implies output.exists()",
    )
    elements = [
        el(
            "Task",
            short="Alert review",
            definition="The review workflow of an alert: who must act, status and outcome.",
            constraint=[t1],
        ),
        el("Task.code", min=1, binding=required("task-kind")),
        el("Task.focus", min=1, type=ref("hb-alert-flag")),
        el("Task.for", min=1, type=ref("hb-child")),
        el("Task.intent", fixedCode="order"),
        el("Task.authoredOn", min=1),
    ]
    valid: JSON = {
        "resourceType": "Task",
        "id": "review-1",
        "meta": meta(pid),
        "status": "completed",
        "intent": "order",
        "code": {
            "coding": [
                coding(cs_url("task-kind"), "alert-review", "Review an early-intervention alert")
            ]
        },
        "focus": {"reference": "Flag/alert-1"},
        "for": CHILD_REF,
        "authoredOn": "2026-05-12T10:00:00+08:00",
        "owner": {"reference": "Practitioner/doctor-1"},
        "output": [
            {
                "type": {"text": "review outcome"},
                "valueString": "Confirmed; referred to the MCH hospital nutrition clinic.",
            }
        ],
    }
    invalid = [
        Invalid("plan", [("set", ["intent"], "plan")], [("Task.intent", "value")]),
        Invalid("completed-no-output", [("del", ["output"], None)], [("Task", "invariant")]),
        Invalid(
            "focus-not-flag",
            [("set", ["focus"], {"reference": "Observation/growth-score-example"})],
            [("Task.focus", "invalid")],
        ),
    ]
    return Profile(
        pid,
        "Task",
        CORE + "Task",
        "Alert review task",
        "The review Task for an early-intervention Flag.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def referral() -> Profile:
    pid = "hb-referral"
    referral_cat = {"coding": [coding(SNOMED, "3457005")]}
    elements = [
        el(
            "ServiceRequest",
            short="Referral",
            definition=(
                "A paediatrician's referral of the child (转诊), e.g. to an MCH hospital clinic."
            ),
        ),
        el("ServiceRequest.intent", fixedCode="order"),
        el("ServiceRequest.category", min=1, slicing=PATTERN_SLICING),
        el(
            "ServiceRequest.category:referral",
            sliceName="referral",
            min=1,
            max="1",
            patternCodeableConcept=referral_cat,
        ),
        el("ServiceRequest.code", min=1),
        el("ServiceRequest.subject", type=ref("hb-child")),
        el("ServiceRequest.authoredOn", min=1),
        el(
            "ServiceRequest.requester",
            min=1,
            type=ref("Practitioner", "PractitionerRole", "hb-organization"),
        ),
        el(
            "ServiceRequest.performer",
            min=1,
            type=ref("hb-organization", "Practitioner", "PractitionerRole"),
        ),
    ]
    valid: JSON = {
        "resourceType": "ServiceRequest",
        "id": "referral-1",
        "meta": meta(pid),
        "status": "active",
        "intent": "order",
        "category": [{"coding": [coding(SNOMED, "3457005", "Patient referral")]}],
        "code": {"text": "儿童营养门诊评估 (nutrition clinic assessment)"},
        "subject": CHILD_REF,
        "authoredOn": "2026-05-13T11:00:00+08:00",
        "requester": {"reference": "Practitioner/doctor-1"},
        "performer": [{"reference": "Organization/mch-1"}],
        "supportingInfo": [{"reference": "Flag/alert-1"}],
    }
    invalid = [
        Invalid(
            "no-category", [("del", ["category"], None)], [("ServiceRequest.category", "required")]
        ),
        Invalid(
            "no-requester",
            [("del", ["requester"], None)],
            [("ServiceRequest.requester", "required")],
        ),
        Invalid(
            "proposal", [("set", ["intent"], "proposal")], [("ServiceRequest.intent", "value")]
        ),
    ]
    return Profile(
        pid,
        "ServiceRequest",
        CORE + "ServiceRequest",
        "Referral",
        "A referral ServiceRequest (SNOMED CT 3457005) for a child.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def consent() -> Profile:
    pid = "hb-data-sharing-consent"
    c1 = inv(
        "hb-consent-1",
        "The consent names at least one information recipient (IRCP) it shares with.",
        (
            f"provision.actor.where(role.coding.where(system='{V3_PARTICIPATION}' "
            f"and code='IRCP').exists()).exists()"
        ),
    )
    elements = [
        el(
            "Consent",
            short="Data-sharing consent",
            definition=(
                "A guardian's separate consent (PIPL Art. 29/31) to share the child's "
                "record with an organisation for a purpose."
            ),
            constraint=[c1],
        ),
        el(
            "Consent.scope",
            patternCodeableConcept={"coding": [coding(CONSENT_SCOPE, "patient-privacy")]},
        ),
        el("Consent.category", min=1, slicing=PATTERN_SLICING),
        el(
            "Consent.category:loinc",
            sliceName="loinc",
            min=1,
            max="1",
            patternCodeableConcept={"coding": [coding(LOINC, "59284-0")]},
        ),
        el("Consent.patient", min=1, type=ref("hb-child")),
        el("Consent.dateTime", min=1),
        el("Consent.performer", min=1, type=ref("hb-guardian")),
        el("Consent.organization", min=1, type=ref("hb-organization")),
        el("Consent.policyRule", min=1),
        el("Consent.provision", min=1),
        el("Consent.provision.type", min=1),
        el("Consent.provision.actor", min=1),
        el("Consent.provision.purpose", min=1),
    ]
    valid: JSON = {
        "resourceType": "Consent",
        "id": "consent-1",
        "meta": meta(pid),
        "status": "active",
        "scope": {"coding": [coding(CONSENT_SCOPE, "patient-privacy", "Privacy Consent")]},
        "category": [{"coding": [coding(LOINC, "59284-0", "Patient Consent")]}],
        "patient": CHILD_REF,
        "dateTime": "2026-03-01T08:30:00+08:00",
        "performer": [{"reference": "RelatedPerson/guardian-1"}],
        "organization": [{"reference": "Organization/centre-1"}],
        "policyRule": {"coding": [coding(V3_ACT_CODE, "OPTIN", "opt-in")]},
        "provision": {
            "type": "permit",
            "period": {"start": "2026-03-01", "end": "2027-02-28"},
            "actor": [
                {
                    "role": {"coding": [coding(V3_PARTICIPATION, "IRCP", "information recipient")]},
                    "reference": {"reference": "Organization/mch-1"},
                }
            ],
            "purpose": [coding(V3_ACT_REASON, "TREAT", "treatment")],
        },
    }
    invalid = [
        Invalid(
            "no-recipient",
            [("set", ["provision", "actor", 0, "role", "coding", 0, "code"], "AUT")],
            [("Consent", "invariant")],
        ),
        Invalid(
            "no-performer", [("del", ["performer"], None)], [("Consent.performer", "required")]
        ),
        Invalid(
            "research-scope",
            [("set", ["scope"], {"coding": [coding(CONSENT_SCOPE, "research")]})],
            [("Consent.scope", "value")],
        ),
    ]
    return Profile(
        pid,
        "Consent",
        CORE + "Consent",
        "Data-sharing consent",
        "A guardian's consent to share the child's record with an organisation.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def warning_signs_response() -> Profile:
    pid = "hb-warning-signs-response"
    w1 = inv(
        "hb-wsr-1",
        "Every warning-sign answer is true (sign present) or false.",
        "item.descendants().where(linkId != 'age-point').answer.all(value is boolean)",
    )
    w2 = inv(
        "hb-wsr-2",
        "The age point screened is answered.",
        "item.where(linkId = 'age-point').answer.exists()",
    )
    q = q_url("warning-signs")
    elements = [
        el(
            "QuestionnaireResponse",
            short="Warning-signs screening",
            definition="A developmental warning-signs screening (预警征象筛查) at a checkup.",
            constraint=[w1, w2],
        ),
        el("QuestionnaireResponse.questionnaire", min=1, fixedCanonical=q),
        el("QuestionnaireResponse.subject", min=1, type=ref("hb-child")),
        el("QuestionnaireResponse.authored", min=1),
        el("QuestionnaireResponse.item", min=1),
    ]
    age = {"system": cs_url("checkup-visit"), "code": "12m", "display": "12-month checkup"}
    valid: JSON = {
        "resourceType": "QuestionnaireResponse",
        "id": "warning-signs-1",
        "meta": meta(pid),
        "questionnaire": q,
        "status": "completed",
        "subject": CHILD_REF,
        "encounter": {"reference": "Encounter/checkup-1"},
        "authored": "2026-06-05T09:30:00+08:00",
        "author": {"reference": "Practitioner/doctor-1"},
        "item": [
            {"linkId": "age-point", "answer": [{"valueCoding": age}]},
            {
                "linkId": "group-12m",
                "item": [
                    {"linkId": f"12m-{n}", "answer": [{"valueBoolean": n == 2}]}
                    for n in range(1, 5)
                ],
            },
            {"linkId": "regression", "answer": [{"valueBoolean": False}]},
        ],
    }
    invalid = [
        Invalid(
            "text-answer",
            [("set", ["item", 1, "item", 0, "answer", 0], {"valueString": "否"})],
            [("QuestionnaireResponse", "invariant")],
        ),
        Invalid(
            "other-questionnaire",
            [("set", ["questionnaire"], "http://example.org/Questionnaire/asq")],
            [("QuestionnaireResponse.questionnaire", "value")],
        ),
        Invalid(
            "no-age-point",
            [("set", ["item", 0], {"linkId": "age-point"})],
            [("QuestionnaireResponse", "invariant")],
        ),
        Invalid(
            "no-status",
            [("del", ["status"], None)],
            [("QuestionnaireResponse.status", "required")],
            base_r4=True,
        ),
    ]
    return Profile(
        pid,
        "QuestionnaireResponse",
        CORE + "QuestionnaireResponse",
        "Warning-signs screening",
        "A response to the NHC warning-signs checklist.",
        elements,
        valid=valid,
        invalid=invalid,
    )
