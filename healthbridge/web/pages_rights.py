"""The guardian's rights pages (PIPL Art. 44–47, issue 20): who viewed or changed the child's
record, download of the whole record, correction requests, sharing per organisation and
purpose. Parents only, and only for their own children: every route checks the role, then
reads the child through the parent's transaction (:func:`guard_child`: out of reach = the
"not found" page). The logic is in :mod:`healthbridge.web.rights`."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.access.auditing import record_access
from healthbridge.access.policy import Purpose
from healthbridge.access.tokens import Role
from healthbridge.charts.summary import child_name
from healthbridge.errors import BadRequestError
from healthbridge.web import data, rights
from healthbridge.web.auth import PageNotFoundError, UserDep
from healthbridge.web.common import guard_child, page, transaction
from healthbridge.web.i18n import MESSAGES

router = APIRouter()


def _me(user: UserDep) -> str:
    return user.principal.fhir_user or f"RelatedPerson/{user.ref_id}"


def _rights_page(
    request: Request, user: UserDep, patient_id: str, *, status: int = 200, **extra: object
) -> Response:
    with transaction(request, user) as txn:
        patient = guard_child(txn, patient_id)
        tasks = rights.corrections(txn, patient_id)
        records = rights.correctable(txn, patient_id)
        orgs, granted = rights.sharing(txn, patient_id)
    labels = dict(records)
    return page(
        request,
        user,
        "rights.html",
        status=status,
        patient_id=patient_id,
        name=child_name(patient),
        tasks=tasks,
        records=records,
        labels=labels,
        answer=rights.task_answer,
        orgs=orgs,
        granted=granted,
        purposes=rights.SHARING_PURPOSES,
        **extra,
    )


@router.get("/child/{patient_id}/rights")
def rights_home(request: Request, user: UserDep, patient_id: str) -> Response:
    """The guardian's rights over one child's record."""
    user.require(Role.PARENT)
    return _rights_page(request, user, patient_id)


@router.get("/child/{patient_id}/access-log")
def access_log(
    request: Request, user: UserDep, patient_id: str, page_no: int = 1, mine: bool = False
) -> Response:
    """Who viewed or changed the child's record, and when (``?page_no=``, newest first;
    ``?mine=1`` also lists the parent's own views)."""
    user.require(Role.PARENT)
    page_no = max(1, min(page_no, 500))
    with transaction(request, user) as txn:
        patient = guard_child(txn, patient_id)
        entries, more = rights.access_log(txn, patient_id, _me(user), page_no, include_mine=mine)
    return page(
        request,
        user,
        "access_log.html",
        patient_id=patient_id,
        name=child_name(patient),
        entries=entries,
        page_no=page_no,
        more=more,
        mine=mine,
        known=frozenset(MESSAGES),
    )


@router.get("/child/{patient_id}/record.json")
def record_json(request: Request, user: UserDep, patient_id: str) -> Response:
    """The whole record as the FHIR JSON Bundle of ``Patient/{id}/$everything``."""
    from healthbridge.operations import everything

    user.require(Role.PARENT)
    base = str(request.base_url).rstrip("/") + "/fhir"
    with transaction(request, user) as txn:
        guard_child(txn, patient_id)
        bundle = everything(data.operation_call("everything", "Patient", patient_id, [], txn, base))
        record_access(txn, "export", [f"Patient/{patient_id}"])
    return Response(
        json.dumps(bundle, ensure_ascii=False, indent=1),
        media_type="application/fhir+json",
        headers={
            "Content-Disposition": f'attachment; filename="record-{patient_id}.json"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/child/{patient_id}/correction")
def correction(
    request: Request,
    user: UserDep,
    patient_id: str,
    focus: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    """Ask for a correction of one record: a Task to the organisation that wrote it."""
    user.require(Role.PARENT)
    try:
        with transaction(request, user, write=True) as txn:
            guard_child(txn, patient_id)
            rights.request_correction(txn, patient_id, focus, text, _me(user))
    except BadRequestError as exc:
        return _rights_page(
            request, user, patient_id, status=400, error=str(exc.args[0]), focus=focus, text=text
        )
    return RedirectResponse(f"/app/child/{patient_id}/rights#corrections", status_code=303)


@router.post("/child/{patient_id}/sharing")
def sharing(
    request: Request,
    user: UserDep,
    patient_id: str,
    organization: Annotated[str, Form()],
    purpose: Annotated[str, Form()],
    grant: Annotated[str, Form()],
) -> Response:
    """Grant or withdraw sharing with one organisation for one purpose (a Consent)."""
    user.require(Role.PARENT)
    try:
        wanted = Purpose(purpose)
    except ValueError as exc:
        raise PageNotFoundError(purpose) from exc
    if wanted not in rights.SHARING_PURPOSES:
        raise PageNotFoundError(purpose)
    try:
        with transaction(request, user, write=True) as txn:
            guard_child(txn, patient_id)
            rights.set_sharing(
                txn,
                patient_id,
                organization.removeprefix("Organization/"),
                wanted,
                grant == "yes",
                _me(user),
            )
    except BadRequestError as exc:
        return _rights_page(request, user, patient_id, status=400, error=str(exc.args[0]))
    return RedirectResponse(f"/app/child/{patient_id}/rights#sharing", status_code=303)


@router.post("/task/{task_id}/answer")
def answer(
    request: Request,
    user: UserDep,
    task_id: str,
    outcome: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    """Staff answer a correction request (health manager, paediatrician)."""
    user.require(Role.HEALTH_MANAGER, Role.PAEDIATRICIAN)
    back = "/app/doctor" if user.role is Role.PAEDIATRICIAN else "/app/centre"
    try:
        with transaction(request, user, write=True) as txn:
            rights.answer_correction(txn, task_id, outcome == "completed", text)
    except BadRequestError as exc:
        return page(request, user, "error.html", status=400, message=str(exc.args[0]))
    return RedirectResponse(f"{back}#corrections", status_code=303)
