"""``Patient/[id]/$growth-chart`` and ``Patient/[id]/$parent-report``.

Both read the child's record through the operation's :class:`Transaction` (so access rules and
audit read hooks apply as for any FHIR read) and answer with a binary body: PNG, SVG or PDF.
Parameters are checked up front; anything invalid is a 400 ``OperationOutcome``.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Final

from starlette.responses import Response

from growth_standards import Indicator
from healthbridge.access.auditing import record_access
from healthbridge.charts.child_chart import CHART_INDICATORS, MEDIA_TYPES, chart_bytes
from healthbridge.charts.growth import AGE_RANGES
from healthbridge.charts.labels import Lang
from healthbridge.charts.record import RecordError
from healthbridge.errors import BadRequestError, UnprocessableError
from healthbridge.operations import OperationCall, OperationRegistry

DEFINITION_BASE: Final = "https://healthbridge.github.io/fhir/OperationDefinition"


def _choice(call: OperationCall, name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = call.get(name)
    value = default if raw is None or raw == "" else str(raw)
    if value not in allowed:
        raise BadRequestError(
            f"Parameter {name}={value!r} is not supported; use one of {', '.join(allowed)}"
        )
    return value


def _as_of(call: OperationCall) -> dt.date:
    raw = call.get("date")
    if raw is None:
        return dt.date.today()
    try:
        day = dt.date.fromisoformat(str(raw)[:10])
    except ValueError as exc:
        raise BadRequestError(f"Parameter date={raw!r} is not a date (YYYY-MM-DD)") from exc
    # the schedule arithmetic (due dates years ahead) must stay inside the calendar
    from healthbridge.district.reports import check_report_dates

    check_report_dates(day, name="date")
    return day


def growth_chart(call: OperationCall) -> Response:
    """Draw one WHO chart with the child's measurements (see module docstring)."""
    assert call.resource_id is not None
    indicator = Indicator(_choice(call, "indicator", CHART_INDICATORS, "wfa"))
    fmt = _choice(call, "format", tuple(MEDIA_TYPES), "png")
    lang = Lang(_choice(call, "lang", ("zh", "en"), "zh"))
    lines = _choice(call, "lines", ("centile", "z"), "centile")
    range_raw = call.get("range")
    range_key = None
    if range_raw:
        range_key = _choice(call, "range", tuple(AGE_RANGES), "0-5y")
    body = chart_bytes(
        call.txn,
        call.resource_id,
        indicator,
        fmt=fmt,
        lang=lang,
        lines="z" if lines == "z" else "centile",
        range_key=range_key,
    )
    return Response(body, media_type=MEDIA_TYPES[fmt])


def parent_report_pdf(call: OperationCall, *, ruleset_key: str) -> Response:
    """The parent report PDF: charts, latest scores in plain words, vaccines, next checkup
    (schedules of the deployment's rule set, ``ruleset_key``)."""
    from healthbridge.charts.batch import report_pdf
    from healthbridge.clinical.ruleset import load_ruleset_key

    assert call.resource_id is not None
    lang = Lang(_choice(call, "lang", ("zh", "en"), "zh"))
    as_of = _as_of(call)
    try:
        rules = load_ruleset_key(ruleset_key)
        pdf = report_pdf(call.txn, call.resource_id, lang=lang, as_of=as_of, rules=rules)
    except RecordError as exc:
        raise UnprocessableError(str(exc)) from exc
    # the child's record leaves the API as a PDF (docs/access.md "Audit")
    record_access(call.txn, "export", [f"Patient/{call.resource_id}"])
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="report-{call.resource_id}.pdf"'},
    )


def register_chart_operations(registry: OperationRegistry, ruleset_key: str) -> None:
    """Add ``$growth-chart`` and ``$parent-report`` (instance level on Patient, read-only);
    ``ruleset_key``: the deployment's rule set (``settings.ruleset_key``)."""
    registry.register(
        "growth-chart",
        growth_chart,
        levels={"instance"},
        resource_types={"Patient"},
        description="WHO growth chart with the child's measurements "
        "(indicator, format=png|svg|pdf, lang=zh|en, lines=centile|z, range)",
        definition_url=f"{DEFINITION_BASE}/growth-chart",
    )
    registry.register(
        "parent-report",
        partial(parent_report_pdf, ruleset_key=ruleset_key),
        levels={"instance"},
        resource_types={"Patient"},
        description="Parent report PDF: growth charts, latest scores explained, "
        "vaccinations given and due, next checkup (lang=zh|en, date)",
        definition_url=f"{DEFINITION_BASE}/parent-report",
    )
