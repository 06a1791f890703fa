"""The paediatrician's list (issue 16 item 9): shaping, and the page on the demo district."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.charts.labels import Lang
from healthbridge.clinical.ruleset import RuleSet, load_ruleset_key
from healthbridge.config import DEFAULT_RULESET_KEY
from healthbridge.fhir import facts
from healthbridge.inputs.elements import AlertMark, alert_mark
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.paging import search_all
from healthbridge.store.repository import Transaction
from healthbridge.web import doctor_list as dl
from tests.healthbridge.web.test_pages import sign_in_as
from tests.healthbridge.web.world import SD, World, build_world

ENROL = f"{SD}/childcare-enrollment"


def marks(flags: list[Any]) -> list[AlertMark]:
    return [alert_mark(f) for f in flags]


def gather_documents(
    txn: Transaction, org_id: str
) -> tuple[list[Mapping[str, Any]], list[AlertMark], list[Any]]:
    """:func:`dl.gather` from whole documents through the ordinary search (``_include`` of the
    consents' Patients), the Flags too: the reference the tests compare the element read with."""
    consents: list[Any] = []
    patients: dict[str, Mapping[str, Any]] = {}
    params = [
        ("organization", f"Organization/{org_id}"),
        ("status", "active"),
        ("_include", "Consent:patient"),
    ]
    for s in search_all(txn, "Consent", params, page_size=dl.WHOLE):
        if s.resource is None:
            continue
        if s.resource_type == "Patient":
            patients[s.id] = s.resource
        else:
            consents.append(s.resource)
    shared = dict.fromkeys(facts.ref_id(c.get("patient") or {}, "Patient") for c in consents)
    children = [patients[i] for i in shared if i is not None and i in patients]
    flags = [
        s.resource
        for s in search_all(txn, "Flag", [], page_size=dl.WHOLE)
        if s.resource is not None and s.resource_type == "Flag"
    ]
    return children, [alert_mark(f) for f in flags], flags


def rules() -> RuleSet:
    """The deployment's default rule set (the pages read it from the settings)."""
    return load_ruleset_key(DEFAULT_RULESET_KEY)


def patient(pid: str, name: str, birth: str, centre: str = "org-centre-1", **more: Any) -> Any:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"text": name}],
        "gender": "female",
        "birthDate": birth,
        "identifier": [{"value": f"HB{pid}"}],
        "extension": [
            {
                "url": ENROL,
                "extension": [
                    {"url": "centre", "valueReference": {"reference": f"Organization/{centre}"}},
                    {"url": "class", "valueReference": {"reference": "Location/room-1"}},
                    {"url": "period", "valuePeriod": {"start": "2026-01-01"}},
                ],
            }
        ],
        **more,
    }


def flag(pid: str, severity: str, status: str = "active") -> Any:
    return {
        "resourceType": "Flag",
        "id": f"f-{pid}-{severity}",
        "status": status,
        "code": {
            "coding": [
                {
                    "system": "https://healthbridge.github.io/fhir/CodeSystem/alert-kind",
                    "code": "underweight",
                }
            ]
        },
        "subject": {"reference": f"Patient/{pid}"},
        "extension": [{"url": f"{SD}/alert-severity", "valueCode": severity}],
    }


@pytest.mark.parametrize(
    ("birth", "on", "zh", "en"),
    [
        ("2026-11-20", "2026-12-06", "16天", "16 d"),
        ("2026-03-06", "2026-12-06", "9个月", "9 m"),
        ("2025-09-07", "2026-12-06", "1岁2月", "1 y 2 m"),  # a day short of 1 y 3 m
        ("2025-09-06", "2026-12-06", "1岁3月", "1 y 3 m"),
        ("2024-12-06", "2026-12-06", "2岁", "2 y"),
    ],
)
def test_age_in_words(birth: str, on: str, zh: str, en: str) -> None:
    b, d = dt.date.fromisoformat(birth), dt.date.fromisoformat(on)
    assert dl.age_words(b, d, Lang.ZH) == zh
    assert dl.age_words(b, d, Lang.EN) == en
    assert dl.age_words(None, d, Lang.ZH) == ""


