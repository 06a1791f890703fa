"""JSON representation rules for FHIR R4 primitive types, for the profile validator.

One reading: the rules are the base-R4 validator's (:func:`healthbridge.fhir.base_validation.
primitive_problem`), driven by the regex the R4 specification gives for each primitive type
(R4 §2.1.28.0 "Primitive Types"; the ``http://hl7.org/fhir/StructureDefinition/regex``
extension of each type's ``value``), JSON types after R4 JSON §2.6.2, and real calendar days.
"""

from __future__ import annotations

from typing import Any


def primitive_problem(tcode: str, value: Any) -> tuple[str, str] | None:
    """(issue-type code, diagnostics) when ``value`` is not a valid JSON ``tcode``, else None."""
    from healthbridge.fhir.base_validation import primitive_problem as base_problem

    return base_problem(tcode, value)
