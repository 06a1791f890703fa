"""The admission check as work: record the check, the catch-up, the re-check; order."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from healthbridge.fhir import facts
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web import pages_admission as pa
from tests.healthbridge.web.test_pages import login, site  # noqa: F401  (fixture)
from tests.healthbridge.web.world import World


def _state(client: TestClient, pid: str) -> str | None:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        child = txn.read("Patient", pid).resource or {}
    e = facts.current_enrolment(child)
    return e.state if e else None


def test_record_the_check_then_the_catch_up(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    login(client, world, "manager")
    page = client.get("/app/centre/admission")
    assert page.status_code == 200
    ids = re.findall(r'data-testid="admission-([^"]+)"', page.text)
    assert world.child_id in ids
    to_check = re.findall(r'data-testid="checked-([^"]+)"', page.text)
    if not to_check:  # every demo child already checked: start one afresh
        with client.app.state.repository.transaction(SYSTEM_CONTEXT, write=True) as txn:  # type: ignore[attr-defined]
            child = txn.read("Patient", world.child_id).resource or {}
            fresh = pa.record_state(child, world.centre_id, pa.AdmissionState.SUBMITTED)
            txn.update("Patient", world.child_id, fresh)
        to_check = [world.child_id]
    pid = to_check[0]
    r = client.post(
        f"/app/centre/admission/{pid}", data={"action": "checked"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert r.headers["location"].endswith(f"#child-{pid}")
    state = _state(client, pid)
    assert state in ("assessed_complete", "assessed_incomplete")
    # checking twice is a step out of order: the message on the row, nothing written
    again = client.post(f"/app/centre/admission/{pid}", data={"action": "checked"})
    assert again.status_code == 400
    assert "此步骤现在不能记录" in again.text
    assert _state(client, pid) == state
    if state == "assessed_incomplete":
        client.post(f"/app/centre/admission/{pid}", data={"action": "catchup"})
        assert _state(client, pid) == "catchup_recorded"
        client.post(f"/app/centre/admission/{pid}", data={"action": "recheck"})
        assert _state(client, pid) == "rechecked"


def test_a_child_of_another_centre_is_refused(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    login(client, world, "manager")
    r = client.post(f"/app/centre/admission/{world.other_child_id}", data={"action": "checked"})
    assert r.status_code == 400
    assert _state(client, world.other_child_id) is None


def test_record_state_touches_only_the_current_enrolment() -> None:
    ext = pa.ENROLMENT
    patient = {
        "resourceType": "Patient",
        "extension": [
            {"url": ext, "extension": [
                {"url": "centre", "valueReference": {"reference": "Organization/a"}},
                {"url": "period", "valuePeriod": {"start": "2025-01-01", "end": "2025-06-30"}},
            ]},
            {"url": ext, "extension": [
                {"url": "centre", "valueReference": {"reference": "Organization/a"}},
                {"url": "period", "valuePeriod": {"start": "2026-09-01"}},
                {"url": "admission-check-state", "valueCode": "submitted"},
            ]},
        ],
    }  # fmt: skip
    out = pa.record_state(patient, "a", pa.AdmissionState.ASSESSED_COMPLETE)
    assert [e.state for e in facts.enrolments(out)] == [None, "assessed_complete"]


def test_the_list_reads_no_whole_records(
    site: tuple[TestClient, World],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The immunizations come from batched searches, not one ``$everything`` per child."""
    from healthbridge.store.repository import Transaction

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("$everything read for the admission list")

    client, world = site
    login(client, world, "manager")
    monkeypatch.setattr(Transaction, "everything", refuse)
    page = client.get("/app/centre/admission")
    assert page.status_code == 200
    assert f'data-testid="admission-{world.child_id}"' in page.text


