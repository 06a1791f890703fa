"""Parent pages (mobile first): my children and their day so far, and consent management."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.access.tokens import Role
from healthbridge.charts.summary import enrolment
from healthbridge.fhir.facts import current_enrolment
from healthbridge.store.repository import Transaction
from healthbridge.web import actions, cases, data, leave
from healthbridge.web.auth import PageForbiddenError, UserDep, WebUser
from healthbridge.web.common import guard_child, page, rules, today, transaction
from healthbridge.web.leave_handling import QUESTION_CATEGORY, questions_by_task
from healthbridge.web.pages_care import child_day
from healthbridge.web.pages_inbox import parent_messages
from healthbridge.web.pages_menu import today_menu
from healthbridge.web.screenings import screening_view
from healthbridge.web.visit import CST

router = APIRouter()


@router.get("/parent")
def parent_home(request: Request, user: UserDep, sent: str = "") -> Response:
    """The parent's children, each with the day so far, the latest scores and open alerts."""
    return _home(request, user, sent=sent)


def _home(
    request: Request, user: WebUser, *, status: int = 200, sent: str = "",
    forms: dict[str, leave.LeaveForm] | None = None,
) -> Response:  # fmt: skip
    user.require(Role.PARENT)
    ruleset = rules(request)
    with transaction(request, user) as txn:
        children = data.parent_children(txn, user.ref_id)
        records = {str(c["id"]): data.record(txn, str(c["id"])) for c in children}
        summaries = [
            data.summary_of(records[str(c["id"])], str(c["id"]), ruleset, user.lang, today())
            for c in children
        ]
        managed = {
            str(c["id"]): cases.case_views(
                data.of_type(records[str(c["id"])], "EpisodeOfCare"),
                data.of_type(records[str(c["id"])], "Encounter"),
                c,
                ruleset.cases,
                user.lang.value,
                today(),
            )
            for c in children
        }
        days = {
            str(c["id"]): child_day(txn, str(c["id"]), user, today(), ruleset) for c in children
        }
        leaves = {str(c["id"]): _leaves(txn, str(c["id"])) for c in children}
        mine = [("recipient", f"RelatedPerson/{user.ref_id}"), ("category", QUESTION_CATEGORY)]
        asked = questions_by_task(data.resources(txn, "Communication", mine))
        inbox = {str(c["id"]): parent_messages(txn, str(c["id"]), user) for c in children}
        menus = {str(c["id"]): today_menu(txn, _centre_of(c), today()) for c in children}
        screens = {
            s.patient_id: screening_view(
                data.of_type(records[s.patient_id], "Observation"), s.birth_date, ruleset,
                user.lang.value, user.t, today(),
            )
            for s in summaries
        }  # fmt: skip
    return page(
        request, user, "parent.html", status=status, summaries=summaries, days=days,
        leaves=leaves, inbox=inbox, forms=forms or {}, sent=sent, day=today().isoformat(),
        reasons=leave.REASONS, cases_of=managed, asked=asked, screens=screens, menus=menus,
    )  # fmt: skip


def _centre_of(child: dict[str, Any]) -> str | None:
    enrolled = current_enrolment(child)
    return enrolled.centre_id if enrolled else None


def _leaves(txn: Transaction, patient_id: str) -> list[dict[str, Any]]:
    """The child's leave requests, latest first."""
    tasks = data.resources(txn, "Task", [("patient", f"Patient/{patient_id}")])
    found = [x for x in tasks if leave.is_leave_request(x)]
    return sorted(found, key=lambda x: str(x.get("authoredOn", "")), reverse=True)[:5]


@router.post("/parent/leave/{patient_id}")
async def leave_post(request: Request, user: UserDep, patient_id: str) -> Response:
    """Send a leave request (请假) for one of the parent's children; a bad form → the page
    with the error next to the form and what was typed kept, nothing saved."""
    user.require(Role.PARENT)
    got = leave.parse_leave(await request.form(), today())
    if got.errors:
        return _home(request, user, status=400, forms={patient_id: got})
    with transaction(request, user, write=True) as txn:
        child = guard_child(txn, patient_id)
        now = dt.datetime.now(CST).replace(microsecond=0)
        task = leave.leave_task(got, patient_id, f"RelatedPerson/{user.ref_id}",
                                enrolment(child)[0], now)  # fmt: skip
        txn.create(task)
    return RedirectResponse(f"/app/parent?sent={patient_id}#leave-{patient_id}", status_code=303)


@router.post("/child/{patient_id}/consent/{consent_id}")
def consent_change(
    request: Request,
    user: UserDep,
    patient_id: str,
    consent_id: str,
    active: Annotated[str, Form()],
) -> Response:
    """Withdraw or restore a data-sharing consent of one of the parent's children."""
    user.require(Role.PARENT)
    with transaction(request, user, write=True) as txn:
        guard_child(txn, patient_id)
        consent = data.read(txn, "Consent", consent_id) or {}
        if consent.get("patient", {}).get("reference") != f"Patient/{patient_id}":
            raise PageForbiddenError(consent_id)
        actions.set_consent(txn, consent_id, active == "yes")
    return RedirectResponse(f"/app/child/{patient_id}#consents", status_code=303)
