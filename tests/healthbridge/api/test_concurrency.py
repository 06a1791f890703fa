"""Concurrent writers against a real server process, on both databases (issue 9).

* ``If-Match`` updates of one child: per version exactly one writer wins, the others get
  412; the final content is the winner's (no lost update).
* Conditional creates (``If-None-Exist``), conditional updates and Bundle ``ifNoneExist`` of
  one identifier from many clients at once create exactly one resource.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import factories as f
from tests.live_server import LiveServer

CLIENTS = 8


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A live server on the test database."""
    live = LiveServer(database_url, tmp_path)
    live.start()
    yield live
    live.stop()


def _all_at_once(
    server: LiveServer, request: Callable[[httpx.Client, int], httpx.Response]
) -> list[httpx.Response]:
    """Run ``request(client, i)`` from CLIENTS threads released together by a barrier."""
    barrier = threading.Barrier(CLIENTS)
    results: list[httpx.Response | None] = [None] * CLIENTS
    clients = [server.client(timeout=60) for _ in range(CLIENTS)]
    for c in clients:  # open the connections before the race
        c.get("/metadata")

    def run(i: int) -> None:
        barrier.wait()
        results[i] = request(clients[i], i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for c in clients:
        c.close()
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _search_ids(server: LiveServer, query: str) -> list[str]:
    with server.client(timeout=30) as c:
        bundle = c.get(f"/Patient?{query}").json()
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


@pytest.mark.slow
def test_if_match_exactly_one_winner_per_version(server: LiveServer) -> None:
    with server.client() as c:
        created = c.post("/Patient", json=f.child(child_id="IFM")).json()
    pid = created["id"]
    version = 1
    for _round in range(3):
        bodies = [
            {**f.child(child_id="IFM", given=f"r{_round}c{i}"), "id": pid} for i in range(CLIENTS)
        ]

        def put(
            client: httpx.Client, i: int, v: int = version, b: list[Any] = bodies
        ) -> httpx.Response:
            return client.put(f"/Patient/{pid}", json=b[i], headers={"If-Match": f'W/"{v}"'})

        responses = _all_at_once(server, put)
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 1, 412: CLIENTS - 1}, statuses
        for r in responses:
            if r.status_code == 412:
                assert r.json()["resourceType"] == "OperationOutcome"
        winner = next(i for i, r in enumerate(responses) if r.status_code == 200)
        with server.client() as c:
            current = c.get(f"/Patient/{pid}").json()
        version += 1
        assert current["meta"]["versionId"] == str(version)
        assert current["name"][0]["given"] == [f"r{_round}c{winner}"]  # no lost update
    with server.client() as c:
        history = c.get(f"/Patient/{pid}/_history").json()
    assert history["total"] == version


@pytest.mark.slow
def test_concurrent_conditional_creates_make_one_resource(server: LiveServer) -> None:
    criteria = f"identifier={f.CHILD_ID}|CC-1"

    def create(client: httpx.Client, i: int) -> httpx.Response:
        body = f.child(child_id="CC-1", given=f"c{i}")
        return client.post("/Patient", json=body, headers={"If-None-Exist": criteria})

    statuses = Counter(r.status_code for r in _all_at_once(server, create))
    assert statuses == {201: 1, 200: CLIENTS - 1}, statuses
    assert len(_search_ids(server, criteria)) == 1


@pytest.mark.slow
def test_concurrent_conditional_updates_make_one_resource(server: LiveServer) -> None:
    criteria = f"identifier={f.CHILD_ID}|CU-1"

    def cond_put(client: httpx.Client, i: int) -> httpx.Response:
        return client.put(f"/Patient?{criteria}", json=f.child(child_id="CU-1", given=f"u{i}"))

    statuses = Counter(r.status_code for r in _all_at_once(server, cond_put))
    assert statuses == {201: 1, 200: CLIENTS - 1}, statuses
    ids = _search_ids(server, criteria)
    assert len(ids) == 1
    with server.client() as c:
        assert c.get(f"/Patient/{ids[0]}").json()["meta"]["versionId"] == str(CLIENTS)


@pytest.mark.slow
def test_concurrent_bundles_with_if_none_exist_make_one_child(server: LiveServer) -> None:
    criteria = f"identifier={f.CHILD_ID}|CB-1"

    def bundle(client: httpx.Client, i: int) -> httpx.Response:
        child = f.post(f.child(child_id="CB-1"), if_none_exist=criteria)
        body: dict[str, Any] = f.transaction(
            child, f.post(f.observation(child["fullUrl"], value=5.0 + i))
        )
        return client.post("", json=body)

    responses = _all_at_once(server, bundle)
    assert Counter(r.status_code for r in responses) == {200: CLIENTS}
    ids = _search_ids(server, criteria)
    assert len(ids) == 1
    with server.client() as c:
        obs = c.get(
            f"/Observation?subject=Patient/{ids[0]}&code=http://loinc.org|29463-7&_count=100"
        ).json()
    assert obs["total"] == CLIENTS  # every measurement points at the one child
