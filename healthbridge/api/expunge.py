"""``$expunge`` for administrators (HAPI FHIR semantics, our subset).

* ``POST [base]/$expunge`` / ``POST [base]/[type]/$expunge`` with ``Parameters``:
  ``expungeDeletedResources`` (boolean) removes for good every *deleted* resource (of the
  type), with all its versions and index rows; ``expungePreviousVersions`` (boolean) removes
  every non-current version (of the type). At least one must be true (else 400).
* Answers ``Parameters`` with ``count`` (versions removed), as HAPI does.
* Only the ``admin`` and ``system`` roles (403 for others); the removal is recorded in an
  AuditEvent naming the resources removed (references only) in the same transaction.

Current resources are never expunged here: delete them first (FHIR ``DELETE``), or let the
retention purge (``healthbridge retention purge``) remove what its schedule says is due.
See https://hapifhir.io/hapi-fhir/docs/server_jpa/configuration.html (Expunge).
"""

from __future__ import annotations

from typing import Any

from healthbridge.access.control import require_role
from healthbridge.access.retention import PURGER, record_purge
from healthbridge.access.tokens import Role
from healthbridge.errors import BadRequestError
from healthbridge.operations import OperationCall
from healthbridge.store.expunge import deleted_resources, expunge, expunge_previous_versions


def _flag(call: OperationCall, name: str) -> bool:
    value = call.get(name)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in ("true", "false"):
        raise BadRequestError(f"{name} must be true or false")
    return text == "true"


def expunge_operation(call: OperationCall) -> dict[str, Any]:
    """The ``$expunge`` handler (see module doc)."""
    who = require_role(call.txn, Role.ADMIN, Role.SYSTEM) or PURGER
    deleted = _flag(call, "expungeDeletedResources")
    previous = _flag(call, "expungePreviousVersions")
    if not (deleted or previous):
        raise BadRequestError(
            "$expunge needs expungeDeletedResources=true or expungePreviousVersions=true"
        )
    rtype = call.resource_type
    txn = call.txn
    count = 0
    refs: list[tuple[str, str]] = []
    with txn.as_server():
        if deleted:
            refs = deleted_resources(txn, rtype)
            count += expunge(txn, refs)
        if previous:
            count += expunge_previous_versions(txn, rtype)
    what = [
        *(["deleted resources"] if deleted else []),
        *(["previous versions"] if previous else []),
    ]
    record_purge(
        txn,
        who,
        [f"{t}/{i}" for t, i in refs],
        f"$expunge of {' and '.join(what)} of {rtype or 'every type'}: {count} versions",
    )
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "count", "valueInteger": count}],
    }
