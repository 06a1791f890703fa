"""CodeSystems, ValueSets and the NIP vaccine ConceptMap built from the code tables.

Names and codes follow docs/CONVENTIONS.md. External codes (LOINC, SNOMED CT, CVX, ATC, UCUM,
HL7 v3) were checked against readable sources; see each concept's comment or the ConceptMap's
``comment`` for the evidence level.
"""

from __future__ import annotations

from .codes import (
    ABSENCE_REASONS,
    ADMISSION_CHECK_STATES,
    ALERT_KINDS,
    ALERT_SEVERITIES,
    ATC_MAP,
    CARE_LOG_ITEMS,
    CASE_CONDITIONS,
    CASE_OUTCOMES,
    CENTRE_DAY_KINDS,
    CENTRE_DOCUMENTS,
    CHECKUP_VISITS,
    CHILD_SCREENINGS,
    CVX_MAP,
    DAILY_CHECK_ACTIONS,
    DAILY_CHECK_SESSIONS,
    DEVELOPMENTAL_INSTRUMENTS,
    GROWTH_INDICATORS,
    GROWTH_INTERPRETATIONS,
    GROWTH_REFERENCES,
    GUARDIAN_ROLES,
    HBSAG_STATUSES,
    LEAVE_REASONS,
    LOINC_PERCENTILES,
    MEAL_AMOUNTS,
    MOODS,
    NIP_VACCINES,
    ORGANIZATION_KINDS,
    SCREENING_COMPONENTS,
    SCREENING_RESULTS,
    TASK_KINDS,
    TOILETING,
    VaccineMapping,
    warning_signs,
)
from .common import (
    ATC,
    CVX,
    DATE,
    JSON,
    LOINC,
    PUBLISHER,
    SNOMED,
    V3_INTERP,
    V3_ROLE,
    VERSION,
    cm_url,
    cs_url,
    vs_url,
)


def resource_header(
    resource_type: str, rid: str, url: str, name: str, title: str, description: str
) -> JSON:
    return {
        "resourceType": resource_type,
        "id": rid,
        "url": url,
        "version": VERSION,
        "name": name,
        "title": title,
        "status": "active",
        "experimental": False,
        "date": DATE,
        "publisher": PUBLISHER,
        "description": description,
    }


def _zh(text: str) -> JSON:
    return {"language": "zh-CN", "value": text}


def code_system(
    rid: str,
    name: str,
    title: str,
    description: str,
    concepts: list[JSON],
    case_sensitive: bool = True,
) -> JSON:
    """A complete CodeSystem."""
    out = resource_header("CodeSystem", rid, cs_url(rid), name, title, description)
    out.update(
        {
            "caseSensitive": case_sensitive,
            "valueSet": vs_url(rid),
            "content": "complete",
            "count": len(concepts),
            "concept": concepts,
        }
    )
    return out


def simple_concepts(rows: tuple[tuple[str, str, str], ...]) -> list[JSON]:
    """Concepts with an English display and a zh-CN designation."""
    return [{"code": c, "display": en, "designation": [_zh(zh)]} for c, en, zh in rows]


def whole_system_value_set(rid: str, name: str, title: str, description: str) -> JSON:
    """A ValueSet holding every code of our CodeSystem with the same id."""
    out = resource_header("ValueSet", rid, vs_url(rid), name, title, description)
    out["compose"] = {"include": [{"system": cs_url(rid)}]}
    return out


def growth_indicator_concepts() -> list[JSON]:
    """Indicators, then their ``-z`` and ``-p`` derived-observation codes (CONVENTIONS.md)."""
    concepts: list[JSON] = []
    for code, en, zh in GROWTH_INDICATORS:
        concepts.append(
            {
                "code": code,
                "display": en,
                "designation": [_zh(zh)],
                "concept": [
                    {
                        "code": f"{code}-z",
                        "display": f"{en} z-score",
                        "designation": [_zh(f"{zh}Z评分")],
                    },
                    {
                        "code": f"{code}-p",
                        "display": f"{en} percentile",
                        "designation": [_zh(f"{zh}百分位")],
                    },
                ],
            }
        )
    return concepts


