"""A centre's day: the class care-log page (staff) and the parent's live "today" feed.

* ``/app/centre/care`` — one row per child of a class (meal amount, nap from–to, toileting,
  outdoor minutes, mood and note), saved as one transaction of ``hb-care-log``
  Observations (:mod:`healthbridge.web.care`); a bad row → the form again with every value
  typed kept and the error on its row, nothing saved.
* ``/app/parent/today/{child}`` — the child's day as JSON events
  (:mod:`healthbridge.web.today`), polled by ``static/today.js`` on the parent's page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from healthbridge.access.tokens import Role
from healthbridge.charts.batch import centre_children
from healthbridge.charts.summary import child_name, enrolment
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.store.bundle import process
from healthbridge.store.repository import Transaction
from healthbridge.web import actions, care, data
from healthbridge.web.auth import PageForbiddenError, UserDep, WebUser
from healthbridge.web.common import guard_child, page, rules, today, transaction
from healthbridge.web.today import Event, day_events
from healthbridge.web.visit import CST

router = APIRouter()


def _centre(user: WebUser) -> str:
    user.require(Role.HEALTH_MANAGER, Role.CENTRE_STAFF)
    if user.org_id is None:
        raise PageForbiddenError("no organisation")
    return user.org_id


def _day(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return today()


def observations_of_day(txn: Transaction, patient_id: str, day: dt.date) -> list[dict[str, Any]]:
    """The child's Observations around ``day`` (the caller keeps the Beijing calendar day:
    a day in UTC+8 spans two UTC dates)."""
    params = [
        ("subject", f"Patient/{patient_id}"),
        ("date", f"ge{(day - dt.timedelta(days=1)).isoformat()}"),
        ("date", f"le{(day + dt.timedelta(days=1)).isoformat()}"),
    ]
    return data.resources(txn, "Observation", params)


#: children per Observation search of a class (the ``subject`` values of one search)
BATCH = 100


def observations_of_class(
    txn: Transaction, patient_ids: list[str], day: dt.date
) -> list[dict[str, Any]]:
    """:func:`observations_of_day` of several children: one search per :data:`BATCH`
    children (``subject=Patient/a,Patient/b,…``) instead of one per child (a class of
    ~200 children made ~200 searches: 6 s at 10,000 children)."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(patient_ids), BATCH):
        refs = ",".join(f"Patient/{p}" for p in patient_ids[start : start + BATCH])
        params = [
            ("subject", refs),
            ("date", f"ge{(day - dt.timedelta(days=1)).isoformat()}"),
            ("date", f"le{(day + dt.timedelta(days=1)).isoformat()}"),
        ]
        found += data.resources(txn, "Observation", params)
    return found


def child_day(
    txn: Transaction, patient_id: str, user: WebUser, day: dt.date, ruleset: RuleSet
) -> list[Event]:
    """The child's day as timeline events in the user's language."""
    fever = ruleset.daily_check.fever_threshold_c
    return day_events(observations_of_day(txn, patient_id, day), day, user.t, fever)


def _class(txn: Transaction, org: str, room: str) -> tuple[list[dict[str, Any]], str, list[Any]]:
    rooms = data.classes_of(txn, org)
    room = room or (str(rooms[0]["id"]) if rooms else "")
    children = [c for c in centre_children(txn, org) if enrolment(c)[1] == room]
    return rooms, room, children


def _render(request: Request, user: WebUser, *, status: int = 200, **values: Any) -> Response:
    return page(
        request, user, "care.html", status=status, meals=care.MEALS, amounts=care.AMOUNTS,
        toileting=care.TOILETING, moods=care.MOODS, child_name=child_name, **values,
    )  # fmt: skip


@router.get("/centre/care")
def care_page(
    request: Request, user: UserDep, room: str = "", meal: str = "lunch", day: str = "",
    saved: str = "",
) -> Response:  # fmt: skip
    """The class's care log of a day, prefilled with what is already recorded."""
    org = _centre(user)
    meal = meal if meal in care.MEALS else "lunch"
    when = _day(day)
    with transaction(request, user) as txn:
        rooms, room, children = _class(txn, org, room)
        found = observations_of_class(txn, [str(c["id"]) for c in children], when)
    prefilled = care.form_values(_on(found, when), meal)
    rows = [prefilled.get(str(c["id"]), care.CareRow(str(c["id"]))) for c in children]
    return _render(
        request, user, rooms=rooms, room=room, meal=meal, day=when.isoformat(),
        rows=list(zip(children, rows, strict=True)), saved=saved, failed=0,
    )  # fmt: skip


def _on(observations: list[dict[str, Any]], day: dt.date) -> list[dict[str, Any]]:
    """Care-log Observations of the Beijing calendar ``day``."""
    out = []
    for o in observations:
        raw = o.get("effectiveDateTime") or o.get("effectivePeriod", {}).get("start", "")
        try:
            when = dt.datetime.fromisoformat(str(raw))
        except ValueError:
            continue
        if care.care_item(o) and when.astimezone(CST).date() == day:
            out.append(o)
    return out


@router.post("/centre/care")
async def care_post(request: Request, user: UserDep) -> Response:
    """Save the class's log as one transaction; a row in error → the form with all input
    kept and the error on its row, nothing saved."""
    org = _centre(user)
    form = await request.form()
    meal = str(form.get("meal", "lunch"))
    meal = meal if meal in care.MEALS else "lunch"
    when = _day(str(form.get("day", "")))
    with transaction(request, user) as txn:
        rooms, room, children = _class(txn, org, str(form.get("room", "")))
        performer = actions.practitioner_ref(txn, user.principal.fhir_user)
        found = observations_of_class(txn, [str(c["id"]) for c in children], when)
    rows = care.parse_rows(form, [str(c["id"]) for c in children])
    failed = sum(1 for r in rows if r.errors)
    if failed:
        return _render(
            request, user, status=400, rooms=rooms, room=room, meal=meal,
            day=when.isoformat(), rows=list(zip(children, rows, strict=True)), saved="",
            failed=failed,
        )  # fmt: skip
    existing: dict[tuple[str, str], str] = {}
    for o in _on(found, when):
        pid = str(o["subject"]["reference"]).split("/")[-1]
        existing[(pid, care.care_item(o) or "")] = str(o["id"])
    filled = [r for r in rows if not r.empty]
    now = dt.datetime.now(CST).replace(second=0, microsecond=0)
    bundle = care.class_bundle(filled, meal, when, performer, now, existing)
    if bundle["entry"]:
        settings = request.app.state.settings
        process(
            request.app.state.repository, user.context, bundle,
            max_entries=settings.max_bundle_entries, base="", minimal=True,
        )  # fmt: skip
    target = f"/app/centre/care?room={room}&meal={meal}&day={when.isoformat()}"
    return RedirectResponse(f"{target}&saved={len(filled)}", status_code=303)


@router.get("/parent/today/{patient_id}")
def today_feed(request: Request, user: UserDep, patient_id: str) -> Response:
    """The child's day so far as JSON (polled by the parent's page); the child must be in
    the user's reach (the store decides)."""
    user.require(Role.PARENT)
    day = today()
    with transaction(request, user) as txn:
        guard_child(txn, patient_id)
        events = child_day(txn, patient_id, user, day, rules(request))
    body = {"day": day.isoformat(), "events": [e.as_json() for e in events]}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
