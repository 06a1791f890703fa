"""Centre health manager pages: the alert worklist, the daily check, the admission check."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.access.auditing import reads_not_listed, record_access
from healthbridge.access.tokens import Role
from healthbridge.charts.batch import centre_children
from healthbridge.charts.summary import child_name
from healthbridge.errors import BadRequestError
from healthbridge.web import actions, data, rights
from healthbridge.web import worklist_view as wv
from healthbridge.web.auth import PageForbiddenError, UserDep, WebUser
from healthbridge.web.common import page, results_pending, rules, today, transaction

router = APIRouter()
REFER_TO = ("org-mch", "org-chc")


def _centre(user: WebUser) -> str:
    user.require(Role.HEALTH_MANAGER)
    if user.org_id is None:
        raise PageForbiddenError("no organisation")
    return user.org_id


@router.get("/centre")
def worklist_page(
    request: Request,
    user: UserDep,
    kind: str = "",
    done: str = "",
    view: str = "",
    page_no: Annotated[str, Query(alias="page")] = "1",
) -> Response:
    """The worklist: the centre's open alerts grouped by child, counted and paged;
    ``view=week``: the checkups and vaccines due within 7 days (overdue included)."""
    return _worklist(request, user, kind=kind, page_no=_int(page_no), done=done, view=view)


def _int(raw: str) -> int:
    return int(raw) if raw.strip().isdigit() else 1


def _worklist(
    request: Request, user: WebUser, *, kind: str, page_no: int, done: str = "",
    status: int = 200, error_for: str = "", error: str = "", typed: str = "", view: str = "",
) -> Response:  # fmt: skip
    org = _centre(user)
    view = "week" if view == "week" else ""
    with transaction(request, user) as txn:
        children = centre_children(txn, org)  # every child is listed on the page
        # every open review is read to count, group and page them; the audit names the
        # shown ones (docs/access.md "Audit": a list page names what it showed)
        with reads_not_listed(txn):
            items = data.worklist(txn, org, children, base_url=user.context.base_url or "")
        shaped = wv.shape(items, kind, page_no, today() + dt.timedelta(days=7) if view else None)
        record_access(txn, "search-type", wv.shown_records(shaped))
        centre = data.read(txn, "Organization", org)
        orgs = {o: (data.read(txn, "Organization", o) or {}).get("name", o) for o in REFER_TO}
        corrections = rights.open_corrections(txn, org)
    # the outbox mode: children whose latest records are still being evaluated (no wait:
    # the worklist is opened often, e.g. during the morning-check burst)
    pending = results_pending(request, [str(c["id"]) for c in children], wait=False)
    texts = {k.kind.value: k for k in rules(request).alerts.kinds}
    zh = user.lang.value == "zh"
    vaccines = {v.code: v.name_zh if zh else v.name_en for v in rules(request).vaccination.vaccines}
    visits = {v.code: v.name_zh if zh else v.name_en for v in rules(request).checkups.visits}

    def named(item: data.WorkItem) -> list[str]:
        first = user.t("worklist.tb_test_first")
        return [wv.item_label(c, vaccines, visits, first) for c in wv.named_items(item)]

    return page(
        request, user, "worklist.html", status=status, view=shaped, mode=view, children=children,
        centre=centre, kind=kind, texts=texts, refer_to=orgs, done=done,
        child_name=child_name, named_items=named, query=wv.query, due=wv.due,
        error_for=error_for, error=error, typed=typed, corrections=corrections,
        names={str(c["id"]): child_name(c) for c in children}, pending=len(pending),
    )  # fmt: skip


@router.post("/centre/alert/{flag_id}")
def worklist_post(
    request: Request,
    user: UserDep,
    flag_id: str,
    action: Annotated[str, Form()],
    text: Annotated[str, Form()] = "",
    refer_to: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    page_no: Annotated[str, Form(alias="page")] = "1",
    anchor: Annotated[str, Form()] = "",
    view: Annotated[str, Form()] = "",
) -> Response:
    """Acknowledge, note, resolve or refer one alert (the pipeline's worklist operations; an
    alert out of the user's reach is not found), then back to the same filter, page and
    child; a refused action → the worklist with the message on that alert, text kept (400)."""
    _centre(user)
    try:
        with transaction(request, user, write=True) as txn:
            actions.worklist_action(
                txn, flag_id, action, requester=user.principal.fhir_user,
                base_url=user.context.base_url or "", text=text.strip(), refer_to=refer_to or None,
            )  # fmt: skip
    except BadRequestError:
        return _worklist(
            request, user, kind=kind, page_no=_int(page_no), status=400, error_for=flag_id,
            error=user.t("manager.bad_action"), typed=text, view=view,
        )  # fmt: skip
    target = f"/app/centre?{wv.query(kind, _int(page_no), view, done='1')}"
    if anchor.replace("-", "").isalnum():
        target += f"#{anchor}"
    return RedirectResponse(target, status_code=303)
