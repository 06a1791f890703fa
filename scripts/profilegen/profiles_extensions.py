"""Our Extension definitions: the child's birth facts, enrolment, the centre's places and
agreements, alert severity, and the centre's day (daily check, absences)."""

from __future__ import annotations

from .common import CORE, JSON, UCUM, el, ref, required, sd_url
from .spec import TYPE_SLICING, Profile


def _extension(
    ext_id: str,
    title: str,
    description: str,
    value_elements: list[JSON],
    context: str = "Patient",
) -> Profile:
    return Profile(
        id=ext_id,
        type="Extension",
        base=CORE + "Extension",
        title=title,
        description=description,
        kind="complex-type",
        context=[{"type": "element", "expression": context}],
        elements=[
            el("Extension", short=title, definition=description),
            el("Extension.extension", max="0"),
            el("Extension.url", fixedUri=sd_url(ext_id)),
            *value_elements,
        ],
    )


def extensions() -> list[Profile]:
    qty = [{"code": "Quantity"}]
    return [
        _extension(
            "birth-weight",
            "Birth weight",
            "Weight at birth, in grams (出生体重).",
            [
                el("Extension.value[x]", min=1, type=qty, slicing=TYPE_SLICING),
                el("Extension.value[x]:valueQuantity", sliceName="valueQuantity", min=1, type=qty),
                el("Extension.value[x]:valueQuantity.value", min=1),
                el("Extension.value[x]:valueQuantity.system", min=1, fixedUri=UCUM),
                el("Extension.value[x]:valueQuantity.code", min=1, fixedCode="g"),
            ],
        ),
        _extension(
            "gestational-age",
            "Gestational age at birth",
            "Completed gestational age at birth, in weeks (出生胎龄); used for corrected age.",
            [
                el("Extension.value[x]", min=1, type=qty, slicing=TYPE_SLICING),
                el("Extension.value[x]:valueQuantity", sliceName="valueQuantity", min=1, type=qty),
                el("Extension.value[x]:valueQuantity.value", min=1),
                el("Extension.value[x]:valueQuantity.system", min=1, fixedUri=UCUM),
                el("Extension.value[x]:valueQuantity.code", min=1, fixedCode="wk"),
            ],
        ),
        _extension(
            "maternal-hbsag",
            "Mother's HBsAg status",
            (
                "The mother's HBsAg status at birth (母亲乙肝表面抗原): positive, negative or "
                "unknown. Positive or unknown: HepB dose 1 within 12 hours plus HBIG; with a "
                "birth weight under 2000 g, HepB at 0, 1, 2 and 7 months (2021 说明)."
            ),
            [
                el(
                    "Extension.value[x]",
                    min=1,
                    type=[{"code": "code"}],
                    binding=required("hbsag-status"),
                ),
            ],
        ),
        Profile(
            id="childcare-enrollment",
            type="Extension",
            base=CORE + "Extension",
            title="Childcare enrolment",
            description=(
                "The child's enrolment at a childcare centre (托育机构): the centre, the class "
                "(班级, a Location) and the period. A centre's staff see the children whose "
                "enrolment period includes today."
            ),
            kind="complex-type",
            context=[{"type": "element", "expression": "Patient"}],
            elements=[
                el("Extension", short="Childcare enrolment"),
                el(
                    "Extension.extension",
                    min=2,
                    slicing={
                        "discriminator": [{"type": "value", "path": "url"}],
                        "ordered": False,
                        "rules": "closed",
                    },
                ),
                el("Extension.extension:centre", sliceName="centre", min=1, max="1"),
                el("Extension.extension:centre.extension", max="0"),
                el("Extension.extension:centre.url", fixedUri="centre"),
                el(
                    "Extension.extension:centre.value[x]",
                    min=1,
                    type=ref("hb-organization", "Organization"),
                ),
                el("Extension.extension:class", sliceName="class", min=0, max="1"),
                el("Extension.extension:class.extension", max="0"),
                el("Extension.extension:class.url", fixedUri="class"),
                el("Extension.extension:class.value[x]", min=1, type=ref("Location")),
                el("Extension.extension:period", sliceName="period", min=1, max="1"),
                el("Extension.extension:period.extension", max="0"),
                el("Extension.extension:period.url", fixedUri="period"),
                el("Extension.extension:period.value[x]", min=1, type=[{"code": "Period"}]),
                el(
                    "Extension.extension:admissionCheckState",
                    sliceName="admissionCheckState",
                    min=0,
                    max="1",
                    short="Entry check of the vaccination certificate (入托查验)",
                    definition=(
                        "Where the entry check of the child's vaccination certificate stands "
                        "for this enrolment (儿童入托、入学预防接种证查验办法, 2021): checked "
                        "within 30 days of entry, catch-up of missing doses, re-check before "
                        "31 December. Absent means not submitted yet."
                    ),
                ),
                el("Extension.extension:admissionCheckState.extension", max="0"),
                el(
                    "Extension.extension:admissionCheckState.url",
                    fixedUri="admission-check-state",
                ),
                el(
                    "Extension.extension:admissionCheckState.value[x]",
                    min=1,
                    type=[{"code": "code"}],
                    binding=required("admission-check-state"),
                ),
                el("Extension.url", fixedUri=sd_url("childcare-enrollment")),
                el("Extension.value[x]", max="0"),
            ],
        ),
        *_day_extensions(),
        _extension(
            "alert-severity",
            "Alert severity",
            "How urgently an early-intervention alert needs review.",
            [
                el(
                    "Extension.value[x]",
                    min=1,
                    type=[{"code": "code"}],
                    binding=required("alert-severity"),
                )
            ],
            context="Flag",
        ),
        _extension(
            "childcare-places",
            "Childcare places",
            (
                "The number of registered childcare places for children under 3 (托位数) of a "
                "centre; summed over filed centres for places per 1,000 population "
                "(每千人口拥有3岁以下婴幼儿托位数, DOMAIN.md §6.1)."
            ),
            [el("Extension.value[x]", min=1, type=[{"code": "integer"}])],
            context="Organization",
        ),
        _extension(
            "area-population",
            "Area population",
            (
                "The resident population (常住人口) of an area — a province, city or county/"
                "district Organization (organization-kind province/city/district) — as its "
                "statistics bureau reports it; the denominator of places per 1,000 population "
                "(每千人口拥有3岁以下婴幼儿托位数, 十四五, DOMAIN.md §6.1). An area without it "
                "takes the sum of its sub-areas' when every one of them has one."
            ),
            [el("Extension.value[x]", min=1, type=[{"code": "positiveInt"}])],
            context="Organization",
        ),
        Profile(
            id="childcare-agreement",
            type="Extension",
            base=CORE + "Extension",
            title="Medical-childcare agreement",
            description=(
                "A childcare centre's signed medical-childcare service agreement (医育结合签约) "
                "with a hospital or community health centre: the health institution and the "
                "period it runs. Repeats, one per agreement; a centre with one in force counts "
                "as signed (signed-centre rate, DOMAIN.md §6.1)."
            ),
            kind="complex-type",
            context=[{"type": "element", "expression": "Organization"}],
            elements=[
                el("Extension", short="Medical-childcare agreement"),
                el(
                    "Extension.extension",
                    min=2,
                    slicing={
                        "discriminator": [{"type": "value", "path": "url"}],
                        "ordered": False,
                        "rules": "closed",
                    },
                ),
                el("Extension.extension:hospital", sliceName="hospital", min=1, max="1"),
                el("Extension.extension:hospital.extension", max="0"),
                el("Extension.extension:hospital.url", fixedUri="hospital"),
                el(
                    "Extension.extension:hospital.value[x]",
                    min=1,
                    type=ref("hb-organization", "Organization"),
                ),
                el("Extension.extension:period", sliceName="period", min=1, max="1"),
                el("Extension.extension:period.extension", max="0"),
                el("Extension.extension:period.url", fixedUri="period"),
                el("Extension.extension:period.value[x]", min=1, type=[{"code": "Period"}]),
                el("Extension.extension:period.value[x].start", min=1),
                el("Extension.url", fixedUri=sd_url("childcare-agreement")),
                el("Extension.value[x]", max="0"),
            ],
        ),
    ]


