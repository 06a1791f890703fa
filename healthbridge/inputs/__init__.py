"""The stored record read as the inputs of the clinical rules.

* :mod:`~healthbridge.inputs.extract` — FHIR resources → the typed records of
  :mod:`healthbridge.clinical` (one child; pure: dicts in, records out);
* :mod:`~healthbridge.inputs.dbframes` — field-wise reads of current resources straight into
  DataFrames (a whole district at once).

The pipeline (write interceptor and ``healthbridge evaluate``), the district reports, the
charts and the pages all read through these, so each fact has one reading. The package sits
below them and above the clinical rules and the store (docs/architecture.md).
"""
