"""Registering the pipeline on an application's extension points (at app start)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from healthbridge.operations import OperationCall, OperationRegistry
from healthbridge.pipeline import parse_ruleset_key
from healthbridge.pipeline.engine import Pipeline
from healthbridge.pipeline.outbox import Outbox, status
from healthbridge.pipeline.worklist import register
from healthbridge.store.hooks import StoreHooks

#: ``inline``: evaluate in the writer's transaction; ``outbox``: queue and evaluate in workers
Mode = Literal["inline", "outbox"]


@dataclass(frozen=True)
class Installed:
    """The pipeline an app runs, and its outbox when it runs off the write path."""

    pipeline: Pipeline
    mode: Mode
    outbox: Outbox | None


def install(
    ruleset_key: str, hooks: StoreHooks, operations: OperationRegistry, *, mode: Mode = "inline"
) -> Installed:
    """Load the rule set once and register the hooks (inline: the interceptor and pre-commit
    evaluation; outbox: the interceptor and the enqueueing pre-commit hook) and operations."""
    pipeline = Pipeline(parse_ruleset_key(ruleset_key))
    outbox = None
    if mode == "outbox":
        outbox = Outbox(pipeline)
        outbox.install(hooks)
    else:
        pipeline.install(hooks)
    register(operations)

    def pipeline_status(call: OperationCall) -> dict[str, Any]:
        """``$pipeline-status``: the outbox's length and lag (issue 19: lag visible)."""
        found = status(call.txn)
        params: list[dict[str, Any]] = [
            {"name": "mode", "valueCode": mode},
            {"name": "queued", "valueInteger": found.queued},
            {"name": "failing", "valueInteger": found.failing},
        ]
        if found.oldest_queued_at is not None:
            params.append({"name": "oldestQueuedAt", "valueInstant": found.oldest_queued_at})
        if found.oldest_age_seconds is not None:
            params.append({"name": "oldestAgeSeconds", "valueDecimal": found.oldest_age_seconds})
        if found.last_error is not None:
            params.append({"name": "lastError", "valueString": found.last_error})
        return {"resourceType": "Parameters", "parameter": params}

    operations.register(
        "pipeline-status",
        pipeline_status,
        levels={"system"},
        affects_state=False,
        description="The clinical pipeline's queue: length, oldest entry's age, failures",
    )
    return Installed(pipeline, mode, outbox)