def test_rows_sort_by_severity_then_name_and_mark_same_names() -> None:
    patients = [
        patient("a", "王芳", "2025-01-01"),
        patient("b", "李明", "2025-02-01"),
        patient("c", "王芳", "2024-06-01", centre="org-centre-2"),
        patient("d", "张三", "2025-03-01"),
    ]
    flags = [flag("d", "moderate"), flag("b", "high"), flag("b", "low")]
    flags.append(flag("a", "high", "inactive"))
    found = dl.with_alerts(dl.rows(patients, marks(flags)), flags, rules(), Lang.ZH)
    assert [r.id for r in found] == ["b", "d", "c", "a"]  # high, moderate, then by name, birth
    assert found[0].alerts == 2
    assert found[0].severity == "high"
    assert found[0].top_alert  # the alert in words
    assert found[3].alerts == 0  # an inactive Flag is not an open alert
    assert {r.id for r in found if r.same_name} == {"a", "c"}
    assert (found[2].centre_id, found[2].class_id) == ("org-centre-2", "room-1")


def test_select_searches_names_in_any_script_and_identifiers() -> None:
    pinyin = patient("a", "王芳", "2025-01-01")
    pinyin["name"].append({"family": "Wang", "given": ["Fang"]})
    patients = [
        pinyin,
        patient("b", "李明", "2025-02-01"),
        patient("c", "王小明", "2024-06-01", centre="org-centre-2"),
    ]
    found = dl.rows(patients, marks([flag("b", "high")]))
    assert [r.id for r in dl.select(found, q="王").rows] == ["c", "a"]
    assert [r.id for r in dl.select(found, q="fang wang").rows] == ["a"]
    assert [r.id for r in dl.select(found, q="wangfang").rows] == ["a"]
    assert [r.id for r in dl.select(found, q="hbc").rows] == ["c"]  # the identifier
    assert [r.id for r in dl.select(found, centre="org-centre-2").rows] == ["c"]
    assert [r.id for r in dl.select(found, alerts=True).rows] == ["b"]
    listing = dl.select(found, alerts=True)
    assert (listing.total, listing.all_children, listing.with_alerts) == (1, 3, 1)


def test_select_pages_and_keeps_the_query() -> None:
    patients = [patient(f"p{i:02d}", f"儿童{i:02d}", "2025-01-01") for i in range(45)]
    found = dl.rows(patients, [])
    last = dl.select(found, page=99)
    assert (last.page, last.pages, len(last.rows)) == (3, 3, 5)
    assert dl.select(found, page=0).rows[0].id == "p00"
    kept = dl.query("王", "org-centre-1", True, 2)
    assert kept == "q=%E7%8E%8B&centre=org-centre-1&alerts=1&page=2"
    assert dl.query("", "", False, 1) == ""


def test_next_checkup_from_the_encounters() -> None:
    found = dl.rows([patient("a", "王芳", "2026-05-06")], [])
    on = dt.date(2026, 12, 6)  # 7 months old: the 6-month check is overdue without a visit
    none = dl.with_next_checkup(found, [], rules(), Lang.ZH, on)[0]
    done = dl.with_next_checkup(
        found,
        [
            {
                "resourceType": "Encounter",
                "id": f"e{m}",
                "subject": {"reference": "Patient/a"},
                "period": {"start": f"2026-{m:02d}-08"},
            }
            for m in (6, 8, 9, 11)
        ],
        rules(),
        Lang.ZH,
        on,
    )[0]
    assert none.next_label
    assert none.next_date is not None
    assert done.next_date is not None
    assert none.next_date < done.next_date


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(demo_login=True, environment="development")
    with TestClient(app) as client:
        yield client, build_world(app.state.repository, children=30)


