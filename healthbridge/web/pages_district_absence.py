"""District page: sick absence (因病缺勤) of the last days by cause and class, small cells
suppressed (:mod:`healthbridge.reports.absence`)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from starlette.responses import Response

from healthbridge.district.absence import CAUSES, sick_absence_report
from healthbridge.web.auth import UserDep
from healthbridge.web.common import page, rules, today
from healthbridge.web.pages_district import _area

router = APIRouter()
WINDOWS = (1, 3, 7, 14)


@router.get("/district/absence")
def absence_page(request: Request, user: UserDep, days: int = 7) -> Response:
    """Sick child-days and children per class and cause over the last ``days`` days, of the
    centres in the official's area (all centres for the whole database's official)."""
    from healthbridge.district.areas import read_tree

    repo = request.app.state.repository
    area = _area(request, user, None)
    centres = read_tree(repo).centres_under(area) if area is not None else None
    days = days if days in WINDOWS else 7
    last = today()
    first = last - dt.timedelta(days=days - 1)
    table, names = sick_absence_report(repo, rules(request).daily_check, first, last, centres)
    causes = [c for c in table.columns if c in CAUSES or c in ("other", "unspecified")]
    return page(
        request, user, "district_absence.html", table=table, causes=causes, names=names,
        days=days, windows=WINDOWS, first=first.isoformat(), last=last.isoformat(),
    )  # fmt: skip
