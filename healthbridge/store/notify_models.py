"""The delivery position of each notification Subscription (healthbridge.notify.delivery).

Not a FHIR resource: the server's bookkeeping of what it has sent, kept in the database so
that a restart neither loses nor re-sends an event (R4 Subscriptions Backport IG STU 1.1,
"events-since-subscription-start" is a per-subscription counter the server must keep).
Times are ISO-8601 UTC strings in the resource index form (comparable as text).
"""

from __future__ import annotations

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class SubscriptionStateRow(SQLModel, table=True):
    """One Subscription: its event counter, the last message considered, retries, heartbeat."""

    __tablename__ = "subscription_state"
    subscription_id: str = Field(primary_key=True, max_length=64)
    #: events-since-subscription-start: the number of the last event sent
    events: int = 0
    #: ``meta.lastUpdated`` of the last Communication considered (sent, or not matching)
    cursor: str = Field(max_length=40)
    #: ids of the messages at ``cursor`` already handled (several share one millisecond)
    seen: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    #: consecutive failed attempts of the current event (0 after a success)
    failures: int = 0
    #: no new attempt before this time (back-off); empty = now
    next_attempt: str = Field(default="", max_length=40)
    #: when the subscriber last heard from us (event or heartbeat); empty = never
    heard_at: str = Field(default="", max_length=40)
    #: the last delivery error (shown by $status)
    last_error: str = Field(default="", max_length=500)
