"""Typed errors of the clinical layer."""

from __future__ import annotations


class ClinicalError(Exception):
    """Base class of all clinical-layer errors."""


class RuleTableError(ClinicalError):
    """A rule table is missing, malformed or fails validation."""


class RuleSetNotFoundError(RuleTableError):
    """No rule set matches the requested (id, version, region)."""


class RuleSetKeyError(RuleSetNotFoundError):
    """A rule-set key is not of the form ``id@version/region``."""


class ClinicalInputError(ClinicalError):
    """Input data (a DataFrame or a record) lacks required fields or is inconsistent."""


class AlertReconciliationError(ClinicalError):
    """Findings given to the reconciliation are inconsistent (e.g. two for one condition)."""


class AdmissionStateError(ClinicalError):
    """A transition of the admission vaccination check is not allowed from the current state."""
