"""Settings from the environment (prefix CAMPAIGN_), one typed object for the whole application."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from campaign.config import DEFAULT_CAMPAIGN_FILE, PROJECT_ROOT


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAMPAIGN_", extra="ignore")

    # Where the application keeps its files: SQLite database, stored uploads, feedback, Data Docs, demo.
    home: Path = Field(default=PROJECT_ROOT / "var")
    # Any SQLAlchemy URL. Default: a SQLite file under `home`. Never Prefect's own database.
    database_url: str | None = None
    # The campaign YAML (the directive as data).
    config: Path = DEFAULT_CAMPAIGN_FILE
    # The logical clock, ISO 8601; a time without offset means +07:00; unset = the real clock.
    now: str | None = None
    # Outgoing e-mail of the deadline watch (escalations) and reports.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "dieuphoi-tiemchung@example.gov.vn"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # The portal: warm worker processes running uploads' flows, sign-in session lifetimes (hours, real
    # clock), cookies marked Secure (behind HTTPS), where the Prefect UI is for links to flow runs
    # (default: PREFECT_API_URL without its /api).
    portal_workers: int = 2
    portal_session_hours: float = 12
    portal_idle_hours: float = 2
    portal_secure_cookies: bool = False
    prefect_ui_url: str | None = None
    # The portal's address as the districts reach it: escalation messages link to its pages (the district's
    # page /huyen/<code>, a submission's feedback /nop/<id>), never to files on the server.
    portal_url: str = "http://127.0.0.1:8080"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'campaign.sqlite3').resolve()}"

    @property
    def files_dir(self) -> Path:
        """Content-addressed originals of every uploaded file."""
        return self.home / "files"

    @property
    def outputs_dir(self) -> Path:
        return self.home / "outputs"


@functools.cache
def get_settings() -> Settings:
    return Settings()
