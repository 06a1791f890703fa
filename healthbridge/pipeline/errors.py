"""Errors of the pipeline (typed; the API maps FhirErrors to OperationOutcomes)."""

from __future__ import annotations


class PipelineConfigError(ValueError):
    """The configured rule set cannot be used."""
