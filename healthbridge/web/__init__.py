"""Server-rendered pages for parents, centre health managers, paediatricians and district
officials (at ``/app``).

:func:`mount` adds them to the FastAPI app: Jinja2 templates, a small stylesheet, no
JavaScript build. Pages read and write through the repository with the user's
``RequestContext`` (see :mod:`healthbridge.web.auth`), like FHIR clients.
"""

from __future__ import annotations

from importlib import resources

from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response


def mount(app: FastAPI) -> None:
    """Add the pages, their static files and their error pages to ``app``."""
    from healthbridge.access.http import audit_refusal
    from healthbridge.errors import ForbiddenError, NotFoundError
    from healthbridge.web import (
        oidc,
        pages,
        pages_admin,
        pages_admission,
        pages_attendance,
        pages_care,
        pages_cases,
        pages_centre,
        pages_daily,
        pages_district,
        pages_district_absence,
        pages_doctor,
        pages_inbox,
        pages_leave,
        pages_live,
        pages_menu,
        pages_parent,
        pages_rights,
        pages_signin,
    )
    from healthbridge.web.auth import (
        CsrfError,
        LoginRequiredError,
        PageForbiddenError,
        PageNotFoundError,
        csrf_protect,
    )
    from healthbridge.web.common import page

    modules = (
        pages_signin,
        pages,
        pages_parent,
        pages_rights,
        pages_centre,
        pages_daily,
        pages_doctor,
        pages_district,
    )
    for module in (
        *modules,
        pages_attendance,
        pages_admission,
        pages_district_absence,
        pages_cases,
        pages_care,
        pages_inbox,
        pages_leave,
        pages_live,
        pages_menu,
        pages_admin,
        oidc,
    ):
        app.include_router(
            module.router,
            prefix="/app",
            include_in_schema=False,
            dependencies=[Depends(csrf_protect)],  # every unsafe /app request
        )
    static = resources.files("healthbridge.web").joinpath("static")
    app.mount("/app/static", StaticFiles(directory=str(static)), name="web-static")

    async def login_required(request: Request, exc: Exception) -> Response:
        del request, exc
        return RedirectResponse("/app/login", status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        await audit_refusal(request, ForbiddenError(str(exc) or "forbidden"))
        return page(request, None, "error.html", status=403, message="error.forbidden")

    async def not_found(request: Request, exc: Exception) -> Response:
        text = str(exc) if "not found" in str(exc) else f"{exc} not found"
        await audit_refusal(request, NotFoundError(text))
        return page(request, None, "error.html", status=404, message="error.not_found")

    async def csrf_refused(request: Request, exc: Exception) -> Response:
        del exc
        return page(request, None, "error.html", status=403, message="error.csrf")

    app.add_exception_handler(LoginRequiredError, login_required)
    app.add_exception_handler(CsrfError, csrf_refused)
    app.add_exception_handler(PageForbiddenError, forbidden)
    app.add_exception_handler(PageNotFoundError, not_found)
