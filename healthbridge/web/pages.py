"""Pages common to every role: log in/out, home, a child's record, charts and report."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from growth_standards import Indicator
from healthbridge.access.errors import AuthenticationError
from healthbridge.access.tokens import Role
from healthbridge.api.chart_operations import CHART_INDICATORS, MEDIA_TYPES, chart_bytes
from healthbridge.charts.labels import TITLES
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from healthbridge.web import data
from healthbridge.web.auth import (
    TOKEN_COOKIE,
    UserDep,
    mint_demo_token,
    token_secret,
    verify_token,
)
from healthbridge.web.common import guard_child, page, rules, today, transaction

router = APIRouter()
HOME: Final = {
    Role.PARENT: "/app/parent",
    Role.HEALTH_MANAGER: "/app/centre",
    Role.PAEDIATRICIAN: "/app/doctor",
    Role.DISTRICT_OFFICIAL: "/app/district",
}
STAFF_ROLE: Final = "https://healthbridge.github.io/fhir/CodeSystem/staff-role"
#: The demo district official's token subject.
DEMO_OFFICIAL: Final = "demo-district-official"


def _signed_in(token: str, target: str) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="lax", max_age=8 * 3600)
    return response


def demo_people(repo: Repository, limit: int = 4) -> list[tuple[Role, str, str, str | None]]:
    """(role, fhirUser, name, organisation) of a few demo people for the role picker; the
    district official (no FHIR record: a plain subject) comes first."""
    people: list[tuple[Role, str, str, str | None]] = [
        (Role.DISTRICT_OFFICIAL, DEMO_OFFICIAL, "区卫健局 · 演示 / district bureau (demo)", None)
    ]
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        for code, role in (
            ("health-manager", Role.HEALTH_MANAGER),
            ("paediatrician", Role.PAEDIATRICIAN),
        ):
            found = txn.search_params(
                "PractitionerRole", [("role", f"{STAFF_ROLE}|{code}"), ("_count", str(limit))]
            )
            for s in found.matches:
                r = s.resource or {}
                pr = data.read(txn, "Practitioner", r["practitioner"]["reference"].split("/")[-1])
                name = (pr or {}).get("name", [{}])[0].get("text", s.id)
                people.append(
                    (role, f"PractitionerRole/{s.id}", name, r["organization"]["reference"])
                )
        for s in txn.search_params("RelatedPerson", [("_count", str(limit))]).matches:
            r = s.resource or {}
            people.append(
                (
                    Role.PARENT,
                    f"RelatedPerson/{s.id}",
                    r.get("name", [{}])[0].get("text", s.id),
                    None,
                )
            )
    return people


@router.get("/login", name="login")
def login_page(request: Request) -> Response:
    settings = request.app.state.settings
    people = demo_people(request.app.state.repository) if settings.demo_login else []
    return page(request, None, "login.html", people=people, error=None)


@router.post("/login")
def login_token(request: Request, token: Annotated[str, Form()]) -> Response:
    try:
        principal = verify_token(request, token.strip())
        return _signed_in(token.strip(), HOME.get(principal.role, "/app/"))
    except AuthenticationError:
        error = "login.bad_token"
    return page(request, None, "login.html", status=401, people=[], error=error)


@router.post("/login/demo")
def login_demo(
    request: Request,
    role: Annotated[str, Form()],
    fhir_user: Annotated[str, Form()],
    organization: Annotated[str, Form()] = "",
) -> Response:
    secret = token_secret(request)
    if not request.app.state.settings.demo_login or secret is None:
        return page(request, None, "login.html", status=403, people=[], error="login.no_secret")
    token = mint_demo_token(secret, Role(role), fhir_user, organization or None)
    return _signed_in(token, HOME.get(Role(role), "/app/"))


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(TOKEN_COOKIE)
    return response


@router.get("/")
def home(user: UserDep) -> Response:
    return RedirectResponse(HOME.get(user.role, "/app/login"), status_code=303)


@router.get("/child/{patient_id}")
def child_page(request: Request, user: UserDep, patient_id: str) -> Response:
    """A child's record: growth (charts + plain-language scores), vaccinations, checkups,
    alerts; the history for staff; consents for parents."""
    with transaction(request, user) as txn:
        guard_child(txn, patient_id)
        summary = data.child_summary(txn, patient_id, rules(), user.lang, today())
        consents = data.compartment(txn, patient_id, "Consent")
        encounters = data.compartment(txn, patient_id, "Encounter")
        orgs = {o["id"]: o for o in data.resources(txn, "Organization", [])}
    indicator = request.query_params.get("indicator", "wfa")
    if indicator not in CHART_INDICATORS:
        indicator = "wfa"
    indicators = [(i, TITLES[Indicator(i)][user.lang]) for i in CHART_INDICATORS]
    encounters.sort(key=lambda e: str(e.get("period", {}).get("start", "")), reverse=True)
    return page(
        request,
        user,
        "child.html",
        s=summary,
        consents=consents,
        encounters=encounters[:12],
        orgs=orgs,
        indicator=indicator,
        indicators=indicators,
        titles={i: TITLES[i][user.lang] for i in TITLES},
    )


@router.get("/chart/{patient_id}/{indicator}.{fmt}")
def chart_image(
    request: Request, user: UserDep, patient_id: str, indicator: str, fmt: str
) -> Response:
    """The child's chart for the page (same drawing as ``$growth-chart``)."""
    if indicator not in CHART_INDICATORS or fmt not in MEDIA_TYPES:
        return Response(status_code=404)
    with transaction(request, user) as txn:
        guard_child(txn, patient_id)
        body = chart_bytes(txn, patient_id, Indicator(indicator), fmt=fmt, lang=user.lang)
    return Response(
        body, media_type=MEDIA_TYPES[fmt], headers={"Cache-Control": "private, no-store"}
    )


@router.get("/child/{patient_id}/report.pdf")
def report_pdf(request: Request, user: UserDep, patient_id: str) -> Response:
    """The parent report PDF (same as ``$parent-report``)."""
    from healthbridge.access.auditing import record_access
    from healthbridge.charts.parent_report import render_parent_report
    from healthbridge.charts.summary import parent_report

    with transaction(request, user) as txn:
        guard_child(txn, patient_id)
        summary = data.child_summary(txn, patient_id, rules(), user.lang, today())
        centre = data.read(txn, "Organization", summary.centre_id) if summary.centre_id else None
        record_access(txn, "export", [f"Patient/{patient_id}"])  # the record leaves as a PDF
    report = parent_report(summary, user.lang, as_of=today(), centre=(centre or {}).get("name"))
    return Response(render_parent_report(report, user.lang), media_type="application/pdf")
