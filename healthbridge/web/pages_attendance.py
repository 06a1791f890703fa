"""The centre's day, health manager / class side: check-in and check-out (tablet-friendly),
absences with their cause (请假, 因病缺勤追踪) and today's follow-up list.

Writes go through :mod:`healthbridge.web.attendance`; every action redirects back to the
same class with an anchor on the child's row, so the page keeps its place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.charts.batch import centre_children
from healthbridge.charts.summary import child_name, enrolment
from healthbridge.web import attendance as att
from healthbridge.web import data
from healthbridge.web.auth import UserDep, WebUser
from healthbridge.web.common import page, today, transaction
from healthbridge.web.pages_daily import centre_of
from healthbridge.web.visit import CST

router = APIRouter()


def _view(
    request: Request, user: WebUser, org: str, room: str, status: int = 200, **extra: Any
) -> Response:
    day = today()
    with transaction(request, user) as txn:
        rooms = data.classes_of(txn, org)
        room = room or (str(rooms[0]["id"]) if rooms else "")
        everyone = centre_children(txn, org)
        days = att.days_of(txn, org, day - dt.timedelta(days=att.TRACK_DAYS), day)
    iso = day.isoformat()
    children = [c for c in everyone if enrolment(c)[1] == room]
    names = {str(c["id"]): child_name(c) for c in everyone}
    rooms_of = {str(c["id"]): enrolment(c)[1] for c in everyone}
    todo = att.follow_ups(everyone, days, day)
    mine = {str(c["id"]): days.get((str(c["id"]), iso)) for c in children}
    present = sum(1 for d in mine.values() if d and d.status in ("in", "out"))
    return page(
        request, user, "attendance.html", status=status, rooms=rooms, room=room,
        children=children, child_name=child_name, days=mine, todo=todo, names=names,
        rooms_of=rooms_of, present=present, day=iso, reasons=att.REASONS,
        symptoms=att.ABSENCE_SYMPTOMS, form=extra.pop("form", {}),
        error_for=extra.pop("error_for", ""), error=extra.pop("error", ""),
        done=request.query_params.get("done", ""), **extra,
    )  # fmt: skip


@router.get("/centre/attendance")
def attendance_page(request: Request, user: UserDep, room: str = "") -> Response:
    """Today's attendance of one class, and the centre's follow-up list."""
    return _view(request, user, centre_of(user), room)


def _child(txn: Any, org: str, pid: str) -> dict[str, Any] | None:
    return next((c for c in centre_children(txn, org) if str(c["id"]) == pid), None)


@router.post("/centre/attendance")
async def attendance_post(request: Request, user: UserDep) -> Response:
    """Check in, check out or record an absence for one child, then back to the row."""
    org = centre_of(user)
    form = await request.form()
    pid, action = str(form.get("child", "")), str(form.get("action", ""))
    room = str(form.get("room", ""))
    now = dt.datetime.now(CST)
    typed = {k: form.getlist(k) if k == "sym" else str(form.get(k, "")) for k in form}
    absence: att.Absence | None = None
    if action == "absent":
        reason = str(form.get("reason", ""))
        back = str(form.get("return", "")).strip()
        try:
            expected = dt.date.fromisoformat(back) if back else None
        except ValueError:
            expected = None
            reason = "bad-date"
        if reason not in att.REASONS:
            key = "attendance.err_date" if reason == "bad-date" else "attendance.err_reason"
            return _view(request, user, org, room, status=400, form=typed, error_for=pid,
                         error=user.t(key))  # fmt: skip
        symptoms = tuple(s for s in att.ABSENCE_SYMPTOMS if s in form.getlist("sym"))
        absence = att.Absence(
            reason, str(form.get("text", "")).strip()[:200], symptoms,
            str(form.get("diagnosis", "")).strip()[:200], expected, "staff",
        )  # fmt: skip
    elif action not in ("in", "out"):
        return _view(request, user, org, room, status=400, error_for=pid,
                     error=user.t("attendance.err_action"))  # fmt: skip
    problem = ""
    with transaction(request, user, write=True) as txn:
        child = _child(txn, org, pid)
        cls = enrolment(child)[1] if child is not None else None
        if child is None:
            problem = "error.not_found"
        elif action == "in":
            att.check_in(txn, pid, org, cls, now)
        elif action == "out":
            if att.check_out(txn, pid, now) is None:
                problem = "attendance.err_not_in"
        else:
            assert absence is not None
            att.record_absence(txn, pid, org, cls, now.date(), absence, now=now)
    if problem:
        return _view(request, user, org, room, status=400, error_for=pid, error=user.t(problem))
    return RedirectResponse(
        f"/app/centre/attendance?room={room}&done={action}#child-{pid}", status_code=303
    )
