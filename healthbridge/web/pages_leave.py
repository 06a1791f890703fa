"""The health manager's leave-request page (请假): today's and coming requests of the centre's
children (who, dates, sick with the parent's words or personal), confirm or ask back
(:mod:`healthbridge.web.leave_handling`). Every action redirects to the request's row; a bad
form re-renders the page with the message on the row and the typed question kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.charts.batch import centre_children
from healthbridge.charts.summary import child_name, enrolment
from healthbridge.fhir.facts import ref_id
from healthbridge.web import data, leave
from healthbridge.web import leave_handling as lh
from healthbridge.web.auth import UserDep, WebUser
from healthbridge.web.common import page, today, transaction
from healthbridge.web.pages_daily import centre_of
from healthbridge.web.visit import CST

router = APIRouter()


def _view(request: Request, user: WebUser, org: str, status: int = 200, **extra: Any) -> Response:
    with transaction(request, user) as txn:
        items = lh.centre_leaves(txn, org, today())
        children = {str(c["id"]): c for c in centre_children(txn, org)}
    names = {pid: child_name(c) for pid, c in children.items()}
    rooms = {pid: enrolment(c)[1] or "" for pid, c in children.items()}
    pending = sum(1 for i in items if i.status == "requested")
    return page(
        request, user, "leave.html", status=status, items=items, names=names, rooms=rooms,
        pending=pending, day=today().isoformat(), done=request.query_params.get("done", ""),
        error_for=extra.get("error_for", ""), error=extra.get("error", ""),
        typed=extra.get("typed", ""),
    )  # fmt: skip


@router.get("/centre/leave")
def leave_page(request: Request, user: UserDep) -> Response:
    """The centre's leave requests to confirm, and the confirmed ones still running."""
    return _view(request, user, centre_of(user))


@router.post("/centre/leave")
async def leave_post(request: Request, user: UserDep) -> Response:
    """Confirm a request (absence recorded) or ask the parent a question."""
    org = centre_of(user)
    form = await request.form()
    tid, action = str(form.get("task", "")), str(form.get("action", ""))
    text = str(form.get("text", "") or "").strip()

    def refuse(key: str, status: int = 400) -> Response:
        return _view(request, user, org, status=status, error_for=tid, error=user.t(key),
                     typed=text)  # fmt: skip

    if action not in ("confirm", "ask"):
        return refuse("leave.staff.err_action")
    if action == "ask" and not text:
        return refuse("leave.staff.err_empty")
    if len(text) > lh.QUESTION_MAX:
        return refuse("leave.staff.err_long")
    now = dt.datetime.now(CST)
    with transaction(request, user, write=True) as txn:
        task = data.read(txn, "Task", tid) if tid else None
        owner = ref_id((task or {}).get("owner"), "Organization")
        if task is None or not leave.is_leave_request(task) or owner != org:
            problem = "error.not_found"
        elif action == "confirm" and task.get("status") != "requested":
            problem = "leave.staff.err_done"
        else:
            problem = ""
            if action == "confirm":
                pid = ref_id(task.get("for"), "Patient") or ""
                child = next((c for c in centre_children(txn, org) if str(c["id"]) == pid), None)
                lh.confirm(txn, task, org, enrolment(child)[1] if child else None, now)
            else:
                txn.create(lh.question(task, org, text, now))
    if problem:
        return refuse(problem, 404 if problem == "error.not_found" else 400)
    return RedirectResponse(f"/app/centre/leave?done={action}#leave-{tid}", status_code=303)
