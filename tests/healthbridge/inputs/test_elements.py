"""Field-wise reads of search matches (:mod:`healthbridge.inputs.elements`): the database's
reading equals the Python reading of the whole documents, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from healthbridge.inputs.elements import alert_mark, alert_marks, read_elements, search_elements
from healthbridge.store.hooks import SYSTEM_CONTEXT

SD = "https://healthbridge.github.io/fhir/StructureDefinition"
SEVERITY = f"{SD}/alert-severity"
DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"


def _flag(fid: str, status: str, extension: list[dict[str, Any]]) -> dict[str, Any]:
    flag: dict[str, Any] = {
        "resourceType": "Flag",
        "id": fid,
        "status": status,
        "code": {"text": "alert"},
        "subject": {"reference": "Patient/p1"},
    }
    if extension:
        flag["extension"] = extension
    return flag


FLAGS = [
    # the severity after another extension
    _flag("f1", "active", [
        {"url": DETAIL, "valueReference": {"reference": "Patient/p1"}},
        {"url": SEVERITY, "valueCode": "moderate"},
    ]),
    _flag("f2", "active", []),  # no extension: no severity
    # the first severity extension counts, even without a code
    _flag("f3", "active", [
        {"url": SEVERITY, "valueString": "high"},
        {"url": SEVERITY, "valueCode": "high"},
    ]),
    _flag("f4", "active", [{"url": f"{SD}/Alert-Severity", "valueCode": "high"}]),  # case
    _flag("f5", "inactive", [{"url": SEVERITY, "valueCode": "high"}]),
]  # fmt: skip


def test_alert_marks_read_in_sql_equal_the_python_reading(repository: Any) -> None:
    with repository.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.update("Patient", "p1", {"resourceType": "Patient", "id": "p1", "gender": "female"})
        for flag in FLAGS:
            txn.update("Flag", flag["id"], flag)
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        found = alert_marks(txn)
        whole = [s.resource for s in txn.search_params("Flag", [("_count", "100")]).matches]
    assert found == [alert_mark(f) for f in whole if f is not None]
    assert [(m.flag_id, m.severity, m.active) for m in found] == [
        ("f1", "moderate", True), ("f2", None, True), ("f3", None, True),
        ("f4", None, True), ("f5", "high", False),
    ]  # fmt: skip
    assert {m.patient_id for m in found} == {"p1"}


def test_elements_keep_the_search_and_leave_out_absent_elements(repository: Any) -> None:
    with repository.transaction(SYSTEM_CONTEXT, write=True) as txn:
        for pid, gender in (("a", "female"), ("b", "male"), ("c", "male")):
            txn.update("Patient", pid, {"resourceType": "Patient", "id": pid, "gender": gender,
                        "name": [{"text": pid.upper()}]})  # fmt: skip
        txn.update("Patient", "d", {"resourceType": "Patient", "id": "d", "gender": "male"})
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        males = search_elements(txn, "Patient", [("gender", "male")], ("name", "birthDate"))
        picked = read_elements(txn, "Patient", ["d", "a", "zz", "a"], ("name",))
    assert males == [
        {"resourceType": "Patient", "id": "b", "name": [{"text": "B"}]},
        {"resourceType": "Patient", "id": "c", "name": [{"text": "C"}]},
        {"resourceType": "Patient", "id": "d"},
    ]
    assert picked == [
        {"resourceType": "Patient", "id": "d"},
        {"resourceType": "Patient", "id": "a", "name": [{"text": "A"}]},
    ]