def test_doctor_page_lists_searches_and_filters(site: tuple[TestClient, World]) -> None:
    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        child = txn.read("Patient", world.child_id).resource
        assert child is not None
        txn.create(flag(world.child_id, "high") | {"id": None})
    name = child["name"][0]["text"]
    sign_in_as(client, world.doctor)
    reads: list[str] = []
    original = Transaction.read

    def counting(self: Transaction, rtype: str, rid: str, *a: Any, **k: Any) -> Any:
        reads.append(f"{rtype}/{rid}")
        return original(self, rtype, rid, *a, **k)

    Transaction.read = counting  # type: ignore[method-assign]
    try:
        page = client.get("/app/doctor")
    finally:
        Transaction.read = original  # type: ignore[method-assign]
    assert page.status_code == 200
    assert not [r for r in reads if r.startswith("Patient/")]  # no read per child
    html = page.text
    first = html.index('data-testid="row-')
    assert html[first:].startswith(f'data-testid="row-{world.child_id}"')  # the high alert
    assert f'data-testid="alerts-{world.child_id}"' in html
    assert "出生 " + child["birthDate"] in html
    assert f'data-testid="next-{world.child_id}"' in html
    found = client.get("/app/doctor", params={"q": name}).text
    assert f'data-testid="row-{world.child_id}"' in found
    ident = child["identifier"][0]["value"]
    assert f'row-{world.child_id}"' in client.get("/app/doctor", params={"q": ident}).text
    only = client.get("/app/doctor", params={"alerts": "1"}).text
    assert only.count('class="patient ') == only.count('data-testid="alerts-')
    assert "没有符合条件的儿童" in client.get("/app/doctor", params={"q": "不存在的名字"}).text
    other = client.get("/app/doctor", params={"centre": "org-none"}).text
    assert 'data-testid="doctor-empty"' in other
    english = client.get("/app/doctor?lang=en").text
    assert "Children shared with your hospital" in english
    assert "born " in english
    # a page number out of range shows the last page, never an error
    assert client.get("/app/doctor", params={"page": "x"}).status_code == 200


def _audited(repo: Any, doctor: str, since: set[str]) -> tuple[set[str], set[str]]:
    """The ids of the doctor's AuditEvents, and the records named by those not in ``since``."""
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        found = txn.search_params("AuditEvent", [("agent", doctor), ("_count", "1000")]).matches
    named = {
        str((e.get("what") or {}).get("reference"))
        for s in found
        if s.id not in since and s.resource is not None
        for e in s.resource.get("entity") or ()
    }
    return {s.id for s in found}, named


def test_the_list_audits_the_rows_it_shows(site: tuple[TestClient, World]) -> None:
    """The page reads every shared child to search and sort them; its AuditEvent names the
    children shown (and their alerts), not every child the search went through."""
    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        child = txn.read("Patient", world.child_id).resource
        assert child is not None
        alert = txn.create(flag(world.child_id, "high") | {"id": None}).stored.id
        shared = {
            str(s.resource["patient"]["reference"])
            for s in txn.search_params(
                "Consent",
                [
                    ("organization", f"Organization/{world.hospital_id}"),
                    ("status", "active"),
                    ("_count", "1000"),
                ],
            ).matches
            if s.resource is not None
        }
    others = shared - {f"Patient/{world.child_id}"}
    assert others  # the district shares more than one child with the hospital
    sign_in_as(client, world.doctor)
    before, _ = _audited(repo, world.doctor, set())
    page = client.get("/app/doctor", params={"q": child["name"][0]["text"]})
    assert f'data-testid="row-{world.child_id}"' in page.text
    _, named = _audited(repo, world.doctor, before)
    assert f"Patient/{world.child_id}" in named
    assert f"Flag/{alert}" in named  # the row's alert status
    unseen = {o for o in others if o.split("/")[1] not in page.text}
    assert unseen
    assert not unseen & named


