"""The admission vaccination check (入托查验) as work, not a report (issue 16 item 8).

The list puts the children needing action first (not yet checked, or doses to catch up),
overdue deadlines first among them and highlighted; the health manager records that the
certificate was checked, that the catch-up was done (补种已登记) and the re-check, each a
state of the child's enrolment (``childcare-enrollment`` extension, ``admission-check-state``
part; transitions of :func:`healthbridge.clinical.admission.advance_admission`).

Speed: the page read each child's whole record (``$everything``) to find its
Immunizations — about 0.1–0.5 s per child, 13 s for a centre. It now reads the centre's
Immunizations with one search per 100 children (``Immunization?patient=a,b,…``). The order
of the list (every child's check: needing action, overdue, deadline) comes from the vectorised
vaccination states (:func:`healthbridge.clinical.admission_batch.missing_doses`; a plan per
child took ~2 s for a centre of 1,200 children); the list is paged (:data:`PAGE_SIZE` rows)
and the full plan (the doses not counted, with their reason) is computed for the shown rows
only. The audit names what a page shows — its children and their Immunizations — not every
record read to order the list (docs/access.md "Audit").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.access.auditing import reads_not_listed, record_access
from healthbridge.charts.batch import centre_children
from healthbridge.charts.summary import child_name, enrolment
from healthbridge.clinical.admission import (
    AdmissionCheck,
    AdmissionState,
    admission_check,
    admission_check_of,
    advance_admission,
)
from healthbridge.clinical.admission_batch import missing_doses
from healthbridge.clinical.errors import AdmissionStateError
from healthbridge.clinical.tables_vaccination import VaccinationTable
from healthbridge.clinical.vaccination import (
    INVALID_REASON_TEXT,
    ChildFacts,
    GivenDose,
    VaccinationPlan,
    vaccination_plan,
)
from healthbridge.clinical.vocab import Sex
from healthbridge.fhir import facts
from healthbridge.inputs.elements import search_elements
from healthbridge.inputs.extract import birth_facts
from healthbridge.web import data
from healthbridge.web.auth import PageNotFoundError, UserDep, WebUser
from healthbridge.web.common import page, rules, today, transaction
from healthbridge.web.pages_daily import centre_of

router = APIRouter()
BATCH = 100
#: children per search of :func:`immunization_elements` (one ``patient`` value each)
BATCH_ELEMENTS = 500
#: children per page of the list
PAGE_SIZE = 50
ENROLMENT = "https://healthbridge.github.io/fhir/StructureDefinition/childcare-enrollment"
#: page action → the state it records
ACTIONS = {"checked": None, "catchup": AdmissionState.CATCHUP_RECORDED,
           "recheck": AdmissionState.RECHECKED}  # fmt: skip


def immunizations(txn: Any, patient_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Completed Immunizations of the children, by child id (one search per 100)."""
    out: dict[str, list[dict[str, Any]]] = {p: [] for p in patient_ids}
    ids = list(patient_ids)
    for start in range(0, len(ids), BATCH):
        refs = ",".join(f"Patient/{p}" for p in ids[start : start + BATCH])
        params = [("patient", refs), ("status", "completed")]
        for s in data.search_all(txn, "Immunization", params, page_size=10_000):
            res = s.resource or {}
            pid = facts.ref_id(res.get("patient"), "Patient")
            if s.resource_type == "Immunization" and pid in out:
                out[pid].append(res)
    return out


#: what the list reads of each Immunization (:func:`_given`, the audit's ids)
IMMUNIZATION_ELEMENTS = ("patient", "vaccineCode", "occurrenceDateTime")


