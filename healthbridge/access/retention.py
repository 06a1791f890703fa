"""The retention schedule and its purge (PIPL Art. 19, 47; issue 20).

The schedule is a versioned rule table (``data/retention-schedule.json``): each rule says which
records it covers, from which moment it counts, how long they are kept and on which rule the
period rests (periods we could not verify are marked ``confirmed: false``). :func:`due` finds
what a rule's period has passed for; :func:`purge` removes it for good — every version and
every index row (:mod:`healthbridge.store.expunge`) — and writes one AuditEvent per rule that
names what was purged (references only, no content), in the same transaction.

Rules (``applies_to`` / ``anchor``):

* ``patient-compartment`` / ``last-activity`` — a child's whole record (the R4 Patient
  compartment without AuditEvent), once the latest write to any of it is older than the period;
  a resource that also belongs to a child whose record is kept stays;
* ``deleted`` / ``deleted`` — resources deleted through the API, once deleted longer ago;
* a resource type (``AuditEvent``) / ``recorded`` — records of that type last written longer ago.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

from sqlalchemy import func, select

from healthbridge.access.audit import audit_event
from healthbridge.access.scopes import parse_scopes
from healthbridge.access.tokens import Principal, Role
from healthbridge.store.access_tables import COMPARTMENT
from healthbridge.store.audit_index import extract_audit_event
from healthbridge.store.expunge import RES, deleted_resources, expunge
from healthbridge.store.repository import Transaction

#: The identity purges are recorded under (the server's own retention job).
PURGER: Final = Principal("retention-purge", Role.SYSTEM, parse_scopes("system/*.cruds"))


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the schedule."""

    id: str
    applies_to: str
    anchor: str
    period: dt.timedelta | None  # days
    years: int
    sources: tuple[str, ...]
    confirmed: bool

    def cutoff(self, as_of: dt.date) -> str:
        """The index instant before which records are due (``as_of`` minus the period)."""
        day = as_of - self.period if self.period is not None else _minus_years(as_of, self.years)
        return f"{day.isoformat()}T00:00:00.000000"


@dataclass(frozen=True, slots=True)
class Schedule:
    version: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Due:
    """What one rule's period has passed for."""

    rule: Rule
    refs: tuple[tuple[str, str], ...]  # (type, id)


def _minus_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@cache
def schedule() -> Schedule:
    """The packaged retention schedule."""
    text = resources.files("healthbridge.access").joinpath("data/retention-schedule.json")
    data: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    rules = tuple(
        Rule(
            id=str(r["id"]),
            applies_to=str(r["applies_to"]),
            anchor=str(r["anchor"]),
            period=dt.timedelta(days=int(r["days"])) if "days" in r else None,
            years=int(r.get("years", 0)),
            sources=tuple(r.get("sources", ())),
            confirmed=bool(r.get("confirmed", False)),
        )
        for r in data["rules"]
    )
    return Schedule(str(data["version"]), rules)


def _children_due(txn: Transaction, cutoff: str) -> list[tuple[str, str]]:
    c = COMPARTMENT
    last = func.max(RES.c.last_updated)
    rows = txn.conn.execute(
        select(c.c.patient_id)
        .select_from(c.join(RES, (RES.c.res_type == c.c.res_type) & (RES.c.res_id == c.c.res_id)))
        .where(c.c.res_type != "AuditEvent")
        .group_by(c.c.patient_id)
        .having(last < cutoff)
    ).all()
    due = {r.patient_id for r in rows}
    if not due:
        return []
    members = txn.conn.execute(
        select(c.c.res_type, c.c.res_id).where(
            c.c.res_type != "AuditEvent", c.c.patient_id.in_(sorted(due))
        )
    ).all()
    candidates = {(m.res_type, m.res_id) for m in members}
    # a record that also belongs to a child whose record is kept stays
    shared = txn.conn.execute(
        select(c.c.res_type, c.c.res_id, c.c.patient_id).where(
            c.c.res_type != "AuditEvent",
            c.c.res_id.in_(sorted({rid for _, rid in candidates})),
            c.c.patient_id.not_in(sorted(due)),
        )
    ).all()
    kept = {(s.res_type, s.res_id) for s in shared}
    out = candidates - kept
    out |= {("Patient", p) for p in due}
    return sorted(out)


def due(txn: Transaction, as_of: dt.date, rules: Sequence[Rule] | None = None) -> list[Due]:
    """What each rule's period has passed for on ``as_of`` (nothing removed)."""
    txn.flush()
    out: list[Due] = []
    for rule in rules if rules is not None else schedule().rules:
        cutoff = rule.cutoff(as_of)
        if rule.applies_to == "patient-compartment":
            refs = _children_due(txn, cutoff)
        elif rule.applies_to == "deleted":
            refs = deleted_resources(txn, before=cutoff)
        else:
            refs = [
                (r.res_type, r.res_id)
                for r in txn.conn.execute(
                    select(RES.c.res_type, RES.c.res_id).where(
                        RES.c.res_type == rule.applies_to, RES.c.last_updated < cutoff
                    )
                )
            ]
        if refs:
            out.append(Due(rule, tuple(refs)))
    return out


def record_purge(txn: Transaction, who: Principal, refs: Sequence[str], description: str) -> None:
    """The AuditEvent of a purge or ``$expunge``: who, when, and the references removed (no
    content), written under the server's authority in ``txn``."""
    event = audit_event(
        who=who,
        interaction="delete",
        entities=list(refs),
        purpose="system",
        description=description[:1024],
    )
    with txn.as_server():
        txn.create(event, prepared=extract_audit_event(event))


def purge(txn: Transaction, as_of: dt.date, *, dry_run: bool = False) -> list[Due]:
    """Remove everything due on ``as_of`` for good and audit it (see module doc)."""
    found = due(txn, as_of)
    if dry_run:
        return found
    version = schedule().version
    for item in found:
        expunge(txn, item.refs)
        record_purge(
            txn,
            PURGER,
            [f"{t}/{i}" for t, i in item.refs],
            f"Purged under retention rule {item.rule.id} (schedule {version}) as of {as_of}",
        )
    return found
