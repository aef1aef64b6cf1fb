"""Settings from the environment (prefix CAMPAIGN_), one typed object for the whole application."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from campaign.config_files import DEFAULT_CAMPAIGN_FILE, PROJECT_ROOT


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
    # Addresses of reverse proxies in front of the portal (comma-separated): from these the client's own
    # address is read from X-Forwarded-For (sign-in throttling and the audit log are per client address);
    # from any other peer the header is ignored, since a client could write anything there.
    portal_trusted_proxies: str = ""
    # How long the audit log keeps its events (days, real clock); older ones go with `campaign.audit.purge`.
    audit_retention_days: int = Field(default=365, ge=1)

    # Personal data at rest (docs/data-protection.md). The key of the master list's cache (AES-256-GCM), 32
    # bytes in URL-safe base64; unset: a key generated once into `keys_dir` (outside the cache). Set it from
    # a secret store to keep the key off the data disk; a new key only makes the next build prepare again.
    cache_key: SecretStr | None = None
    # Age-based retention: `campaign data purge --expired` deletes the personal data of submissions received
    # more than this many days before now (the logical clock); unset: no age-based purge.
    retention_days: int | None = Field(default=None, ge=1)
    # Several machines on one database (docs/several-machines.md): a portal worker holds a running upload job
    # for this many seconds (real clock) and renews the hold every third of it; a job whose hold ran out
    # (its worker died, or its machine) is taken over by another worker.
    job_lease_seconds: float = Field(default=60, gt=0)
    # The Prefect work pool the scheduled deployments run on (`campaign worker --prefect` starts a worker there).
    work_pool: str = "campaign"

    # The master list on Spark (`master_list: engine: spark` in the campaign YAML; issue 21). The master URL:
    # `local[2]` runs Spark inside this machine's JVM on 2 cores; `spark://host:7077` a cluster. Spark's
    # files (intermediate tables, shuffle spill, warehouse) go to `spark_checkpoint_dir`, by default
    # `home/spark`; it must lie under `home` (a cluster's executors must reach it: the shared CAMPAIGN_HOME).
    spark_master: str = "local[2]"
    spark_checkpoint_dir: Path | None = None
    spark_driver_memory: str = "2g"
    spark_shuffle_partitions: int = Field(default=8, ge=1)

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

    @property
    def cache_dir(self) -> Path:
        """Work files a later run reuses (the master list's prepared records, sealed)."""
        return self.home / "cache"

    @property
    def spark_dir(self) -> Path:
        """Where Spark writes (checkpoints, spill, warehouse): `spark_checkpoint_dir`, under `home`."""
        home = self.home.resolve()
        path = (self.spark_checkpoint_dir if self.spark_checkpoint_dir is not None else home / "spark")
        path = (path if path.is_absolute() else home / path).resolve()
        if not path.is_relative_to(home):
            raise ValueError(f"CAMPAIGN_SPARK_CHECKPOINT_DIR={path} lies outside CAMPAIGN_HOME={home}: "
                             "nothing is written outside it")
        return path

    @property
    def keys_dir(self) -> Path:
        """Keys generated on this machine (the cache's, when CAMPAIGN_CACHE_KEY is unset); never in a cache."""
        return self.home / "keys"


@functools.cache
def get_settings() -> Settings:
    return Settings()
