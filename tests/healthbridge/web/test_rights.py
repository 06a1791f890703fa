"""The guardian's rights pages (issue 20): access log, download, corrections, sharing per
organisation and purpose — parents only, their own children only (both databases)."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from healthbridge.store.hooks import SYSTEM_CONTEXT
from tests.healthbridge.web.test_pages import login, site  # noqa: F401 (fixture)
from tests.healthbridge.web.world import World


def test_parent_sees_who_viewed_the_record(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    login(client, world, "doctor")
    assert client.get(f"/app/child/{world.child_id}").status_code == 200
    login(client, world, "parent")
    rights = client.get(f"/app/child/{world.child_id}/rights")
    assert rights.status_code == 200
    assert "我的权利" in rights.text  # Chinese first
    log = client.get(f"/app/child/{world.child_id}/access-log")
    assert log.status_code == 200
    entries = log.text.split('data-testid="access-log"')[1]
    assert "儿科医生" in entries  # the doctor's role
    assert "查看" in entries  # "viewed"
    assert "您本人" not in entries  # by default only others' access (what a guardian asks)
    mine = client.get(f"/app/child/{world.child_id}/access-log?mine=1")
    assert "您本人" in mine.text.split('data-testid="access-log"')[1]  # on request, own too
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", entries)
    english = client.get(f"/app/child/{world.child_id}/access-log?lang=en")
    assert "Paediatrician" in english.text
    assert "viewed" in english.text
    # paging: page 2 of a short log is empty but answers
    assert client.get(f"/app/child/{world.child_id}/access-log?page_no=2").status_code == 200


def test_rights_pages_are_the_parents_own(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    login(client, world, "parent")
    other = world.other_child_id
    for url in ("rights", "access-log", "record.json"):
        assert client.get(f"/app/child/{other}/{url}").status_code == 404, url
    r = client.post(
        f"/app/child/{other}/correction", data={"focus": f"Patient/{other}", "text": "x"}
    )
    assert r.status_code == 404
    r = client.post(
        f"/app/child/{other}/sharing",
        data={
            "organization": f"Organization/{world.hospital_id}",
            "purpose": "TREAT",
            "grant": "yes",
        },
    )
    assert r.status_code == 404
    login(client, world, "doctor")
    assert client.get(f"/app/child/{world.child_id}/rights").status_code == 403
    assert client.get(f"/app/child/{world.child_id}/access-log").status_code == 403


def test_download_the_whole_record(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    login(client, world, "parent")
    r = client.get(f"/app/child/{world.child_id}/record.json")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    bundle = json.loads(r.text)
    assert bundle["resourceType"] == "Bundle"
    types = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "Observation"} <= types
    assert "AuditEvent" not in types
    pdf = client.get(f"/app/child/{world.child_id}/report.pdf")
    assert pdf.content.startswith(b"%PDF")
    log = client.get(f"/app/child/{world.child_id}/access-log?mine=1").text
    assert "导出" in log  # the parent's own download is in the access log


def test_correction_request_is_a_task_to_the_author(
    site: tuple[TestClient, World],  # noqa: F811
) -> None:
    client, world = site
    login(client, world, "parent")
    page = client.get(f"/app/child/{world.child_id}/rights").text
    focus = next(
        v for v in re.findall(r'<option value="([^"]+)"', page) if v.startswith("Observation/")
    )
    empty = client.post(
        f"/app/child/{world.child_id}/correction", data={"focus": focus, "text": "  "}
    )
    assert empty.status_code == 400
    assert "请写明哪里有误" in empty.text
    wrong = client.post(
        f"/app/child/{world.child_id}/correction",
        data={"focus": f"Patient/{world.other_child_id}", "text": "x"},
    )
    assert wrong.status_code == 400
    r = client.post(
        f"/app/child/{world.child_id}/correction",
        data={"focus": focus, "text": "体重应为 10.2 kg"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        [task] = [
            s.resource
            for s in txn.search_params("Task", [("code", "change"), ("_count", "100")]).matches
        ]
        target = txn.read(*focus.split("/")).resource
    assert task["focus"]["reference"] == focus
    assert task["for"]["reference"] == f"Patient/{world.child_id}"
    assert task["status"] == "requested"
    assert task["requester"]["reference"] == world.parent
    assert task["owner"]["reference"].startswith("Organization/")
    performers = json.dumps(target.get("performer"))
    # the organisation that wrote it, else (no performer) the child's centre
    expected = f"Organization/{world.centre_id}"
    if target and "Organization/" in performers:
        expected = re.findall(r"Organization/[\w.-]+", performers)[0]
    assert task["owner"]["reference"] == expected
    listed = client.get(f"/app/child/{world.child_id}/rights").text
    assert "体重应为 10.2 kg" in listed
    assert "待处理" in listed.split('data-testid="corrections"')[1]
    # the owner's staff see it on their page and answer it; the parent sees the answer
    staff, home = (
        ("manager", "/app/centre")
        if task["owner"]["reference"] == f"Organization/{world.centre_id}"
        else ("doctor", "/app/doctor")
    )
    login(client, world, staff)
    assert f'data-testid="correction-{task["id"]}"' in client.get(home).text
    empty = client.post(f"/app/task/{task['id']}/answer", data={"outcome": "completed"})
    assert empty.status_code == 400
    r = client.post(
        f"/app/task/{task['id']}/answer",
        data={"outcome": "completed", "text": "已更正"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert f'data-testid="correction-{task["id"]}"' not in client.get(home).text
    login(client, world, "parent")
    assert (
        client.post(
            f"/app/task/{task['id']}/answer", data={"outcome": "rejected", "text": "x"}
        ).status_code
        == 403
    )  # parents do not answer
    listed = client.get(f"/app/child/{world.child_id}/rights").text.split(
        'data-testid="corrections"'
    )[1]
    assert "已完成" in listed
    assert "已更正" in listed


def test_withdraw_and_grant_sharing_per_purpose(
    site: tuple[TestClient, World],  # noqa: F811
) -> None:
    client, world = site
    child = f"/app/child/{world.child_id}"
    hospital = f"Organization/{world.hospital_id}"
    login(client, world, "doctor")
    assert client.get(child).status_code == 200
    login(client, world, "parent")
    page = client.get(f"{child}/rights").text
    assert f'data-testid="share-{world.hospital_id}-TREAT"' in page

    def share(purpose: str, grant: str) -> None:
        r = client.post(
            f"{child}/sharing",
            data={"organization": hospital, "purpose": purpose, "grant": grant},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text

    share("TREAT", "no")
    login(client, world, "doctor")
    assert client.get(child).status_code == 404  # effective at once
    login(client, world, "parent")
    share("HRESCH", "yes")  # research only does not open care
    login(client, world, "doctor")
    assert client.get(child).status_code == 404
    login(client, world, "parent")
    share("TREAT", "yes")
    login(client, world, "doctor")
    assert client.get(child).status_code == 200
    login(client, world, "parent")
    bad = client.post(
        f"{child}/sharing", data={"organization": hospital, "purpose": "MARKETING", "grant": "yes"}
    )
    assert bad.status_code == 404


def test_the_log_counts_only_the_childs_own_records(site: tuple[TestClient, World]) -> None:  # noqa: F811
    """A staff list page audits several children in one event: the parent's log counts this
    child's records only (one Patient, its Observation), never the other child's."""
    from healthbridge.access.audit import audit_event
    from healthbridge.access.auditing import patients_of
    from healthbridge.access.scopes import parse_scopes
    from healthbridge.access.tokens import Principal, Role
    from healthbridge.web import rights

    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    doctor = Principal("dr", Role.PAEDIATRICIAN, parse_scopes("user/*.rs"), fhir_user=world.doctor)
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        refs = []
        for pid in (world.child_id, world.other_child_id):
            one = txn.search_params("Observation", [("subject", f"Patient/{pid}"), ("_count", "1")])
            refs += [f"Patient/{pid}", one.matches[0].reference]
        txn.flush()
        event = audit_event(
            who=doctor,
            interaction="search-type",
            entities=refs,
            patients=patients_of(txn.conn, refs),
        )
        txn.create(event)
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        entries, _more = rights.access_log(txn, world.child_id, world.parent, 1)
    mine = [e for e in entries if e.action == "search-type"]
    assert mine, entries
    assert dict(mine[0].what) == {"Observation": 1, "Patient": 1}


def test_the_english_log_lists_kinds_with_commas(site: tuple[TestClient, World]) -> None:  # noqa: F811
    """Inline lists use the reader's language's separator: "、" in Chinese, ", " in English."""
    client, world = site
    login(client, world, "doctor")
    assert client.get(f"/app/child/{world.child_id}").status_code == 200
    login(client, world, "parent")
    english = client.get(f"/app/child/{world.child_id}/access-log?lang=en").text
    entries = english.split('data-testid="access-log"')[1]
    assert "、" not in entries
    assert re.search(r"\((\w[\w ]*( \d+)?, )+\w", entries), entries
    chinese = client.get(f"/app/child/{world.child_id}/access-log?lang=zh").text
    assert "、" in chinese.split('data-testid="access-log"')[1]
