"""Paediatrician pages: children shared with the hospital, the visit form, referrals."""

from __future__ import annotations

import datetime as dt
import logging
from functools import cache

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from fhir_profiles.loader import resource_by_url
from healthbridge.access.auditing import reads_not_listed, record_access
from healthbridge.access.tokens import Role
from healthbridge.charts.referrals import referral_lines
from healthbridge.charts.summary import child_name
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.errors import FhirError
from healthbridge.store.bundle import process
from healthbridge.store.repository import Transaction
from healthbridge.web import actions, data, doctor_list, referrals, rights
from healthbridge.web.auth import PageForbiddenError, UserDep, WebUser
from healthbridge.web.clinical import default_visit_type, visit_type_names, visit_warnings
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
from healthbridge.web.visit_screening import INSTRUMENTS

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
    """Referrals received, corrections asked, and the children shared with the hospital as a
    worklist (search, centre and alert filters, severity first, paged: :mod:`doctor_list`)."""
    org = _hospital(user)
    qp = request.query_params
    q, centre, alerts = qp.get("q", "")[:100], qp.get("centre", ""), qp.get("alerts") == "1"
    try:
        page_no = int(qp.get("page", "1"))
    except ValueError:
        page_no = 1
    with transaction(request, user) as txn:
        # every shared child and alert is read to search, sort and count; the audit names
        # the rows shown (docs/access.md "Audit": a list page names what it showed)
        with reads_not_listed(txn):
            children, marks = doctor_list.gather(txn, org)
        referrals = data.referrals_to(txn, org)
        corrections = rights.open_corrections(txn, org)
        orgs = _org_names(txn)
        rooms = {str(r["id"]): str(r.get("name") or r["id"])
                 for r in data.resources(txn, "Location", [])}  # fmt: skip
        found = doctor_list.rows(children, marks)
        listing = doctor_list.select(found, q=q, centre=centre, alerts=alerts, page=page_no)
        shown = [r.id for r in listing.rows]
        flags = doctor_list.flags_of(txn, shown)
        record_access(txn, "search-type", doctor_list.shown_records(shown, flags))
        encounters = doctor_list.encounters_of(txn, shown)
    names = {r.id: r.name for r in found}
    shown_rows = doctor_list.with_alerts(listing.rows, flags, rules(request), user.lang)
    listed = doctor_list.with_next_checkup(
        shown_rows, encounters, rules(request), user.lang, today()
    )
    centres = sorted({r.centre_id for r in found if r.centre_id}, key=lambda c: orgs.get(c, c))
    return page(
        request, user, "doctor.html", referrals=referrals, names=names,
        corrections=corrections, orgs=orgs, rooms=rooms, listing=listing, listed=listed,
        centres=centres, q=q, centre=centre, alerts=alerts, today=today(),
        age=lambda b: doctor_list.age_words(b, today(), user.lang),
        query=lambda n: doctor_list.query(q, centre, alerts, n),
    )  # fmt: skip


