"""Code tables of our CodeSystems and the NIP vaccine mappings (names per docs/CONVENTIONS.md).

External codes were checked against readable sources; evidence levels are in comments.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

# --- growth indicators (growth_standards.Indicator values) ----------------------------------

GROWTH_INDICATORS: tuple[tuple[str, str, str], ...] = (
    ("wfa", "Weight-for-age", "年龄别体重"),
    ("lhfa", "Length/height-for-age", "年龄别身长/身高"),
    ("wfl", "Weight-for-length", "身长别体重"),
    ("wfh", "Weight-for-height", "身高别体重"),
    ("bfa", "BMI-for-age", "年龄别BMI"),
    ("hcfa", "Head circumference-for-age", "年龄别头围"),
    ("acfa", "Arm circumference-for-age", "年龄别上臂围"),
    ("tsfa", "Triceps skinfold-for-age", "年龄别三头肌皮褶厚度"),
    ("ssfa", "Subscapular skinfold-for-age", "年龄别肩胛下皮褶厚度"),
)

#: LOINC percentile codes that exist for some indicators (verified: US Core pediatric
#: profiles use 59576-9 and 77606-2; US Core / TW Core head-circumference percentile use
#: 8289-1). No LOINC z-score codes were verified, so z-scores use our own codes only.
LOINC_PERCENTILES: tuple[tuple[str, str, str], ...] = (
    ("bfa-p", "59576-9", "Body mass index (BMI) [Percentile] Per age and sex"),
    ("wfl-p", "77606-2", "Weight-for-length Per age and sex"),
    ("hcfa-p", "8289-1", "Head Occipital-frontal circumference Percentile"),
)

GROWTH_REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("who-2006", "WHO Child Growth Standards 2006 (0-5 years)", "WHO 2006 儿童生长标准"),
    ("who-2007", "WHO Growth Reference 2007 (5-19 years)", "WHO 2007 生长参考值"),
    (
        "wst423-2022",
        "WS/T 423-2022 Growth standard for children under 7 years",
        "WS/T 423-2022 7岁以下儿童生长标准",
    ),
)

NIP_VACCINES: tuple[tuple[str, str, str], ...] = (
    ("HepB", "Hepatitis B vaccine", "乙肝疫苗"),
    ("BCG", "BCG vaccine", "卡介苗"),
    ("IPV", "Inactivated poliovirus vaccine", "脊灰灭活疫苗"),
    ("bOPV", "Bivalent oral poliovirus vaccine (types 1 and 3)", "二价脊灰减毒活疫苗"),
    ("DTaP", "Diphtheria, tetanus and acellular pertussis vaccine", "百白破疫苗"),
    ("DT", "Diphtheria and tetanus vaccine (paediatric)", "白破疫苗"),
    ("MMR", "Measles, mumps and rubella vaccine", "麻腮风疫苗"),
    ("JE-L", "Japanese encephalitis vaccine, live attenuated", "乙脑减毒活疫苗"),
    ("JE-I", "Japanese encephalitis vaccine, inactivated", "乙脑灭活疫苗"),
    ("MPSV-A", "Group A meningococcal polysaccharide vaccine", "A群流脑多糖疫苗"),
    ("MPSV-AC", "Groups A and C meningococcal polysaccharide vaccine", "A群C群流脑多糖疫苗"),
    ("HepA-L", "Hepatitis A vaccine, live attenuated", "甲肝减毒活疫苗"),
    ("HepA-I", "Hepatitis A vaccine, inactivated", "甲肝灭活疫苗"),
    ("HPV2", "Bivalent human papillomavirus vaccine", "双价HPV疫苗"),
    ("HBIG", "Hepatitis B immunoglobulin (not a vaccine)", "乙型肝炎免疫球蛋白"),
    # Combination and non-NIP products (clinical rule table vaccine-products: which NIP
    # vaccines each counts as)
    (
        "DTaP-IPV-Hib",
        "DTaP-IPV/Hib combination vaccine (5-in-1)",
        "百白破-脊灰-Hib联合疫苗（五联）",
    ),
    ("DTaP-Hib", "DTaP-Hib combination vaccine (4-in-1)", "百白破-Hib联合疫苗（四联）"),
    ("DTaP-IPV", "DTaP-IPV combination vaccine", "百白破-脊灰联合疫苗"),
    ("DTaP-IPV-Hib-HepB", "DTaP-IPV-Hib-HepB combination vaccine (6-in-1)", "六联疫苗"),
    ("MMRV", "Measles, mumps, rubella and varicella vaccine", "麻腮风水痘联合疫苗"),
    ("HepA-HepB", "Hepatitis A and B vaccine", "甲乙肝联合疫苗"),
    ("Hib", "Haemophilus influenzae type b conjugate vaccine", "b型流感嗜血杆菌结合疫苗"),
    ("PCV13", "13-valent pneumococcal conjugate vaccine", "13价肺炎球菌多糖结合疫苗"),
    ("EV71", "Enterovirus 71 vaccine", "肠道病毒71型灭活疫苗"),
    ("VAR", "Varicella vaccine", "水痘减毒活疫苗"),
    ("Rota", "Rotavirus vaccine", "轮状病毒疫苗"),
    ("Flu", "Influenza vaccine", "流感疫苗"),
    (
        "MenAC-conj",
        "Meningococcal groups A and C conjugate vaccine",
        "A群C群脑膜炎球菌多糖结合疫苗",
    ),
    ("MR", "Measles and rubella vaccine", "麻疹风疹联合减毒活疫苗"),
)

#: The mother's HBsAg status at the child's birth (hb-child extension ``maternal-hbsag``).
HBSAG_STATUSES: tuple[tuple[str, str, str], ...] = (
    ("positive", "HBsAg positive", "阳性"),
    ("negative", "HBsAg negative", "阴性"),
    ("unknown", "HBsAg status unknown (not tested)", "不详"),
)


@dataclass(frozen=True)
class VaccineMapping:
    """One NIP vaccine → CVX / ATC mapping with its evidence level from DOMAIN.md §1.5."""

    nip: str
    target: str | None
    equivalence: str
    evidence: str


#: CVX: [C] codes whose CVX meaning matches are ``equivalent``; CVX "unspecified formulation"
#: codes are ``wider``; [M] (not re-verified) are ``relatedto`` with a comment saying so.
CVX_MAP: tuple[VaccineMapping, ...] = (
    VaccineMapping("HepB", "08", "equivalent", "C"),
    VaccineMapping("BCG", "19", "equivalent", "C"),
    VaccineMapping("IPV", "10", "equivalent", "C"),
    VaccineMapping("bOPV", "178", "equivalent", "C"),
    VaccineMapping("DTaP", "20", "relatedto", "M"),
    VaccineMapping("DT", "28", "equivalent", "C"),
    VaccineMapping("MMR", "03", "relatedto", "M"),
    VaccineMapping("JE-L", "129", "wider", "C"),
    VaccineMapping("JE-I", "134", "equivalent", "C"),
    VaccineMapping("MPSV-A", "191", "equivalent", "C"),
    VaccineMapping("MPSV-AC", "192", "equivalent", "C"),
    VaccineMapping("HepA-L", "85", "wider", "C"),
    VaccineMapping("HepA-I", "83", "equivalent", "C"),
    VaccineMapping("HPV2", "118", "equivalent", "C"),
    # products not in DOMAIN.md §1.5: CVX codes from general knowledge of the CDC CVX table,
    # unconfirmed ("U": relatedto, check before relying on them)
    VaccineMapping("HBIG", "30", "relatedto", "U"),
    VaccineMapping("DTaP-IPV-Hib", "120", "relatedto", "U"),
    VaccineMapping("DTaP-Hib", "50", "relatedto", "U"),
    VaccineMapping("DTaP-IPV", "130", "relatedto", "U"),
    VaccineMapping("DTaP-IPV-Hib-HepB", "146", "relatedto", "U"),
    VaccineMapping("MMRV", "94", "relatedto", "U"),
    VaccineMapping("HepA-HepB", "104", "relatedto", "U"),
    VaccineMapping("Hib", "17", "relatedto", "U"),
    VaccineMapping("PCV13", "133", "relatedto", "U"),
    VaccineMapping("VAR", "21", "relatedto", "U"),
    VaccineMapping("Rota", "122", "relatedto", "U"),
    VaccineMapping("Flu", "88", "relatedto", "U"),
    VaccineMapping("MR", "04", "equivalent", "C"),
    VaccineMapping("EV71", None, "unmatched", "-"),
    VaccineMapping("MenAC-conj", None, "unmatched", "-"),
)

#: ATC level-5 codes name a substance class, so even verified codes are ``wider`` than one
#: NIP product; unverified ones are ``relatedto``. HepA-L has no ATC code in our sources.
ATC_MAP: tuple[VaccineMapping, ...] = (
    VaccineMapping("HepB", "J07BC01", "wider", "C"),
    VaccineMapping("BCG", "J07AN01", "relatedto", "M"),
    VaccineMapping("IPV", "J07BF03", "relatedto", "M"),
    VaccineMapping("bOPV", "J07BF04", "relatedto", "M"),
    VaccineMapping("DTaP", "J07AJ52", "relatedto", "M"),
    VaccineMapping("DT", "J07AM51", "relatedto", "M"),
    VaccineMapping("MMR", "J07BD52", "relatedto", "M"),
    VaccineMapping("JE-L", "J07BA03", "relatedto", "M"),
    VaccineMapping("JE-I", "J07BA02", "relatedto", "M"),
    VaccineMapping("MPSV-A", "J07AH01", "relatedto", "M"),
    VaccineMapping("MPSV-AC", "J07AH03", "wider", "C"),
    VaccineMapping("HepA-L", None, "unmatched", "-"),
    VaccineMapping("HepA-I", "J07BC02", "relatedto", "M"),
    VaccineMapping("HPV2", "J07BM02", "relatedto", "M"),
    VaccineMapping("HBIG", "J06BB04", "relatedto", "U"),
    VaccineMapping("DTaP-IPV-Hib", "J07CA06", "relatedto", "U"),
    VaccineMapping("PCV13", "J07AL02", "relatedto", "U"),
    VaccineMapping("VAR", "J07BK01", "relatedto", "U"),
    *(
        VaccineMapping(code, None, "unmatched", "-")
        for code in (
            "DTaP-Hib",
            "DTaP-IPV",
            "DTaP-IPV-Hib-HepB",
            "MMRV",
            "HepA-HepB",
            "Hib",
            "EV71",
            "Rota",
            "Flu",
            "MenAC-conj",
            "MR",
        )
    ),
)

ALERT_KINDS: tuple[tuple[str, str, str], ...] = (
    ("underweight", "Underweight (weight-for-age below -2 SD)", "低体重"),
    ("stunting", "Stunting (length/height-for-age below -2 SD)", "生长迟缓"),
    ("wasting", "Wasting (weight-for-length/height or BMI-for-age below -2 SD)", "消瘦"),
    ("overweight", "Overweight", "超重"),
    ("obesity", "Obesity", "肥胖"),
    ("microcephaly", "Small head circumference", "小头"),
    ("macrocephaly", "Large head circumference", "大头"),
    ("growth-faltering", "Growth faltering (falling across centiles)", "增长不良"),
    ("flat-growth", "Flat growth between two visits", "生长停滞"),
    ("rapid-weight-gain", "Rapid weight gain", "增长过速"),
    ("measurement-overdue", "Growth measurement overdue", "生长测量逾期"),
    ("implausible-measurement", "Biologically implausible measurement", "测量值不合理"),
    ("checkup-due", "Health checkup due", "体检到期"),
    ("checkup-overdue", "Health checkup overdue", "体检逾期"),
    ("checkup-missed", "Health checkup missed", "体检错过"),
    ("vaccine-due", "Vaccine dose due", "疫苗到期"),
    ("vaccine-overdue", "Vaccine dose overdue", "疫苗逾期"),
    (
        "admission-vaccination-incomplete",
        "Vaccination incomplete at admission check",
        "入托查验接种不全",
    ),
    ("fever", "Fever at the daily health check", "发热"),
    ("symptom", "Symptom at the daily health check", "晨午检症状"),
    ("outbreak-cluster", "Possible infectious-disease cluster", "疑似传染病聚集"),
    ("anaemia", "Anaemia (haemoglobin below the age cut-off)", "贫血"),
    ("warning-sign-positive", "Developmental warning-signs screen positive", "发育预警征象阳性"),
    ("case-follow-up-overdue", "Managed-case follow-up overdue", "专案管理随访逾期"),
    (
        "high-risk-not-managed",
        "High-risk infant follow-up due, not a managed case",
        "高危儿随访未建档",
    ),
    ("screening-due", "Scheduled screening due", "筛查到期"),
    ("screening-overdue", "Scheduled screening overdue", "筛查逾期"),
    ("screening-abnormal", "Abnormal screening result", "筛查结果异常"),
)

ALERT_SEVERITIES: tuple[tuple[str, str, str], ...] = (
    ("low", "Low", "低"),
    ("moderate", "Moderate", "中"),
    ("high", "High", "高"),
)

CHECKUP_VISITS: tuple[tuple[str, str, str], ...] = (
    ("birth", "Measurements at birth (birth certificate record)", "出生时测量"),
    ("newborn-home", "Newborn home visit", "新生儿家庭访视"),
    ("1m", "1-month checkup", "满月体检"),
    ("3m", "3-month checkup", "3月龄体检"),
    ("6m", "6-month checkup", "6月龄体检"),
    ("8m", "8-month checkup", "8月龄体检"),
    ("12m", "12-month checkup", "12月龄体检"),
    ("18m", "18-month checkup", "18月龄体检"),
    ("24m", "24-month checkup", "24月龄体检"),
    ("30m", "30-month checkup", "30月龄体检"),
    ("36m", "36-month checkup", "36月龄体检"),
    ("4y", "4-year checkup", "4岁体检"),
    ("5y", "5-year checkup", "5岁体检"),
    ("6y", "6-year checkup", "6岁体检"),
    ("admission", "Childcare admission health examination", "入托体检"),
    ("centre-growth", "Growth measurement at the childcare centre", "托育机构生长监测"),
    ("daily-check", "Daily (morning/noon) health check", "晨午检"),
)

ORGANIZATION_KINDS: tuple[tuple[str, str, str], ...] = (
    ("childcare-centre", "Childcare centre (托育机构)", "托育机构"),
    ("kindergarten", "Kindergarten", "幼儿园"),
    ("mch-hospital", "Maternal and child health hospital", "妇幼保健院"),
    (
        "community-health-centre",
        "Community or township health centre",
        "社区卫生服务中心/乡镇卫生院",
    ),
    ("hospital", "Hospital", "医院"),
    ("cdc", "Centre for disease control", "疾病预防控制中心"),
    # Administrative areas (jurisdictions, GB/T 2260 levels): an official's organisation and
    # the Organization.partOf of everything under it (docs/reports.md "Jurisdictions").
    ("province", "Province-level area (health commission)", "省级（卫生健康委员会）"),
    ("city", "City-level area (health commission)", "市级（卫生健康委员会）"),
    ("district", "County or district-level area (health bureau)", "县/区级（卫生健康局）"),
)

#: Entry check of the vaccination certificate (入托查验; 查验办法 2021, DOMAIN.md §1.4). The codes
#: are healthbridge.clinical.admission.AdmissionState's values, which the pipeline reads.
ADMISSION_CHECK_STATES: tuple[tuple[str, str, str], ...] = (
    ("not_submitted", "Certificate not yet submitted", "未提交预防接种证"),
    ("submitted", "Certificate submitted, awaiting assessment", "已提交，待评估"),
    ("assessed_complete", "Assessed: vaccination complete", "已查验：接种完整"),
    ("assessed_incomplete", "Assessed: doses missing, catch-up needed", "已查验：需补种"),
    ("catchup_in_progress", "Catch-up in progress", "补种中"),
    ("catchup_recorded", "Catch-up recorded by the vaccination unit", "补种已登记"),
    ("rechecked", "Re-checked by the centre after catch-up", "补种后已复验"),
)

TASK_KINDS: tuple[tuple[str, str, str], ...] = (
    ("alert-review", "Review an early-intervention alert", "预警复核"),
    ("follow-up", "Follow up a managed case", "随访"),
    ("leave-request", "A guardian's leave request (absence notice)", "请假"),
)

#: Managed-case conditions (体弱儿/高危儿专案管理; the rule table managed-cases.toml; WS 364
#: CV05.10.007 儿童体弱原因类别 covers the frail ones).
CASE_CONDITIONS: tuple[tuple[str, str, str], ...] = (
    ("malnutrition-moderate", "Moderate malnutrition", "中度营养不良"),
    ("malnutrition-severe", "Severe malnutrition", "重度营养不良"),
    ("anaemia", "Iron-deficiency anaemia", "营养性缺铁性贫血"),
    ("rickets", "Vitamin D deficiency rickets (active)", "维生素D缺乏性佝偻病（活动期）"),
    ("obesity", "Overweight / obesity", "超重/肥胖"),
    ("preterm-lbw", "Preterm or low birth weight", "早产/低出生体重"),
    ("high-risk-newborn", "Other high-risk newborn", "其他高危新生儿"),
)

#: Outcomes (转归) of a closed managed case.
CASE_OUTCOMES: tuple[tuple[str, str, str], ...] = (
    ("cured", "Cured", "治愈"),
    ("improved", "Improved", "好转"),
    ("referred", "Referred", "转诊"),
    ("lost", "Lost to follow-up", "失访"),
)

#: Scheduled screenings recorded as Observations (rule table screening-schedule; haemoglobin
#: is LOINC 718-7, profile hb-haemoglobin). No LOINC codes were verified for these, so local
#: codes are used (unconfirmed codes are not guessed).
CHILD_SCREENINGS: tuple[tuple[str, str, str], ...] = (
    ("hearing", "Hearing screen (behavioural audiometry)", "听力筛查"),
    ("eye", "Eye care and vision check", "眼保健和视力检查"),
    ("oral", "Oral health check", "口腔检查"),
    ("development", "Developmental assessment with a standard instrument", "发育评估"),
)

#: Components of a screening Observation.
SCREENING_COMPONENTS: tuple[tuple[str, str, str], ...] = (
    ("visual-acuity-left", "Uncorrected visual acuity, left eye (decimal)", "左眼裸眼视力"),
    ("visual-acuity-right", "Uncorrected visual acuity, right eye (decimal)", "右眼裸眼视力"),
    ("caries", "Number of decayed teeth", "龋齿数"),
    ("teeth", "Number of erupted teeth", "出牙数"),
    ("fluoride-varnish", "Fluoride varnish applied", "涂氟"),
    ("instrument", "Developmental instrument used", "评估量表"),
    ("score", "Raw or total score of the instrument", "量表得分"),
    ("dq", "Developmental quotient (DQ)", "发育商"),
)

#: The examiner's result of a screening.
SCREENING_RESULTS: tuple[tuple[str, str, str], ...] = (
    ("pass", "Pass (no concern)", "通过"),
    ("refer", "Refer (not passed; further assessment)", "未通过/转诊"),
)

#: Standard developmental instruments used in China (DOMAIN.md §4.3): the result is recorded,
#: never the instruments' licensed items.
DEVELOPMENTAL_INSTRUMENTS: tuple[tuple[str, str, str], ...] = (
    ("wst580", "Child development assessment scale WS/T 580-2017 (儿心量表-II)", "儿心量表-II"),
    ("gesell", "Gesell Developmental Schedules", "Gesell发育量表"),
    ("asq-c", "Ages & Stages Questionnaires, Chinese edition (ASQ-C)", "年龄与发育进程问卷"),
    ("ddst", "Denver Developmental Screening Test, Chinese revision", "丹佛发育筛查测验"),
    ("dst", "Developmental Screening Test for children 0-6 (DST)", "0～6岁儿童智能发育筛查测验"),
    ("griffiths", "Griffiths Development Scales, Chinese edition", "Griffiths发育评估量表"),
    ("bayley", "Bayley Scales of Infant Development", "贝利婴幼儿发展量表"),
)

GUARDIAN_ROLES: tuple[tuple[str, str], ...] = (
    ("MTH", "mother"),
    ("FTH", "father"),
    ("GRMTH", "grandmother"),
    ("GRFTH", "grandfather"),
    ("GUARD", "guardian"),
    ("FAMMEMB", "family member"),
)

GROWTH_INTERPRETATIONS: tuple[tuple[str, str], ...] = (
    ("LL", "Critical low"),
    ("L", "Low"),
    ("N", "Normal"),
    ("H", "High"),
    ("HH", "Critical high"),
)


@dataclass(frozen=True)
class WarningSign:
    """One item of the NHC warning-signs checklist (DOMAIN.md §4.3)."""

    age_code: str
    months: int
    number: int
    zh: str
    en: str

    @property
    def code(self) -> str:
        """Our CodeSystem code, e.g. ``12m-3``."""
        return f"{self.age_code}-{self.number}"


def warning_signs() -> list[WarningSign]:
    """Read the checklist items from ``warning_signs.tsv``."""
    rows: list[WarningSign] = []
    path = Path(__file__).with_name("warning_signs.tsv")
    with path.open(encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    for age_code, months, number, zh, en in csv.reader(lines, delimiter="\t"):
        rows.append(WarningSign(age_code, int(months), int(number), zh, en))
    return rows


# The centre's day (issue 16: attendance, morning/afternoon check, sick-absence follow-up).
DAILY_CHECK_SESSIONS: tuple[tuple[str, str, str], ...] = (
    ("morning", "Morning check", "晨检"),
    ("afternoon", "Afternoon check", "午检"),
)

DAILY_CHECK_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("observe", "Kept at the centre under observation", "留园观察"),
    ("parent-collect", "Parent called to collect the child", "通知家长接回"),
    ("isolate", "Isolated", "隔离观察"),
    ("doctor", "Sent to a doctor", "建议就医"),
)

ABSENCE_REASONS: tuple[tuple[str, str, str], ...] = (
    ("sick", "Absent because of illness", "病假"),
    ("personal", "Absent for a personal reason", "事假"),
    ("unnotified", "Absent without notice (cause to be found out)", "未通知"),
)

CENTRE_DAY_KINDS: tuple[tuple[str, str, str], ...] = (
    ("attendance", "A child's day at the childcare centre (attendance)", "在园出勤"),
)


# Daily care log (保育日志) of a childcare centre: what the staff record for each child
# in the day (托儿所幼儿园卫生保健工作规范 2012, 一日生活安排; codes are HealthBridge's own —
# no LOINC/SNOMED code for "amount of lunch eaten at nursery" was confirmed).
CARE_LOG_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("breakfast", "Breakfast (amount eaten)", "早餐（进食量）"),
    ("lunch", "Lunch (amount eaten)", "午餐（进食量）"),
    ("snack", "Afternoon snack (amount eaten)", "午点（进食量）"),
    ("dinner", "Dinner (amount eaten)", "晚餐（进食量）"),
    ("nap", "Nap (from-to)", "午睡（起止时间）"),
    ("toileting", "Toileting", "如厕/大小便"),
    ("outdoor", "Outdoor time (minutes)", "户外活动（分钟）"),
    ("mood", "Mood and notes", "情绪与备注"),
)
MEAL_ITEMS: tuple[str, ...] = ("breakfast", "lunch", "snack", "dinner")
# Documents a centre keeps about itself (a Composition whose subject is the centre).
CENTRE_DOCUMENTS: tuple[tuple[str, str, str], ...] = (
    ("weekly-menu", "Weekly menu with amounts", "带量食谱"),
)
MEAL_AMOUNTS: tuple[tuple[str, str, str], ...] = (
    ("all", "Ate all", "全部吃完"),
    ("most", "Ate most", "吃了大部分"),
    ("half", "Ate about half", "吃了一半"),
    ("little", "Ate a little", "吃了少量"),
    ("none", "Did not eat", "未进食"),
)
TOILETING: tuple[tuple[str, str, str], ...] = (
    ("normal", "Normal stool", "大便正常"),
    ("loose", "Loose stool", "稀便"),
    ("none", "No stool today", "今日未大便"),
    ("accident", "Wet or soiled clothes", "尿湿/弄脏衣裤"),
)
MOODS: tuple[tuple[str, str, str], ...] = (
    ("happy", "Happy", "愉快"),
    ("calm", "Calm", "平静"),
    ("upset", "Upset or crying", "哭闹/不安"),
    ("tired", "Tired", "疲倦"),
)

# Reason of a guardian's leave request (请假): 病假 / 事假.
LEAVE_REASONS: tuple[tuple[str, str, str], ...] = (
    ("sick", "Sick leave", "病假"),
    ("personal", "Personal leave", "事假"),
)
