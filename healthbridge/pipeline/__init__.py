"""The early-intervention pipeline wired into the FHIR server (issue 5).

Growth measurements → WHO z-score / percentile Observations (``hb-growth-score``) → every
clinical rule → alerts as Flag + review Task, in the writer's database transaction; the
worklist operations for health managers; the batch re-evaluation behind
``healthbridge evaluate``. See docs/pipeline.md.
"""

from __future__ import annotations

from healthbridge.clinical.ruleset import RuleSet, load_ruleset
from healthbridge.pipeline.engine import Pipeline
from healthbridge.pipeline.errors import PipelineConfigError


def parse_ruleset_key(key: str) -> RuleSet:
    """Load the rule set named ``id@version/region`` (region defaults to ``CN``)."""
    ident, sep, rest = key.partition("@")
    if not sep or not ident or not rest:
        raise PipelineConfigError(f"rule set {key!r} is not of the form id@version/region")
    version, _slash, region = rest.partition("/")
    return load_ruleset(ident, version, region or "CN")


__all__ = ["Pipeline", "PipelineConfigError", "parse_ruleset_key"]
