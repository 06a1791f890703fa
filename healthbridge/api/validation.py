"""Profile validation wired into the server: a write validator and the ``$validate`` operation.

* Every create/update of a resource that claims one of our profiles in ``meta.profile`` is
  checked against it (``fhir_profiles``); errors reject the write with 422 listing every issue
  with its FHIRPath location.
* ``$validate`` (http://hl7.org/fhir/R4/resource-operation-validate.html) at type and instance
  level checks a resource against base R4 and our profiles (``profile=`` names one explicitly)
  and returns the OperationOutcome with 200, whatever the outcome, as the operation defines.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from healthbridge.errors import BadRequestError, FhirError, Issue
from healthbridge.fhir import r4
from healthbridge.fhir.profile_validation import ValidationIssue, validate_against_profiles
from healthbridge.operations import OperationCall
from healthbridge.store.hooks import WriteContext

VALIDATE_DEFINITION = "http://hl7.org/fhir/OperationDefinition/Resource-validate"


def _issue(v: ValidationIssue) -> Issue:
    return Issue(v.severity, v.code, v.diagnostics, (v.expression,) if v.expression else ())


def profile_write_validator(resource: dict[str, Any], context: WriteContext) -> Iterable[Issue]:
    """StoreHooks validator: our profiles named in ``meta.profile`` must be met on write."""
    del context  # the same rules apply to every action and caller
    return [_issue(v) for v in validate_against_profiles(resource)]


def validate_resource(resource: dict[str, Any], profile: str | None) -> list[Issue]:
    """Base-R4 structural issues plus profile issues (one profile, or those claimed)."""
    issues: list[Issue] = []
    try:
        r4.validate(resource)
    except FhirError as exc:
        issues.extend(exc.issues)
    issues.extend(
        _issue(v) for v in validate_against_profiles(resource, [profile] if profile else None)
    )
    return issues


def validate_operation(call: OperationCall) -> dict[str, Any]:
    """``[type]/$validate`` and ``[type]/[id]/$validate``."""
    mode = call.get("mode")
    if mode not in (None, "create", "update", "delete"):
        raise BadRequestError(f"Unsupported $validate mode {mode!r}")
    profile = call.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise BadRequestError("$validate profile must be a canonical URL")
    resource = call.get("resource")
    if resource is None and call.resource_id is not None:
        resource = call.txn.read(str(call.resource_type), call.resource_id).resource
    if not isinstance(resource, dict):
        raise BadRequestError("$validate needs a resource (the body or a 'resource' parameter)")
    if call.resource_type and resource.get("resourceType") != call.resource_type:
        raise BadRequestError(
            f"$validate on {call.resource_type} was given a {resource.get('resourceType')!r}"
        )
    issues = [] if mode == "delete" else validate_resource(resource, profile)
    if not issues:
        issues = [Issue("information", "informational", "All OK")]
    return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues]}
