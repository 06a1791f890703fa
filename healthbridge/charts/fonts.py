"""Font selection: a CJK font for Chinese labels, with a clean fall-back to English.

``scripts/setup`` installs Debian's ``fonts-noto-cjk`` where it can; a machine without any
CJK font still renders charts, in English, instead of drawing empty boxes.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from matplotlib import font_manager

from healthbridge.charts.labels import Lang

#: Preferred CJK families, best first (Noto Sans CJK SC from fonts-noto-cjk, then WenQuanYi).
CJK_FAMILIES: Final = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Noto Sans CJK JP",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Source Han Sans SC",
)
LATIN_FAMILY: Final = "DejaVu Sans"


@cache
def cjk_family() -> str | None:
    """The first installed CJK family matplotlib can use, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            return family
    # fonts installed after matplotlib built its cache: look on disk once more
    for path in font_manager.findSystemFonts():
        if "cjk" in path.lower() or "wqy" in path.lower():
            font_manager.fontManager.addfont(path)
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


def cjk_font_available() -> bool:
    """Whether Chinese text can be drawn."""
    return cjk_family() is not None


def font_family(lang: Lang) -> list[str]:
    """The font family list for text in ``lang`` (Latin first so digits look the same)."""
    cjk = cjk_family()
    if lang is Lang.ZH and cjk is not None:
        return [LATIN_FAMILY, cjk]
    return [LATIN_FAMILY]
