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
from typing import Any, Final, TypeVar

import numpy as np
import pikepdf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.image import imsave

from healthbridge.charts.growth import (
    ChartData,
    Format,
    chart_title,
    draw,
    draw_child,
    draw_reference,
    reference_key,
    render,
)
from healthbridge.charts.labels import Lang

T = TypeVar("T")
#: Reference layers kept in memory per process (chart sets × languages × y-extents in use).
CACHE_SIZE: Final = 128

_cache: dict[tuple[object, ...], bytes] = {}
#: Agg ``BufferRegion`` objects (matplotlib ships no type for them).
_raster_cache: dict[tuple[object, ...], Any] = {}
_lock = threading.Lock()


def _remember(cache: dict[tuple[object, ...], T], key: tuple[object, ...], value: T) -> None:
    with _lock:
        if len(cache) >= CACHE_SIZE:
            cache.pop(next(iter(cache)))  # oldest first (dicts keep insertion order)
        cache[key] = value


def reference_pdf(data: ChartData, lang: Lang) -> bytes:
    """The one-page PDF of ``data``'s reference layer (drawn on first use, then reused)."""
    key = reference_key(data, lang)
    with _lock:
        hit = _cache.get(key)
    if hit is None:
        hit = render(draw_reference(data, lang), "pdf")
        _remember(_cache, key, hit)
    return hit


def _reference_pixels(data: ChartData, lang: Lang) -> Any:
    """The reference layer rasterised by Agg (drawn on first use, then reused)."""
    key = reference_key(data, lang)
    with _lock:
        hit = _raster_cache.get(key)
    if hit is None:
        canvas: Any = FigureCanvasAgg(draw_reference(data, lang))  # untyped in matplotlib
        canvas.draw()
        hit = canvas.copy_from_bbox(canvas.figure.bbox)
        _remember(_raster_cache, key, hit)
    return hit


def clear_cache() -> None:
    """Forget the cached reference layers (tests; after a font change)."""
    with _lock:
        _cache.clear()
        _raster_cache.clear()


def render_chart(data: ChartData, lang: Lang, fmt: Format) -> bytes:
    """One chart as PNG, SVG or PDF: the picture of :func:`~healthbridge.charts.growth.draw`.

    PNG: the child's layer is drawn by Agg straight onto a copy of the cached reference
    pixels (matplotlib's "blitting"); PDF: one layered page as in a parent report. SVG is
    drawn whole (its element ids, e.g. ``ref:P50`` and ``child``, are part of the output).
    """
    if fmt == "png":
        fig = draw_child(data, lang)
        canvas: Any = FigureCanvasAgg(fig)
        renderer = canvas.get_renderer()
        renderer.clear()
        renderer.restore_region(_reference_pixels(data, lang))
        fig.draw(renderer)
        buffer = io.BytesIO()
        imsave(
            buffer,
            np.asarray(renderer.buffer_rgba()),
            format="png",
            metadata={"Software": "HealthBridge"},
            dpi=fig.dpi,
        )
        return buffer.getvalue()
    if fmt == "pdf":
        return chart_pages([], [data], lang, title=chart_title(data, lang))
    return render(draw(data, lang), fmt)


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