def terminology_resources() -> list[JSON]:
    """Every CodeSystem, ValueSet and ConceptMap we publish."""
    res: list[JSON] = []
    cs_specs: list[tuple[str, str, str, str, list[JSON]]] = [
        (
            "growth-indicator",
            "GrowthIndicator",
            "Growth indicators and derived scores",
            (
                "Anthropometric growth indicators (as in growth_standards.Indicator) "
                "and the codes of the derived z-score Observations (`-z`) and of their "
                "percentile components (`-p`)."
            ),
            growth_indicator_concepts(),
        ),
        (
            "growth-reference",
            "GrowthReference",
            "Growth references",
            "The growth standard or reference a z-score or percentile was computed against.",
            simple_concepts(GROWTH_REFERENCES),
        ),
        (
            "alert-kind",
            "AlertKind",
            "Early-intervention alert kinds",
            "What an early-intervention Flag is about.",
            simple_concepts(ALERT_KINDS),
        ),
        (
            "alert-severity",
            "AlertSeverity",
            "Alert severities",
            "How urgently an early-intervention alert needs review.",
            simple_concepts(ALERT_SEVERITIES),
        ),
        (
            "nip-vaccine",
            "NipVaccine",
            "China National Immunization Programme vaccines",
            (
                "NIP vaccines by the abbreviations of the official schedule table "
                "(国家免疫规划疫苗儿童免疫程序, 2021 and 2026 editions), HBIG, and the "
                "combination and non-NIP products the clinical rules credit or recognise."
            ),
            simple_concepts(NIP_VACCINES),
        ),
        (
            "checkup-visit",
            "CheckupVisit",
            "Child health checkup visit types",
            (
                "Visits of the 0-6 years child health management service (基本公共卫生服务规范 "
                "第三版) plus childcare-centre checks."
            ),
            simple_concepts(CHECKUP_VISITS),
        ),
        (
            "organization-kind",
            "OrganizationKind",
            "Organisation kinds",
            "Kinds of organisation sharing the child-health record.",
            simple_concepts(ORGANIZATION_KINDS),
        ),
        (
            "hbsag-status",
            "HbsagStatus",
            "Mother's HBsAg status",
            (
                "The mother's hepatitis B surface antigen status at the child's birth: positive "
                "or unknown selects HBIG and, under 2000 g, the 4-dose HepB course (2021 说明)."
            ),
            simple_concepts(HBSAG_STATUSES),
        ),
        (
            "admission-check-state",
            "AdmissionCheckState",
            "Admission vaccination-certificate check states",
            (
                "State of a child's entry check of the vaccination certificate at a childcare "
                "centre (儿童入托、入学预防接种证查验办法, 2021): submitted, assessed complete or "
                "incomplete, catch-up, re-check before 31 December."
            ),
            simple_concepts(ADMISSION_CHECK_STATES),
        ),
        (
            "managed-case-condition",
            "ManagedCaseCondition",
            "Managed-case conditions",
            (
                "Why a child is managed as a case (体弱儿/高危儿专案管理): the conditions of the "
                "rule table managed-cases (儿童营养性疾病管理技术规范, 2012; 早产儿保健工作规范, "
                "2017)."
            ),
            simple_concepts(CASE_CONDITIONS),
        ),
        (
            "case-outcome",
            "CaseOutcome",
            "Managed-case outcomes",
            "The outcome (转归) recorded when a managed case is closed (结案).",
            simple_concepts(CASE_OUTCOMES),
        ),
        (
            "child-screening",
            "ChildScreening",
            "Scheduled child screenings",
            (
                "Screenings of the 0-6 child health programme recorded as Observations "
                "(rule table screening-schedule): hearing, eye and vision, oral health, "
                "developmental assessment. Haemoglobin is LOINC 718-7."
            ),
            simple_concepts(CHILD_SCREENINGS),
        ),
        (
            "screening-component",
            "ScreeningComponent",
            "Screening result components",
            "Components of a screening Observation: visual acuities, teeth, DQ and instrument.",
            simple_concepts(SCREENING_COMPONENTS),
        ),
        (
            "screening-result",
            "ScreeningResult",
            "Screening results",
            "The examiner's result of a screening: pass, or refer (not passed).",
            simple_concepts(SCREENING_RESULTS),
        ),
        (
            "developmental-instrument",
            "DevelopmentalInstrument",
            "Developmental instruments",
            (
                "Standard developmental screening and assessment instruments used in China "
                "(WS/T 580-2017 儿心量表-II, Gesell, ASQ-C, DDST, DST, Griffiths, Bayley): the "
                "result is recorded, never an instrument's licensed items."
            ),
            simple_concepts(DEVELOPMENTAL_INSTRUMENTS),
        ),
        (
            "daily-check-session",
            "DailyCheckSession",
            "Daily health check sessions",
            "The morning check (晨检) and the afternoon check (午检) of a childcare centre.",
            simple_concepts(DAILY_CHECK_SESSIONS),
        ),
        (
            "daily-check-action",
            "DailyCheckAction",
            "Action taken at the daily health check",
            (
                "What the centre did about a child found unwell at the morning/afternoon check "
                "or during all-day observation (托儿所幼儿园卫生保健工作规范, 2012)."
            ),
            simple_concepts(DAILY_CHECK_ACTIONS),
        ),
        (
            "absence-reason",
            "AbsenceReason",
            "Childcare absence reasons",
            "Why a child is absent from the centre (因病缺勤追踪 tells sick absences apart).",
            simple_concepts(ABSENCE_REASONS),
        ),
        (
            "centre-day",
            "CentreDay",
            "Childcare centre day records",
            "Kinds of Encounter recording a child's day at a childcare centre.",
            simple_concepts(CENTRE_DAY_KINDS),
        ),
        (
            "task-kind",
            "TaskKind",
            "Review task kinds",
            "What a HealthBridge workflow Task asks someone to do.",
            simple_concepts(TASK_KINDS),
        ),
    ]
    cs_specs += [
        (
            "centre-document",
            "CentreDocument",
            "Documents of a childcare centre",
            (
                "Kinds of Composition a childcare centre keeps about itself (not about one "
                "child): the weekly menu with amounts (带量食谱)."
            ),
            simple_concepts(CENTRE_DOCUMENTS),
        ),
        (
            "care-log",
            "CareLog",
            "Daily care log items",
            (
                "What a childcare centre records of each child's day (保育日志: meals, nap, "
                "toileting, outdoor time, mood; 托儿所幼儿园卫生保健工作规范 2012)."
            ),
            simple_concepts(CARE_LOG_ITEMS),
        ),
        (
            "meal-amount",
            "MealAmount",
            "Amount of a meal eaten",
            "How much of a served meal the child ate (the centre's five-step scale).",
            simple_concepts(MEAL_AMOUNTS),
        ),
        (
            "toileting",
            "Toileting",
            "Toileting observations",
            "What the staff saw of the child's toileting in the day.",
            simple_concepts(TOILETING),
        ),
        (
            "leave-reason",
            "LeaveReason",
            "Leave request reasons",
            "Why a guardian asks leave for the child (病假 sick, 事假 personal).",
            simple_concepts(LEAVE_REASONS),
        ),
        (
            "mood",
            "Mood",
            "Mood in the day",
            "The child's mood as the staff saw it.",
            simple_concepts(MOODS),
        ),
    ]
    signs = warning_signs()
    sign_concepts = [
        {"code": s.code, "display": s.en, "designation": [_zh(s.zh)]} for s in signs
    ] + [
        {
            "code": "regression",
            "display": "Regression of language or social skills at any age",
            "designation": [_zh("任何年龄出现语言或社交技能倒退")],
        }
    ]
    cs_specs.append(
        (
            "warning-sign",
            "WarningSign",
            "Developmental warning-sign items",
            (
                "Items of the NHC 儿童心理行为发育问题预警征象筛查表 "
                "(4 per age point, 3 months to 6 years), coded `{age}-{item}`, plus `regression`."
            ),
            sign_concepts,
        )
    )
    for rid, name, title, desc, concepts in cs_specs:
        res.append(code_system(rid, name, title, desc, concepts))
        res.append(
            whole_system_value_set(rid, name, title, f"All codes of the {title} code system.")
        )

    # Derived growth-score codes: our -z / -p codes plus the verified LOINC percentiles.
    derived = resource_header(
        "ValueSet",
        "growth-score-code",
        vs_url("growth-score-code"),
        "GrowthScoreCode",
        "Growth z-score and percentile codes",
        (
            "Codes for a derived growth z-score Observation or its percentile component: "
            "our growth-indicator `-z`/`-p` codes, and LOINC percentile codes where one "
            "exists."
        ),
    )
    derived["compose"] = {
        "include": [
            {
                "system": cs_url("growth-indicator"),
                "concept": [
                    {"code": f"{c}-{k}"} for c, _, _ in GROWTH_INDICATORS for k in ("z", "p")
                ],
            },
            {
                "system": LOINC,
                "concept": [{"code": lc, "display": d} for _, lc, d in LOINC_PERCENTILES],
            },
        ]
    }
    res.append(derived)
    guardian = resource_header(
        "ValueSet",
        "guardian-relationship",
        vs_url("guardian-relationship"),
        "GuardianRelationship",
        "Guardian relationships",
        (
            "How a guardian is related to the child (HL7 v3 RoleCode, codes checked "
            "against the R4 v3-RoleCode code system)."
        ),
    )
    guardian["compose"] = {
        "include": [
            {"system": V3_ROLE, "concept": [{"code": c, "display": d} for c, d in GUARDIAN_ROLES]}
        ]
    }
    res.append(guardian)
    interp = resource_header(
        "ValueSet",
        "growth-interpretation",
        vs_url("growth-interpretation"),
        "GrowthInterpretation",
        "Growth score interpretations",
        (
            "Interpretation of a growth z-score: below -3 SD (LL), below -2 SD (L), "
            "normal (N), above +2 SD (H), above +3 SD (HH); cut-offs per indicator "
            "live in the clinical rule tables."
        ),
    )
    interp["compose"] = {
        "include": [
            {
                "system": V3_INTERP,
                "concept": [{"code": c, "display": d} for c, d in GROWTH_INTERPRETATIONS],
            }
        ]
    }
    res.append(interp)
    tst = resource_header(
        "ValueSet",
        "tb-test-result",
        vs_url("tb-test-result"),
        "TbTestResult",
        "Tuberculin skin test results",
        (
            "The result of a tuberculin skin test (PPD/TST): SNOMED CT qualifier values "
            "negative / positive, as the WHO SMART Immunizations IG maps its TST results "
            "(ConceptMap IMMZ.D to SNOMED CT, http://smart.who.int/immunizations)."
        ),
    )
    tst["compose"] = {
        "include": [
            {
                "system": SNOMED,
                "concept": [
                    {"code": "260385009", "display": "Negative"},
                    {"code": "10828004", "display": "Positive"},
                ],
            }
        ]
    }
    res.append(tst)
    res.append(vaccine_concept_map())
    return res


