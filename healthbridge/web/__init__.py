"""Server-rendered pages for parents, centre health managers, paediatricians and district
officials (at ``/app``).

:func:`mount` adds them to the FastAPI app: Jinja2 templates, a small stylesheet, no
JavaScript build. Pages read and write through the repository with the user's
``RequestContext`` (see :mod:`healthbridge.web.auth`), like FHIR clients.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response


def mount(app: FastAPI) -> None:
    """Add the pages, their static files and their error pages to ``app``."""
    from healthbridge.api.errors import audit_refusal
    from healthbridge.errors import ForbiddenError, NotFoundError
    from healthbridge.web import pages, pages_centre, pages_district, pages_doctor, pages_parent
    from healthbridge.web.auth import LoginRequiredError, PageForbiddenError, PageNotFoundError
    from healthbridge.web.common import page

    for module in (pages, pages_parent, pages_centre, pages_doctor, pages_district):
        app.include_router(module.router, prefix="/app", include_in_schema=False)
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

    app.add_exception_handler(LoginRequiredError, login_required)
    app.add_exception_handler(PageForbiddenError, forbidden)
    app.add_exception_handler(PageNotFoundError, not_found)
