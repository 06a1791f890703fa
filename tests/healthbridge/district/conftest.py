"""Fixtures for the district endpoints: an app with a chosen caller role, optionally holding a
small demo district (healthbridge.demo, loaded through the store without profile hooks to keep
tests quick — the data is the same)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from healthbridge.access.http import base_url
from healthbridge.api.deps import get_context
from healthbridge.district.cache import DistrictCache
from healthbridge.store.hooks import RequestContext
from tests.settle import settle

AS_OF = dt.date(2026, 11, 1)
DEMO_CHILDREN = 10


def as_role(client: TestClient, *roles: str, principal: str = "tester") -> None:
    """Make every following request of ``client`` come from ``principal`` with ``roles``.

    The context carries no store-level access control: these tests are about the district
    endpoints' own role checks and behaviour; reach and audit are tested in
    tests/healthbridge/access/ for every way in.
    """

    def context(request: Request) -> RequestContext:
        return RequestContext(
            principal=principal, roles=frozenset(roles), base_url=base_url(request)
        )

    client.app.dependency_overrides[get_context] = context  # type: ignore[attr-defined]


def load_small_demo(client: TestClient) -> None:
    from healthbridge.demo.load import load_demo
    from healthbridge.store.repository import Repository

    engine = client.app.state.repository.engine  # type: ignore[attr-defined]
    load_demo(Repository(engine), children=DEMO_CHILDREN, as_of=AS_OF)


@pytest.fixture
def make_client(app_factory: Callable[..., Any]) -> Iterator[Callable[..., TestClient]]:
    """``make_client(*roles, demo=False, **app_kwargs)`` → a started TestClient."""
    opened: list[TestClient] = []

    def build(*roles: str, demo: bool = False, **kwargs: Any) -> TestClient:
        client = TestClient(app_factory(**kwargs))
        client.__enter__()
        opened.append(client)
        as_role(client, *roles)
        if demo:
            load_small_demo(client)
            settle(client.app)  # type: ignore[arg-type]  # the pipeline's alerts, if it is on
        return client

    yield build
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def cache() -> Iterator[DistrictCache]:
    """A district cache without a snapshot directory (the server's lives on its app)."""
    district_cache = DistrictCache()
    yield district_cache
    district_cache.close()
