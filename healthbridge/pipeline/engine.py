"""The write interceptor: derived growth scores and alerts in the writer's transaction.

:meth:`Pipeline.on_write` (a StoreHooks interceptor) only notes which children (and, for
morning checks, which centres) a write touched; :meth:`Pipeline.on_commit` (a pre-commit
hook) then re-evaluates each of them once, however many of their resources the request or
Bundle wrote. Per child it reads the record through the Transaction handle, scores the growth
sessions, writes/retracts the derived ``hb-growth-score`` Observations, evaluates every child
rule and reconciles the child's open alerts (Flag + Task). Its own writes (growth scores,
Flags, Tasks) are not triggers, so nothing recurses. The work is proportional to one child's
record (a centre's last days of morning checks for a cluster evaluation).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from healthbridge import terminology as t
from healthbridge.clinical.alerts import reconcile
from healthbridge.clinical.evaluate import (
    CENTRE_KINDS,
    CHILD_KINDS,
    evaluate_centre,
    evaluate_child,
)
from healthbridge.clinical.records import ChildRecord
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.errors import GoneError, Issue, NotFoundError
from healthbridge.fhir import facts
from healthbridge.inputs import extract as x
from healthbridge.inputs import screening
from healthbridge.pipeline import forecast
from healthbridge.pipeline.alerts import Routing, apply_actions, current_rules, open_alerts
from healthbridge.pipeline.scoring import (
    Scored,
    is_derived,
    same_content,
    score_child,
    score_children,
)
from healthbridge.store import search as sql
from healthbridge.store.hooks import StoreHooks, WriteContext, WriteEvent
from healthbridge.store.paging import search_all
from healthbridge.store.repository import RES, Transaction

#: China Standard Time (no daylight saving): the rules' calendar.
CST = dt.timezone(dt.timedelta(hours=8))
_STATE_KEY = "healthbridge.pipeline"
#: The Patient SearchParameter of the centres a child is enrolled at (fhir_profiles).
ENROLMENT_SEARCH = "enrollment-centre"
STAFF_ROLE = f"{t.CANONICAL_BASE}/CodeSystem/staff-role"


def today_in_china() -> dt.date:
    """The current date in China (the date the rules evaluate on)."""
    return dt.datetime.now(CST).date()


def now_instant() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Pending:
    """What a transaction's writes touched: children to evaluate again, those whose morning
    check changed (their centre's clusters too), and the write that noted each child."""

    children: set[str] = field(default_factory=set)
    centre_children: set[str] = field(default_factory=set)
    centres: set[str] = field(default_factory=set)
    sources: dict[str, str] = field(default_factory=dict)
    #: every write that noted each child (``Type/id/_history/version``): the outbox worker
    #: re-evaluates only what they change (:mod:`healthbridge.pipeline.drain_changes`)
    touched: dict[str, set[str]] = field(default_factory=dict)


def take_pending(txn: Transaction) -> Pending | None:
    """Remove and return what :meth:`Pipeline.on_write` noted in this transaction."""
    pending: Pending | None = txn.attributes.pop(_STATE_KEY, None)
    return pending


#: What the pipeline reads of a child's compartment (the write path and the outbox worker).
RECORD_TYPES = (
    "Observation",
    "Encounter",
    "Immunization",
    "QuestionnaireResponse",
    "EpisodeOfCare",
    "Flag",
    "Task",
)


def child_compartment(txn: Transaction, child_id: str) -> dict[str, list[dict[str, Any]]]:
    """Current resources referring to ``Patient/{child_id}``, by type, in one query.

    The pipeline's own reads are system work: they bypass read hooks (the caller's access
    filter must not hide part of a record from the rules, and they are not a user's read).
    """
    txn.flush()
    ref = sql.index_table("reference")
    rows = txn.conn.execute(
        select(RES.c.res_type, RES.c.res_id, RES.c.content)
        .join(ref, (ref.c.res_type == RES.c.res_type) & (ref.c.res_id == RES.c.res_id))
        .where(
            ref.c.target_type == "Patient",
            ref.c.target_id == child_id,
            RES.c.res_type.in_(RECORD_TYPES),
            RES.c.deleted.is_(False),
        )
    ).all()
    seen: set[tuple[str, str]] = set()
    out: dict[str, list[dict[str, Any]]] = {t_: [] for t_ in RECORD_TYPES}
    for row in rows:
        key = (row.res_type, row.res_id)
        if key not in seen:
            seen.add(key)
            out[row.res_type].append(json.loads(row.content))
    return out


@dataclass
class LoadedChild:
    """A child's record as read from the store, before scoring."""

    info: x.ChildInfo
    record: dict[str, list[dict[str, Any]]]  # by type; only resources about this child
    measured: list[dict[str, Any]]  # Observations that are not derived scores
    derived: list[dict[str, Any]]  # derived growth scores
    sessions: list[x.Session]


def load_child(txn: Transaction, child_id: str) -> LoadedChild | None:
    """Read one child's record; None when the Patient is gone or not a child."""
    try:
        patient = txn.read("Patient", child_id).resource or {}
        info = x.child_info(patient)
    except (NotFoundError, GoneError, x.NotAChildError):
        return None
    record = child_compartment(txn, child_id)
    for rtype in (
        "Observation",
        "Encounter",
        "Immunization",
        "QuestionnaireResponse",
        "EpisodeOfCare",
    ):
        record[rtype] = [r for r in record[rtype] if x.subject_id(r) == child_id]
    measured = [o for o in record["Observation"] if not is_derived(o)]
    derived = [o for o in record["Observation"] if is_derived(o)]
    return LoadedChild(info, record, measured, derived, x.growth_sessions(measured))


def check_units(resource: dict[str, Any], _context: WriteContext) -> list[Issue]:
    """The door's unit check of a growth measurement (a write validator): a weight, length,
    height or head circumference in a unit :func:`healthbridge.fhir.facts.growth_value`
    cannot read is refused with 422 instead of being misread (or silently ignored) by the
    rules."""
    if resource.get("resourceType") != "Observation" or is_derived(resource):
        return []
    try:
        facts.check_growth_unit(x.loinc_code(resource), resource.get("valueQuantity"))
    except facts.UnitError as exc:
        return [Issue("error", "code-invalid", str(exc), ("Observation.valueQuantity.code",))]
    return []


class Pipeline:
    """Growth scoring and alert reconciliation for one rule set (install on StoreHooks)."""

    def __init__(self, ruleset: RuleSet, *, today: Callable[[], dt.date] = today_in_china) -> None:
        self.ruleset = ruleset
        self.today = today

    def install(self, hooks: StoreHooks) -> None:
        """Register the unit check, the interceptor and the pre-commit hook."""
        hooks.add_validator(check_units)
        hooks.add_interceptor(self.on_write)
        hooks.add_pre_commit_hook(self.on_commit)

    # ------------------------------------------------------------------ triggers
    def on_write(self, txn: Transaction, event: WriteEvent) -> None:
        """Note the child (and centre) a written resource belongs to."""
        resource = event.stored.resource
        if resource is None and event.previous is not None:
            resource = event.previous.resource
        if resource is None:
            return
        rtype = event.stored.resource_type
        child: str | None = None
        daily = False
        if rtype == "Patient":
            child = event.stored.id
        elif rtype == "Observation":
            if is_derived(resource):
                return
            code = x.loinc_code(resource)
            if code in x.TRIGGER_OBSERVATION_CODES or screening.screening_code(resource):
                child = x.subject_id(resource)
                daily = code in x.DAILY_CHECK_CODES
        elif rtype in ("Immunization", "Encounter", "QuestionnaireResponse", "EpisodeOfCare"):
            child = x.subject_id(resource)
        if child is None:
            return
        pending: Pending = txn.attributes.setdefault(_STATE_KEY, Pending())
        pending.children.add(child)
        stored = event.stored
        pending.sources[child] = f"{rtype}/{stored.id}/_history/{stored.version_id}"
        pending.touched.setdefault(child, set()).add(pending.sources[child])
        if daily:
            pending.centre_children.add(child)

    def on_commit(self, txn: Transaction) -> bool:
        """Evaluate every child (and centre) noted since the last call.

        The pipeline's reads are system work, not the caller's: read hooks (access filtering,
        read audit) are off while it runs, so a rule never sees a partial record and a
        parent's write is not refused because the rules read the centre's staff. Its writes
        still go through validators and interceptors.
        """
        pending = take_pending(txn)
        if pending is None or not (pending.children or pending.centres):
            return False
        self.evaluate(txn, pending)
        return True

    def evaluate(self, txn: Transaction, pending: Pending) -> None:
        """Evaluate the children (and centres) of ``pending`` in ``txn`` with read hooks off
        (the writer's pre-commit hook, or an outbox worker's transaction)."""
        with self.system_reads(txn):
            self._evaluate_pending(txn, pending)

    @staticmethod
    @contextlib.contextmanager
    def system_reads(txn: Transaction) -> Iterator[None]:
        """Read hooks off in ``txn`` meanwhile: the pipeline's reads are system work."""
        hooks = txn.hooks
        txn.hooks = replace(hooks, read_hooks=[])
        try:
            yield
        finally:
            txn.hooks = hooks

    def _evaluate_pending(self, txn: Transaction, pending: Pending) -> None:
        as_of, now = self.today(), now_instant()
        centres = set(pending.centres)
        loaded = [c for cid in sorted(pending.children) if (c := load_child(txn, cid)) is not None]
        scored = score_children([(c.info, c.sessions) for c in loaded], self.ruleset.interpretation)
        # the current rows of every score about to be written, in one query: each update
        # then neither queries nor flushes the inserts queued before it
        txn.prefetch_current(
            sorted(
                {("Observation", oid) for scores in scored for oid in scores.derived}
                | {("Observation", str(o["id"])) for c in loaded for o in c.derived}
            )
        )
        for child, scores in zip(loaded, scored, strict=True):
            self._finish_child(txn, child, scores, as_of, now)
            cid = child.info.child_id
            if cid in pending.centre_children and child.info.centre_id:
                centres.add(child.info.centre_id)
        for centre in sorted(centres):
            self.evaluate_centre(txn, centre, as_of, now)

    # ------------------------------------------------------------------ child
    def evaluate_child(
        self, txn: Transaction, child_id: str, as_of: dt.date, now: str
    ) -> x.ChildInfo | None:
        """Re-score and re-evaluate one child; None when it is not (or no longer) a child."""
        child = load_child(txn, child_id)
        if child is None:
            return None
        self._finish_child(
            txn,
            child,
            score_child(child.info, child.sessions, self.ruleset.interpretation),
            as_of,
            now,
        )
        return child.info

    def _finish_child(
        self, txn: Transaction, child: LoadedChild, scored: Scored, as_of: dt.date, now: str
    ) -> None:
        """Write the child's derived scores, evaluate its rules and reconcile its alerts."""
        info, record = child.info, child.record
        self._write_derived(txn, child.derived, scored.derived)
        inputs = build_record(
            info,
            child.measured,
            record["Encounter"],
            record["Immunization"],
            record["QuestionnaireResponse"],
            scored.points,
            child_altitude(txn, info),
            record["EpisodeOfCare"],
        )
        findings = evaluate_child(inputs, self.ruleset, as_of)
        cid = info.child_id
        forecast.publish(
            txn,
            forecast.recommendation(
                cid, info.birth_date, info.sex, forecast.given_doses(record["Immunization"]),
                self.ruleset, as_of,
            ),
        )  # fmt: skip
        flags = [
            f
            for f in record["Flag"]
            if f.get("status") == "active" and x.ref_id(f.get("subject"), "Patient") == cid
        ]
        tasks = {
            fid: task
            for task in record["Task"]
            if (fid := x.ref_id(task.get("focus"), "Flag")) is not None
        }
        actions = reconcile(
            cid,
            open_alerts(cid, flags, tasks),
            findings,
            evaluated_kinds=CHILD_KINDS,
            current_rules=current_rules(self.ruleset),
        )
        if actions:
            manager = health_manager(txn, info.centre_id) if info.centre_id else None
            routing = child_routing(info, record["Encounter"], manager)
            id_types = {str(r["id"]): "Encounter" for r in record["Encounter"]}
            id_types |= {str(r["id"]): "Immunization" for r in record["Immunization"]}
            id_types |= {
                str(r["id"]): "QuestionnaireResponse" for r in record["QuestionnaireResponse"]
            }
            id_types |= {str(r["id"]): "EpisodeOfCare" for r in record["EpisodeOfCare"]}
            apply_actions(
                txn,
                actions,
                ruleset=self.ruleset,
                routing=routing,
                as_of=as_of,
                now=now,
                id_types=id_types,
                known={
                    f"{r['resourceType']}/{r['id']}": r for r in record["Flag"] + record["Task"]
                },
            )

    @staticmethod
    def _write_derived(
        txn: Transaction, existing: list[dict[str, Any]], wanted: dict[str, dict[str, Any]]
    ) -> None:
        """Create/update changed scores; retract (entered-in-error) scores no longer derived.

        Written through the store's trusted path: the scores are built here from typed values
        (``tests/healthbridge/pipeline/test_growth_scores.py`` checks every shape with the base-R4
        validator and the claimed profiles), and a retraction changes only the status of a
        stored, already validated score."""
        current = {str(o["id"]): o for o in existing}
        for oid, resource in wanted.items():
            old = current.get(oid)
            if old is None or not same_content(old, resource):
                txn.update("Observation", oid, resource, trusted=True)
        for oid, old in current.items():
            if oid not in wanted and old.get("status") != "entered-in-error":
                txn.update("Observation", oid, {**old, "status": "entered-in-error"}, trusted=True)

    # ------------------------------------------------------------------ centre
    def evaluate_centre(self, txn: Transaction, centre_id: str, as_of: dt.date, now: str) -> None:
        """Outbreak clusters of one centre from the morning checks of the last days.

        Reads the daily-check Observations of the window whose child is enrolled at the
        centre (a chained search on ``enrollment-centre``); the enrolment's period is still
        checked per child (:attr:`ChildInfo.centre_id`, the current centre)."""
        window = max(w.days for w in self.ruleset.daily_check.cluster_windows)
        since = as_of - dt.timedelta(days=window - 1)
        codes = ",".join(f"{t.LOINC}|{c}" for c in sorted(x.DAILY_CHECK_CODES))
        found = list(
            search_all(
                txn,
                "Observation",
                [
                    ("code", codes),
                    ("date", f"ge{since.isoformat()}"),
                    # only this centre's children (issue 19 item 2): the chain runs on the
                    # Patient's enrollment-centre index, not over the whole database
                    (f"subject:Patient.{ENROLMENT_SEARCH}", f"Organization/{centre_id}"),
                    ("_include", "Observation:subject"),
                ],
            )
        )
        patients = {s.id: s.resource for s in found if s.resource_type == "Patient" and s.resource}
        by_child: dict[str, list[dict[str, Any]]] = {}
        for s in found:
            if s.resource_type == "Observation" and s.resource is not None:
                cid = x.subject_id(s.resource)
                if cid is not None:
                    by_child.setdefault(cid, []).append(s.resource)
        checks = []
        for cid, obs in sorted(by_child.items()):
            patient = patients.get(cid)
            if patient is None:
                continue
            try:
                info = x.child_info(patient)
            except x.NotAChildError:
                continue
            if info.centre_id == centre_id:
                checks += x.daily_checks(info, obs)
        findings = evaluate_centre(centre_id, checks, self.ruleset, as_of)
        ref = f"Organization/{centre_id}"
        flags, tasks = _alerts_of(txn, ref)
        actions = reconcile(
            centre_id,
            open_alerts(centre_id, flags, tasks),
            findings,
            evaluated_kinds=CENTRE_KINDS,
            current_rules=current_rules(self.ruleset),
        )
        if actions:
            routing = Routing(health_manager(txn, centre_id), None)
            apply_actions(txn, actions, ruleset=self.ruleset, routing=routing, as_of=as_of, now=now)


def build_record(
    info: x.ChildInfo,
    observations: list[dict[str, Any]],
    encounters: list[dict[str, Any]],
    immunizations: list[dict[str, Any]],
    responses: list[dict[str, Any]],
    points: tuple[Any, ...],
    altitude_m: float | None = None,
    episodes: list[dict[str, Any]] | None = None,
) -> ChildRecord:
    """The :class:`ChildRecord` of one child from its resources and scored growth points."""
    return ChildRecord(
        child_id=info.child_id,
        birth_date=info.birth_date,
        sex=info.sex,
        centre_id=info.centre_id,
        class_id=info.class_id,
        gestational_weeks=info.gestational_weeks,
        altitude_m=altitude_m,
        growth=points,
        checkups=tuple(x.checkups(encounters)),
        doses=tuple(x.doses(immunizations)),
        daily_checks=tuple(x.daily_checks(info, observations)),
        haemoglobin=tuple(x.haemoglobin(observations)),
        screenings=tuple(x.screenings(responses)),
        enrolments=info.enrolments,
        maternal_hbsag=info.maternal_hbsag,
        birth_weight_g=info.birth_weight_g,
        tb_tests=tuple(x.tb_tests(observations)),
        cases=tuple(x.managed_cases(episodes or (), encounters)),
        screening_results=tuple(screening.screening_results(observations)),
    )


def child_altitude(txn: Transaction, info: x.ChildInfo) -> float | None:
    """Metres above sea level where the child is cared for (:meth:`.extract.Altitudes.of`):
    the class Location's ``position.altitude``, else the centre's managed Locations'."""
    if info.class_id is None and info.centre_id is None:
        return None
    found: list[dict[str, Any]] = []
    if info.class_id is not None:
        with contextlib.suppress(NotFoundError, GoneError):
            found.append(txn.read("Location", info.class_id).resource or {})
    if info.centre_id is not None:
        found += [
            s.resource
            for s in search_all(
                txn, "Location", [("organization", f"Organization/{info.centre_id}")]
            )
            if s.resource
        ]
    return x.altitudes(found).of(info)


def _alerts_of(
    txn: Transaction, subject_ref: str
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Active Flags of a subject and their review Tasks (by Flag id)."""
    found = list(
        search_all(
            txn,
            "Flag",
            [("subject", subject_ref), ("_revinclude", "Task:focus")],
        )
    )
    flags = [
        s.resource
        for s in found
        if s.resource_type == "Flag" and s.resource and s.resource.get("status") == "active"
    ]
    tasks: dict[str, dict[str, Any]] = {}
    for s in found:
        if s.resource_type == "Task" and s.resource:
            fid = x.ref_id(s.resource.get("focus"), "Flag")
            if fid:
                tasks[fid] = s.resource
    return flags, tasks


_MANAGERS_KEY = "healthbridge.pipeline.managers"


def health_manager(txn: Transaction, centre_id: str) -> str:
    """The centre health manager's PractitionerRole (else the centre itself); looked up once
    per centre and transaction (a Bundle of many children of one centre searches once)."""
    known: dict[str, str] = txn.attributes.setdefault(_MANAGERS_KEY, {})
    if centre_id in known:
        return known[centre_id]
    found = f"Organization/{centre_id}"
    roles = search_all(txn, "PractitionerRole", [("organization", f"Organization/{centre_id}")])
    for s in roles:
        if s.resource is not None and is_health_manager(s.resource):
            found = f"PractitionerRole/{s.id}"
            break
    known[centre_id] = found
    return found


def is_health_manager(role: dict[str, Any]) -> bool:
    """A PractitionerRole coded ``staff-role|health-manager`` (保健员)."""
    for concept in role.get("code") or ():
        for coding in concept.get("coding") or ():
            if coding.get("system") == STAFF_ROLE and coding.get("code") == "health-manager":
                return True
    return False


def child_routing(
    info: x.ChildInfo, encounters: list[dict[str, Any]], manager: str | None
) -> Routing:
    """Owner (``manager``, the centre health manager) and responsible paediatrician of a
    child's alerts.

    The paediatrician is the Patient's ``generalPractitioner``, else the practitioner of the
    child's latest checkup outside the centre.
    """
    owner = manager
    doctor = f"Practitioner/{info.general_practitioner}" if info.general_practitioner else None
    if doctor is None:
        latest: tuple[str, str] | None = None
        for enc in encounters:
            provider = x.ref_id(enc.get("serviceProvider"), "Organization")
            if info.centre_id is not None and provider == info.centre_id:
                continue
            start = str((enc.get("period") or {}).get("start", ""))
            for p in enc.get("participant") or ():
                pid = x.ref_id(p.get("individual"), "Practitioner")
                if pid and (latest is None or start > latest[0]):
                    latest = (start, pid)
        if latest is not None:
            doctor = f"Practitioner/{latest[1]}"
    if owner is None and doctor is not None:
        owner = doctor
    return Routing(owner, doctor)