def immunization_elements(txn: Any, patient_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """:func:`immunizations` as partial resources of :data:`IMMUNIZATION_ELEMENTS`, read
    field-wise in the database with the search's reach rules (:mod:`healthbridge.inputs.
    elements`): the list orders ~1,200 children by ~20,000 Immunizations at 10,000 children,
    and parsing them whole was most of the page."""
    out: dict[str, list[dict[str, Any]]] = {p: [] for p in patient_ids}
    ids = list(patient_ids)
    for start in range(0, len(ids), BATCH_ELEMENTS):
        refs = ",".join(f"Patient/{p}" for p in ids[start : start + BATCH_ELEMENTS])
        params = [("patient", refs), ("status", "completed")]
        for res in search_elements(txn, "Immunization", params, IMMUNIZATION_ELEMENTS):
            pid = facts.ref_id(res.get("patient"), "Patient")
            if pid in out:
                out[pid].append(res)
    return out


def _state(child: Mapping[str, Any]) -> AdmissionState:
    e = facts.current_enrolment(child)
    try:
        return AdmissionState(e.state) if e and e.state else AdmissionState.NOT_SUBMITTED
    except ValueError:
        return AdmissionState.NOT_SUBMITTED


def _given(imms: list[dict[str, Any]]) -> list[GivenDose]:
    given = []
    for i in imms:
        code = facts.nip_vaccine((i.get("vaccineCode") or {}).get("coding"))
        when = str(i.get("occurrenceDateTime", ""))[:10]
        if code and len(when) == 10:
            given.append(GivenDose(str(i["id"]), code, dt.date.fromisoformat(when)))
    return given


def _sex(child: Mapping[str, Any]) -> Sex:
    return Sex.MALE if child.get("gender") == "male" else Sex.FEMALE


def _entry(child: Mapping[str, Any]) -> dt.date:
    e = facts.current_enrolment(child)
    return dt.date.fromisoformat(e.start) if e and e.start and len(e.start) == 10 else today()


def _check(
    child: Mapping[str, Any], imms: list[dict[str, Any]], org: str, table: VaccinationTable
) -> tuple[AdmissionCheck, VaccinationPlan]:
    birth = dt.date.fromisoformat(child["birthDate"])
    weight, hbsag = birth_facts(child)  # the special populations (2021 说明)
    plan = vaccination_plan(
        birth, _sex(child), _given(imms), table, today(), ChildFacts(hbsag, weight)
    )
    check = admission_check(
        str(child["id"]), org, _entry(child), _state(child), plan, table, today()
    )
    return check, plan


def _checks(
    children: Sequence[Mapping[str, Any]], imms: dict[str, list[dict[str, Any]]], org: str,
    table: VaccinationTable,
) -> dict[str, AdmissionCheck]:  # fmt: skip
    """Every child's check, from the vectorised vaccination states (one plan per child when
    ids repeat)."""
    rows = []
    for c in children:
        weight, hbsag = birth_facts(c)
        rows.append((str(c["id"]), dt.date.fromisoformat(c["birthDate"]), _sex(c).value, hbsag,
                     weight))  # fmt: skip
    given = {str(c["id"]): _given(imms[str(c["id"])]) for c in children}
    missing = missing_doses(rows, given, table, today())
    if missing is None:
        return {str(c["id"]): _check(c, imms[str(c["id"])], org, table)[0] for c in children}
    return {
        str(c["id"]): admission_check_of(
            str(c["id"]), org, _entry(c), _state(c), missing[str(c["id"])], table, today()
        )
        for c in children
    }


def _not_counted(plan: VaccinationPlan, user: WebUser) -> list[str]:
    """Doses not counted, with the reason (an unrecognised code is not "not in schedule")."""
    lang = 0 if user.lang.value == "zh" else 1
    return [
        f"{i.dose.vaccine} {i.dose.on.isoformat()}: {INVALID_REASON_TEXT[i.reason][lang]}"
        for i in plan.invalid
    ]


Row = tuple[Any, AdmissionCheck, list[str], list[str]]


def _row(
    child: Mapping[str, Any], imms: list[dict[str, Any]], org: str, user: WebUser,
    table: VaccinationTable,
) -> Row:  # fmt: skip
    check, plan = _check(child, imms, org, table)
    plan_names = []
    for dose_id in check.missing_doses:
        vaccine, _, number = dose_id.rpartition("-")
        try:
            info = table.vaccine(vaccine)
            name = info.name_zh if user.lang.value == "zh" else info.name_en
        except Exception:  # a series id rather than a vaccine code: shown as it is
            name = vaccine
        plan_names.append(f"{name} ({number})")
    return (child, check, plan_names, _not_counted(plan, user))


def centre_child(txn: Any, org: str, patient_id: str) -> dict[str, Any] | None:
    """One child of the centre's list (:func:`centre_children`'s rule: active, currently
    enrolled at ``org``), read alone: the notice and the steps of one child need not read
    the centre's children and their Immunizations (> 30 s at 10,000 children)."""
    child = data.read(txn, "Patient", patient_id)
    if child is None or child.get("active") is not True or enrolment(child)[0] != org:
        return None
    return child


def order(check: AdmissionCheck) -> tuple[int, int, str]:
    """Children needing action first (not yet checked, or doses to catch up and not yet
    re-checked), overdue deadlines first among them, then by check deadline."""
    waiting = check.state in (AdmissionState.NOT_SUBMITTED, AdmissionState.SUBMITTED)
    action = waiting or (check.incomplete and check.state is not AdmissionState.RECHECKED)
    late = check.check_overdue or check.recheck_overdue
    return (0 if action else 1, 0 if late else 1, check.check_deadline.isoformat())


@dataclass(frozen=True, slots=True)
class AdmissionList:
    rows: list[Row]  # the shown page
    page: int
    pages: int
    total: int
    to_act: int  # children needing action (every page)


def _rows(
    txn: Any, org: str, user: WebUser, table: VaccinationTable, page_no: int = 1,
    focus: str = "",
) -> AdmissionList:  # fmt: skip
    """Page ``page_no`` of the list (the page holding ``focus``, a child id, when given)."""
    with reads_not_listed(txn):  # the audit names the shown rows (below)
        children = centre_children(txn, org)
        imms = immunization_elements(txn, [str(c["id"]) for c in children])
    checks = _checks(children, imms, org, table)
    ordered = sorted(children, key=lambda c: order(checks[str(c["id"])]))
    pages = max(1, -(-len(ordered) // PAGE_SIZE))
    ids = [str(c["id"]) for c in ordered]
    if focus in ids:
        page_no = ids.index(focus) // PAGE_SIZE + 1
    page_no = min(max(1, page_no), pages)
    shown = ordered[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
    record_access(txn, "search-type", [
        ref for c in shown
        for ref in (f"Patient/{c['id']}", *(f"Immunization/{i['id']}" for i in imms[str(c["id"])]))
    ])  # fmt: skip
    rows = [_row(child, imms[str(child["id"])], org, user, table) for child in shown]
    to_act = sum(1 for c in checks.values() if order(c)[0] == 0)
    return AdmissionList(rows, page_no, pages, len(ordered), to_act)


def _page_no(request: Request) -> int:
    try:
        return int(request.query_params.get("page", "1"))
    except ValueError:
        return 1


@router.get("/centre/admission")
def admission_page(request: Request, user: UserDep) -> Response:
    """Admission check list: children needing action first, overdue deadlines highlighted;
    ``?page=N``, or ``?child=<id>`` for the page holding that child (after an action)."""
    org = centre_of(user)
    focus = request.query_params.get("child", "")
    with transaction(request, user) as txn:
        listing = _rows(txn, org, user, rules(request).vaccination, _page_no(request), focus)
    return _render(request, user, listing)


def _render(request: Request, user: WebUser, listing: AdmissionList, **extra: Any) -> Response:
    return page(
        request, user, "admission.html", status=extra.pop("status", 200), rows=listing.rows,
        listing=listing, child_name=child_name, error_for=extra.pop("error_for", ""),
        error=extra.pop("error", ""), done=request.query_params.get("done", ""),
    )  # fmt: skip


def record_state(patient: dict[str, Any], org: str, state: AdmissionState) -> dict[str, Any]:
    """The Patient with ``state`` on its current enrolment at ``org``."""
    exts = [dict(e) for e in patient.get("extension") or ()]
    current = None
    for n, ext in enumerate(exts):
        if ext.get("url") != ENROLMENT:
            continue
        parts = {p.get("url"): p for p in ext.get("extension") or ()}
        centre = facts.ref_id((parts.get("centre") or {}).get("valueReference"), "Organization")
        ended = bool(((parts.get("period") or {}).get("valuePeriod") or {}).get("end"))
        if centre == org and not ended:
            current = n
    if current is None:
        raise AdmissionStateError("no current enrolment at this centre")
    kept = [
        p for p in exts[current].get("extension") or () if p.get("url") != "admission-check-state"
    ]
    kept.append({"url": "admission-check-state", "valueCode": state.value})
    exts[current] = {**exts[current], "extension": kept}
    return {**patient, "extension": exts}


@router.post("/centre/admission/{patient_id}")
def admission_post(
    request: Request, user: UserDep, patient_id: str, action: Annotated[str, Form()] = ""
) -> Response:
    """Record a step of the check: ``checked`` (assessed complete or incomplete from the
    doses), ``catchup`` (补种已登记), ``recheck``; a step out of order → the list with the
    message on the child's row (400)."""
    org = centre_of(user)
    problem = ""
    with transaction(request, user, write=True) as txn:
        child = centre_child(txn, org, patient_id)
        if child is None or action not in ACTIONS:
            problem = "admission.err_action"
        else:
            imms = immunizations(txn, [patient_id])[patient_id]
            check, _plan = _check(child, imms, org, rules(request).vaccination)
            try:
                state = check.state
                if action == "checked":
                    if state is AdmissionState.NOT_SUBMITTED:
                        state = advance_admission(state, AdmissionState.SUBMITTED)
                    done = (
                        AdmissionState.ASSESSED_INCOMPLETE
                        if check.incomplete
                        else AdmissionState.ASSESSED_COMPLETE
                    )
                    state = advance_admission(state, done)
                else:
                    to = ACTIONS[action]
                    assert to is not None
                    state = advance_admission(state, to)
                txn.update("Patient", patient_id, record_state(child, org, state))
            except AdmissionStateError:
                problem = "admission.err_step"
    if problem:
        with transaction(request, user) as txn:
            listing = _rows(txn, org, user, rules(request).vaccination, focus=patient_id)
        return _render(
            request, user, listing, status=400, error_for=patient_id, error=user.t(problem)
        )
    return RedirectResponse(
        f"/app/centre/admission?done=1&child={quote(patient_id)}#child-{patient_id}",
        status_code=303,
    )


@router.get("/centre/admission/{patient_id}/notice.pdf")
def catchup_notice(request: Request, user: UserDep, patient_id: str) -> Response:
    """The child's catch-up notice (补种通知单) as a PDF, in the page's language."""
    from healthbridge.charts.catchup_notice import CatchUpNotice, render_catchup_notice
    from healthbridge.charts.labels import Lang

    org = centre_of(user)
    with transaction(request, user) as txn:
        table = rules(request).vaccination
        child = centre_child(txn, org, patient_id)
        imms = immunizations(txn, [patient_id])[patient_id] if child is not None else []
        rows = [_row(child, imms, org, user, table)] if child is not None else []
        centre = data.read(txn, "Organization", org) or {}
    if not rows or not rows[0][2]:
        raise PageNotFoundError(f"Patient/{patient_id} has no catch-up")
    child, check, names, _ignored = rows[0]
    notice = CatchUpNotice(
        child_name(child), dt.date.fromisoformat(child["birthDate"]), str(centre.get("name", "")),
        names, check.recheck_deadline, today(),
    )  # fmt: skip
    pdf = render_catchup_notice(notice, Lang(user.lang.value))
    return Response(
        pdf, media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="catchup-{patient_id}.pdf"'},
    )  # fmt: skip
