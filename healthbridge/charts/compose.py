"""Multi-page chart PDFs assembled from layers, so each chart set's drawing is made only once.

Drawing and serialising a growth chart in matplotlib costs most of its time in text: every
tick label, line label and title is shaped (libraqm), measured and embedded with its font
subset, and the reference curves carry a few thousand path points. None of that depends on
the child. A parent report therefore places, on each chart page, the **reference layer**
(:func:`healthbridge.charts.growth.draw_reference`, rendered once per chart set, language and
y-extent, then reused from memory) and over it the child's **transparent layer**
(:func:`healthbridge.charts.growth.draw_child`: points, legend). The reference page is the
page; the child's page is added as a Form XObject on top (ISO 32000-1 §8.10, via qpdf's
overlay in ``pikepdf``), so the result is still vector PDF with real, extractable text.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Final

import pikepdf

from healthbridge.charts.growth import ChartData, draw_child, draw_reference, reference_key, render
from healthbridge.charts.labels import Lang

#: Reference layers kept in memory per process (chart sets × languages × y-extents in use).
CACHE_SIZE: Final = 128

_cache: dict[tuple[object, ...], bytes] = {}
_lock = threading.Lock()


def reference_pdf(data: ChartData, lang: Lang) -> bytes:
    """The one-page PDF of ``data``'s reference layer (drawn on first use, then reused)."""
    key = reference_key(data, lang)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    pdf = render(draw_reference(data, lang), "pdf")
    with _lock:
        if len(_cache) >= CACHE_SIZE:
            _cache.pop(next(iter(_cache)))  # oldest first (dicts keep insertion order)
        _cache[key] = pdf
    return pdf


def clear_cache() -> None:
    """Forget the cached reference layers (tests; after a font change)."""
    with _lock:
        _cache.clear()


def chart_pages(
    first_pages: Sequence[bytes],
    charts: Sequence[ChartData],
    lang: Lang,
    *,
    title: str,
    creator: str = "HealthBridge",
) -> bytes:
    """One PDF: the pages of each PDF in ``first_pages``, then one page per chart.

    Each chart page is its cached reference layer with the child's layer overlaid. Output is
    byte-stable for the same input (deterministic file identifier, no dates).
    """
    out = pikepdf.Pdf.new()
    with ExitStack() as stack:
        # qpdf copies foreign stream data when writing: the sources stay open until saved.
        def opened(data: bytes) -> pikepdf.Pdf:
            return stack.enter_context(pikepdf.Pdf.open(io.BytesIO(data)))

        for pdf in first_pages:
            out.pages.extend(opened(pdf).pages)
        for chart in charts:
            out.pages.append(opened(reference_pdf(chart, lang)).pages[0])
            child = opened(render(draw_child(chart, lang), "pdf")).pages[0]
            _overlay(out, out.pages[-1], child)
        out.docinfo = out.make_indirect(
            pikepdf.Dictionary(
                Title=pikepdf.String(title),
                Creator=pikepdf.String(creator),
                Producer=pikepdf.String(creator),
            )
        )
        buffer = io.BytesIO()
        out.save(buffer, deterministic_id=True)
    return buffer.getvalue()


#: Resource name of the child's layer on a chart page (fixed, for byte-stable output).
CHILD_LAYER: Final = pikepdf.Name("/HBChildLayer")


def _overlay(pdf: pikepdf.Pdf, page: pikepdf.Page, layer: pikepdf.Page) -> None:
    """Draw ``layer`` (same page size) over ``page`` as a Form XObject (ISO 32000-1 §8.10).

    The page's own content is wrapped in q/Q so its graphics state cannot leak into the
    layer; pikepdf's ``add_overlay`` would do the same under a random resource name.
    """
    form = pdf.copy_foreign(layer.as_form_xobject())
    page.add_resource(form, pikepdf.Name.XObject, CHILD_LAYER)
    page.contents_add(b"q\n", prepend=True)
    page.contents_add(b"\nQ\nq " + CHILD_LAYER.unparse() + b" Do Q\n", prepend=False)
