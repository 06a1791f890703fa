"""The state of Bulk Data ``$export`` jobs (healthbridge.district.bulk_jobs).

Not FHIR resources: a job is the server's bookkeeping — who may read it, the access context
it runs under, which server process runs it and when that process last showed it was alive
(a heartbeat every few seconds). Stored as FHIR resources, every heartbeat would add a
resource version (and change the district cache's data version, healthbridge.district.cache);
in a table a worker claims a job with a row lock (``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL) and any server process answers its status. Times are epoch seconds.
"""

from __future__ import annotations

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class BulkExportJobRow(SQLModel, table=True):
    """One export job: its request, its requester, its state and its worker."""

    __tablename__ = "bulk_export_job"
    id: str = Field(primary_key=True, max_length=64)
    #: queued | in-progress | completed | error | cancelled
    state: str = Field(max_length=16, index=True)
    level: str = Field(max_length=16)
    #: the kick-off request URL (the manifest's ``request``)
    request: str = Field(sa_column=Column(Text, nullable=False))
    #: the export's parameters: types, _since, group, _typeFilter (JSON)
    spec: str = Field(sa_column=Column(Text, nullable=False))
    #: the requester the job is bound to (issuer, subject, role, organisation; JSON)
    principal: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    #: what the worker rebuilds the requester's RequestContext from (JSON)
    context: str = Field(sa_column=Column(Text, nullable=False))
    #: the manifest's ``transactionTime``: when the export's read started (ISO instant)
    transaction_time: str = Field(default="", max_length=40)
    #: kick-off time (expiry counts from it)
    created: float
    exported: int = 0
    #: the manifest's outputs: [{"type", "count"}] (JSON)
    outputs: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    #: the worker running it (host:pid:uuid) and its last heartbeat
    worker: str | None = Field(default=None, max_length=200)
    heartbeat: float | None = None
    #: how many times a worker started it (a job interrupted too often is failed)
    attempts: int = 0
