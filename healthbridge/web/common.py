"""Shared page plumbing: templates, the user's transaction, rule set, child guard."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from healthbridge.api.chart_operations import DEFAULT_RULESET
from healthbridge.clinical.ruleset import RuleSet, load_ruleset
from healthbridge.store.repository import Repository, Transaction
from healthbridge.web import data
from healthbridge.web.auth import PageForbiddenError, WebUser


@cache
def templates() -> Jinja2Templates:
    """The Jinja2 templates (autoescaped HTML)."""
    folder = resources.files("healthbridge.web").joinpath("templates")
    return Jinja2Templates(directory=str(folder))


def rules() -> RuleSet:
    """The rule set the pages use for schedules and alert texts."""
    return load_ruleset(*DEFAULT_RULESET)


def today() -> dt.date:
    """The pages' 'as of' date (Beijing calendar day)."""
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


@contextmanager
def transaction(request: Request, user: WebUser, *, write: bool = False) -> Iterator[Transaction]:
    """A repository transaction carrying the user's :class:`RequestContext`."""
    repo: Repository = request.app.state.repository
    with repo.transaction(user.context, write=write) as txn:
        yield txn


def guard_child(user: WebUser, txn: Transaction, patient_id: str) -> None:
    """Refuse a child outside the user's reach."""
    if not data.can_see(user, txn, patient_id):
        raise PageForbiddenError(patient_id)


def page(
    request: Request, user: WebUser | None, template: str, status: int = 200, **values: Any
) -> HTMLResponse:
    """Render a template with the user, translator and language."""
    from healthbridge.web.i18n import Translator, pick_lang

    lang = user.lang if user else pick_lang(request)
    context = {
        "user": user,
        "t": user.t if user else Translator(lang),
        "lang": lang.value,
        "other_lang": "en" if lang.value == "zh" else "zh",
        "path": request.url.path,
        **values,
    }
    response = templates().TemplateResponse(request, template, context, status_code=status)
    if request.query_params.get("lang") in ("zh", "en"):
        from healthbridge.web.i18n import LANG_COOKIE

        response.set_cookie(LANG_COOKIE, lang.value, max_age=365 * 86400, samesite="lax")
    return response
