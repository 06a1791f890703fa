"""``Patient/[id]/$growth-chart`` and ``Patient/[id]/$parent-report``.

Both read the child's record through the operation's :class:`Transaction` (so access rules and
audit read hooks apply as for any FHIR read) and answer with a binary body: PNG, SVG or PDF.
Parameters are checked up front; anything invalid is a 400 ``OperationOutcome``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from starlette.responses import Response

from growth_standards import Indicator
from healthbridge.access.auditing import record_access
from healthbridge.api.operations import OperationCall, OperationRegistry
from healthbridge.charts.batch import DEFAULT_RULESET as DEFAULT_RULESET
from healthbridge.charts.growth import (
    AGE_RANGES,
    ChartError,
    LineKind,
    chart_data,
)
from healthbridge.charts.labels import Lang
from healthbridge.charts.record import GROWTH_CODES, RecordError, growth_record, points
from healthbridge.errors import BadRequestError, UnprocessableError
from healthbridge.store.repository import Transaction

CHART_INDICATORS: Final = ("wfa", "lhfa", "wfl", "wfh", "bfa", "hcfa")
MEDIA_TYPES: Final = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
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


def growth_observations(txn: Transaction, patient_id: str) -> list[dict[str, Any]]:
    """The child's weight, length/height and head-circumference Observations (all pages).

    One search per LOINC code: on SQLite a ``code`` search with a list of values
    (``code=a,b,c``) took 25x as long as a single value (about 50 ms against 2 ms), most of
    a chart's time.
    """
    found: dict[str, dict[str, Any]] = {}
    for code in GROWTH_CODES:
        offset = 0
        while True:
            page = txn.search_params(
                "Observation",
                [
                    ("subject", f"Patient/{patient_id}"),
                    ("code", f"http://loinc.org|{code}"),
                    ("_count", str(txn.max_count)),
                    ("_offset", str(offset)),
                ],
            )
            for match in page.matches:
                if match.resource is not None:
                    found.setdefault(match.id, match.resource)
            offset += len(page.matches)
            if not page.matches or page.total is None or offset >= page.total:
                break
    return list(found.values())


def chart_bytes(
    txn: Transaction,
    patient_id: str,
    indicator: Indicator,
    *,
    fmt: str = "png",
    lang: Lang = Lang.ZH,
    lines: LineKind = "centile",
    range_key: str | None = None,
    phone_as_of: dt.date | None = None,
) -> bytes:
    """One child's chart, rendered (the operation and the web pages share this);
    ``phone_as_of``: the parent's phone chart (:mod:`healthbridge.charts.phone`) with the age
    window of the child on that day."""
    patient = txn.read("Patient", patient_id).resource
    assert patient is not None
    try:
        record = growth_record(patient, growth_observations(txn, patient_id))
        if phone_as_of is not None:
            from healthbridge.charts import phone

            age = float((phone_as_of - record.birth_date).days)
            shown = phone.phone_data(indicator, record.sex, points(record, indicator), age)
            return phone.render_phone(phone.draw_phone(shown, age, lang), fmt)  # type: ignore[arg-type]
        data = chart_data(
            indicator, record.sex, points(record, indicator), line_kind=lines, range_key=range_key
        )
    except ChartError as exc:
        raise BadRequestError(str(exc)) from exc
    except RecordError as exc:
        raise UnprocessableError(str(exc)) from exc
    from healthbridge.charts.compose import render_chart

    return render_chart(data, lang, fmt)  # type: ignore[arg-type]


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


def parent_report_pdf(call: OperationCall) -> Response:
    """The parent report PDF: charts, latest scores in plain words, vaccines, next checkup."""
    from healthbridge.charts.batch import report_pdf

    assert call.resource_id is not None
    lang = Lang(_choice(call, "lang", ("zh", "en"), "zh"))
    as_of = _as_of(call)
    try:
        pdf = report_pdf(call.txn, call.resource_id, lang=lang, as_of=as_of)
    except RecordError as exc:
        raise UnprocessableError(str(exc)) from exc
    # the child's record leaves the API as a PDF (docs/access.md "Audit")
    record_access(call.txn, "export", [f"Patient/{call.resource_id}"])
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="report-{call.resource_id}.pdf"'},
    )


def register_chart_operations(registry: OperationRegistry) -> None:
    """Add ``$growth-chart`` and ``$parent-report`` (instance level on Patient, read-only)."""
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
        parent_report_pdf,
        levels={"instance"},
        resource_types={"Patient"},
        description="Parent report PDF: growth charts, latest scores explained, "
        "vaccinations given and due, next checkup (lang=zh|en, date)",
        definition_url=f"{DEFINITION_BASE}/parent-report",
    )
