"""The pipeline's outbox (``pipeline_outbox``): changes waiting for the clinical pipeline.

Not a FHIR resource: the server's queue of work, written in the same transaction as the
resource that caused it (the transactional-outbox pattern), so a change is never committed
without its evaluation being queued, and a worker deletes the rows in the same transaction
as the derived scores, Flags and Tasks it writes for them (healthbridge.pipeline.outbox).
Times are ISO-8601 UTC strings in the resource index form (comparable as text).
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class PipelineOutboxRow(SQLModel, table=True):
    """One queued change: a child to evaluate again (and its centre's morning checks)."""

    __tablename__ = "pipeline_outbox"
    id: int | None = Field(default=None, primary_key=True)
    #: ``child`` (evaluate the child) or ``daily`` (the child's morning check changed: the
    #: child and its centre's outbreak clusters for ``day``)
    kind: str = Field(max_length=8)
    #: the child's Patient id
    child_id: str = Field(max_length=64, index=True)
    #: the day the change was queued on (China time; the rules' ``as_of`` for a morning check)
    day: str = Field(default="", max_length=10)
    #: the write that queued it (``Type/id/_history/version``)
    source: str = Field(default="", max_length=200)
    queued_at: str = Field(max_length=40)
    #: failed attempts so far (0: never failed)
    attempts: int = 0
    #: no new attempt before this time (back-off after a failure); empty = now
    next_attempt: str = Field(default="", max_length=40, index=True)
    last_error: str = Field(default="", max_length=500)
