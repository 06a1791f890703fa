"""The early-intervention pipeline wired into the FHIR server (issue 5).

Growth measurements → WHO z-score / percentile Observations (``hb-growth-score``) → every
clinical rule → alerts as Flag + review Task, in the writer's database transaction; the
worklist operations for health managers; the batch re-evaluation behind
``healthbridge evaluate``. See docs/pipeline.md.
"""

from __future__ import annotations

from healthbridge.clinical.errors import RuleSetKeyError
from healthbridge.clinical.ruleset import RuleSet, load_ruleset_key
from healthbridge.pipeline.engine import Pipeline
from healthbridge.pipeline.errors import PipelineConfigError


def parse_ruleset_key(key: str) -> RuleSet:
    """Load the rule set named ``id@version/region`` (region defaults to ``CN``); a malformed
    key is the pipeline's configuration error (:func:`load_ruleset_key`)."""
    try:
        return load_ruleset_key(key)
    except RuleSetKeyError as exc:
        raise PipelineConfigError(str(exc)) from exc


__all__ = ["Pipeline", "PipelineConfigError", "parse_ruleset_key"]