def _form_page(
    request: Request, user: WebUser, patient: dict[str, object], values: dict[str, object],
    problems: tuple[FormProblem, ...] = (), status: int = 200,
    warnings: tuple[FormProblem, ...] = (), orgs: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    ruleset = rules(request)
    table = ruleset.vaccination
    zh = user.lang.value == "zh"
    vaccines = [(v.code, v.name_zh if zh else v.name_en) for v in table.vaccines]
    # combination and non-NIP products (clinical table vaccine-products): the 5-in-1 counts
    # for DTaP and IPV
    products = table.products.products if table.products is not None else ()
    vaccines += [(p.code, p.name_zh if zh else p.name_en) for p in products]
    names = dict(vaccines)

    def say(p: FormProblem) -> str:
        values = {
            k: user.t(v) if k == "field" else names.get(v, v) if k == "vaccine" else v
            for k, v in p.values.items()
        }
        return user.t(p.key, **values)

    if not values.get("visit_type"):
        birth = dt.date.fromisoformat(str(patient["birthDate"]))
        try:
            on = dt.date.fromisoformat(str(values.get("visit_date") or ""))
        except ValueError:
            on = today()
        values = {**values, "visit_type": default_visit_type(birth, on, ruleset)}
    return page(
        request, user, "visit.html", status=status, patient=patient, name=child_name(patient),
        values=values, errors=[say(p) for p in problems], warnings=[say(w) for w in warnings],
        vaccines=vaccines, visit_types=VISIT_TYPES,
        visit_names=visit_type_names(user.lang, ruleset),
        screening=_questionnaire(), screening_points=SCREENING_POINTS, instruments=INSTRUMENTS,
        refer_to=[(o, (orgs or {}).get(o, o)) for o in REFER_TO],
    )  # fmt: skip


def _org_names(txn: Transaction) -> dict[str, str]:
    """Organisation id → name (pages show names, never ids such as ``org-mch``)."""
    found = data.resources(txn, "Organization", [])
    return {str(o["id"]): str(o.get("name") or o["id"]) for o in found}


@router.get("/doctor/visit/{patient_id}")
def visit_form(request: Request, user: UserDep, patient_id: str) -> Response:
    _hospital(user)
    with transaction(request, user) as txn:
        patient = guard_child(txn, patient_id)
        orgs = _org_names(txn)
    return _form_page(request, user, patient, {"visit_date": today().isoformat()}, orgs=orgs)


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
        orgs = _org_names(txn)
        record = data.compartment(txn, patient_id, "Immunization")
        record += data.compartment(txn, patient_id, "Observation")
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
            vaccine_codes=_vaccine_codes(rules(request)),
        )
    except VisitFormError as exc:
        return _form_page(request, user, patient, values, exc.problems, status=400, orgs=orgs)
    if not visit.confirmed:
        warnings = visit_warnings(visit, patient, record)
        if warnings:  # nothing is saved until the doctor confirms (the form keeps the values)
            found = tuple(FormProblem(w.key, w.values) for w in warnings)
            return _form_page(request, user, patient, values, status=409, warnings=found,
                              orgs=orgs)  # fmt: skip
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
        return _form_page(request, user, patient, values, (problem,), status=422, orgs=orgs)
    return RedirectResponse(f"/app/child/{patient_id}?saved=1", status_code=303)


def _vaccine_codes(ruleset: RuleSet) -> frozenset[str]:
    """Codes a doctor may record: the schedule's vaccines and the known products."""
    table = ruleset.vaccination
    products = table.products.products if table.products is not None else ()
    return frozenset(v.code for v in table.vaccines) | {p.code for p in products}


def _referral_page(
    request: Request, user: WebUser, request_id: str, org: str, *, error: str | None = None,
    values: dict[str, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    with transaction(request, user) as txn:
        sr = data.read(txn, "ServiceRequest", request_id)
        if sr is None or f"Organization/{org}" not in [
            p.get("reference") for p in sr.get("performer", [])
        ]:
            return page(request, user, "error.html", status=404, message="error.not_found")
        pid = str(sr.get("subject", {}).get("reference", "")).split("/")[-1]
        patient = data.read(txn, "Patient", pid)
        task = referrals.hospital_task(txn, request_id)
        orgs = _org_names(txn)
    line = referral_lines([sr, *([task] if task else [])])[0]
    return page(
        request, user, "referral.html", status=status, r=line, sr=sr, patient_id=pid,
        name=child_name(patient) if patient else pid, orgs=orgs, error=error,
        values=values or {}, today=today().isoformat(),
    )  # fmt: skip


@router.get("/doctor/referral/{request_id}")
def referral_view(request: Request, user: UserDep, request_id: str) -> Response:
    """One referral received: the reason, the child, and accept / decline / answer."""
    return _referral_page(request, user, request_id, _hospital(user))


@router.post("/doctor/referral/{request_id}")
async def referral_post(request: Request, user: UserDep, request_id: str) -> Response:
    """Accept, decline, or answer and close a referral (charts/referrals.py)."""
    org = _hospital(user)
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("action", "findings", "plan", "follow_up")}
    values["reason"] = str(form.get("reason") or "")
    now = referrals.now_cst()
    try:
        with transaction(request, user, write=True) as txn:
            practitioner = actions.practitioner_ref(txn, user.principal.fhir_user)
            if practitioner is None:
                raise PageForbiddenError("no practitioner")
            match values["action"]:
                case "accept":
                    referrals.accept(txn, request_id, org, practitioner, now)
                case "decline":
                    referrals.decline(txn, request_id, org, practitioner, now, values["reason"])
                case "answer":
                    reply = referrals.parse_answer(values, today())
                    referrals.answer(txn, request_id, org, practitioner, now, reply)
                case _:
                    raise referrals.ReferralError("referral.err_action")
    except referrals.ReferralError as exc:
        return _referral_page(
            request, user, request_id, org, error=user.t(exc.key), values=values, status=400
        )
    if values["action"] == "answer":  # closed: the referral no longer opens the record
        return RedirectResponse("/app/doctor?answered=1", status_code=303)
    return RedirectResponse(f"/app/doctor/referral/{request_id}", status_code=303)
