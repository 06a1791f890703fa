"""Custom SearchParameters the server indexes in addition to the official R4 ones."""

from __future__ import annotations

from .common import BASE, DATE, JSON, PUBLISHER, VERSION, sd_url

ENROLLMENT = sd_url("childcare-enrollment")


def search_parameters() -> list[JSON]:
    """Every SearchParameter we publish (http://hl7.org/fhir/R4/searchparameter.html)."""
    return [
        {
            "resourceType": "SearchParameter",
            "id": "enrollment-centre",
            "url": f"{BASE}/SearchParameter/enrollment-centre",
            "version": VERSION,
            "name": "EnrollmentCentre",
            "status": "active",
            "experimental": False,
            "date": DATE,
            "publisher": PUBLISHER,
            "description": (
                "Children by the childcare centre (托育机构) of their `childcare-enrollment` "
                "extension: `Patient?enrollment-centre=Organization/<id>`. Every enrolment "
                "counts, past ones included; the enrolment period says whether it is current."
            ),
            "code": "enrollment-centre",
            "base": ["Patient"],
            "type": "reference",
            "expression": (
                f"Patient.extension.where(url='{ENROLLMENT}')"
                ".extension.where(url='centre').value.ofType(Reference)"
            ),
            "xpathUsage": "normal",
            "target": ["Organization"],
        }
    ]
