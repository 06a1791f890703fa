"""Parent pages (mobile first): my children and their day so far, and consent management."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.access.tokens import Role
from healthbridge.web import actions, data
from healthbridge.web.auth import PageForbiddenError, UserDep
from healthbridge.web.common import guard_child, page, rules, today, transaction
from healthbridge.web.pages_care import child_day

router = APIRouter()


@router.get("/parent")
def parent_home(request: Request, user: UserDep) -> Response:
    """The parent's children, each with the latest scores and open alerts."""
    user.require(Role.PARENT)
    with transaction(request, user) as txn:
        children = data.parent_children(txn, user.ref_id)
        summaries = [
            data.child_summary(txn, str(c["id"]), rules(), user.lang, today()) for c in children
        ]
        days = {str(c["id"]): child_day(txn, str(c["id"]), user, today()) for c in children}
    return page(request, user, "parent.html", summaries=summaries, days=days)


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
