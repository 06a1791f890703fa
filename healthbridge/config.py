"""Runtime settings (environment prefix ``HEALTHBRIDGE_``).

Settings are read once, when the application or a command starts (:func:`get_settings`);
nothing is read at import time.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    #: Default and largest page size for searches (``_count``).
    default_page_size: int = Field(default=20, gt=0)
    max_page_size: int = Field(default=1000, gt=0)
    #: Clinical rule set ``id@version/region`` (docs/clinical_rules.md) used by the growth
    #: and alert pipeline; empty disables the pipeline (no derived data, no alerts).
    clinical_ruleset: str = "cn-child-health@2026.1/CN"
    #: Echo SQL statements (debugging).
    sql_echo: bool = False

    def resolved_database_url(self) -> str:
        """The database URL to connect to (default: SQLite file under ``data_dir``)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'healthbridge.sqlite3').resolve()}"


@cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first call."""
    return Settings()