def _map_group(target_system: str, rows: tuple[VaccineMapping, ...], what: str) -> JSON:
    elements: list[JSON] = []
    for m in rows:
        target: JSON = {"equivalence": m.equivalence}
        if m.target is not None:
            target["code"] = m.target
        if m.evidence == "M":
            target["comment"] = (
                f"Not verified against the {what} source (DOMAIN.md §1.5 tag [M]); check "
                f"before relying on it."
            )
        elif m.evidence == "U":
            target["comment"] = (
                f"Not verified: not in DOMAIN.md, from general knowledge of the {what} code "
                f"table; check before relying on it."
            )
        elif m.evidence == "-":
            target["comment"] = f"No {what} code found for this vaccine."
        elif m.equivalence == "wider":
            target["comment"] = (
                f"The {what} code is broader than this NIP vaccine (DOMAIN.md §1.5 tag [C])."
            )
        else:
            target["comment"] = "DOMAIN.md §1.5 tag [C]."
        elements.append({"code": m.nip, "target": [target]})
    return {"source": cs_url("nip-vaccine"), "target": target_system, "element": elements}


def vaccine_concept_map() -> JSON:
    """NIP vaccine → CVX and ATC, with honest equivalences."""
    out = resource_header(
        "ConceptMap",
        "nip-vaccine-cvx-atc",
        cm_url("nip-vaccine-cvx-atc"),
        "NipVaccineCvxAtc",
        "NIP vaccines to CVX and ATC",
        (
            "Maps China NIP vaccines to US CDC CVX and WHO ATC codes. `equivalent` "
            "only where the code was confirmed; `wider` where the target is "
            "broader; `relatedto` marks mappings not re-verified against the target "
            "code system."
        ),
    )
    out["sourceCanonical"] = vs_url("nip-vaccine")
    out["group"] = [_map_group(CVX, CVX_MAP, "CVX"), _map_group(ATC, ATC_MAP, "ATC")]
    return out
