"""The access matrix: every role × every interaction × a child inside and outside its reach,
through the real app (real tokens) on both databases.

Expected outcomes (docs/access.md): a role that may not use a type at all gets 403; a child
out of reach looks exactly like a child that does not exist (404, searches find nothing);
inside reach the interaction succeeds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests import factories as f
from tests.healthbridge.access import world
from tests.healthbridge.access.world import CALLERS, Caller

CHILD_READERS = {"parent", "health-manager", "centre-staff", "paediatrician", "system"}
OBSERVATION_WRITERS = {"health-manager", "centre-staff", "paediatrician", "system"}
#: Observation deleters: centre staff's default scopes (``user/*.crus``) carry no ``d``.
OBSERVATION_DELETERS = {"health-manager", "paediatrician", "system"}
CONSENT_WRITERS = {"parent", "system"}
OBS = {"kid-a": "obs-a", "kid-b": "obs-b"}


def _expect(allowed: bool, inside: bool, ok: int) -> int:
    if not allowed:
        return 403
    return ok if inside else 404


def _interactions(kid: str) -> list[tuple[str, Callable[[Any], Any], Callable[[str], set[str]]]]:
    """(name, call(client) -> response, roles allowed) for one child; writes come last."""
    obs = OBS[kid]
    new_obs = f.observation(f"Patient/{kid}", value=8.8)
    return [
        ("read Patient", lambda c: c.get(f"/fhir/Patient/{kid}"), lambda _r: CHILD_READERS),
        ("read Observation", lambda c: c.get(f"/fhir/Observation/{obs}"), lambda _r: CHILD_READERS),
        (
            "vread Observation",
            lambda c: c.get(f"/fhir/Observation/{obs}/_history/1"),
            lambda _r: CHILD_READERS,
        ),
        (
            "history Patient",
            lambda c: c.get(f"/fhir/Patient/{kid}/_history"),
            lambda _r: CHILD_READERS,
        ),
        (
            "$everything",
            lambda c: c.get(f"/fhir/Patient/{kid}/$everything"),
            lambda _r: CHILD_READERS,
        ),
        (
            "create Observation",
            lambda c: c.post("/fhir/Observation", json=new_obs),
            lambda _r: OBSERVATION_WRITERS,
        ),
        (
            "update Observation",
            lambda c: c.put(
                f"/fhir/Observation/{obs}",
                json={**f.observation(f"Patient/{kid}", value=9.9), "id": obs},
            ),
            lambda _r: OBSERVATION_WRITERS,
        ),
        (
            "transaction Observation",
            lambda c: c.post("/fhir", json=f.transaction(f.post(new_obs))),
            lambda _r: OBSERVATION_WRITERS,
        ),
        (
            "create Consent",
            lambda c: c.post(
                "/fhir/Consent",
                json={k: v for k, v in world.consent("x", kid, "hosp-g").items() if k != "id"},
            ),
            lambda _r: CONSENT_WRITERS,
        ),
        (
            "delete Observation",
            lambda c: c.delete(f"/fhir/Observation/{obs}"),
            lambda _r: OBSERVATION_DELETERS,
        ),
    ]


_OK = {
    "read Patient": 200,
    "read Observation": 200,
    "vread Observation": 200,
    "history Patient": 200,
    "$everything": 200,
    "create Observation": 201,
    "update Observation": 200,
    "transaction Observation": 200,
    "create Consent": 201,
    "delete Observation": 204,
}


@pytest.mark.parametrize("name", sorted(CALLERS))
def test_matrix(name: str, client_as: Any) -> None:
    caller: Caller = CALLERS[name]
    world.load(client_as("system"))
    c = client_as(caller.role, user=f"user-{name}", **caller.claims)
    wrong: list[str] = []
    for kid in ("kid-a", "kid-b"):
        inside = kid in caller.reach
        for label, call, roles in _interactions(kid):
            allowed = caller.role in roles(caller.role)
            want = _expect(allowed, inside, _OK[label])
            got = call(c)
            if got.status_code != want:
                wrong.append(f"{label} {kid}: {got.status_code} != {want} {got.text[:160]}")
            elif got.status_code >= 400:
                body = got.json()
                if body["resourceType"] != "OperationOutcome":
                    wrong.append(f"{label} {kid}: error without OperationOutcome")
        # searches: out of reach finds nothing; totals count only what is in reach
        searches = [
            f"/fhir/Observation?subject=Patient/{kid}",
            f"/fhir/Patient?_id={kid}&_summary=count",
            f"/fhir/Encounter?patient={kid}",
            f"/fhir/Observation?subject:Patient.identifier={f.CHILD_ID}|{kid[-1].upper()}",
        ]
        for url in searches:
            got = c.get(url)
            if caller.role not in CHILD_READERS:
                if got.status_code != 403:
                    wrong.append(f"search {url}: {got.status_code} != 403")
                continue
            total = got.json().get("total") if got.status_code == 200 else None
            if got.status_code != 200 or (total > 0) != inside:
                wrong.append(f"search {url}: {got.status_code} total={total} inside={inside}")
    # type and system history hold only records in reach
    if caller.role not in CHILD_READERS:
        assert c.get("/fhir/Observation/_history").status_code == 403
    for url in ("/fhir/Observation/_history?_count=200", "/fhir/_history?_count=500"):
        got = c.get(url)
        if caller.role not in CHILD_READERS and url.startswith("/fhir/Observation"):
            continue
        assert got.status_code == 200, got.text
        for entry in got.json().get("entry", []):
            res = entry.get("resource") or {}
            subject = (res.get("subject") or res.get("patient") or {}).get("reference", "")
            if subject.startswith("Patient/") and subject[8:] not in caller.reach:
                wrong.append(f"{url} shows {entry['fullUrl']}")
            if res.get("resourceType") == "Patient" and res["id"] not in caller.reach:
                wrong.append(f"{url} shows {entry['fullUrl']}")
    # directory resources are readable by every authenticated role
    assert c.get("/fhir/Organization/centre-b").status_code == 200
    assert c.get("/fhir/Organization?_summary=count").json()["total"] == 4
    assert not wrong, "\n".join(wrong)
