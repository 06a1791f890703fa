"""Reading and writing the delivery position of Subscriptions (``subscription_state``,
:mod:`healthbridge.store.notify_models`) inside a repository transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, Table, delete, insert, select

from healthbridge.store.notify_models import SubscriptionStateRow

STATE: Table = SubscriptionStateRow.__table__  # type: ignore[attr-defined]


def start_cursor(now: dt.datetime | None = None) -> str:
    """The cursor of a Subscription that starts ``now``: the store keeps ``lastUpdated`` to the
    millisecond, so start just before the current millisecond (a message written in it is
    sent, not skipped)."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    floor = now.replace(microsecond=now.microsecond // 1000 * 1000)
    return (floor - dt.timedelta(microseconds=1)).isoformat(timespec="microseconds")


@dataclass(slots=True)
class Position:
    """What has been sent to one Subscription (see the table's columns)."""

    subscription_id: str
    cursor: str
    events: int = 0
    failures: int = 0
    next_attempt: str = ""
    heard_at: str = ""
    last_error: str = ""
    #: ids of the messages at the cursor's timestamp already handled (comma-separated)
    seen: str = ""

    def after(self, updated: str, rid: str) -> bool:
        """Whether a message (its ``lastUpdated`` in cursor form, its id) is still ahead."""
        return updated > self.cursor or (updated == self.cursor and rid not in self.seen.split(","))

    def passed(self, updated: str, rid: str) -> None:
        """Move the cursor past a handled message."""
        if updated == self.cursor:
            self.seen = f"{self.seen},{rid}" if self.seen else rid
        else:
            self.cursor, self.seen = updated, rid


def load(conn: Connection, subscription_id: str | None = None) -> dict[str, Position]:
    """The stored positions (of one Subscription, or all), by Subscription id."""
    query = select(STATE)
    if subscription_id is not None:
        query = query.where(STATE.c.subscription_id == subscription_id)
    out = {}
    for row in conn.execute(query).mappings():
        names = [c.name for c in STATE.c]
        out[row["subscription_id"]] = Position(**{k: row[k] for k in names})
    return out


def save(conn: Connection, position: Position) -> None:
    """Store (replace) a position."""
    conn.execute(delete(STATE).where(STATE.c.subscription_id == position.subscription_id))
    conn.execute(insert(STATE).values(**dataclasses.asdict(position)))
