"""Registering the pipeline on an application's extension points (at app start)."""

from __future__ import annotations

from healthbridge.operations import OperationRegistry
from healthbridge.pipeline import parse_ruleset_key
from healthbridge.pipeline.engine import Pipeline
from healthbridge.pipeline.worklist import register
from healthbridge.store.hooks import StoreHooks


def install(ruleset_key: str, hooks: StoreHooks, operations: OperationRegistry) -> Pipeline:
    """Load the rule set once and register the interceptor, pre-commit hook and operations."""
    pipeline = Pipeline(parse_ruleset_key(ruleset_key))
    pipeline.install(hooks)
    register(operations)
    return pipeline
