"""The centre's day, health manager side: the morning / afternoon check (晨午检) of a class.

The form never loses input: a wrong row comes back marked with its error and every row as
typed (nothing saved); saving is idempotent by child + date + session
(:mod:`healthbridge.web.daily`), the page shows today's progress per class ("已检 7/7") and
a second submission for a class and session already saved asks for confirmation first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.charts.batch import centre_children
from healthbridge.charts.summary import child_name, enrolment
from healthbridge.web import actions, data
from healthbridge.web import daily as dc
from healthbridge.web.auth import PageForbiddenError, UserDep, WebUser
from healthbridge.web.common import page, today, transaction
from healthbridge.web.visit import CST

router = APIRouter()


def centre_of(user: WebUser) -> str:
    """The health manager's centre (403 for any other role)."""
    from healthbridge.access.tokens import Role

    user.require(Role.HEALTH_MANAGER)
    if user.org_id is None:
        raise PageForbiddenError("no organisation")
    return user.org_id


def _session(raw: str) -> str:
    if raw in dc.SESSIONS:
        return raw
    return "afternoon" if dt.datetime.now(CST).hour >= 12 else "morning"


def _day(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return today()


def _context(txn: Any, org: str, room: str, day: dt.date, session: str) -> dict[str, Any]:
    """Classes with their progress, the class's children and what is saved for them."""
    rooms = data.classes_of(txn, org)
    room = room or (str(rooms[0]["id"]) if rooms else "")
    everyone = centre_children(txn, org)
    saved = dc.existing_checks(txn, [str(c["id"]) for c in everyone], day, session)
    done = dc.checked_children(saved)
    progress = {}
    for r in rooms:
        ids = {str(c["id"]) for c in everyone if enrolment(c)[1] == r["id"]}
        progress[str(r["id"])] = (len(ids & done), len(ids))
    children = [c for c in everyone if enrolment(c)[1] == room]
    mine = {str(c["id"]): saved.get(str(c["id"]), []) for c in children}
    return {
        "rooms": rooms,
        "room": room,
        "children": children,
        "progress": progress,
        "saved_here": {p: o for p, o in mine.items() if o},
    }


def _render(
    request: Request, user: WebUser, ctx: dict[str, Any], form: dc.CheckForm, **extra: Any
) -> Response:
    return page(
        request, user, "daily.html", status=extra.pop("status", 200), child_name=child_name,
        symptoms=dc.SYMPTOM_CODES, sessions=dc.SESSIONS, check_actions=dc.ACTIONS, form=form,
        **ctx, **extra,
    )  # fmt: skip


@router.get("/centre/daily")
def daily_page(
    request: Request, user: UserDep, room: str = "", saved: str = "", day: str = "",
    session: str = "",
) -> Response:  # fmt: skip
    """Check entry for one class, pre-filled with what is already saved for the session."""
    org = centre_of(user)
    when, sess = _day(day), _session(session)
    with transaction(request, user) as txn:
        ctx = _context(txn, org, room, when, sess)
    form = dc.form_from_existing(ctx["saved_here"])
    return _render(
        request, user, ctx, form, saved=saved, day=when.isoformat(), session=sess,
        again=bool(ctx["saved_here"]), confirm=False,
    )  # fmt: skip


@router.post("/centre/daily")
async def daily_post(request: Request, user: UserDep) -> Response:
    """Save the class's check in one transaction, or return the form as typed with the
    errors on their rows (400), or ask to confirm a second submission (409)."""
    org = centre_of(user)
    raw = await request.form()
    values = {k: raw.getlist(k) if k.startswith("sym-") else raw.get(k) for k in raw}
    room, when = str(raw.get("room", "")), _day(str(raw.get("day", "")))
    sess = _session(str(raw.get("session", "")))
    with transaction(request, user) as txn:
        ctx = _context(txn, org, room, when, sess)
        performer = actions.practitioner_ref(txn, user.principal.fhir_user)
    ids = [str(c["id"]) for c in ctx["children"]]
    form = dc.parse_check(values, ids)
    common = {"saved": "", "day": when.isoformat(), "session": sess}
    if form.errors:
        return _render(request, user, ctx, form, status=400, again=False, confirm=False, **common)
    if ctx["saved_here"] and raw.get("update") != "1":
        return _render(request, user, ctx, form, status=409, again=True, confirm=True, **common)
    now = dt.datetime.now(CST)
    moment = now if when == now.date() else None
    with transaction(request, user, write=True) as txn:
        n = dc.save_check(txn, form.rows, ids, when, sess, performer, moment)
    query = f"room={ctx['room']}&day={when.isoformat()}&session={sess}&saved={n}"
    return RedirectResponse(f"/app/centre/daily?{query}", status_code=303)
