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
from jinja2 import pass_context
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from healthbridge.access.errors import PermissionDeniedError
from healthbridge.clinical.ruleset import RuleSet, load_ruleset_key
from healthbridge.errors import ForbiddenError, GoneError, NotFoundError
from healthbridge.store.repository import Repository, Transaction
from healthbridge.web.auth import (
    CSRF_COOKIE,
    CSRF_FIELD,
    PageForbiddenError,
    PageNotFoundError,
    WebUser,
    csrf_token,
    secure_cookies,
)


@cache
def templates() -> Jinja2Templates:
    """The Jinja2 templates (autoescaped HTML); ``csrf_field()`` renders the hidden CSRF
    input every ``method="post"`` form carries (:func:`healthbridge.web.auth.csrf_protect`)."""
    folder = resources.files("healthbridge.web").joinpath("templates")
    found = Jinja2Templates(directory=str(folder))
    found.env.globals["csrf_field"] = _csrf_field
    return found


@pass_context
def _csrf_field(context: Any) -> Markup:
    token = escape(context.get("csrf_token") or "")
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{token}">')


def rules(request: Request) -> RuleSet:
    """The rule set the pages use for schedules and alert texts: the deployment's
    (``Settings.ruleset_key``), the one the pipeline applies to the same records."""
    return load_ruleset_key(request.app.state.settings.ruleset_key)


def today() -> dt.date:
    """The pages' 'as of' date (Beijing calendar day)."""
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


@contextmanager
def transaction(request: Request, user: WebUser, *, write: bool = False) -> Iterator[Transaction]:
    """A repository transaction carrying the user's :class:`RequestContext`.

    The store's refusals become pages: a record that is unknown or out of reach → the
    "not found" page (404), a refused role or scope → the "forbidden" page (403). The
    transaction has rolled back by then."""
    repo: Repository = request.app.state.repository
    try:
        with repo.transaction(user.context, write=write) as txn:
            yield txn
    except (NotFoundError, GoneError) as exc:
        raise PageNotFoundError(str(exc)) from exc
    except (ForbiddenError, PermissionDeniedError) as exc:
        raise PageForbiddenError(str(exc)) from exc


def results_pending(request: Request, child_ids: list[str], *, wait: bool = True) -> set[str]:
    """Those of these children whose derived results (scores, alerts) are still being
    calculated once the page has waited its bound for them
    (``Settings.pipeline_page_wait_seconds``; the outbox mode only: inline, they were
    written with the data). Called before the page reads, so that it then reads what the
    worker wrote; ``wait=False``: no wait, what is queued now."""
    installed = getattr(request.app.state, "pipeline", None)
    if installed is None or installed.outbox is None or not child_ids:
        return set()
    from healthbridge.pipeline.pending import wait_for_children

    seconds = request.app.state.settings.pipeline_page_wait_seconds if wait else 0.0
    return wait_for_children(request.app.state.repository, child_ids, seconds)


def guard_child(txn: Transaction, patient_id: str) -> dict[str, Any]:
    """The child's Patient as the user may see it; :class:`PageNotFoundError` when unknown or
    out of the user's reach. The store decides (docs/access.md "Reach"): the pages hold no
    reach rule of their own."""
    try:
        patient = txn.read("Patient", patient_id).resource
    except (NotFoundError, GoneError) as exc:
        raise PageNotFoundError(f"Patient/{patient_id}") from exc
    if patient is None:
        raise PageNotFoundError(f"Patient/{patient_id}")
    return patient


def page(
    request: Request, user: WebUser | None, template: str, status: int = 200, **values: Any
) -> HTMLResponse:
    """Render a template with the user, translator and language."""
    from healthbridge.web.i18n import Translator, pick_lang

    lang = user.lang if user else pick_lang(request)
    token, new_cookie = csrf_token(request)
    context = {
        "csrf_token": token,
        "user": user,
        "t": user.t if user else Translator(lang),
        "lang": lang.value,
        "other_lang": "en" if lang.value == "zh" else "zh",
        "path": request.url.path,
        **values,
    }
    response = templates().TemplateResponse(request, template, context, status_code=status)
    if new_cookie is not None:
        response.set_cookie(
            CSRF_COOKIE,
            new_cookie,
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request),
        )
    if request.query_params.get("lang") in ("zh", "en"):
        from healthbridge.web.i18n import LANG_COOKIE

        response.set_cookie(LANG_COOKIE, lang.value, max_age=365 * 86400, samesite="lax")
    return response