def test_rows_rank_the_alerts_as_the_shown_rows_name_them() -> None:
    """The list sorts by a rank read from each Flag's severity; the shown rows then get the
    alert views of the child's page: both agree (an unknown or missing code ranks low)."""
    patients = [patient(p, p, "2025-01-01") for p in "abcde"]
    flags = [flag("a", "low"), flag("a", "weird"), flag("b", "moderate"), flag("c", "high")]
    flags += [flag("c", "low"), {**flag("d", "x"), "extension": []}, flag("e", "high", "inactive")]
    found = dl.rows(patients, marks(flags))
    shown = dl.with_alerts(found, flags, rules(), Lang.ZH)
    assert [r.id for r in found] == ["c", "b", "a", "d", "e"]
    assert [r.rank for r in shown] == [r.rank for r in found] == [0, 1, 2, 2, 3]
    # the code of the latest alert of the highest rank, as before (here the last by id)
    assert [r.severity for r in shown] == ["high", "moderate", "weird", "low", None]
    assert all(r.top_alert for r in shown[:4])
    assert not found[0].top_alert


def test_gather_reads_the_elements_of_what_the_doctor_may_see(
    site: tuple[TestClient, World],
) -> None:
    """The field-wise read (:mod:`healthbridge.inputs.elements`) gives the same children and
    Flags as the whole documents through the ordinary search, under the doctor's reach: a
    child not shared with the hospital (with an open high alert) is in neither; the list's
    order and shown rows are the same."""
    import random

    from healthbridge.access.http import access_for
    from healthbridge.access.scopes import parse_scopes
    from healthbridge.access.tokens import Principal, Role
    from healthbridge.store.hooks import RequestContext

    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    pick = random.Random(16)  # a random district, the same on every run
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        ids = [s.id for s in txn.search_params("Patient", [("_count", "1000")]).matches]
        for pid in ids:
            for _ in range(pick.randrange(4)):
                severity = pick.choice(["high", "moderate", "low", "other"])
                status = pick.choice(["active", "active", "inactive"])
                txn.create(flag(pid, severity, status) | {"id": None})
        outsider = txn.create(patient("x", "院外儿童", "2025-05-05") | {"id": None}).stored.id
        txn.create(flag(outsider, "high") | {"id": None})
    who = Principal(
        "t", Role.PAEDIATRICIAN, parse_scopes("user/*.rs"), world.doctor,
        f"Organization/{world.hospital_id}",
    )  # fmt: skip
    doctor = RequestContext(
        principal="t", roles=frozenset({"paediatrician"}), access=access_for(who)
    )
    with repo.transaction(doctor) as txn:
        children, found_marks = dl.gather(txn, world.hospital_id)
        whole_children, whole_marks, whole_flags = gather_documents(txn, world.hospital_id)
        found = dl.rows(children, found_marks)
        shown = [r.id for r in found[:20]]
        flags = dl.flags_of(txn, shown)

    def cut(docs: list[Any], elements: tuple[str, ...]) -> dict[str, Any]:
        return {d["id"]: {k: d[k] for k in ("id", *elements) if k in d} for d in docs}

    assert cut(children, dl.PATIENT_ELEMENTS) == cut(whole_children, dl.PATIENT_ELEMENTS)
    assert found_marks == whole_marks  # SQL's reading of the Flags == alert_mark's
    assert len(children) > 5
    assert len(found_marks) > 5
    assert {m.severity for m in found_marks} == {"high", "moderate", "low", "other"}
    assert outsider not in {c["id"] for c in children}
    assert outsider not in {m.patient_id for m in found_marks}
    assert found == dl.rows(whole_children, whole_marks)
    whole_shown = [f for f in whole_flags if f["subject"]["reference"][8:] in shown]
    assert cut(flags, dl.FLAG_ELEMENTS) == cut(whole_shown, dl.FLAG_ELEMENTS)
    assert dl.with_alerts(found[:20], flags, rules(), Lang.EN) == dl.with_alerts(
        found[:20], whole_flags, rules(), Lang.EN
    )
