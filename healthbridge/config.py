"""Runtime settings (environment prefix ``HEALTHBRIDGE_``).

Settings are read once, when the application or a command starts (:func:`get_settings`);
nothing is read at import time.
"""

from __future__ import annotations

import os
import secrets
import time
from functools import cache
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The token secret earlier versions shipped as a default. It is public, so it is never used:
#: outside development it is refused at start-up; in development it counts as "not set" and the
#: server uses the generated secret of its data directory instead (:meth:`Settings.local_secret`).
DEFAULT_AUTH_SECRET = "healthbridge-development-secret-change-me!"
#: File under ``data_dir`` holding the generated development secret (mode 0600).
SECRET_FILE = "auth-secret"


class SmartClient(BaseModel):
    """A registered SMART app (public client: PKCE, no secret)."""

    #: Exact redirect URIs the app may ask for (RFC 6749 §3.1.2.2).
    redirect_uris: list[str]
    #: The app's launch URL for an EHR launch from a child's page (empty: standalone only).
    launch_url: str = ""
    name: str = ""


#: The rule set of a deployment that configures none (docs/clinical_rules.md).
DEFAULT_RULESET_KEY: Final = "cn-child-health@2026.1/CN"


class Settings(BaseSettings):
    """Configuration of a HealthBridge process."""

    model_config = SettingsConfigDict(env_prefix="HEALTHBRIDGE_", extra="ignore")

    #: SQLAlchemy URL; empty means a SQLite file ``healthbridge.sqlite3`` under ``data_dir``.
    database_url: str = ""
    #: Directory for the default SQLite database and other local state.
    data_dir: Path = Path("data")
    #: Largest accepted request body in bytes (413 beyond).
    max_request_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    #: Most entries accepted in one batch/transaction Bundle (400 beyond).
    max_bundle_entries: int = Field(default=5000, gt=0)
    #: Public base URL of the FHIR endpoint, e.g. ``https://example.org/fhir``; empty means
    #: derived from each request.
    base_url: str = ""
    #: Without ``base_url``, the hosts (``Host`` header, without port) whose requests may
    #: derive the base URL for Bundle links; ``*`` allows any. Other hosts get 400, so a
    #: forged ``Host`` never ends up in links (docs/access.md "Hardening").
    allowed_hosts: list[str] = ["localhost", "127.0.0.1", "[::1]", "testserver"]
    #: Default and largest page size for searches (``_count``).
    default_page_size: int = Field(default=20, gt=0)
    max_page_size: int = Field(default=1000, gt=0)
    #: Clinical rule set ``id@version/region`` (docs/clinical_rules.md) used by the growth
    #: and alert pipeline and by every page, operation and report that applies the rules
    #: (through :attr:`ruleset_key`); empty disables the pipeline (no derived data, no alerts).
    clinical_ruleset: str = DEFAULT_RULESET_KEY
    #: Where the pipeline runs (docs/pipeline.md): ``outbox`` (the default) queued by the
    #: write and evaluated by workers (the in-process thread below and/or ``healthbridge
    #: worker`` processes; on a quiet server the results follow within about a second),
    #: ``inline`` in each write's transaction (results visible when the write returns).
    pipeline_mode: Literal["inline", "outbox"] = "outbox"
    #: In outbox mode, run a worker thread in each server process (off: only separate
    #: ``healthbridge worker`` processes drain the queue).
    pipeline_worker_thread: bool = True
    #: Outbox rows a worker takes per transaction.
    pipeline_batch: int = Field(default=200, ge=1)
    #: The CPU priority (Unix nice value) a ``healthbridge worker`` process runs at, at
    #: least: beside servers on the same host, requests are served first and the queue is
    #: evaluated with the CPU they leave, in larger batches (docs/pipeline.md). 0: as started.
    pipeline_worker_nice: int = Field(default=10, ge=0, le=19)
    #: In outbox mode, how long a child's page waits for that child's queued changes to be
    #: evaluated before it renders (seconds); still queued then, the page says that the
    #: results are being calculated (docs/pipeline.md). 0: never wait.
    pipeline_page_wait_seconds: float = Field(default=2.0, ge=0)
    #: Echo SQL statements (debugging).
    sql_echo: bool = False
    # --- access (docs/access.md) ------------------------------------------------------------
    #: ``development`` may run without a configured token secret (a random one is generated
    #: in ``data_dir``) and may offer the demo login; anything else needs a real secret.
    environment: Literal["development", "test", "production"] = "development"
    #: ``local``: HS256 tokens minted by ``healthbridge token``; ``oidc``: an OpenID provider.
    auth_mode: Literal["local", "oidc"] = "local"
    #: Secret of local tokens and sessions (at least 32 random characters outside development;
    #: empty in development: generated per data directory, see :meth:`local_secret`).
    auth_secret: str = ""
    auth_issuer: str = "healthbridge-local"
    auth_audience: str = "healthbridge"
    #: OIDC: the provider's issuer, this API's audience and the JWKS document URL.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    #: OIDC sign-in to the web pages (authorization code + PKCE; docs/access.md): on when
    #: ``oidc_issuer`` and ``oidc_client_id`` are set. The secret is optional (public client).
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid profile email"
    #: ID-token claim that names the local account (matched to its ``oidc_subject``).
    oidc_match_claim: str = "sub"
    #: SMART App Launch clients by ``client_id`` (JSON in ``HEALTHBRIDGE_SMART_CLIENTS``,
    #: e.g. ``{"growth-app": {"redirect_uris": ["https://app.example/cb"]}}``).
    smart_clients: dict[str, SmartClient] = Field(default_factory=dict)
    #: Seconds a fetched JWKS is trusted before it is fetched again.
    oidc_jwks_max_age: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _enforce_secrets(self) -> Settings:
        """Refuse the built-in or a short token secret outside development, and an
        incomplete OIDC configuration."""
        problem = self.secret_problem()
        if problem:
            raise ValueError(problem)
        if self.auth_mode == "oidc" and not (
            self.oidc_issuer and self.oidc_audience and self.oidc_jwks_url
        ):
            raise ValueError("auth_mode=oidc needs OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL")
        return self

    # --- district reports (docs/exchange.md) ------------------------------------------------
    #: Resident population of the district (childcare places per 1,000; DOMAIN.md §6); unset
    #: leaves that figure out of the coverage report.
    district_population: int | None = Field(default=None, gt=0)
    #: Demo/development only: the web login page offers a role picker that mints tokens for
    #: the demo district's people. Never enable in production.
    demo_login: bool = False
    #: Hours a Bulk Data export's files are kept for their requester (then 404, deleted).
    bulk_export_ttl_hours: float = Field(default=24.0, gt=0)
    #: Where export files are kept (healthbridge.store.objects): empty = ``data_dir/
    #: bulk-export`` (one host, or a directory every server mounts), ``file:///dir``, or
    #: ``s3://bucket/prefix`` on an S3-compatible service (docs/deployment.md).
    export_store: str = ""
    #: The S3 service: endpoint (empty: AWS), region, keys (empty: boto3's own credential
    #: chain, e.g. ``AWS_ACCESS_KEY_ID``), addressing (``path`` suits MinIO and most
    #: on-premises services; ``virtual`` or ``auto`` for AWS, OSS, COS).
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    #: Export worker threads of this process (healthbridge.district.bulk_worker); 0: this
    #: process only queues jobs and serves them, another server's worker runs them.
    bulk_export_workers: int = Field(default=1, ge=0)
    #: Seconds between two looks of an idle worker for queued jobs in the database (a job
    #: queued by this process is started at once).
    bulk_export_poll_seconds: float = Field(default=2.0, gt=0)
    #: Seconds between two rounds of webhook delivery of alert messages to rest-hook
    #: Subscriptions (healthbridge.notify.delivery); 0 = no delivery thread.
    notify_delivery_seconds: float = Field(default=10.0, ge=0)

    @property
    def ruleset_key(self) -> str:
        """The rule set this deployment applies (load it with
        :func:`healthbridge.clinical.ruleset.load_ruleset_key`): ``clinical_ruleset``, or the
        default when the pipeline is switched off (the pages still show schedules and
        alert texts). The one place the configured rule set is resolved."""
        return self.clinical_ruleset or DEFAULT_RULESET_KEY

    @property
    def demo_login_enabled(self) -> bool:
        """The demo sign-in exists only in development with ``demo_login`` on."""
        return self.environment == "development" and self.demo_login

    def secret_problem(self) -> str | None:
        """Why the token secret may not be used by this process (``None`` when it may).

        Outside development the secret must be set, at least 32 characters and not the
        published default; the checks run at start-up too (``create_app``), since settings
        built by ``model_copy`` skip validators."""
        if self.auth_mode != "local" or self.environment == "development":
            return None
        s = self.auth_secret
        if not s or s == DEFAULT_AUTH_SECRET or len(s) < 32:
            return (
                "HEALTHBRIDGE_AUTH_SECRET must be set to a random value of at least 32 "
                f"characters when HEALTHBRIDGE_ENVIRONMENT={self.environment}"
            )
        return None

    def local_secret(self) -> str:
        """The secret local tokens and sessions are signed with.

        The configured ``auth_secret``; in development without one (or with the published
        default), a random secret generated once and kept in ``data_dir/auth-secret`` so that
        every process on the same data directory (server workers, ``healthbridge token``)
        agrees and a token signed with a published secret is never accepted."""
        problem = self.secret_problem()
        if problem:
            raise ValueError(problem)
        if self.auth_secret and self.auth_secret != DEFAULT_AUTH_SECRET:
            return self.auth_secret
        path = self.data_dir / SECRET_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for _ in range(100):  # another process may be writing it right now
                text = path.read_text(encoding="ascii").strip()
                if len(text) >= 32:
                    return text
                time.sleep(0.01)
            raise ValueError(f"{path} holds no usable secret; delete it to regenerate") from None
        value = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(value + "\n")
        return value

    def resolved_database_url(self) -> str:
        """The database URL to connect to (default: SQLite file under ``data_dir``)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'healthbridge.sqlite3').resolve()}"


@cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first call."""
    return Settings()