def test_catch_up_notice_pdf(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    login(client, world, "manager")
    page = client.get("/app/centre/admission").text
    with_notice = re.findall(r'data-testid="notice-([^"]+)"', page)
    ids = re.findall(r'data-testid="admission-([^"]+)"', page)
    for pid in with_notice:
        r = client.get(f"/app/centre/admission/{pid}/notice.pdf")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/pdf"
        assert r.content.startswith(b"%PDF")
    complete = [p for p in ids if p not in with_notice]
    if complete:  # a child with nothing to catch up has no notice
        assert client.get(f"/app/centre/admission/{complete[0]}/notice.pdf").status_code == 404
    assert with_notice or complete


def test_one_childs_notice_and_step_read_that_child_only(
    site: tuple[TestClient, World],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The notice and a recorded step read the one child and its Immunizations, not the
    centre's children and all their Immunizations (> 30 s at 10,000 children)."""
    from tests.healthbridge.web.counting import of_type, record_searches

    client, world = site
    login(client, world, "manager")
    page = client.get("/app/centre/admission").text
    pid = (re.findall(r'data-testid="notice-([^"]+)"', page) or [world.child_id])[0]
    calls = record_searches(monkeypatch)
    assert client.get(f"/app/centre/admission/{pid}/notice.pdf").status_code in (200, 404)
    assert of_type(calls, "Patient") == []  # no search of the centre's children
    imms = of_type(calls, "Immunization")
    assert imms
    assert all(dict(p)["patient"] == f"Patient/{pid}" for _t, p in imms)
    with client.app.state.repository.transaction(SYSTEM_CONTEXT, write=True) as txn:  # type: ignore[attr-defined]
        child = txn.read("Patient", pid).resource or {}
        fresh = pa.record_state(child, world.centre_id, pa.AdmissionState.SUBMITTED)
        txn.update("Patient", pid, fresh)
    calls.clear()
    r = client.post(
        f"/app/centre/admission/{pid}", data={"action": "checked"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert of_type(calls, "Patient") == []
    assert all(dict(p)["patient"] == f"Patient/{pid}" for _t, p in of_type(calls, "Immunization"))


def test_the_list_is_paged_in_order_and_audits_the_shown_rows(
    site: tuple[TestClient, World],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pages of the list follow one order (needing action first: the per-child plans'
    order); ``?child=`` opens the page holding a child; the audit names the shown children,
    not the others read to order the list."""
    client, world = site
    login(client, world, "manager")
    monkeypatch.setattr(pa, "PAGE_SIZE", 2)
    first = client.get("/app/centre/admission").text
    assert 'data-testid="admit-pager"' in first
    pages = int(re.search(r"第 1/(\d+) 页", first).group(1))  # type: ignore[union-attr]
    assert pages >= 2
    listed: list[str] = []
    for n in range(1, pages + 1):
        html = client.get(f"/app/centre/admission?page={n}").text
        listed += re.findall(r'data-testid="admission-([^"]+)"', html)
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        children = pa.centre_children(txn, world.centre_id)
        imms = pa.immunizations(txn, [str(c["id"]) for c in children])
    from healthbridge.clinical.ruleset import load_ruleset_key
    from healthbridge.config import DEFAULT_RULESET_KEY

    table = load_ruleset_key(DEFAULT_RULESET_KEY).vaccination
    checks = {str(c["id"]): pa._check(c, imms[str(c["id"])], world.centre_id, table)[0]
              for c in children}  # fmt: skip
    assert len(listed) == len(children) == len(set(listed))
    assert [pa.order(checks[i]) for i in listed] == sorted(pa.order(c) for c in checks.values())
    last = listed[-1]
    holding = client.get(f"/app/centre/admission?child={last}").text
    assert f'data-testid="admission-{last}"' in holding
    # the audit of one page names its two children, not the others
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        before = {s.id for s in txn.search_params("AuditEvent", [("_count", "1000")]).matches}
    client.get("/app/centre/admission?page=1")
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        new = [s.resource for s in txn.search_params("AuditEvent", [("_count", "1000")]).matches
               if s.id not in before and s.resource]  # fmt: skip
    named = {str((e.get("what") or {}).get("reference")) for a in new for e in a.get("entity", ())}
    assert {f"Patient/{i}" for i in listed[:2]} <= named
    assert not {f"Patient/{i}" for i in listed[2:]} & named


def test_the_list_reads_the_immunizations_elements_it_needs(
    site: tuple[TestClient, World],  # noqa: F811
) -> None:
    """The list's field-wise read gives the elements of the whole Immunizations."""
    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        ids = [str(c["id"]) for c in pa.centre_children(txn, world.centre_id)]
        whole = pa.immunizations(txn, ids)
        found = pa.immunization_elements(txn, ids)
    keep = ("resourceType", "id", *pa.IMMUNIZATION_ELEMENTS)
    assert sum(len(v) for v in whole.values()) > 10
    assert found == {p: [{k: i[k] for k in keep if k in i} for i in v] for p, v in whole.items()}
