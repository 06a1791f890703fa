"""Pages common to every role: home, a child's record, charts and report (signing in and
out: :mod:`healthbridge.web.pages_signin`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from growth_standards import Indicator
from healthbridge.access.tokens import Role
from healthbridge.charts.child_chart import CHART_INDICATORS, MEDIA_TYPES, chart_bytes
from healthbridge.charts.labels import TITLES
from healthbridge.charts.parent_report import percentile_sentence
from healthbridge.web import cases, data
from healthbridge.web.auth import UserDep
from healthbridge.web.clinical import clinical_view, visit_type_names
from healthbridge.web.common import (
    guard_child,
    page,
    results_pending,
    rules,
    today,
    transaction,
)
from healthbridge.web.pages_signin import HOME
from healthbridge.web.screenings import screening_view

router = APIRouter()


@router.get("/")
def home(user: UserDep) -> Response:
    return RedirectResponse(HOME.get(user.role, "/app/login"), status_code=303)


@router.get("/child/{patient_id}")
def child_page(request: Request, user: UserDep, patient_id: str) -> Response:
    """A child's record: growth (charts + plain-language scores), vaccinations, checkups,
    alerts; the history for staff; consents for parents. Results still queued after the
    page's bounded wait (outbox mode) are announced, not passed off as current."""
    pending = bool(results_pending(request, [patient_id], wait=False))
    if pending:  # refuse a child out of reach before waiting: the wait must not tell
        with transaction(request, user) as txn:  # anyone else that it was just written
            guard_child(txn, patient_id)
        pending = bool(results_pending(request, [patient_id]))
    with transaction(request, user) as txn:
        guard_child(txn, patient_id)
        ruleset = rules(request)
        items = data.record(txn, patient_id)  # one $everything for the whole page
        summary = data.summary_of(items, patient_id, ruleset, user.lang, today())
        consents = data.of_type(items, "Consent")
        encounters = data.of_type(items, "Encounter")
        managed = cases.case_views(
            data.of_type(items, "EpisodeOfCare"), encounters,
            data.read(txn, "Patient", patient_id) or {}, ruleset.cases, user.lang.value, today(),
        )  # fmt: skip
        orgs = {o["id"]: o for o in data.resources(txn, "Organization", [])}
        staff = user.role is not Role.PARENT
        observations = data.of_type(items, "Observation")
    screens = screening_view(
        observations, summary.birth_date, ruleset, user.lang.value, user.t, today()
    )
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
        pending=pending,
        consents=consents,
        cases=managed,
        today_iso=today().isoformat(),
        outcomes=ruleset.cases.outcomes,
        conditions=ruleset.cases.conditions,
        encounters=encounters[:12],
        orgs=orgs,
        indicator=indicator,
        indicators=indicators,
        titles={i: TITLES[i][user.lang] for i in TITLES},
        clinical=clinical_view(summary, observations, ruleset) if staff else None,
        screens=screens,
        visit_names=visit_type_names(user.lang, ruleset),
        pct=percentile_sentence,
        smart_apps=[
            (cid, c.name or cid)
            for cid, c in request.app.state.settings.smart_clients.items()
            if c.launch_url
        ],
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
        phone = request.query_params.get("size") == "phone"  # the parent's phone chart
        body = chart_bytes(
            txn, patient_id, Indicator(indicator), fmt=fmt, lang=user.lang,
            phone_as_of=today() if phone else None,
        )  # fmt: skip
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
        summary = data.child_summary(txn, patient_id, rules(request), user.lang, today())
        centre = data.read(txn, "Organization", summary.centre_id) if summary.centre_id else None
        record_access(txn, "export", [f"Patient/{patient_id}"])  # the record leaves as a PDF
    report = parent_report(summary, user.lang, as_of=today(), centre=(centre or {}).get("name"))
    return Response(render_parent_report(report, user.lang), media_type="application/pdf")
