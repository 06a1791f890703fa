"""The web pages' message catalogue (zh-CN default, English) and language selection.

Every user-facing string of the pages is a key of the catalogue (one module per area in
:mod:`healthbridge.web.catalogue`); templates call ``t("key", **values)``.
The language comes from ``?lang=zh|en`` (remembered in a cookie), else the cookie, else zh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from starlette.requests import Request

from healthbridge.charts.labels import Lang
from healthbridge.web import catalogue

LANG_COOKIE: Final = "hb_lang"

#: Every message, keyed (zh-CN, English): one catalogue module per area
#: (:mod:`healthbridge.web.catalogue`).
MESSAGES: Final[Mapping[str, tuple[str, str]]] = catalogue.merged()


def pick_lang(request: Request) -> Lang:
    """``?lang=`` first, then the cookie, else Chinese."""
    for raw in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if raw in ("zh", "en"):
            return Lang(raw)
    return Lang.ZH


class Translator:
    """``t(key, **values)`` in one language; unknown keys raise (a missing catalogue entry is
    a bug, caught by the tests that render every page)."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang

    def __call__(self, key: str, **values: object) -> str:
        zh, en = MESSAGES[key]
        text = zh if self.lang is Lang.ZH else en
        return text.format(**values) if values else text
