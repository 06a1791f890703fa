"""The centre's weekly menu (带量食谱; issue 16 item 4): entered by the health manager as a
week grid (days × meals, one dish a line with the grams per child of each food), saved as
one ``hb-weekly-menu`` Composition of the centre per week (:mod:`healthbridge.web.menu`).

* ``GET /app/centre/menu?week=&copy=`` — the week's grid, prefilled with the saved menu;
  ``copy=1`` fills it from the week before (nothing is saved until "save");
* ``POST /app/centre/menu`` — checks every cell; a problem → the grid again (400) with the
  message on its cell and everything typed kept, nothing saved; else the week's Composition
  is created (conditional on its identifier, so a double submit stores one) or updated.

Who reads it is the store's rule for a centre's own documents
(:mod:`healthbridge.access.centre_documents`): the centre's staff and the guardians of its
children; the parent page shows today's part (:func:`today_menu`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.access.tokens import Role
from healthbridge.errors import FhirError
from healthbridge.store.bundle import process
from healthbridge.store.repository import Transaction
from healthbridge.web import data, menu
from healthbridge.web.auth import PageForbiddenError, UserDep, WebUser
from healthbridge.web.common import page, today, transaction
from healthbridge.web.visit import CST

router = APIRouter()


def _manager(user: WebUser) -> str:
    user.require(Role.HEALTH_MANAGER)
    if user.org_id is None:
        raise PageForbiddenError("no organisation")
    return user.org_id


def _week(raw: str) -> dt.date:
    try:
        return menu.monday(dt.date.fromisoformat(raw))
    except ValueError:
        return menu.monday(today())


def week_menu(txn: Transaction, centre_id: str, start: dt.date) -> dict[str, Any] | None:
    """The centre's menu of the week starting ``start`` (None when not entered or not in
    the user's reach)."""
    found = data.resources(txn, "Composition", [("identifier", menu.identifier(centre_id, start))])
    return found[0] if found else None


def today_menu(
    txn: Transaction, centre_id: str | None, day: dt.date
) -> list[tuple[str, list[tuple[str, list[menu.Food]]]]]:
    """Today's meals of the centre's menu, for the parent page (empty when none)."""
    if not centre_id:
        return []
    return menu.day_menu(menu.foods_of(week_menu(txn, centre_id, menu.monday(day))), day)


def _meal_names(user: WebUser) -> dict[str, str]:
    return {m: user.t(f"care.item.{m}") for m in menu.MEALS}


def _render(
    request: Request, user: WebUser, start: dt.date, cells: dict[str, str], *,
    status: int = 200, errors: list[menu.CellError] | None = None, **values: Any,
) -> Response:  # fmt: skip
    problems: dict[str, list[str]] = {}
    general: list[str] = []  # problems of the whole form (day "")
    for e in errors or ():
        if not e.day:
            general.append(user.t(e.key, **e.values))
            continue
        name = menu.cell_name(dt.date.fromisoformat(e.day), e.meal)
        problems.setdefault(name, []).append(user.t(e.key, **e.values))
    return page(
        request, user, "menu.html", status=status, week=start, days=menu.week_days(start),
        meals=menu.MEALS, cells=cells, problems=problems, general=general, cell_name=menu.cell_name,
        prev=(start - dt.timedelta(days=7)).isoformat(),
        next=(start + dt.timedelta(days=7)).isoformat(), **values,
    )  # fmt: skip


@router.get("/centre/menu")
def menu_page(
    request: Request, user: UserDep, week: str = "", copy: str = "", saved: str = ""
) -> Response:
    """The week's menu grid, prefilled (or copied from the week before)."""
    org = _manager(user)
    start = _week(week)
    source = start - dt.timedelta(days=7) if copy else start
    with transaction(request, user) as txn:
        stored = week_menu(txn, org, source)
    cells = menu.grid_text(menu.foods_of(stored), start)
    copied = "yes" if copy and stored else "none" if copy else ""
    return _render(request, user, start, cells, saved=saved, copied=copied)


@router.post("/centre/menu")
async def menu_post(request: Request, user: UserDep) -> Response:
    """Save the week's menu; any problem → the grid with the messages and the input kept."""
    org = _manager(user)
    form = await request.form()
    start = _week(str(form.get("week", "")))
    foods, typed, errors = menu.parse_grid(form, start)
    if errors:
        return _render(request, user, start, typed, status=400, errors=errors)
    if not foods:
        empty = [menu.CellError("", "", "menu.err_empty", {})]
        return _render(request, user, start, typed, status=400, errors=empty)
    now = dt.datetime.now(CST).replace(microsecond=0)
    author = user.principal.fhir_user or f"Organization/{org}"
    resource = menu.composition(foods, org, start, author, now, _meal_names(user))
    with transaction(request, user) as txn:
        stored = week_menu(txn, org, start)
    if stored is not None:
        resource["id"] = stored["id"]
        entry = {"resource": resource,
                 "request": {"method": "PUT", "url": f"Composition/{stored['id']}"}}  # fmt: skip
    else:
        entry = {
            "resource": resource,
            "request": {
                "method": "POST",
                "url": "Composition",
                "ifNoneExist": f"identifier={menu.identifier(org, start)}",
            },
        }
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    settings = request.app.state.settings
    try:
        process(
            request.app.state.repository, user.context, bundle,
            max_entries=settings.max_bundle_entries, base="", minimal=True,
        )  # fmt: skip
    except FhirError as exc:
        problem = menu.CellError("", "", "menu.err_server", {"detail": str(exc)})
        return _render(request, user, start, typed, status=422, errors=[problem])
    return RedirectResponse(f"/app/centre/menu?week={start.isoformat()}&saved=1", status_code=303)
