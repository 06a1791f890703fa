"""Typed errors of the reports layer (turned into an OperationOutcome by ``api/errors.py``)."""

from __future__ import annotations


class ReportError(Exception):
    """Base class for report computation errors."""


class ReportInputError(ReportError, ValueError):
    """The input tables are missing a column, hold a bad value or ask for an unknown option."""


class UnknownConventionError(ReportInputError):
    """The requested prevalence convention is not in the conventions data file."""
