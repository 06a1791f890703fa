"""Managed-case pages (体弱儿/高危儿专案管理): the paediatrician enrols a child, records a
follow-up and closes the case (结案) from the child page; writes in :mod:`.cases`."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.access.tokens import Role
from healthbridge.web import actions, cases
from healthbridge.web.auth import PageForbiddenError, UserDep, WebUser
from healthbridge.web.common import guard_child, rules, today, transaction

router = APIRouter()


def _doctor(user: WebUser) -> str:
    user.require(Role.PAEDIATRICIAN)
    if user.org_id is None:
        raise PageForbiddenError("no organisation")
    return user.org_id


def _back(patient_id: str, error: str | None = None, **typed: Any) -> RedirectResponse:
    """To the child page's case section; a problem as ``case_error`` with what was typed."""
    query = urlencode({"case_error": error, **{k: v or "" for k, v in typed.items()}})
    suffix = f"?{query}" if error else "?case_saved=1"
    return RedirectResponse(f"/app/child/{patient_id}{suffix}#cases", status_code=303)


def _birth(patient: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(str(patient["birthDate"])[:10])


@router.post("/child/{patient_id}/case")
async def case_enrol(request: Request, user: UserDep, patient_id: str) -> Response:
    org = _doctor(user)
    form = await request.form()
    condition, start = str(form.get("condition") or ""), str(form.get("start") or "")
    try:
        with transaction(request, user, write=True) as txn:
            patient = guard_child(txn, patient_id)
            day = cases.parse_day(start, birth=_birth(patient), today=today(), key="case.err_date")
            cases.enrol(
                txn, patient_id, condition, day, table=rules(request).cases, organization=org,
                practitioner=actions.practitioner_ref(txn, user.principal.fhir_user),
            )  # fmt: skip
    except cases.CaseFormError as exc:
        return _back(patient_id, exc.key, condition=condition, start=start)
    return _back(patient_id)


@router.post("/child/{patient_id}/case/{episode_id}/follow-up")
async def case_follow_up(
    request: Request, user: UserDep, patient_id: str, episode_id: str
) -> Response:
    org = _doctor(user)
    form = await request.form()
    on = str(form.get("date") or "")
    try:
        with transaction(request, user, write=True) as txn:
            patient = guard_child(txn, patient_id)
            day = cases.parse_day(on, birth=_birth(patient), today=today(), key="case.err_date")
            cases.record_follow_up(
                txn, patient, episode_id, day, table=rules(request).cases, organization=org,
                practitioner=actions.practitioner_ref(txn, user.principal.fhir_user),
                today=today(),
            )  # fmt: skip
    except cases.CaseFormError as exc:
        return _back(patient_id, exc.key, case=episode_id, date=on)
    return _back(patient_id)


@router.post("/child/{patient_id}/case/{episode_id}/close")
async def case_close(request: Request, user: UserDep, patient_id: str, episode_id: str) -> Response:
    _doctor(user)
    form = await request.form()
    outcome, on = str(form.get("outcome") or ""), str(form.get("date") or "")
    try:
        with transaction(request, user, write=True) as txn:
            patient = guard_child(txn, patient_id)
            day = cases.parse_day(on, birth=_birth(patient), today=today(), key="case.err_date")
            cases.close(txn, patient_id, episode_id, outcome, day, table=rules(request).cases)
    except cases.CaseFormError as exc:
        return _back(patient_id, exc.key, case=episode_id, outcome=outcome, date=on)
    return _back(patient_id)
