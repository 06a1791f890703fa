"""One child's growth chart read from the store: the growth Observations and the rendered
image. The ``$growth-chart`` operation (:mod:`healthbridge.api.chart_operations`) and the
chart pages (:mod:`healthbridge.web.pages`) both call :func:`chart_bytes`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from growth_standards import Indicator
from healthbridge.charts.growth import ChartError, LineKind, chart_data
from healthbridge.charts.labels import Lang
from healthbridge.charts.record import GROWTH_CODES, RecordError, growth_record, points
from healthbridge.errors import BadRequestError, UnprocessableError
from healthbridge.store.repository import Transaction

#: The indicators a chart can be drawn for, and the image formats it is rendered in.
CHART_INDICATORS: Final = ("wfa", "lhfa", "wfl", "wfh", "bfa", "hcfa")
MEDIA_TYPES: Final = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


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
