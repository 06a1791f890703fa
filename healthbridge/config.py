"""Runtime settings (environment prefix ``HEALTHBRIDGE_``).

Settings are read once, when the application or a command starts (:func:`get_settings`);
nothing is read at import time.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The development token secret; refused outside ``environment=development``.
DEFAULT_AUTH_SECRET = "healthbridge-development-secret-change-me!"


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
    #: and alert pipeline; empty disables the pipeline (no derived data, no alerts).
    clinical_ruleset: str = "cn-child-health@2026.1/CN"
    #: Echo SQL statements (debugging).
    sql_echo: bool = False
    # --- access (docs/access.md) ------------------------------------------------------------
    #: ``development`` allows the built-in token secret; anything else refuses it.
    environment: Literal["development", "test", "production"] = "development"
    #: ``local``: HS256 tokens minted by ``healthbridge token``; ``oidc``: an OpenID provider.
    auth_mode: Literal["local", "oidc"] = "local"
    #: Secret of local tokens (at least 32 characters outside development).
    auth_secret: str = DEFAULT_AUTH_SECRET
    auth_issuer: str = "healthbridge-local"
    auth_audience: str = "healthbridge"
    #: OIDC: the provider's issuer, this API's audience and the JWKS document URL.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    #: Seconds a fetched JWKS is trusted before it is fetched again.
    oidc_jwks_max_age: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _enforce_secrets(self) -> Settings:
        """Refuse the built-in or a short token secret outside development, and an
        incomplete OIDC configuration."""
        weak = self.auth_secret == DEFAULT_AUTH_SECRET or len(self.auth_secret) < 32
        if self.auth_mode == "local" and self.environment != "development" and weak:
            raise ValueError(
                "HEALTHBRIDGE_AUTH_SECRET must be set to a random value of at least 32 "
                f"characters when HEALTHBRIDGE_ENVIRONMENT={self.environment}"
            )
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

    def resolved_database_url(self) -> str:
        """The database URL to connect to (default: SQLite file under ``data_dir``)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'healthbridge.sqlite3').resolve()}"


@cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first call."""
    return Settings()
