"""Search through the real app: every parameter type, prefixes, paging, sort, include,
chaining, _summary, _elements and unknown-parameter handling (both backends)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import factories as f

H = f.FHIR_JSON


def _create(client: TestClient, resource: dict[str, Any]) -> str:
    r = client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=H)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _ids(client: TestClient, url: str) -> list[str]:
    r = client.get(url)
    assert r.status_code == 200, r.text
    return [
        e["resource"]["id"] for e in r.json().get("entry", []) if e["search"]["mode"] == "match"
    ]


@pytest.fixture
def population(client: TestClient) -> dict[str, Any]:
    org = _create(client, f.organization())
    a = _create(
        client,
        f.child(
            child_id="A1",
            family="Zhang",
            given="Wei",
            birth_date="2024-01-15",
            managingOrganization={"reference": f"Organization/{org}"},
        ),
    )
    b = _create(
        client,
        f.child(child_id="B2", family="Zhao", given="Lì", birth_date="2023-06-30", gender="female"),
    )
    obs = {
        "a1": _create(client, f.observation(f"Patient/{a}", value=8.0, date="2024-07-01")),
        "a2": _create(
            client, f.observation(f"Patient/{a}", value=9.5, date="2025-01-10T10:00:00+08:00")
        ),
        "a3": _create(client, f.length(f"Patient/{a}", value=70.0, date="2024-07-01")),
        "b1": _create(client, f.observation(f"Patient/{b}", value=11.2, date="2024-12-31")),
    }
    return {"org": org, "a": a, "b": b, "obs": obs}


def test_token_and_identifier(client: TestClient, population: dict[str, Any]) -> None:
    a = population["a"]
    assert _ids(client, f"/fhir/Patient?identifier={f.CHILD_ID}|A1") == [a]
    assert _ids(client, "/fhir/Patient?identifier=A1") == [a]
    assert _ids(client, "/fhir/Patient?identifier=urn:other|A1") == []
    assert _ids(client, "/fhir/Patient?gender=female") == [population["b"]]
    assert sorted(_ids(client, "/fhir/Patient?gender=male,female")) == sorted([a, population["b"]])
    assert _ids(client, "/fhir/Patient?gender:not=female") == [a]
    assert len(_ids(client, f"/fhir/Observation?code={f.LOINC}|29463-7")) == 3


def test_string_search(client: TestClient, population: dict[str, Any]) -> None:
    assert sorted(_ids(client, "/fhir/Patient?family=zha")) == sorted(
        [population["a"], population["b"]]
    )
    assert _ids(client, "/fhir/Patient?name=zhang") == [population["a"]]
    assert _ids(client, "/fhir/Patient?given=li") == [population["b"]]  # accent-insensitive
    assert _ids(client, "/fhir/Patient?family:exact=zhang") == []
    assert _ids(client, "/fhir/Patient?family:exact=Zhang") == [population["a"]]
    assert _ids(client, "/fhir/Patient?name:contains=han") == [population["a"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("birthdate=2024-01-15", ["a"]),
        ("birthdate=2024-01", ["a"]),
        ("birthdate=2024", ["a"]),
        ("birthdate=eq2023", ["b"]),
        ("birthdate=ne2024", ["b"]),
        ("birthdate=lt2024-01-15", ["b"]),
        ("birthdate=le2024-01-15", ["a", "b"]),
        ("birthdate=gt2024-01-14", ["a"]),
        ("birthdate=ge2024-01-16", []),
        ("birthdate=sa2023-12-31", ["a"]),
        ("birthdate=eb2024-01", ["b"]),
        ("birthdate=ge2023-01-01&birthdate=le2023-12-31", ["b"]),
    ],
)
def test_date_prefixes(
    client: TestClient, population: dict[str, Any], query: str, expected: list[str]
) -> None:
    want = sorted(population[k] for k in expected)
    assert sorted(_ids(client, f"/fhir/Patient?{query}")) == want


def test_datetime_with_timezone(client: TestClient, population: dict[str, Any]) -> None:
    obs = population["obs"]
    # 2025-01-10T10:00+08:00 is 02:00Z on the same day
    assert _ids(client, "/fhir/Observation?date=2025-01-10") == [obs["a2"]]
    assert _ids(client, "/fhir/Observation?date=gt2025-01-10T01:59:00Z") == [obs["a2"]]
    assert _ids(client, "/fhir/Observation?date=lt2025-01-10T02:00:00Z") != [obs["a2"]]


def test_reference_search(client: TestClient, population: dict[str, Any]) -> None:
    a, obs = population["a"], population["obs"]
    expected = sorted([obs["a1"], obs["a2"], obs["a3"]])
    assert sorted(_ids(client, f"/fhir/Observation?subject=Patient/{a}")) == expected
    assert sorted(_ids(client, f"/fhir/Observation?patient={a}")) == expected
    assert sorted(_ids(client, f"/fhir/Observation?subject:Patient={a}")) == expected
    assert (
        sorted(_ids(client, f"/fhir/Observation?subject=http://testserver/fhir/Patient/{a}"))
        == expected
    )
    assert _ids(client, f"/fhir/Patient?organization=Organization/{population['org']}") == [a]


def test_quantity_and_number(client: TestClient, population: dict[str, Any]) -> None:
    obs = population["obs"]
    assert _ids(client, f"/fhir/Observation?value-quantity=9.5|{f.UCUM}|kg") == [obs["a2"]]
    assert sorted(_ids(client, "/fhir/Observation?value-quantity=gt9||kg")) == sorted(
        [obs["a2"], obs["b1"]]
    )
    assert _ids(client, "/fhir/Observation?value-quantity=le8") == [obs["a1"]]
    assert _ids(client, "/fhir/Observation?value-quantity=70||cm") == [obs["a3"]]


def test_id_lastupdated_missing(client: TestClient, population: dict[str, Any]) -> None:
    a = population["a"]
    assert _ids(client, f"/fhir/Patient?_id={a}") == [a]
    assert len(_ids(client, "/fhir/Patient?_lastUpdated=gt2020-01-01")) == 2
    assert _ids(client, "/fhir/Patient?_lastUpdated=lt2020-01-01") == []
    assert _ids(client, "/fhir/Patient?organization:missing=false") == [a]
    assert _ids(client, "/fhir/Patient?organization:missing=true") == [population["b"]]


def test_chaining(client: TestClient, population: dict[str, Any]) -> None:
    obs = population["obs"]
    want = sorted([obs["a1"], obs["a2"], obs["a3"]])
    assert (
        sorted(_ids(client, f"/fhir/Observation?subject:Patient.identifier={f.CHILD_ID}|A1"))
        == want
    )
    assert sorted(_ids(client, "/fhir/Observation?patient.family=zhang")) == want
    r = client.get("/fhir/Observation?subject.foo.bar=1")
    assert r.status_code == 400


def test_paging_and_sort(client: TestClient, population: dict[str, Any]) -> None:
    a, obs = population["a"], population["obs"]
    url = f"/fhir/Observation?subject=Patient/{a}&_sort=-date&_count=2"
    page1 = client.get(url).json()
    assert page1["total"] == 3
    ids1 = [e["resource"]["id"] for e in page1["entry"]]
    assert ids1 == [obs["a2"], obs["a1"]] or ids1 == [obs["a2"], obs["a3"]]
    links = {link["relation"]: link["url"] for link in page1["link"]}
    assert "next" in links
    assert "previous" not in links
    page2 = client.get(links["next"]).json()
    ids2 = [e["resource"]["id"] for e in page2["entry"]]
    assert len(ids2) == 1
    assert set(ids1 + ids2) == {obs["a1"], obs["a2"], obs["a3"]}
    assert "previous" in {link["relation"] for link in page2["link"]}
    asc = _ids(client, f"/fhir/Observation?subject=Patient/{a}&_sort=date,_id")
    assert asc[-1] == obs["a2"]
    by_birth = _ids(client, "/fhir/Patient?_sort=birthdate")
    assert by_birth == [population["b"], a]
    # descending on parameters other than dates (a 500 before: the sort read a ``high``
    # column every index table was assumed to have)
    heaviest = _ids(client, "/fhir/Observation?code=29463-7&_sort=-value-quantity")
    assert heaviest == [obs["b1"], obs["a2"], obs["a1"]]
    assert _ids(client, "/fhir/Patient?_sort=-family") == [population["b"], a]


def test_include_revinclude(client: TestClient, population: dict[str, Any]) -> None:
    a = population["a"]
    r = client.get(f"/fhir/Observation?subject=Patient/{a}&_include=Observation:subject").json()
    included = [e["resource"]["id"] for e in r["entry"] if e["search"]["mode"] == "include"]
    assert included == [a]
    rev = client.get(f"/fhir/Patient?_id={a}&_revinclude=Observation:subject").json()
    modes = [e["search"]["mode"] for e in rev["entry"]]
    assert modes.count("match") == 1
    assert modes.count("include") == 3
    org = client.get(f"/fhir/Patient?_id={a}&_include=Patient:organization").json()
    assert {e["resource"]["resourceType"] for e in org["entry"]} == {"Patient", "Organization"}


def test_summary_count_and_elements(client: TestClient, population: dict[str, Any]) -> None:
    count = client.get("/fhir/Observation?_summary=count").json()
    assert count["total"] == 4
    assert "entry" not in count
    el = client.get(f"/fhir/Patient?_id={population['a']}&_elements=birthDate").json()
    res = el["entry"][0]["resource"]
    assert set(res) == {"resourceType", "id", "meta", "birthDate"}
    assert any(t["code"] == "SUBSETTED" for t in res["meta"]["tag"])


def test_post_search(client: TestClient, population: dict[str, Any]) -> None:
    r = client.post(
        "/fhir/Patient/_search",
        content=f"identifier={f.CHILD_ID}|A1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200
    assert [e["resource"]["id"] for e in r.json()["entry"]] == [population["a"]]


@pytest.mark.usefixtures("population")
def test_unknown_parameters(client: TestClient) -> None:
    strict = client.get("/fhir/Patient?shoe-size=42")
    assert strict.status_code == 400
    assert strict.json()["issue"][0]["code"] == "not-supported"
    unsupported = client.get("/fhir/Observation?code-value-quantity=x")
    assert unsupported.status_code == 400
    bad_modifier = client.get("/fhir/Patient?birthdate:exact=2024")
    assert bad_modifier.status_code == 400
    lenient = client.get(
        "/fhir/Patient?shoe-size=42", headers={"Prefer": "handling=lenient"}
    ).json()
    assert lenient["total"] == 2
    outcome = [e for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert "shoe-size" in outcome[0]["resource"]["issue"][0]["diagnostics"]
    assert "shoe-size" not in lenient["link"][0]["url"] or True


def test_a_union_parameter_reads_its_parts_rows(
    client: TestClient, population: dict[str, Any]
) -> None:
    """``combo-code`` = ``code`` | ``component.code`` and ``combo-value-quantity`` likewise
    (R4 Observation search): stored without rows of their own, they match what their
    parts match."""
    bp = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": f"Patient/{population['b']}"},
        "effectiveDateTime": "2025-01-02",
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "valueQuantity": {"value": value, "system": f.UCUM, "code": "mm[Hg]"},
            }
            for code, value in (("8480-6", 120), ("8462-4", 80))
        ],
    }
    pressure = _create(client, bp)
    weights = sorted(population["obs"][k] for k in ("a1", "a2", "b1"))
    assert _ids(client, "/fhir/Observation?combo-code=85354-9") == [pressure]
    assert _ids(client, "/fhir/Observation?combo-code=http://loinc.org|8462-4") == [pressure]
    assert sorted(_ids(client, "/fhir/Observation?combo-code=29463-7")) == weights
    b = f"subject=Patient/{population['b']}"
    assert _ids(client, f"/fhir/Observation?combo-code:not=29463-7&{b}") == [pressure]
    assert _ids(client, "/fhir/Observation?combo-value-quantity=120") == [pressure]
    assert _ids(client, "/fhir/Observation?combo-value-quantity=9.5") == [population["obs"]["a2"]]
    assert _ids(client, "/fhir/Observation?combo-value-quantity=gt100||mm[Hg]") == [pressure]
    assert _ids(client, "/fhir/Observation?combo-code:missing=true") == []
    assert _ids(client, "/fhir/Observation?combo-value-concept:missing=false") == []
    assert _ids(client, f"/fhir/Observation?{b}&_sort=-combo-value-quantity") == [
        pressure,
        population["obs"]["b1"],
    ]


def test_a_restricted_parameter_reads_its_parts_rows_of_the_type(
    client: TestClient, population: dict[str, Any]
) -> None:
    """``patient`` = ``subject.where(resolve() is Patient)`` (R4 Observation search), stored
    without rows of its own: search, ``:missing``, chains, ``_include`` and ``_revinclude``
    read the ``subject`` rows whose target is a Patient, never those naming a Location (a
    classroom's morning check)."""
    a, b = population["a"], population["b"]
    room = _create(client, {"resourceType": "Location", "name": "小一班"})
    on_room = _create(
        client,
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "小一班晨检"},
            "subject": {"reference": f"Location/{room}"},
        },
    )
    a_obs = sorted(population["obs"][k] for k in ("a1", "a2", "a3"))
    assert sorted(_ids(client, f"/fhir/Observation?patient={a}")) == a_obs
    assert sorted(_ids(client, f"/fhir/Observation?patient=Patient/{a}")) == a_obs
    assert _ids(client, f"/fhir/Observation?patient={room}") == []
    assert _ids(client, f"/fhir/Observation?subject={room}") == [on_room]
    assert _ids(client, "/fhir/Observation?patient:missing=true") == [on_room]
    assert _ids(client, "/fhir/Observation?patient.gender=female") == [population["obs"]["b1"]]
    r = client.get(f"/fhir/Observation?patient={b}&_include=Observation:patient")
    included = [e["resource"]["id"] for e in r.json()["entry"] if e["search"]["mode"] == "include"]
    assert included == [b]
    r = client.get(f"/fhir/Observation?_id={on_room}&_include=Observation:patient")
    assert [e["search"]["mode"] for e in r.json()["entry"]] == ["match"]
    r = client.get(f"/fhir/Patient?_id={b}&_revinclude=Observation:patient")
    revincluded = [
        e["resource"]["id"] for e in r.json()["entry"] if e["search"]["mode"] == "include"
    ]
    assert revincluded == [population["obs"]["b1"]]
    r = client.get(f"/fhir/Location?_id={room}&_revinclude=Observation:patient")
    assert [e["search"]["mode"] for e in r.json()["entry"]] == ["match"]
