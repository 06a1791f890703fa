"""The message catalogue: both languages for every key; every key the templates use exists."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from starlette.requests import Request

from healthbridge.charts.labels import Lang
from healthbridge.web.i18n import LANG_COOKIE, MESSAGES, Translator, pick_lang


def test_every_message_has_chinese_and_english() -> None:
    for key, (zh, en) in MESSAGES.items():
        assert zh.strip(), key
        assert en.strip(), key
        assert re.findall(r"{(\w+)}", zh) == re.findall(r"{(\w+)}", en) or sorted(
            re.findall(r"{(\w+)}", zh)
        ) == sorted(re.findall(r"{(\w+)}", en)), key


def test_templates_use_only_catalogued_keys() -> None:
    folder = resources.files("healthbridge.web").joinpath("templates")
    used: set[str] = set()
    for item in folder.iterdir():
        used |= set(re.findall(r'\bt\("([a-z_.\-]+)"\s*[,)]', item.read_text(encoding="utf-8")))
    assert used
    assert used - set(MESSAGES) == set()


def _request(query: str = "", cookie: str | None = None) -> Request:
    headers = [(b"cookie", f"{LANG_COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "query_string": query.encode(), "headers": headers})


def test_language_choice() -> None:
    assert pick_lang(_request()) is Lang.ZH
    assert pick_lang(_request("lang=en")) is Lang.EN
    assert pick_lang(_request(cookie="en")) is Lang.EN
    assert pick_lang(_request("lang=zh", cookie="en")) is Lang.ZH
    assert pick_lang(_request("lang=fr")) is Lang.ZH
    assert Translator(Lang.EN)("daily.saved", n=3) == "Saved the check of 3 children."
    assert Translator(Lang.ZH)("daily.saved", n=3) == "已保存 3 名儿童的晨检。"


def test_a_key_defined_in_two_areas_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dict literal lets a later definition silently win; the merge of the areas does not."""
    from healthbridge.web import catalogue

    monkeypatch.setattr(catalogue.district, "MESSAGES", {"app.title": ("重复", "Twice")})
    with pytest.raises(ValueError, match=r"app\.title"):
        catalogue.merged()


def test_the_areas_hold_every_message_once() -> None:
    from healthbridge.web import catalogue

    assert sum(len(area.MESSAGES) for area in catalogue.AREAS) == len(MESSAGES)


def test_every_record_type_of_a_child_has_a_name_for_the_access_log() -> None:
    """The parent's access log names the kinds of records touched: every type of a child's
    compartment has a plain name in both languages (not 'ImmunizationRecommendation')."""
    from healthbridge.access.control import CHILD_TYPES

    missing = sorted(kind for kind in CHILD_TYPES if f"rtype.{kind}" not in MESSAGES)
    assert missing == []