def _day_extensions() -> list[Profile]:
    """The centre's day: the daily check's session and action (on the check's Observations),
    the absence details (on the attendance Encounter); docs/web.md "The centre's day"."""

    def coded(kind: str, vs: str) -> list[JSON]:
        return [el("Extension.value[x]", min=1, type=[{"code": kind}], binding=required(vs))]

    return [
        _extension(
            "daily-check-session",
            "Daily check session",
            "Which check of the day (晨检 morning, 午检 afternoon) an Observation belongs to.",
            coded("Coding", "daily-check-session"),
            context="Observation",
        ),
        _extension(
            "daily-check-action",
            "Action taken at the daily check",
            (
                "What the centre did about the child at this check: kept under observation, "
                "parent called to collect, isolated, sent to a doctor."
            ),
            coded("CodeableConcept", "daily-check-action"),
            context="Observation",
        ),
        _extension(
            "absence-reported-by",
            "Absence reported by",
            "Who told the centre about the absence: the parent (a leave request) or the staff.",
            [el("Extension.value[x]", min=1, type=[{"code": "code"}])],
            context="Encounter",
        ),
        _extension(
            "absence-diagnosis",
            "Diagnosis of a sick absence",
            "The diagnosis as told by the family or the doctor (因病缺勤追踪), free text.",
            [el("Extension.value[x]", min=1, type=[{"code": "string"}])],
            context="Encounter",
        ),
        _extension(
            "absence-expected-return",
            "Expected return",
            "The day the absent child is expected back at the centre.",
            [el("Extension.value[x]", min=1, type=[{"code": "date"}])],
            context="Encounter",
        ),
        _extension(
            "absence-followed-up",
            "Absence followed up",
            "When the centre contacted the family about this day's absence.",
            [el("Extension.value[x]", min=1, type=[{"code": "dateTime"}])],
            context="Encounter",
        ),
    ]
