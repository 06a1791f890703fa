"""Account pages: the administrator's staff accounts, a centre's invitations of parents.

* ``/app/admin`` (role admin) — create a staff account for a PractitionerRole the record
  holds (role and organisation are read from it, never typed), reset a password, deactivate or
  reactivate; resets and deactivations revoke the account's sessions at once.
* ``/app/centre/invite`` (role health-manager) — invite a guardian: the RelatedPerson must be
  within the manager's reach (the store decides, as for every read); the page shows a one-time
  link (valid 7 days) with which the parent sets a password (``/app/invite/{code}``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.access import accounts, sessions
from healthbridge.access.accounts import AccountError
from healthbridge.access.tokens import Role
from healthbridge.errors import FhirError
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from healthbridge.web.auth import PageNotFoundError, UserDep, WebUser
from healthbridge.web.common import page, transaction

router = APIRouter()


def _repo(request: Request) -> Repository:
    repo: Repository = request.app.state.repository
    return repo


def _admin_page(request: Request, user: WebUser, status: int = 200, **values: Any) -> Response:
    with _repo(request).engine.connect() as conn:
        listed = accounts.list_accounts(conn)
    values.setdefault("error", None)
    values.setdefault("form", {})
    return page(request, user, "admin.html", status=status, accounts=listed, **values)


@router.get("/admin")
def admin_page(request: Request, user: UserDep) -> Response:
    user.require(Role.ADMIN)
    return _admin_page(request, user)


@router.post("/admin/accounts")
def admin_create(
    request: Request,
    user: UserDep,
    username: Annotated[str, Form(max_length=128)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    practitioner_role: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    oidc_subject: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """A staff account for a PractitionerRole of the record (role and organisation from it);
    ``oidc_subject`` lets the person sign in through the identity provider too."""
    user.require(Role.ADMIN)
    form = {
        "username": username,
        "display_name": display_name,
        "pr": practitioner_role,
        "oidc_subject": oidc_subject,
    }
    rid = practitioner_role.strip().removeprefix("PractitionerRole/")
    try:
        with _repo(request).transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
            resource = txn.read("PractitionerRole", rid).resource if rid else None
        if resource is None:
            raise AccountError("account.no_identity")
        role, org = accounts.identity_of(resource)
        with accounts.writing(_repo(request).engine) as conn:
            accounts.create_account(
                conn,
                username=username,
                role=role,
                display_name=display_name,
                password=password,
                fhir_user=f"PractitionerRole/{rid}",
                organization=org,
                oidc_subject=oidc_subject.strip() or None,
            )
    except FhirError:
        return _admin_page(request, user, 400, error="account.no_identity", form=form)
    except AccountError as exc:
        return _admin_page(request, user, 400, error=exc.code, form=form)
    return RedirectResponse("/app/admin", status_code=303)


@router.post("/admin/accounts/{account_id}/password")
def admin_reset(
    request: Request,
    user: UserDep,
    account_id: str,
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """A new password; the account's sessions end."""
    user.require(Role.ADMIN)
    try:
        with accounts.writing(_repo(request).engine) as conn:
            accounts.get_account(conn, account_id)
            accounts.set_password(conn, account_id, password)
            sessions.revoke_account(conn, account_id)
    except AccountError as exc:
        return _admin_page(request, user, 400, error=exc.code)
    return RedirectResponse("/app/admin", status_code=303)


@router.post("/admin/accounts/{account_id}/active")
def admin_active(
    request: Request, user: UserDep, account_id: str, active: Annotated[str, Form()] = ""
) -> Response:
    """Deactivate (``active=no``; sessions end) or reactivate (``yes``) an account."""
    user.require(Role.ADMIN)
    try:
        with accounts.writing(_repo(request).engine) as conn:
            accounts.get_account(conn, account_id)
            accounts.set_active(conn, account_id, active == "yes")
            if active != "yes":
                sessions.revoke_account(conn, account_id)
    except AccountError as exc:
        return _admin_page(request, user, 400, error=exc.code)
    return RedirectResponse("/app/admin", status_code=303)


def _invite_page(request: Request, user: WebUser, status: int = 200, **values: Any) -> Response:
    values.setdefault("error", None)
    values.setdefault("link", None)
    values.setdefault("form", {})
    return page(request, user, "invite_parent.html", status=status, **values)


@router.get("/centre/invite")
def invite_form(request: Request, user: UserDep) -> Response:
    user.require(Role.HEALTH_MANAGER)
    return _invite_page(request, user)


@router.post("/centre/invite")
def invite_parent(
    request: Request,
    user: UserDep,
    related_person: Annotated[str, Form(max_length=200)] = "",
    username: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Create the guardian's account (no password yet) and a one-time invitation link."""
    user.require(Role.HEALTH_MANAGER)
    rid = related_person.strip().removeprefix("RelatedPerson/")
    form = {"related_person": related_person, "username": username}
    try:
        with transaction(request, user) as txn:  # the manager's reach decides
            resource = txn.read("RelatedPerson", rid).resource if rid else None
    except (PageNotFoundError, FhirError):
        resource = None
    if resource is None:
        return _invite_page(request, user, 404, error="account.no_identity", form=form)
    name = (resource.get("name") or [{}])[0].get("text", "")
    fhir_user = f"RelatedPerson/{rid}"
    try:
        with accounts.writing(_repo(request).engine) as conn:
            account = accounts.find_account(conn, fhir_user=fhir_user)
            if account is not None and account.has_password:
                # no password resets through a centre: that would let staff take over a
                # guardian's account (and their consents); the admin resets passwords
                raise AccountError("invite.already_active")
            if account is None:
                account = accounts.create_account(
                    conn,
                    username=username or rid,
                    role=Role.PARENT,
                    display_name=name,
                    fhir_user=fhir_user,
                )
            code = accounts.invite(conn, account.id, user.principal.fhir_user or user.ref_id)
    except AccountError as exc:
        return _invite_page(request, user, 400, error=exc.code, form=form)
    link = str(request.base_url).rstrip("/") + f"/app/invite/{code}"
    return _invite_page(request, user, 201, link=link, account=account)
