"""Shared fixtures: every database-dependent test runs on SQLite and on PostgreSQL.

* ``database_url`` is parametrised over ``sqlite`` (a fresh file per test, copied from a
  migrated template) and ``postgresql`` (``HEALTHBRIDGE_TEST_POSTGRES_URL``; tables are
  truncated before each test; under pytest-xdist each worker has its own database). Without
  that variable PostgreSQL tests are skipped, except in CI (``CI=true``) where they fail.
* ``settings`` → :class:`~healthbridge.config.Settings` for that database.
* ``app_factory(**settings_overrides, hooks=..., operations=..., authenticated=False)`` → a
  FastAPI app. By default every request is made as the ``system`` role (the
  ``get_principal`` dependency is overridden; access control and audit still apply); with
  ``authenticated=True`` requests need real bearer tokens (``tests.factories.auth_headers``).
  ``client`` → a started ``TestClient`` on the default app.
* ``client_as(role, user=..., fhir_user=..., org=..., scopes=...)`` → a client that sends a
  real token for that role to one shared authenticated app (``tests.factories.RoleClient``).
* ``repository`` → a :class:`~healthbridge.store.repository.Repository` (store-level tests).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from healthbridge.config import Settings

BACKENDS = ("sqlite", "postgresql")
EXAMPLES_DIR = (
    Path(__file__).resolve().parent.parent / "tools/node/node_modules/hl7.fhir.r4.examples"
)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from healthbridge.store.db import make_engine, upgrade

    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def _worker_database(url: str) -> str:
    """The PostgreSQL database of this pytest-xdist worker: ``<name>_gw0``, ``<name>_gw1`` …
    (created when missing) so that one worker's per-test TRUNCATE never empties the tables
    another worker is using; ``url`` itself outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if found.scalar() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _postgres_ready() -> str | None:
    url = os.environ.get("HEALTHBRIDGE_TEST_POSTGRES_URL")
    if not url:
        return None
    url = _worker_database(url)
    from healthbridge.store.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _truncate(url: str) -> None:
    from sqlalchemy import text

    from healthbridge.store.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY"))
            if "rule_input_state" in tables:
                from healthbridge.store.rule_inputs import mark_built

                mark_built(conn)  # an empty database's rule-input table is complete
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _sqlite_template: Path,
    _postgres_ready: str | None,
) -> str:
    """A clean, migrated database for one test, per backend."""
    if request.param == "sqlite":
        path = tmp_path / "healthbridge.sqlite3"
        shutil.copyfile(_sqlite_template, path)
        return f"sqlite:///{path}"
    if _postgres_ready is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("HEALTHBRIDGE_TEST_POSTGRES_URL is not set in CI")
        pytest.skip("HEALTHBRIDGE_TEST_POSTGRES_URL is not set")
    _truncate(_postgres_ready)
    return _postgres_ready


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for the test database (the clinical pipeline is off unless a test sets
    ``clinical_ruleset``, e.g. ``app_factory(clinical_ruleset="cn-child-health@2026.1/CN")``)."""
    from tests.factories import TEST_SECRET

    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        environment="test",
        auth_secret=TEST_SECRET,
        clinical_ruleset="",
    )


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def app_factory(settings: Settings) -> AppFactory:
    """Build an app: ``app_factory(hooks=..., operations=..., max_bundle_entries=3, ...)``."""
    from healthbridge.access.scopes import parse_scopes
    from healthbridge.access.tokens import Principal, Role
    from healthbridge.api.deps import get_principal
    from healthbridge.server.app import create_app

    system = Principal("test-system", Role.SYSTEM, parse_scopes("system/*.cruds"))

    def build(
        *,
        hooks: Any = None,
        operations: Any = None,
        authenticated: bool = False,
        jwks_fetcher: Any = None,
        **overrides: Any,
    ) -> FastAPI:
        merged = settings.model_copy(update=overrides)
        app = create_app(merged, hooks=hooks, operations=operations, jwks_fetcher=jwks_fetcher)
        if not authenticated:
            app.dependency_overrides[get_principal] = lambda: system
        return app

    return build


@pytest.fixture
def client(app_factory: AppFactory) -> Iterator[TestClient]:
    """A started TestClient on the default app (JSON bodies sent as application/fhir+json)."""
    with TestClient(app_factory(), headers={"Accept": "application/fhir+json"}) as c:
        yield c


@pytest.fixture
def client_as(app_factory: AppFactory) -> Iterator[Callable[..., Any]]:
    """``client_as(role, user=..., fhir_user=..., org=..., scopes=...)`` → a RoleClient sending
    a real token to one started, authenticated app (shared by every role of the test)."""
    from tests.factories import RoleClient, auth_headers

    with TestClient(
        app_factory(authenticated=True), headers={"Accept": "application/fhir+json"}
    ) as started:

        def make(role: str, **claims: Any) -> RoleClient:
            return RoleClient(started, auth_headers(role, **claims))

        yield make


@pytest.fixture
def repository(settings: Settings) -> Iterator[Any]:
    """A repository on the test database (no hooks)."""
    from healthbridge.store.db import make_engine
    from healthbridge.store.repository import Repository

    engine = make_engine(settings.resolved_database_url())
    yield Repository(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The official R4 examples (npm ``hl7.fhir.r4.examples``); skipped when not installed."""
    if not EXAMPLES_DIR.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("tools/node/node_modules is missing in CI (scripts/test installs it)")
        pytest.skip("npm examples not installed (run scripts/test)")
    return EXAMPLES_DIR


@pytest.fixture(scope="session")
def _s3_endpoint() -> Iterator[str]:
    """An S3 API served locally by moto (``moto[server]``: no network, no credentials)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_settings(_s3_endpoint: str) -> dict[str, Any]:
    """Settings overrides that keep export files in a fresh bucket of the local S3 API:
    ``app_factory(**s3_settings)``."""
    import uuid

    from healthbridge.store.objects import s3_client

    overrides: dict[str, Any] = {
        "export_store": f"s3://hb-{uuid.uuid4().hex[:12]}/exports",
        "s3_endpoint_url": _s3_endpoint,
        "s3_region": "us-east-1",
        "s3_access_key_id": "test-key",
        "s3_secret_access_key": "test-secret",
    }
    bucket = overrides["export_store"].removeprefix("s3://").split("/")[0]
    s3_client(Settings(**overrides)).create_bucket(Bucket=bucket)
    return overrides
