"""Paediatrician pages: children shared with the hospital, the visit form, referrals."""

from __future__ import annotations

import datetime as dt
import logging
from functools import cache

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from fhir_profiles.loader import resource_by_url
from healthbridge.access.tokens import Role
from healthbridge.charts.summary import child_name
from healthbridge.errors import FhirError
from healthbridge.store.bundle import process
from healthbridge.web import actions, data, rights
from healthbridge.web.auth import PageForbiddenError, UserDep, WebUser
from healthbridge.web.common import guard_child, page, rules, today, transaction
from healthbridge.web.visit import (
    QUESTIONNAIRE,
    SCREENING_POINTS,
    VISIT_TYPES,
    FormProblem,
    VisitFormError,
    parse_visit_form,
    questionnaire_items,
    visit_bundle,
)

log = logging.getLogger(__name__)
router = APIRouter()
REFER_TO = ("org-mch", "org-chc")


@cache
def _questionnaire() -> dict[str, list[tuple[str, str]]]:
    return questionnaire_items(resource_by_url(QUESTIONNAIRE, "Questionnaire", copy=False))


def _hospital(user: WebUser) -> str:
    user.require(Role.PAEDIATRICIAN)
    if user.org_id is None:
        raise PageForbiddenError("no organisation")
    return user.org_id


@router.get("/doctor")
def doctor_home(request: Request, user: UserDep) -> Response:
    """Children shared with the hospital and the referrals it received."""
    org = _hospital(user)
    with transaction(request, user) as txn:
        children = data.consented_children(txn, org)
        referrals = data.referrals_to(txn, org)
        corrections = rights.open_corrections(txn, org)
        names = {str(c["id"]): child_name(c) for c in children}
    return page(
        request, user, "doctor.html", children=children, referrals=referrals, names=names,
        corrections=corrections,
        child_name=child_name, q=request.query_params.get("q", ""),
    )  # fmt: skip


def _form_page(
    request: Request, user: WebUser, patient: dict[str, object], values: dict[str, object],
    problems: tuple[FormProblem, ...] = (), status: int = 200,
) -> Response:  # fmt: skip
    table = rules().vaccination
    zh = user.lang.value == "zh"
    vaccines = [(v.code, v.name_zh if zh else v.name_en) for v in table.vaccines]
    # combination and non-NIP products (clinical table vaccine-products): the 5-in-1 counts
    # for DTaP and IPV
    products = table.products.products if table.products is not None else ()
    vaccines += [(p.code, p.name_zh if zh else p.name_en) for p in products]
    messages = [
        user.t(p.key, **{k: user.t(v) if k == "field" else v for k, v in p.values.items()})
        for p in problems
    ]
    return page(
        request, user, "visit.html", status=status, patient=patient, name=child_name(patient),
        values=values, errors=messages, vaccines=vaccines, visit_types=VISIT_TYPES,
        screening=_questionnaire(), screening_points=SCREENING_POINTS, refer_to=REFER_TO,
    )  # fmt: skip


@router.get("/doctor/visit/{patient_id}")
def visit_form(request: Request, user: UserDep, patient_id: str) -> Response:
    _hospital(user)
    with transaction(request, user) as txn:
        patient = guard_child(txn, patient_id)
    return _form_page(request, user, patient, {"visit_date": today().isoformat()})


@router.post("/doctor/visit/{patient_id}")
async def visit_save(request: Request, user: UserDep, patient_id: str) -> Response:
    """Check the form and save the visit as ONE transaction; any problem → the form again."""
    org = _hospital(user)
    form = await request.form()
    multi = ("vaccine", "dose", "lot", "warning_item")
    values: dict[str, object] = {k: form.getlist(k) if k in multi else form.get(k) for k in form}
    with transaction(request, user) as txn:
        patient = guard_child(txn, patient_id)
        practitioner = actions.practitioner_ref(txn, user.principal.fhir_user)
    if practitioner is None:
        raise PageForbiddenError("no practitioner")
    try:
        visit = parse_visit_form(
            values,
            patient_id=patient_id,
            birth_date=dt.date.fromisoformat(str(patient["birthDate"])),
            practitioner_id=practitioner.split("/")[-1],
            organization_id=org,
            today=today(),
            vaccine_codes=_vaccine_codes(),
        )
    except VisitFormError as exc:
        return _form_page(request, user, patient, values, exc.problems, status=400)
    bundle = visit_bundle(visit, {k: [i for i, _ in v] for k, v in _questionnaire().items()})
    settings = request.app.state.settings
    try:
        process(
            request.app.state.repository, user.context, bundle,
            max_entries=settings.max_bundle_entries, base="", minimal=True,
        )  # fmt: skip
    except FhirError as exc:
        log.warning("visit for Patient/%s not saved: %s %s", patient_id, exc.status, exc.issues)
        problem = FormProblem("visit.err_server", {"detail": str(exc)})
        return _form_page(request, user, patient, values, (problem,), status=422)
    return RedirectResponse(f"/app/child/{patient_id}?saved=1", status_code=303)


def _vaccine_codes() -> frozenset[str]:
    """Codes a doctor may record: the schedule's vaccines and the known products."""
    table = rules().vaccination
    products = table.products.products if table.products is not None else ()
    return frozenset(v.code for v in table.vaccines) | {p.code for p in products}
